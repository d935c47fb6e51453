"""gankit.augment (DiffAugment, ADA) on D's input, and --train-subset."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit.augment import AdaptiveAugment, DiffAugment
from gankit.data import TensorData, take_subset
from gankit.data.base import DataSpec
from gankit.data.subset import subset_indices
from gankit.errors import ConfigError
from gankit.training.games import build_game

from conftest import tiny


def seeded(aug, seed=0):
    """``aug`` as a deterministic function (the same draws on every call), for gradcheck."""
    def f(x):
        torch.manual_seed(seed)
        return aug(x)
    return f


def images(b=3, c=1, s=8, seed=1, dtype=torch.float64):
    return (torch.rand(b, c, s, s, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 2 - 1)


DIFF_OPS = [(op, c) for op in DiffAugment.OPS for c in (1, 3)]
ADA_OPS = [(op, c) for op in AdaptiveAugment.OPS for c in (1, 3)]


@pytest.mark.parametrize("op,c", DIFF_OPS)
def test_diffaugment_ops_pass_gradcheck(op, c):
    x = images(c=c).requires_grad_(True)
    assert torch.autograd.gradcheck(seeded(DiffAugment([op])), (x,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("op,c", ADA_OPS)
def test_ada_ops_pass_gradcheck_at_p_one(op, c):
    x = images(c=c).requires_grad_(True)
    assert torch.autograd.gradcheck(seeded(AdaptiveAugment([op], p=1.0)), (x,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("op", ["translation", "cutout"])
def test_translation_and_cutout_pass_gradient_to_the_pixels_they_keep(op):
    x = images(b=8, s=16).requires_grad_(True)
    out = seeded(DiffAugment([op]))(x)
    (g,) = torch.autograd.grad(out.sum(), x)
    assert set(g.unique().tolist()) == {0.0, 1.0}  # kept pixels pass their gradient 1:1, dropped ones 0
    assert 0 < g.mean() < 1


def test_every_op_changes_the_batch_at_full_strength():
    x = images(b=16, c=3, s=16)
    for op in DiffAugment.OPS:
        assert (seeded(DiffAugment([op]))(x) - x).abs().max() > 0.1, op
    for op in AdaptiveAugment.OPS:
        assert (seeded(AdaptiveAugment([op], p=1.0))(x) - x).abs().max() > 0.1, op


def test_identity_at_strength_zero_and_p_zero():
    x = images(b=8, c=3, s=16)
    zero = DiffAugment(brightness=0, saturation=0, contrast=0, translation=0, cutout=0)
    assert torch.allclose(zero(x), x, atol=1e-12)
    assert torch.allclose(AdaptiveAugment(p=0.0)(x), x, atol=1e-6)  # bilinear at the pixel centres


def test_ada_exact_ops_are_pixel_permutations():
    """x-flip, 90° rotations and integer translation move whole pixels: no interpolation blur."""
    x = images(b=32, s=16)
    out = seeded(AdaptiveAugment(["xflip", "rot90"], p=1.0))(x)
    for a, b in zip(x, out):
        assert torch.allclose(a.flatten().sort().values, b.flatten().sort().values, atol=1e-6)
    assert not torch.allclose(out, x)


def test_the_same_seed_gives_the_same_draws_and_samples_draw_independently():
    x = images(b=1, c=3, s=16).expand(16, -1, -1, -1).contiguous()  # 16 copies of one image
    for aug in (DiffAugment(), AdaptiveAugment(p=1.0)):
        a, b = seeded(aug, 3)(x), seeded(aug, 3)(x)
        assert torch.equal(a, b)
        assert not torch.equal(a, seeded(aug, 4)(x))
        assert len({tuple(v.flatten().tolist()) for v in a}) == 16  # each sample its own draw


def test_ada_p_moves_toward_the_target_and_clips():
    ada = AdaptiveAugment(p=0.0, target=0.6, interval=2, kimg=0.064)  # 64 images move p by 1
    for _ in range(4):
        ada.observe(torch.ones(16))  # r_t = 1 > 0.6: over-fitting, p rises by 32 / 64 per interval
    assert float(ada.rt) == 1.0 and float(ada.p) == 1.0
    ada.observe(-torch.ones(16))
    assert float(ada.p) == 1.0  # mid-interval: unchanged
    ada.observe(-torch.ones(16))
    assert float(ada.p) == 0.5 and float(ada.rt) == -1.0
    fixed = AdaptiveAugment(p=0.3, target=None)
    fixed.observe(torch.ones(64))
    assert abs(float(fixed.p) - 0.3) < 1e-7


def _game(model="dcgan", **kw):
    cfg = tiny(model=model, **kw)
    G, D = gankit.models.build_models(cfg, DataSpec((1, 8, 8), 10))
    return build_game(cfg, G=G, D=D, objective=gankit.losses.build_objective(cfg.loss)), cfg


@pytest.mark.parametrize("model", ["mlp", "dcgan", "cgan", "acgan"])
def test_every_noise_game_augments_real_and_fake_in_d_step_and_fake_in_g_step(model):
    game, _ = _game(model, augment="diffaug")
    seen = []

    class Recording(DiffAugment):
        def __call__(self, x):
            seen.append(x.detach().clone())
            return super().__call__(x)

    game.augment = Recording()
    x = torch.rand(16, 1, 8, 8) * 2 - 1
    y = torch.arange(16) % 10
    game.d_loss((x, y))
    assert len(seen) == 2 and torch.equal(seen[0], x)  # the reals, then the fakes
    seen.clear()
    terms = game.g_loss((x, y))
    assert len(seen) == 1
    terms["adv"].backward()  # G's graph runs through the augmentation
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in game.G.parameters() if p.dim() > 1)


def test_r1_is_taken_on_augmented_reals_wrt_the_unaugmented_batch():
    game, _ = _game(augment="diffaug", augment_policy="translation", r1_gamma=1.0)
    x = torch.rand(16, 1, 8, 8) * 2 - 1
    torch.manual_seed(0)
    with_aug = game.d_loss((x.clone(), None))[0]["r1"]
    game.augment = None
    torch.manual_seed(0)
    without = game.d_loss((x.clone(), None))[0]["r1"]
    assert torch.isfinite(with_aug) and with_aug > 0 and not torch.isclose(with_aug, without)


def test_resume_with_ada_is_bit_identical_and_restores_p(tmp_path):
    cfg = tiny(augment="ada", ada_kimg=0.05, ada_interval=2, steps=8, checkpoint_every=4, ema_decay=0.9)
    whole = gankit.Trainer(cfg, tmp_path / "whole")
    whole.train()
    part = gankit.Trainer(cfg.replace(steps=4), tmp_path / "part")
    part.train()
    p_at_4 = float(part.game.augment.p)
    resumed = gankit.Trainer(cfg, tmp_path / "part", resume=True)
    assert float(resumed.game.augment.p) == p_at_4 > 0
    resumed.train()
    assert float(resumed.game.augment.p) == float(whole.game.augment.p)
    for name in ("generator", "discriminator", "generator_ema"):
        a, b = (load_file(str(tmp_path / r / f"{name}.safetensors")) for r in ("whole", "part"))
        assert all(torch.equal(a[k], b[k]) for k in a), name
    logged = [json.loads(l) for l in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in logged] == list(range(1, 9)) and all(0 <= m["ada_p"] <= 1 for m in logged)


@pytest.mark.parametrize("changes,match", [
    (dict(model="mlp", data="ring"), "cannot use it"),
    (dict(model="pix2pix", data="edges2mnist"), "cannot use it"),
    (dict(augment="cutmix"), "unknown augment 'cutmix'; choose one of: none, diffaug, ada"),
    (dict(augment="diffaug", augment_policy="color,rot90"), "unknown augment_policy entry rot90"),
    (dict(augment="ada", ada_target=1.5), "ada_target"),
    (dict(train_subset=0), "train_subset must be >= 1"),
])
def test_bad_settings_are_one_line_config_errors(changes, match):
    changes = {"augment": "diffaug", **changes}
    with pytest.raises(ConfigError, match=match) as e:
        tiny(**changes)
    assert "\n" not in str(e.value)


def test_train_subset_is_seeded_class_balanced_and_recorded(tmp_path):
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 3)
    data = TensorData(torch.zeros(len(y), 1, 4, 4, dtype=torch.uint8), y, DataSpec((1, 4, 4), 3))
    sub = take_subset(data, 30, seed=5)
    assert sorted(torch.bincount(sub.y).tolist()) == [3, 13, 14]  # class 2 gives all 3; the others make it up
    assert torch.equal(subset_indices(y, len(y), 30, 5), subset_indices(y, len(y), 30, 5))
    assert not torch.equal(subset_indices(y, len(y), 30, 5), subset_indices(y, len(y), 30, 6))
    assert sub.spec.subset == 30 and sub.spec.subset_seed == 5
    run = tmp_path / "run"
    gankit.train(tiny(train_subset=100, steps=2), run)
    spec = json.loads((run / "config.json").read_text())["data_spec"]
    assert spec["subset"] == 100 and spec["subset_seed"] == 0
    assert torch.bincount(gankit.data.training_data(tiny(train_subset=100)).y).tolist() == [10] * 10
    with pytest.raises(gankit.errors.DataError, match="larger than the dataset"):
        subset_indices(None, 10, 11, 0)
