"""Each objective's values and gradients against hand-computed cases."""
import math

import pytest
import torch

from gankit.losses import OBJECTIVES, build_objective, gradient_penalty, r1_penalty


def sig(x):
    return 1 / (1 + math.exp(-x))


@pytest.mark.parametrize("name", ["minimax", "nonsaturating"])
def test_discriminator_loss_is_binary_cross_entropy(name):
    real, fake = torch.tensor([0.3, -1.2]), torch.tensor([2.0, -0.5])
    expected = -(math.log(sig(0.3)) + math.log(sig(-1.2))) / 2 - (math.log(1 - sig(2.0)) + math.log(1 - sig(-0.5))) / 2
    assert build_objective(name).d_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_generator_losses_match_the_paper():
    fake = torch.tensor([0.7, -2.0, 1.5])
    mm = sum(math.log(1 - sig(v)) for v in fake.tolist()) / 3          # G descends E[log(1 - D(G(z)))]
    ns = -sum(math.log(sig(v)) for v in fake.tolist()) / 3             # G ascends E[log D(G(z))]
    assert build_objective("minimax").g_loss(fake).item() == pytest.approx(mm, rel=1e-6)
    assert build_objective("nonsaturating").g_loss(fake).item() == pytest.approx(ns, rel=1e-6)


def _g_grad(name, logit):
    fake = torch.tensor([logit], requires_grad=True)
    build_objective(name).g_loss(fake).backward()
    return fake.grad.item()


def test_minimax_saturates_when_d_rejects_fakes_and_nonsaturating_does_not():
    # D(G(z)) = sigmoid(-15) ~ 3e-7: D confidently rejects the samples (early training).
    # d/dl log(1 - sigmoid(l)) = -sigmoid(l) -> 0 ;  d/dl -log sigmoid(l) = -(1 - sigmoid(l)) -> -1
    assert abs(_g_grad("minimax", -15.0)) < 1e-6
    assert _g_grad("nonsaturating", -15.0) == pytest.approx(-1.0, abs=1e-6)
    # Both push the logit up (descending the loss raises D(G(z))), and agree in sign everywhere.
    for l in (-3.0, 0.0, 3.0):
        assert _g_grad("minimax", l) < 0 and _g_grad("nonsaturating", l) < 0
    assert _g_grad("minimax", 0.0) == pytest.approx(-0.5) and _g_grad("nonsaturating", 0.0) == pytest.approx(-0.5)


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_losses_are_finite_at_extreme_logits(name):
    obj = build_objective(name)
    real = torch.tensor([200.0, -200.0], requires_grad=True)
    fake = torch.tensor([-200.0, 200.0], requires_grad=True)
    loss = obj.d_loss(real, fake) + (obj.g_loss(fake, real) if obj.relativistic else obj.g_loss(fake))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()
    if name in ("minimax", "nonsaturating"):  # log terms computed from logits: no log(0)
        assert obj.d_loss(real, fake).item() == pytest.approx(200.0, rel=1e-6)


def test_wasserstein_lsgan_hinge_values():
    real, fake = torch.tensor([1.5, 0.5]), torch.tensor([-0.5, 2.0])
    w = build_objective("wasserstein")
    assert w.d_loss(real, fake).item() == pytest.approx(0.75 - 1.0)
    assert w.g_loss(fake).item() == pytest.approx(-0.75)
    ls = build_objective("lsgan")
    assert ls.d_loss(real, fake).item() == pytest.approx(0.5 * ((0.25 + 0.25) / 2 + (0.25 + 4) / 2))
    assert ls.g_loss(fake).item() == pytest.approx(0.5 * (2.25 + 1.0) / 2)
    h = build_objective("hinge")
    assert h.d_loss(real, fake).item() == pytest.approx((0 + 0.5) / 2 + (0.5 + 3.0) / 2)
    assert h.g_loss(fake).item() == pytest.approx(-0.75)


def test_wgan_clips_weights_and_wgan_gp_does_not():
    d = torch.nn.Linear(3, 1)
    torch.nn.init.constant_(d.weight, 0.5)
    build_objective("wgan-gp").after_d_step(d)
    assert d.weight.max().item() == 0.5
    build_objective("wasserstein", clip_value=0.01).after_d_step(d)
    assert d.weight.abs().max().item() == pytest.approx(0.01)
    assert build_objective("wgan-gp").default_gp_weight == 10.0


def test_gradient_penalty_and_r1_on_a_linear_critic():
    w = torch.tensor([3.0, 4.0])  # ||grad|| = 5 everywhere
    critic = lambda x: x.flatten(1) @ w  # noqa: E731
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx((5 - 1) ** 2, rel=1e-6)
    x = real.clone().requires_grad_(True)
    assert r1_penalty(critic(x), x).item() == pytest.approx(25.0, rel=1e-6)


def test_gradient_penalty_reaches_critic_parameters():
    lin = torch.nn.Linear(2, 1)
    gp = gradient_penalty(lambda x: lin(x).squeeze(1), torch.randn(4, 2), torch.randn(4, 2))
    gp.backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_unknown_loss_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown loss 'foo'; choose one of: hinge, lsgan, minimax"):
        build_objective("foo")
