"""Games receive their modules, not the trainer; regularisers are registered classes composed by a game."""
from __future__ import annotations

import functools
import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import tiny
from gankit import Trainer
from gankit.data import DataSpec, TensorData
from gankit.errors import ConfigError
from gankit.losses import (REGULARIZERS, ACGANClassTerm, DiscriminatorPass, GeneratorPass, GradientPenalty, R1Penalty,
                           Regularizer, build_objective, build_regularizers, effective_gp_weight, gradient_penalty,
                           r1_penalty)
from gankit.models import MLPGenerator, d_norm
from gankit.training.games import NoiseGame, build_game, total
from gankit.translation import CycleGANGame, Pix2PixGame


class TinyD(nn.Module):
    """A small smooth critic on 2-D points: (x, y) -> logits of shape (B,)."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, x, y=None):
        return self.net(x).squeeze(1)


class PackedD(nn.Module):
    """A D on PacGAN pairs of 2-D points, recording the input shapes it sees."""

    def __init__(self):
        super().__init__()
        self.lin, self.seen = nn.Linear(4, 1), []

    def forward(self, x, y=None):
        self.seen.append(tuple(x.shape))
        return self.lin(x).squeeze(1)


def tiny_game(regularizers, loss="wasserstein", **kw):
    torch.manual_seed(0)
    G, D = MLPGenerator((2,), z_dim=4, hidden=[8], tanh=False), TinyD()
    return NoiseGame(G, D, build_objective(loss, clip_value=0.0), regularizers, batch_size=6, **kw)


# ---------------------------------------------------------------------- the registry
def test_each_regulariser_is_registered_by_name_and_built_from_the_config():
    assert REGULARIZERS.names() == ["ac", "gp", "r1", "r2"]
    assert (REGULARIZERS.get("ac"), REGULARIZERS.get("gp"), REGULARIZERS.get("r1")) == \
        (ACGANClassTerm, GradientPenalty, R1Penalty)
    assert build_regularizers(tiny()) == []                             # the default: none
    regs = build_regularizers(tiny(model="acgan", loss="wgan-gp", r1_gamma=2.0, aux_weight=0.5, aux_fake=False))
    assert [r.name for r in regs] == ["ac", "gp", "r1"]                 # the order their terms are added
    ac, gp, r1 = regs
    assert (ac.weight, ac.aux_fake, gp.weight, r1.gamma) == (0.5, False, 10.0, 2.0)
    assert [type(r) for r in build_regularizers(tiny(gp_weight=3.0))] == [GradientPenalty]
    assert build_regularizers(tiny(gp_weight=3.0))[0].weight == 3.0
    assert [r.name for r in build_regularizers(tiny(r1_gamma=1.0))] == ["r1"]
    assert R1Penalty.needs_real_grad and not GradientPenalty.needs_real_grad and not ACGANClassTerm.needs_real_grad


def test_effective_gp_weight_is_the_one_rule():
    assert effective_gp_weight("wgan-gp") == effective_gp_weight("wgan-gp", None) == 10.0  # Gulrajani's lambda
    assert effective_gp_weight("wgan-gp", 2.5) == 2.5                   # an explicit weight wins
    assert effective_gp_weight("wgan-gp", 0.0) == 0.0                   # ... including 0 (off)
    assert effective_gp_weight("nonsaturating") == effective_gp_weight("hinge", None) == 0.0
    assert effective_gp_weight("hinge", 3.0) == 3.0
    # its users: D's normalisation, the fp16 check, the translation models' refusal
    assert d_norm(tiny(loss="wgan-gp")) == "layer" and d_norm(tiny(loss="wgan-gp", gp_weight=0.0)) == "batch"
    assert d_norm(tiny(loss="hinge", gp_weight=1.0)) == "layer" and d_norm(tiny()) == "batch"
    for bad in (dict(loss="wgan-gp"), dict(loss="hinge", gp_weight=1.0), dict(r1_gamma=1.0)):
        with pytest.raises(ConfigError, match="--amp fp16 cannot be combined"):
            tiny(amp="fp16", **bad)
    tiny(amp="fp16", loss="wgan-gp", gp_weight=0.0)                    # no penalty: fp16 is fine


# ---------------------------------------------------------------------- composing regularisers
def test_gp_and_r1_compose_into_d_loss_each_its_functional_penalty_times_its_weight():
    game = tiny_game([GradientPenalty(5.0), R1Penalty(3.0)])
    G, D = game.G, game.D
    x = torch.randn(6, 2)
    torch.manual_seed(1)
    terms, d_real, d_fake = game.d_loss((x.clone(), None))
    assert list(terms) == ["adv", "gp", "r1"]
    assert torch.equal(total(terms), terms["adv"] + terms["gp"] + terms["r1"])

    # the same draws, by hand: noise, then (D has no dropout) eps for the penalty
    torch.manual_seed(1)
    z = torch.randn(6, 4)
    with torch.no_grad():
        fake = G(z)
    eps = torch.rand(6)
    real = x.clone().requires_grad_(True)
    real_logits, fake_logits = D(real), D(fake)
    assert terms["adv"].item() == pytest.approx((fake_logits.mean() - real_logits.mean()).item(), rel=1e-6)
    assert d_real.item() == pytest.approx(real_logits.mean().item()) and d_fake.item() == pytest.approx(
        fake_logits.mean().item())  # a critic reports its raw value
    x_hat = (x + eps[:, None] * (fake - x)).requires_grad_(True)
    (g_hat,) = torch.autograd.grad(D(x_hat).sum(), x_hat)
    gp = ((g_hat.norm(dim=1) - 1) ** 2).mean()
    (g_real,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    r1 = (g_real ** 2).sum(1).mean()
    assert terms["gp"].item() == pytest.approx(5.0 * gp.item(), rel=1e-5)
    assert terms["r1"].item() == pytest.approx(3.0 / 2 * r1.item(), rel=1e-5)
    # and each is its functional penalty times its weight
    assert terms["gp"].item() == pytest.approx(5.0 * gradient_penalty(D, x, fake, eps).item(), rel=1e-6)
    assert terms["r1"].item() == pytest.approx(1.5 * r1_penalty(real_logits, real).item(), rel=1e-6)
    # the terms carry gradients to D's weights (the penalties are differentiable: create_graph)
    total(terms).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters())


def test_a_new_penalty_is_one_more_class_not_a_change_of_the_game():
    """R2 (Mescheder et al. 2018, Sec. 4.1: R1 on generated samples) written here as a user would."""

    class R2(Regularizer):
        name, needs_fake_grad = "r2", True

        def d_term(self, d):
            (grad,) = torch.autograd.grad(d.fake_logits.sum(), d.fake, create_graph=True)
            return 0.5 * grad.flatten(1).square().sum(1).mean()

    game = tiny_game([R1Penalty(1.0), R2()])
    torch.manual_seed(1)
    terms, _, _ = game.d_loss((torch.randn(6, 2), None))
    assert list(terms) == ["adv", "r1", "r2"] and terms["r2"].item() > 0
    assert list(game.g_loss(None)) == ["adv"]                           # no G terms from penalties


def test_acgan_class_term_and_its_aux_fake_option():
    """Odena et al. 2017, Eq. 3: D's L_C on real and fake samples; aux_fake=False drops exactly the
    fakes' cross-entropy. G's term is its weight times the fakes' cross-entropy."""
    torch.manual_seed(0)
    real_cls, fake_cls = torch.randn(5, 3), torch.randn(5, 3)
    y_real, y_fake = torch.tensor([0, 1, 2, 0, 1]), torch.tensor([2, 2, 1, 0, 0])
    seen = DiscriminatorPass(real=None, fake=None, y_real=y_real, y_fake=y_fake, real_out=(torch.zeros(5), real_cls),
                             fake_out=(torch.zeros(5), fake_cls), real_logits=torch.zeros(5),
                             fake_logits=torch.zeros(5), d_input=None, critic=None, uniform=None)
    with_fake, real_only = ACGANClassTerm(2.0, aux_fake=True).d_term(seen), ACGANClassTerm(2.0, False).d_term(seen)
    assert real_only.item() == pytest.approx(2.0 * F.cross_entropy(real_cls, y_real).item())
    assert (with_fake - real_only).item() == pytest.approx(2.0 * F.cross_entropy(fake_cls, y_fake).item(), rel=1e-5)
    g = GeneratorPass(fake=None, y_fake=y_fake, fake_out=(torch.zeros(5), fake_cls), fake_logits=torch.zeros(5))
    assert ACGANClassTerm(2.0, False).g_term(g).item() == pytest.approx(2.0 * F.cross_entropy(fake_cls, y_fake).item())


# ---------------------------------------------------------------------- no trainer inside
def test_a_noise_game_runs_without_any_trainer():
    game = tiny_game([], loss="nonsaturating", pack=2)
    x = torch.randn(6, 2)
    game.D = game.D_train = PackedD()                                 # D sees pairs: (B/2, 4)
    terms, d_real, d_fake = game.d_loss((x, None))
    assert list(terms) == ["adv"] and torch.isfinite(total(terms)) and 0 < d_real.item() < 1 and 0 < d_fake.item() < 1
    assert game.D.seen == [(3, 4), (3, 4)]
    g_terms = game.g_loss((x, None))
    assert list(g_terms) == ["adv"] and torch.isfinite(total(g_terms)) and game.D.seen[-1] == (3, 4)
    data = TensorData(x, None, DataSpec((2,), 0, "points"), "points")
    samples, extra = game.preview(game.G, data)                          # 2-D points: 2000 samples
    assert samples.shape == (2000, 2) and torch.equal(extra["reference"], x)
    assert game.G.training                                              # eval mode only for the preview


def _reaches(obj, kind, depth=0, seen=None) -> bool:
    """Whether ``obj`` holds a ``kind`` instance: through attributes, containers, bound methods,
    partials and closures (not through modules' globals)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 8 or isinstance(obj, (torch.Tensor, str, int, float, bool, type(None), type)):
        return False
    seen.add(id(obj))
    if isinstance(obj, kind):
        return True
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, (list, tuple, set)):
        children = list(obj)
    elif isinstance(obj, types.MethodType):
        children = [obj.__self__, obj.__func__]
    elif isinstance(obj, functools.partial):
        children = [obj.func, *obj.args, *obj.keywords.values()]
    elif isinstance(obj, types.FunctionType):
        children = [c.cell_contents for c in obj.__closure__ or ()]
    elif hasattr(obj, "__dict__"):
        children = list(vars(obj).values())
    else:
        children = []
    return any(_reaches(c, kind, depth + 1, seen) for c in children)


@pytest.mark.parametrize("extra", [dict(), dict(model="acgan", gp_weight=1.0, r1_gamma=1.0, channels_last=True),
                                   dict(model="cyclegan", loss="lsgan", data="digits2inverted")])
def test_the_trainer_builds_the_game_in_one_call_and_the_game_holds_no_trainer(extra, tmp_path):
    t = Trainer(tiny(**extra), tmp_path / "run")
    assert not _reaches(t.game, Trainer)
    assert _reaches(types.SimpleNamespace(t=t), Trainer)                # the walk does find one
    assert t.game.G is t.G and t.game.D is t.D and t.game.objective is t.objective
    t.train()


def test_build_game_picks_the_models_game():
    cfg = tiny()
    G, D = MLPGenerator((2,), z_dim=4, hidden=[8], tanh=False), TinyD()
    common = dict(G=G, D=D, objective=build_objective("nonsaturating"))
    assert type(build_game(cfg, **common)) is NoiseGame
    pix = build_game(tiny(model="pix2pix", l1_weight=7.0), **common)
    assert type(pix) is Pix2PixGame and pix.l1_weight == 7.0
    cyc = build_game(tiny(model="cyclegan", cycle_weight=3.0, identity_weight=0.0, pool_size=4), **common)
    assert type(cyc) is CycleGANGame and (cyc.cycle_weight, cyc.identity_weight, cyc.pool_a.size) == (3.0, 0.0, 4)
