"""Image-to-image translation: pix2pix and CycleGAN networks, losses, data, training, resume, CLI."""
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import tiny
from PIL import Image
from torch import nn

import gankit
from gankit.cli import main
from gankit.data import load_dataset
from gankit.errors import ConfigError, DataError
from gankit.losses import build_objective
from gankit.training.games import total
from gankit.translation import (CycleGANGame, CycleGenerators, ImagePairs, ImagePool, PatchDiscriminator, Pix2PixGame,
                                ResnetGenerator, UNet, patch_layers, receptive_field, sobel_edges)

TINY = ["--image-size", "8", "--g-width", "8", "--d-width", "8", "--batch-size", "8", "--no-progress",
        "--no-tensorboard", "--device", "cpu", "--log-every", "1"]


def weights(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


# ---------------------------------------------------------------------- networks
def test_unet_shapes_and_skip_connections():
    u = UNet(1, 3, 16, ngf=8)
    assert u.depth == 4 and len(u.down) == len(u.up) == 4          # 16 -> 8 -> 4 -> 2 -> 1 and back
    widths = [8, 16, 32, 64]
    assert [layer[0].out_channels for layer in u.down] == widths
    # each decoder layer after the first reads its input concatenated with the mirrored encoder output
    assert [layer[0].in_channels for layer in u.up] == [64, 2 * 32, 2 * 16, 2 * 8]
    y = u(torch.randn(2, 1, 16, 16))
    assert y.shape == (2, 3, 16, 16) and y.abs().max() <= 1
    assert UNet(1, 1, 12, ngf=4)(torch.randn(3, 1, 12, 12)).shape == (3, 1, 12, 12)  # padded to 16, cropped
    # the skip connections carry information the bottleneck cannot: with the outermost skip cut off,
    # G's output changes
    u.eval()
    x = torch.randn(1, 1, 16, 16)
    full = u(x)
    u.down[0].register_forward_hook(lambda m, i, o: o * 0)
    assert not torch.allclose(full, u(x))


def test_patchgan_output_map_and_receptive_field():
    assert [patch_layers(s) for s in (8, 16, 28, 32, 64, 256)] == [1, 1, 1, 2, 3, 3]
    assert [receptive_field(n) for n in (1, 2, 3)] == [16, 34, 70]          # 70x70 PatchGAN at n=3
    d = PatchDiscriminator(3, ndf=8, n_layers=3, condition_channels=1)
    assert d(torch.randn(2, 3, 64, 64), torch.randn(2, 1, 64, 64)).shape == (2, 1, 6, 6)
    # one output logit depends on exactly a receptive_field x receptive_field input patch
    for n in (1, 2):
        d = PatchDiscriminator(1, ndf=4, n_layers=n, norm="none")
        x = torch.randn(1, 1, 96, 96, requires_grad=True)
        out = d(x)
        out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
        rows, cols = (x.grad[0, 0].abs() > 0).nonzero().unbind(1)
        assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (receptive_field(n),) * 2


def test_resnet_generator_and_cycle_containers():
    g = ResnetGenerator(1, 1, 28, ngf=4)
    assert g.n_blocks == 6 and ResnetGenerator(3, 3, 256, ngf=2).n_blocks == 9
    assert g(torch.randn(2, 1, 28, 28)).shape == (2, 1, 28, 28)
    assert g(torch.randn(2, 1, 30, 30)).shape == (2, 1, 30, 30)  # padded to 32 and cropped
    G, D = gankit.models.build_models(tiny(model="cyclegan", loss="lsgan", data="digits2inverted"),
                                      gankit.data.DataSpec((1, 8, 8)))
    assert isinstance(G, nn.ModuleDict) and set(G) == {"g_ab", "g_ba"} and set(D) == {"d_a", "d_b"}
    a, b = torch.randn(2, 1, 8, 8), torch.randn(3, 1, 8, 8)
    out = G(a, b)
    assert out["fake_b"].shape == out["rec_a"].shape == out["idt_a"].shape == a.shape
    assert out["fake_a"].shape == out["rec_b"].shape == out["idt_b"].shape == b.shape
    with pytest.raises(ValueError, match="gankit translate"):
        G.sample(4)


# ---------------------------------------------------------------------- losses on known tensors
class Shift(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, x):
        return x + self.c


class ZeroD(nn.Module):
    """Logit 0 on a 2x2 patch map, whatever the input."""

    def forward(self, x, cond=None):
        return x[:, :1, :2, :2] * 0


def test_pix2pix_losses_on_known_tensors():
    a, b = torch.full((2, 1, 4, 4), 0.2), torch.zeros(2, 1, 4, 4)
    G, D, objective = Shift(-0.1), ZeroD(), build_objective("nonsaturating")  # G(a) = 0.1: |G(a) - b| = 0.1
    game = Pix2PixGame(G, D, objective)
    terms = game.g_loss((a, b))
    assert list(terms) == ["adv", "l1"] and total(terms).item() == pytest.approx(math.log(2) + 100 * 0.1)  # lambda 100
    assert game.last["l1"].item() == pytest.approx(0.1)
    terms, d_real, d_fake = game.d_loss((a, b))
    assert total(terms).item() == pytest.approx(math.log(2)) and d_real.item() == d_fake.item() == 0.5  # halved D loss
    game = Pix2PixGame.from_config(SimpleNamespace(l1_weight=10.0), G=G, D=D, objective=objective)
    assert total(game.g_loss((a, b))).item() == pytest.approx(math.log(2) + 10 * 0.1)


def test_cyclegan_losses_on_known_tensors():
    a, b = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    G = CycleGenerators(Shift(0.1), Shift(-0.3))                          # G(x) = x + 0.1, F(x) = x - 0.3
    D, objective = (lambda xa, xb: (ZeroD()(xa), ZeroD()(xb))), build_objective("lsgan")
    game = CycleGANGame(G, D, objective)
    # adversarial: 2 x 0.5 (0 - 1)^2; cycle: |F(G(a)) - a| = |G(F(b)) - b| = 0.2; identity: 0.1 + 0.3
    loss = total(game.g_loss((a, b)))
    assert game.last["cycle"].item() == pytest.approx(0.4) and game.last["identity"].item() == pytest.approx(0.4)
    assert loss.item() == pytest.approx(1.0 + 10 * 0.4 + 10 * 0.5 * 0.4)
    game.identity_weight, game.cycle_weight = 0.0, 1.0
    assert total(game.g_loss((a, b))).item() == pytest.approx(1.0 + 0.4) and "identity" in game.last
    means = game.scalars()
    assert means["cycle"] == pytest.approx(0.4) and means["identity"] == pytest.approx(0.4)  # recorded once
    assert game.scalars() == {}


def test_image_pool_history():
    torch.manual_seed(0)
    pool = ImagePool(4)
    first = torch.arange(4.0).reshape(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and pool.count == 4    # filling: returned as given
    returned_old, seen = 0, set(range(4))
    for i in range(200):
        new = torch.full((1, 1, 1, 1), 100.0 + i)
        out = pool.query(new).item()
        assert out == 100 + i or out in seen                            # a new image or a stored one
        returned_old += out != 100 + i
        seen.add(100 + i)
    assert 70 <= returned_old <= 130                                    # probability 1/2
    state = pool.state_dict()
    other = ImagePool(4)
    other.load_state_dict(state)
    assert other.count == 4 and torch.equal(other.images, pool.images)
    assert torch.equal(ImagePool(0).query(first), first)                # size 0: no history


# ---------------------------------------------------------------------- data
def write_png(path, value, size=(10, 12), mode="L"):
    """A PNG filled with ``value``, or holding ``value`` itself when it is an array."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = value if isinstance(value, np.ndarray) else \
        np.full((size[1], size[0]) + (() if mode == "L" else (3,)), value, dtype=np.uint8)
    Image.fromarray(arr, mode).save(path)


def test_paired_and_unpaired_folders(tmp_path):
    root = tmp_path / "pairs"
    for i, name in enumerate(["x", "y", "sub/z"]):
        write_png(root / "A" / f"{name}.png", 10 * i)
        write_png(root / "B" / f"{name}.jpg", 200 - 10 * i, mode="RGB")   # extensions may differ
    data = load_dataset(tiny(model="pix2pix", data="paired-folder", data_root=str(root), image_size=8, channels=1))
    assert len(data) == 3 and data.spec.shape == (1, 8, 8)
    a, b = data.batch(torch.tensor([2, 0]))
    assert a.shape == b.shape == (2, 1, 8, 8)
    # pairs matched by name: A value v goes with B value 200 - v
    assert torch.allclose((a + 1) * 127.5 + (b + 1) * 127.5, torch.full_like(a, 200.0), atol=1)
    write_png(root / "A" / "lonely.png", 0)
    with pytest.raises(DataError, match="'lonely' in A/ only"):
        load_dataset(tiny(model="pix2pix", data="paired-folder", data_root=str(root), image_size=8))

    un = tmp_path / "unpaired"
    for i in range(5):
        write_png(un / "trainA" / f"a{i}.png", i)
    for i in range(2):
        write_png(un / "trainB" / f"b{i}.png", 100 + i)
    data = load_dataset(tiny(model="cyclegan", data="unpaired-folder", data_root=str(un), image_size=4, channels=1))
    assert len(data) == 5 and data.spec.shape == (1, 4, 4)
    a, b = data.batch(torch.arange(5))                                  # one epoch sees every image of both
    values = lambda x: sorted({round(v) for v in ((x[:, 0, 0, 0] + 1) * 127.5).tolist()})  # noqa: E731
    assert values(a) == [0, 1, 2, 3, 4] and values(b) == [100, 101]
    with pytest.raises(DataError, match="needs sub-folders A/ and B/"):
        load_dataset(tiny(model="cyclegan", data="unpaired-folder", data_root=str(tmp_path)))


def test_sobel_edges_of_a_known_image():
    x = torch.zeros(1, 1, 8, 8, dtype=torch.uint8)
    x[..., 2:6, 2:6] = 255                                              # a white 4x4 square
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[1:7, 1:7] = True                                           # one pixel either side of the border,
    expected[3:5, 3:5] = False                                          # not the flat inside,
    for r, c in ((1, 1), (1, 6), (6, 1), (6, 6)):                       # nor the outer corners (|G| = 0.35)
        expected[r, c] = False
    assert torch.equal(sobel_edges(x)[0, 0] == 255, expected)
    assert set(sobel_edges(x).unique().tolist()) == {0, 255}


def test_edges2mnist_task(fake_mnist):
    data = load_dataset(tiny(model="pix2pix", data="edges2mnist", data_root=str(fake_mnist), split="test",
                             image_size=None, download=False))
    assert len(data) == 64 and data.spec.shape == (1, 28, 28) and data.y.tolist()[:3] == [0, 1, 2]
    assert torch.equal(data.a, sobel_edges(data.b))


def test_translation_models_refuse_other_data_and_penalties():
    with pytest.raises(ConfigError, match="--data digits is not one"):
        gankit.models.build_models(tiny(model="pix2pix"), gankit.data.DataSpec((1, 8, 8)))
    with pytest.raises(ConfigError, match="--data digits2inverted is not one"):  # pix2pix needs pairs
        gankit.models.build_models(tiny(model="pix2pix", data="digits2inverted"), gankit.data.DataSpec((1, 8, 8)))
    with pytest.raises(ConfigError, match="no gradient penalty"):
        gankit.models.build_models(tiny(model="cyclegan", data="digits2inverted", loss="wgan-gp"),
                                   gankit.data.DataSpec((1, 8, 8)))


def test_ssim_and_l1_distance():
    from gankit.translation.metrics import l1_distance, ssim

    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 16, 16, generator=g) * 2 - 1
    assert torch.allclose(ssim(x, x), torch.ones(3))
    noisy = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    assert (ssim(x, noisy) < 0.9).all() and torch.allclose(ssim(x, noisy), ssim(noisy, x))
    # one 11x11 window, written out with numpy: Wang et al. 2004, Eq. 13, Gaussian weights (sigma 1.5)
    u, v = (np.random.default_rng(1).uniform(-1, 1, (11, 11)) for _ in range(2))
    r = np.arange(11) - 5
    w = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5 ** 2))
    w /= w.sum()
    mu_u, mu_v = (w * u).sum(), (w * v).sum()
    var_u, var_v, cov = (w * u * u).sum() - mu_u ** 2, (w * v * v).sum() - mu_v ** 2, (w * u * v).sum() - mu_u * mu_v
    c1, c2 = (0.01 * 2) ** 2, (0.03 * 2) ** 2
    want = (2 * mu_u * mu_v + c1) * (2 * cov + c2) / ((mu_u ** 2 + mu_v ** 2 + c1) * (var_u + var_v + c2))
    got = ssim(torch.tensor(u)[None, None].float(), torch.tensor(v)[None, None].float())
    assert got.item() == pytest.approx(want, abs=1e-5)
    assert l1_distance(torch.ones(2, 1, 4, 4), -torch.ones(2, 1, 4, 4)).tolist() == [1.0, 1.0]  # [0, 1] units


# ---------------------------------------------------------------------- training
def run_steps(cfg, run_dir, **kw):
    """Train; returns the trainer, G's initial weights, the result and every step's loss terms."""
    t = gankit.Trainer(cfg, run_dir, **kw)
    g0, terms = weights(t.G), []
    t.callbacks.append(lambda tr: terms.append({k: float(v) for k, v in tr.game.last.items()}))
    return t, g0, t.train(), terms


def test_pix2pix_trains(fake_mnist, tmp_path):
    cfg = tiny(model="pix2pix", data="edges2mnist", data_root=str(fake_mnist), split="test", image_size=16,
               download=False, steps=4, ema_decay=0.9)
    t, g0, result, terms = run_steps(cfg, tmp_path / "run")
    assert result["steps"] == 4 and all(math.isfinite(v) for row in terms for v in row.values())
    assert {"g_adv", "l1", "d_adv"} <= set(terms[-1]) and len({row["l1"] for row in terms}) == 4
    assert any(not torch.equal(g0[k], v) for k, v in t.G.state_dict().items())
    assert (tmp_path / "run" / "samples.png").is_file()
    G = gankit.load(tmp_path / "run")                                   # EMA generator, eval mode
    a, _ = t.data.batch(torch.arange(4))
    assert torch.allclose(G.translate(a), t.generate(a), atol=1e-6)


def test_cyclegan_trains_and_cycle_loss_falls(tmp_path):
    cfg = tiny(model="cyclegan", loss="lsgan", data="digits2inverted", steps=20, lr=1e-3, checkpoint_every=100)
    t, _, _, terms = run_steps(cfg, tmp_path / "run")
    assert all(math.isfinite(v) for row in terms for v in row.values())
    assert {"g_ab", "g_ba", "cycle", "identity", "d_a", "d_b"} <= set(terms[-1])
    cycle = [row["cycle"] for row in terms]
    # the reconstruction error of both cycles falls by at least 20% over 20 steps (it falls ~30% here)
    assert np.mean(cycle[-5:]) < 0.8 * np.mean(cycle[:5])
    assert t.game.pool_a.count == t.game.pool_b.count == 50             # the history filled up
    rows = [json.loads(r) for r in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 21))


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "wasserstein", "lsgan", "hinge"])
def test_every_objective_without_penalty_trains(loss, tmp_path):
    x = load_dataset(tiny()).x
    inverted = ImagePairs(255 - x, x, True, "inverted")                 # a paired task: A = the inverted digit
    for model in ("pix2pix", "cyclegan"):
        t = gankit.Trainer(tiny(model=model, loss=loss, data="paired-folder", steps=2), tmp_path / model,
                           data=inverted)
        t.train()
        rows = [json.loads(r) for r in (tmp_path / model / "metrics.jsonl").read_text().splitlines()]
        assert len(rows) == 2 and all(math.isfinite(v) for r in rows for v in r.values()), (model, rows)


@pytest.mark.parametrize("model", ["pix2pix", "cyclegan"])
def test_resume_is_exact(model, tmp_path, fake_mnist):
    data = dict(data="edges2mnist", data_root=str(fake_mnist), split="test", image_size=8, download=False) \
        if model == "pix2pix" else dict(data="digits2inverted", loss="lsgan")
    cfg = tiny(model=model, steps=4, checkpoint_every=2, **data)
    straight = gankit.Trainer(cfg, tmp_path / "straight")
    straight.train()
    first = gankit.Trainer(cfg.replace(steps=2), tmp_path / "resumed")
    first.train()
    game_state = first.game.state_dict()
    resumed = gankit.Trainer(cfg, tmp_path / "resumed", resume=True)  # restores the game state itself
    resumed.train()
    for key in ("G", "D"):
        w1, w2 = weights(getattr(straight, key)), weights(getattr(resumed, key))
        assert all(torch.equal(w1[k], w2[k]) for k in w1), key
    if model == "cyclegan":
        assert game_state["pool_a"]["count"] == 32                      # 2 steps x 16 fakes were in the pool
        assert torch.equal(straight.game.pool_a.images, resumed.game.pool_a.images)


# ---------------------------------------------------------------------- CLI
def test_translate_cli(tmp_path, capsys, fake_mnist):
    run = tmp_path / "cyc"
    assert main(["train", "--model", "cyclegan", "--loss", "lsgan", "--data", "digits2inverted", "--steps", "2",
                 "--out", str(run), *TINY]) == 0
    inputs = tmp_path / "in"
    write_png(inputs / "one.png", 255, size=(20, 30), mode="RGB")       # resized and made grayscale
    # a textured image: on a constant one, instance norm divides a conv output of near-zero variance, so
    # one-ulp kernel differences (batch of 3 in the CLI against 1 here) move pixels by several levels
    pattern = np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)
    write_png(inputs / "deeper" / "two.png", pattern)
    write_png(tmp_path / "one.png", 128, size=(9, 9))                  # same name as an input above
    capsys.readouterr()
    out = tmp_path / "out"
    assert main(["translate", str(run), str(inputs), str(tmp_path / "one.png"), "--out", str(out),
                 "--direction", "ba"]) == 0
    assert "wrote 3 translated image(s) (ba, 8x8)" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["one-1.png", "one.png", "two.png"]
    got = np.asarray(Image.open(out / "two.png"))
    G = gankit.load(run)
    x = torch.from_numpy(pattern).float().div(127.5).sub(1)[None, None]
    want = G.translate(x, "ba").add(1).mul(127.5).round()[0, 0].numpy()
    assert got.shape == (8, 8) and want.std() > 5       # the output is an image, not a flat field
    # the same translation up to the rounding of a value within float error of a half level
    diff = np.abs(got.astype(np.float64) - want)
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.9, diff

    p2p = tmp_path / "p2p"
    assert main(["train", "--model", "pix2pix", "--data", "edges2mnist", "--data-root", str(fake_mnist), "--split",
                 "test", "--no-download", "--steps", "1", "--out", str(p2p), *TINY]) == 0
    assert main(["translate", str(p2p), str(inputs), "--out", str(tmp_path / "p2p-out")]) == 0
    assert sorted(p.name for p in (tmp_path / "p2p-out").iterdir()) == ["one.png", "two.png"]
    (tmp_path / "bad.png").write_text("not an image")
    dcgan = tmp_path / "dc"
    assert main(["train", "--model", "dcgan", "--steps", "1", "--z-dim", "8", "--out", str(dcgan), *TINY]) == 0
    for args, message in [
        ([str(run), str(tmp_path / "missing.png")], "input"),
        ([str(run), str(tmp_path / "bad.png")], "cannot read image"),
        ([str(dcgan), str(inputs)], "is a dcgan run, which samples noise"),
        ([str(p2p), str(inputs), "--direction", "ba"], "a pix2pix run translates ab only"),
        ([str(tmp_path), str(inputs)], "not a gankit run directory"),
    ]:
        capsys.readouterr()
        assert main(["translate", *args, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert main(["sample", str(run)]) == 2
    assert "gankit translate" in capsys.readouterr().err


def test_games_refuse_the_wrong_kind_of_data(tmp_path, fake_mnist):
    from gankit.errors import GankitError

    with pytest.raises(GankitError, match="dcgan cannot train on --data edges2mnist: that dataset holds image pairs"):
        gankit.Trainer(tiny(model="dcgan", data="edges2mnist", data_root=str(fake_mnist), split="test"),
                       tmp_path / "a")
    with pytest.raises(GankitError, match="--model cyclegan translates between two image domains; --data digits is not one"):
        gankit.Trainer(tiny(model="cyclegan", loss="lsgan"), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_evaluate_refuses_translation_runs(tmp_path):
    from gankit.errors import GankitError
    from gankit.metrics import evaluate_run

    gankit.train(tiny(model="cyclegan", loss="lsgan", data="digits2inverted", steps=1), tmp_path / "run")
    with pytest.raises(GankitError, match="image-to-image"):
        evaluate_run(tmp_path / "run", evaluator=None)
