"""Architectures: shapes, the pytorch/examples DCGAN-64 layout, conditioning paths."""
import pytest
import torch
from torch import nn

from gankit.data import DataSpec
from gankit.models import DCGANDiscriminator, DCGANGenerator, build_models

from conftest import tiny


def _layers(module):
    return [(type(m).__name__, getattr(m, "in_channels", getattr(m, "num_features", None)),
             getattr(m, "out_channels", None), getattr(m, "kernel_size", None), getattr(m, "stride", None),
             getattr(m, "padding", None), getattr(m, "bias", None) is not None)
            for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d))]


def test_dcgan64_matches_pytorch_examples():
    """pytorch/examples dcgan (nz=100, ngf=ndf=64, nc=3): 5 transposed convs 512-256-128-64-3, biasless,
    BN after all but the last; D mirrors with 4x4 stride-2 convs, no BN after the first, 4x4 valid head."""
    g, d = DCGANGenerator(3, 64, z_dim=100, width=64), DCGANDiscriminator(3, 64, width=64)
    T, C, B = "ConvTranspose2d", "Conv2d", "BatchNorm2d"
    expected_g = [(T, 100, 512, (4, 4), (1, 1), (0, 0), False), (B, 512, None, None, None, None, True),
                  (T, 512, 256, (4, 4), (2, 2), (1, 1), False), (B, 256, None, None, None, None, True),
                  (T, 256, 128, (4, 4), (2, 2), (1, 1), False), (B, 128, None, None, None, None, True),
                  (T, 128, 64, (4, 4), (2, 2), (1, 1), False), (B, 64, None, None, None, None, True),
                  (T, 64, 3, (4, 4), (2, 2), (1, 1), False)]
    expected_d = [(C, 3, 64, (4, 4), (2, 2), (1, 1), False),
                  (C, 64, 128, (4, 4), (2, 2), (1, 1), False), (B, 128, None, None, None, None, True),
                  (C, 128, 256, (4, 4), (2, 2), (1, 1), False), (B, 256, None, None, None, None, True),
                  (C, 256, 512, (4, 4), (2, 2), (1, 1), False), (B, 512, None, None, None, None, True),
                  (C, 512, 1, (4, 4), (1, 1), (0, 0), False)]
    assert _layers(g) == expected_g
    assert _layers(d) == expected_d
    assert sum(p.numel() for p in g.parameters()) == 3_576_704  # the reference netG's parameter count
    assert sum(p.numel() for p in d.parameters()) == 2_765_568  # the reference netD's parameter count
    assert isinstance(g.main[-1], nn.Tanh)
    assert [type(m) for m in g.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))] == [nn.ReLU] * 4
    assert all(m.negative_slope == 0.2 for m in d.modules() if isinstance(m, nn.LeakyReLU))
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.Linear)) for m in [*g.modules(), *d.modules()])
    x = g(torch.randn(2, 100))
    assert x.shape == (2, 3, 64, 64) and x.abs().max() <= 1
    assert d(x).shape == (2,)


@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
def test_dcgan_sizes(size):
    g, d = DCGANGenerator(1, size, z_dim=16, width=8), DCGANDiscriminator(1, size, width=8)
    x = g(torch.randn(3, 16))
    assert x.shape == (3, 1, size, size)
    assert d(x).shape == (3,)


def test_dcgan_rejects_unsupported_size():
    with pytest.raises(ValueError, match="not 4\\*2\\^n or 7\\*2\\^n"):
        DCGANGenerator(1, 30)


@pytest.mark.parametrize("model,backbone,conditioning", [
    ("cgan", "dcgan", "concat"), ("cgan", "dcgan", "projection"), ("cgan", "mlp", "concat"),
    ("acgan", "dcgan", "concat"), ("acgan", "mlp", "concat")])
def test_conditional_models_use_the_label(model, backbone, conditioning):
    cfg = tiny(model=model, backbone=backbone, conditioning=conditioning)
    g, d = build_models(cfg, DataSpec((1, 8, 8), 10))
    g.eval(), d.eval()
    z = torch.randn(4, cfg.z_dim).repeat(2, 1)
    y = torch.tensor([0, 1, 2, 3, 7, 8, 9, 5])
    x = g(z, y)
    assert x.shape == (8, 1, 8, 8)
    assert (x[:4] - x[4:]).abs().amax(dim=(1, 2, 3)).min() > 1e-4  # same z, other label -> other image
    out = d(x, y)
    src = out[0] if isinstance(out, tuple) else out
    assert src.shape == (8,)
    if model == "acgan":
        assert out[1].shape == (8, 10)
    else:  # the label reaches D's output
        assert not torch.allclose(d(x, y), d(x, (y + 1) % 10))
    src.sum().backward()
    assert g.embed.weight.grad is not None and g.embed.weight.grad.abs().sum() > 0


def test_conditional_model_needs_labels():
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="needs labelled data"):
        build_models(tiny(model="cgan"), DataSpec((1, 8, 8), 0))


def test_spectral_norm_bounds_d_layers():
    cfg = tiny(model="dcgan", spectral_norm=True)
    _, d = build_models(cfg, DataSpec((1, 8, 8), 0))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())  # d_norm=auto -> none under SN
    d.train()
    for _ in range(30):  # power iterations converge during forward passes
        d(torch.randn(4, 1, 8, 8))
    for m in d.modules():
        if isinstance(m, nn.Conv2d):
            sigma = torch.linalg.matrix_norm(m.weight.flatten(1), ord=2)
            assert sigma.item() == pytest.approx(1.0, abs=0.05)


def test_gradient_penalty_switches_d_to_layer_norm():
    _, d = build_models(tiny(model="dcgan", loss="wgan-gp", image_size=16), DataSpec((1, 16, 16), 0))
    assert any(isinstance(m, nn.GroupNorm) for m in d.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())


def test_mlp_for_points_has_linear_output():
    g, d = build_models(tiny(model="mlp", data="ring"), DataSpec((2,), 0, "points"))
    x = g(torch.randn(5, 8) * 50)
    assert x.shape == (5, 2) and x.abs().max() > 1  # no Tanh on point data
    assert any(isinstance(m, nn.Dropout) for m in d.modules())


def test_pacgan_packing_concatenates_samples_for_d():
    from gankit.models import pack

    x = torch.arange(4 * 2 * 3 * 3, dtype=torch.float32).view(4, 2, 3, 3)
    p = pack(x, 2)
    assert p.shape == (2, 4, 3, 3)
    assert torch.equal(p[1, 2:], x[3]) and torch.equal(p[0, :2], x[0])  # samples 2k, 2k+1 side by side
    g, d = build_models(tiny(model="dcgan", pack=4), DataSpec((1, 8, 8), 0))
    assert d.main[0].in_channels == 4
    assert d(pack(g(torch.randn(8, 8)), 4)).shape == (2,)
    _, d = build_models(tiny(model="mlp", data="ring", pack=3, batch_size=15), DataSpec((2,), 0, "points"))
    assert d.body[0].in_features == 6


def test_packing_rejects_conditional_models_and_ragged_batches():
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="unconditional models only"):
        build_models(tiny(model="acgan", pack=2), DataSpec((1, 8, 8), 10))
    with pytest.raises(ConfigError, match="divide batch_size"):
        tiny(pack=3, batch_size=16)


def test_categorical_code_is_uniform_one_hot_read_from_z():
    from gankit.models.latent import CategoricalCode

    code = CategoricalCode(4, 3, scale=1.0)
    z = torch.tensor([[-3.0, 0.5, -0.5], [-0.5, 1.0, 2.0], [0.1, 0.0, 0.0], [1.0, 0.0, 0.0]])
    # Phi(-3) = 0.001, Phi(-0.5) = 0.31, Phi(0.1) = 0.54, Phi(1) = 0.84: categories 0, 1, 2, 3
    assert code.code(z).tolist() == [0, 1, 2, 3]
    out = code(z)
    assert out.shape == (4, 6) and torch.equal(out[:, :4], torch.eye(4)) and torch.equal(out[:, 4:], z[:, 1:])
    assert torch.equal(CategoricalCode(4, 3)(z)[:, :4], 10 * torch.eye(4))  # the default scale
    counts = torch.bincount(CategoricalCode(5, 2).code(torch.randn(50_000, 2, generator=torch.Generator().manual_seed(0))))
    assert counts.tolist() and (counts.float() / 50_000 - 0.2).abs().max() < 0.01  # uniform over the 5
    with pytest.raises(ValueError, match="z_dim >= 2"):
        CategoricalCode(4, 1)


def test_latent_categories_give_the_mlp_generator_a_discontinuous_map():
    from gankit.errors import ConfigError

    cfg = tiny(model="mlp", data="ring", z_dim=3, latent_categories=6)
    g, _ = build_models(cfg, DataSpec((2,), 0, "points"))
    assert g.net[0].in_features == 6 + 2
    z = torch.zeros(2, 3)
    z[0, 0], z[1, 0] = -1e-4, 1e-4  # z_0 straddles the boundary between categories 2 and 3 (Phi(0) = 1/2)
    x = g(z)
    assert not torch.allclose(x[0], x[1], atol=1e-3)  # a jump, where a continuous G would move by ~1e-4
    with pytest.raises(ConfigError, match="not the r3gan backbone"):
        build_models(tiny(model="r3gan", latent_categories=6), DataSpec((1, 16, 16), 0))
    with pytest.raises(ConfigError, match="latent_categories must be 0"):
        tiny(model="mlp", data="ring", z_dim=1, latent_categories=6)
    with pytest.raises(ConfigError, match="latent_categories must be 0"):
        tiny(model="mlp", data="ring", z_dim=3, latent_categories=1)


def test_latent_categories_give_the_dcgan_generator_a_discontinuous_map():
    g, _ = build_models(tiny(model="dcgan", z_dim=8, latent_categories=6), DataSpec((1, 8, 8), 0))
    assert g.main[0].in_channels == 7 and g.code_map.num_embeddings == 6  # z_1..z_7; the code as a lookup
    g.eval()  # batch norm on running statistics: each sample alone
    z = torch.zeros(2, 8)
    z[0, 0], z[1, 0] = -1e-4, 1e-4  # straddles the boundary between categories 2 and 3
    x = g(z)
    assert x.shape == (2, 1, 8, 8) and (x[0] - x[1]).abs().max() > 1e-2  # a jump, not a ~1e-4 move
    z[1, 0] = -2e-4  # the same category: G moves continuously
    assert (g(z)[0] - g(z)[1]).abs().max() < 1e-4

    # the lookup is InfoGAN's concatenated one-hot: the same first layer with K more input channels
    first = g.main[0]
    w = torch.cat([g.code_map.weight.view(6, *first.weight.shape[1:]), first.weight])  # (6 + 7, c, 4, 4)
    z = torch.randn(32, 8, generator=torch.Generator().manual_seed(1))
    one_hot = torch.nn.functional.one_hot(g.code.code(z), 6).float()
    concat = torch.nn.functional.conv_transpose2d(torch.cat([10 * one_hot, z[:, 1:]], 1)[:, :, None, None], w)
    seen = {}
    handle = first.register_forward_hook(lambda m, i, o: seen.setdefault("conv", o))
    with torch.no_grad():
        g(z)
    handle.remove()
    k = g.code.code(z)
    torch.testing.assert_close(seen["conv"] + 10 * g.code_map(k).view_as(seen["conv"]), concat.detach())


def test_latent_categories_survive_the_checkpoint_and_gankit_sample(tmp_path):
    import gankit
    from gankit.cli import main

    run = tmp_path / "run"
    trainer = gankit.Trainer(tiny(model="mlp", data="ring", z_dim=3, latent_categories=5, num_points=256), run)
    trainer.train()
    G = gankit.load(run)
    assert G.code is not None and G.code.categories == 5 and G.net[0].in_features == 5 + 2
    z = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(G(z), trainer.generate(z).cpu())
    assert main(["sample", str(run), "-n", "16", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").stat().st_size > 0

    conv = tmp_path / "dcgan"  # the DCGAN generator keeps its code through the checkpoint too
    trainer = gankit.Trainer(tiny(model="dcgan", z_dim=8, latent_categories=5), conv)
    trainer.train()
    G = gankit.load(conv)
    assert G.code is not None and G.code.categories == 5 and G.code_map.num_embeddings == 5
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(G(z), trainer.generate(z).cpu())
