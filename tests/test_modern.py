"""Issue 16's parts at tiny sizes: relativistic objectives (Jolicoeur-Martineau 2018), R2 with lazy
regularisation, the R3GAN networks (Huang et al. 2024), and an exact resume with them."""
from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit.errors import GankitError
from gankit.losses import OBJECTIVES, REGULARIZERS, build_regularizers
from gankit.losses.regularizers import DiscriminatorPass, Regularizer
from gankit.models.r3gan import R3GANDiscriminator, R3GANGenerator, ResidualBlock

from conftest import tiny

REAL, FAKE = torch.tensor([1.0, -0.5, 2.0]), torch.tensor([0.0, 0.5, -1.0])


def sp(t):  # softplus by hand: log(1 + e^t)
    return math.log1p(math.exp(t))


def test_rpgan_against_hand_values_and_gradients():
    obj = OBJECTIVES.get("rpgan")()
    d = sum(sp(f - r) for r, f in zip(REAL.tolist(), FAKE.tolist())) / 3
    g = sum(sp(r - f) for r, f in zip(REAL.tolist(), FAKE.tolist())) / 3
    assert obj.d_loss(REAL, FAKE).item() == pytest.approx(d, abs=1e-6)
    fake = FAKE.clone().requires_grad_(True)
    loss = obj.g_loss(fake, REAL)
    assert loss.item() == pytest.approx(g, abs=1e-6)
    loss.backward()  # d/df softplus(r - f) / 3 = -sigmoid(r - f) / 3
    want = [-1 / (1 + math.exp(-(r - f))) / 3 for r, f in zip(REAL.tolist(), FAKE.tolist())]
    torch.testing.assert_close(fake.grad, torch.tensor(want))
    with pytest.raises(GankitError, match="pairs each real sample with a generated one"):
        obj.d_loss(REAL, FAKE[:2])


def test_ragan_against_hand_values():
    obj = OBJECTIVES.get("ragan")()
    mr, mf = REAL.mean().item(), FAKE.mean().item()
    d = sum(sp(-(r - mf)) for r in REAL.tolist()) / 3 + sum(sp(f - mr) for f in FAKE.tolist()) / 3
    g = sum(sp(-(f - mr)) for f in FAKE.tolist()) / 3 + sum(sp(r - mf) for r in REAL.tolist()) / 3
    assert obj.d_loss(REAL, FAKE).item() == pytest.approx(d, abs=1e-6)
    assert obj.g_loss(FAKE, REAL).item() == pytest.approx(g, abs=1e-6)


def test_r2_against_finite_differences():
    torch.manual_seed(0)
    D = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    fake = torch.randn(4, 3, dtype=torch.float64).requires_grad_(True)
    D = D.double()
    logits = D(fake).squeeze(1)
    r2 = REGULARIZERS.get("r2")(gamma=2.0)  # gamma/2 = 1: the plain mean squared gradient norm
    seen = DiscriminatorPass(real=None, fake=fake, y_real=None, y_fake=None, real_out=None, fake_out=None,
                             real_logits=None, fake_logits=logits, d_input=lambda v: v, critic=None, uniform=None)
    h, grads = 1e-6, torch.zeros(4, 3, dtype=torch.float64)
    with torch.no_grad():
        for i in range(4):
            for j in range(3):
                e = torch.zeros(4, 3, dtype=torch.float64)
                e[i, j] = h
                grads[i, j] = (D(fake + e)[i, 0] - D(fake - e)[i, 0]) / (2 * h)
    assert r2.d_term(seen).item() == pytest.approx(grads.square().sum(1).mean().item(), rel=1e-6)


def test_lazy_regularisation_applies_every_k_steps_scaled_by_k():
    cfg = tiny(r1_gamma=1.0, r2_gamma=0.5, reg_interval=4)
    r1, r2 = build_regularizers(cfg)
    assert (r1.name, r2.name, r1.interval) == ("r1", "r2", 4)
    x = torch.randn(2, 3).requires_grad_(True)
    logits = (x ** 2).sum(1)  # grad = 2x
    every = [DiscriminatorPass(real=x, fake=x, y_real=None, y_fake=None, real_out=None, fake_out=None,
                               real_logits=logits, fake_logits=logits, d_input=None, critic=None, uniform=None,
                               step=s) for s in range(8)]
    terms = [r1.d_term(p) for p in every]
    assert [t is None for t in terms] == [False, True, True, True, False, True, True, True]
    assert terms[0].item() == pytest.approx(4 * 0.5 * (2 * x).square().sum(1).mean().item(), rel=1e-6)


def test_lazy_penalties_make_the_inputs_require_grad_only_on_their_steps(tmp_path):
    """With R1 + R2 every 3 D steps, the data and the fakes require grad at D steps 0, 3, 6 and no other:
    the input gradient is not computed on the steps without a penalty."""
    trainer = gankit.Trainer(tiny(r1_gamma=1.0, r2_gamma=0.5, reg_interval=3, steps=7), tmp_path / "run")
    seen = []

    class Spy(Regularizer):  # records what each D step's penalties would differentiate
        name = "spy"

        def d_term(self, d):
            seen.append((d.step, d.real.requires_grad, d.fake.requires_grad))

    trainer.game.regularizers.append(Spy())
    trainer.train()
    assert seen == [(s, s % 3 == 0, s % 3 == 0) for s in range(7)]


@pytest.mark.parametrize("size,stages", [(16, 3), (28, 3), (32, 4), (64, 5), (256, 7)])
def test_r3gan_shapes_for_each_resolution(size, stages):
    G = R3GANGenerator(3, size, z_dim=8, widths=8, blocks=1, group_width=4, num_classes=10)
    D = R3GANDiscriminator(3, size, widths=8, blocks=1, group_width=4, num_classes=10)
    y = torch.tensor([1, 7])
    x = G(torch.randn(2, 8), y)
    assert x.shape == (2, 3, size, size) and D(x, y).shape == (2,)
    assert sum(isinstance(m, ResidualBlock) for m in G.modules()) == stages


def test_r3gan_residual_branches_start_as_the_identity():
    G = R3GANGenerator(1, 16, z_dim=8, widths=[16, 16, 8], blocks=[2, 1, 1], group_width=4)
    blocks = [m for m in G.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 4 and all(torch.count_nonzero(b.project.weight) == 0 for b in blocks)
    x = torch.randn(3, 16, 8, 8)
    assert torch.equal(blocks[0](x), x)
    # the other layers are MSR-initialised: std = gain / sqrt(fan_in), gain = sqrt(2/1.04) * L^(-1/4)
    w = blocks[0].expand.weight
    assert w.std().item() == pytest.approx(math.sqrt(2 / 1.04) * 4 ** -0.25 / math.sqrt(16), rel=0.15)


def test_r3gan_refuses_bad_sizes_and_conditioning_in_one_line():
    for cfg, pattern in [(tiny(model="r3gan", image_size=24), "not 4\\*2\\^n or 7\\*2\\^n"),
                         (tiny(model="r3gan", image_size=16, r3gan_widths=[8, 8]), "--r3gan-widths needs 3 values"),
                         (tiny(model="cgan", backbone="r3gan", image_size=16), "projection only")]:
        with pytest.raises(GankitError, match=pattern):
            gankit.Trainer(cfg, "unused-run-dir-never-created")


def test_resume_is_exact_with_rpgan_r2_and_lazy_regularisation(tmp_path):
    cfg = tiny(model="r3gan", image_size=16, g_width=8, d_width=8, group_width=4, loss="rpgan", r1_gamma=0.1,
               r2_gamma=0.2, reg_interval=3, steps=7, checkpoint_every=4, ema_decay=0.9)
    gankit.train(cfg, tmp_path / "whole")
    gankit.train(cfg.replace(steps=4), tmp_path / "part")
    gankit.Trainer(cfg, tmp_path / "part", resume=True).train()
    for name in ("generator", "discriminator", "generator_ema"):
        a, b = (load_file(str(tmp_path / r / f"{name}.safetensors")) for r in ("whole", "part"))
        assert all(torch.equal(a[k], b[k]) for k in a), name


def _bf16_autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16)


@pytest.mark.parametrize("up", [False, True])
def test_resampling_under_bf16_autocast_is_the_fp32_filter_rounded_once(up):
    """oneDNN's bf16 depthwise kernels are many times slower on a CPU: the [1, 2, 1] filter runs in fp32
    there, and its bf16 result and input gradient are fp32's rounded once (what the bf16 kernel gave too:
    the faster path changes no number)."""
    from gankit.models.r3gan import Resample

    m = Resample(up)
    x = torch.randn(4, 6, 8, 8).bfloat16().float().contiguous(memory_format=torch.channels_last)  # bf16 values
    ref = m(x)
    xb = x.bfloat16().requires_grad_(True)
    with _bf16_autocast():
        y = m(xb)
    assert y.dtype == torch.bfloat16 and y.shape == ref.shape
    assert torch.equal(y, ref.bfloat16())  # one rounding of fp32's result
    y.float().sum().backward()
    xf = x.clone().requires_grad_(True)
    m(xf).sum().backward()
    assert torch.equal(xb.grad, xf.grad.bfloat16())


def test_r3gan_under_bf16_autocast_keeps_bf16_activations_and_a_channels_last_stream():
    from gankit.models.r3gan import BiasedLeakyReLU

    act = BiasedLeakyReLU(6)
    with _bf16_autocast():
        assert act(torch.randn(2, 6, 4, 4).bfloat16()).dtype == torch.bfloat16  # not promoted by its fp32 bias
    torch.manual_seed(0)
    G = R3GANGenerator(1, 16, z_dim=8, widths=[16, 8, 8], blocks=[1, 1, 1], group_width=4)
    for block in G.main:  # non-zero residual branches, so the blocks' layers all matter
        if isinstance(block, ResidualBlock):
            torch.nn.init.normal_(block.project.weight, std=0.1)
    z = torch.randn(3, 8)
    nchw = G(z)
    G = G.to(memory_format=torch.channels_last)
    seen = []
    G.main[0].register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    out = G(z)
    assert seen[0].is_contiguous(memory_format=torch.channels_last) and not seen[0].is_contiguous()
    assert (out - nchw).abs().max().item() < 1e-5


# ---- penalty convolutions: the same gradients, first and second order, without per-group kernels ----

PENALTY_CONVS = [  # (in, out, kernel, stride, padding, groups, transposed, output_padding)
    (16, 16, 3, 1, 1, 4, False, 0),    # R3GAN's grouped 3x3
    (8, 8, 7, 1, 0, 8, False, 0),      # D's depthwise basis
    (6, 6, 3, 2, 1, 6, False, 0),      # the [1, 2, 1] down-sampling
    (6, 6, 3, 2, 1, 6, True, 1),       # the up-sampling (a transposed convolution)
    (8, 12, 1, 1, 0, 1, False, 0),     # a 1x1
    (8, 4, 4, 2, 1, 2, False, 0),      # strided, grouped, even kernel
]


def _conv_and_penalty(conv, x, w, amp):
    """y = conv(leaky(x), w), the loss sum(y^2) + R1-style penalty |d loss / dx|^2: returns y, the input
    gradient and the gradients of the total with respect to x and w."""
    x, w = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        y = conv(torch.nn.functional.leaky_relu(x, 0.2), w)
        loss = (y.float() ** 2).sum()
    g, = torch.autograd.grad(loss, x, create_graph=True)
    (loss + (g.float() ** 2).sum()).backward()
    return y.detach().float(), g.detach().float(), x.grad, w.grad


@pytest.mark.parametrize("spec", PENALTY_CONVS, ids=lambda s: f"{s[0]}-{s[1]}-k{s[2]}-s{s[3]}-g{s[5]}-t{int(s[6])}")
@pytest.mark.parametrize("amp", [False, True], ids=["fp32", "bf16"])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
def test_penalty_conv_gradients_equal_pytorch_first_and_second_order(spec, amp, layout):
    from gankit.models.penaltyconv import penalty_conv2d

    cin, cout, k, stride, pad, groups, transposed, opad = spec
    torch.manual_seed(0)
    w = torch.randn(*((cin, cout // groups) if transposed else (cout, cin // groups)), k, k) / k
    x = torch.randn(3, cin, 9, 9).contiguous(memory_format=layout)
    if transposed:
        def ref(x, w):
            return torch.nn.functional.conv_transpose2d(x, w, None, stride, pad, opad, groups)
    else:
        def ref(x, w):
            return torch.nn.functional.conv2d(x, w, None, stride, pad, 1, groups)

    def new(x, w):
        return penalty_conv2d(x, w, stride, pad, 1, groups, transposed, opad)

    want, got = _conv_and_penalty(ref, x, w, amp), _conv_and_penalty(new, x, w, amp)
    tol = 2e-2 if amp else 1e-5  # bf16: the penalty's terms are products of rounded gradients
    for name, a, b in zip(("output", "input gradient", "d/dx", "d/dw"), got, want):
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert (a - b).abs().max().item() <= tol * b.abs().max().item(), name
    assert torch.equal(got[0], want[0])  # the forward is the same kernel


def _convolutions_in(fn) -> list[tuple]:
    """(op, output_mask or None, first input's batch size) of every convolution ``fn`` dispatches."""
    from torch.utils._python_dispatch import TorchDispatchMode

    seen = []

    class Spy(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func._overloadpacket.__name__
            if "convolution" in name:
                seen.append((name, tuple(args[-1]) if name == "convolution_backward" else None, args[0].shape[0]))
            return func(*args, **(kwargs or {}))

    with Spy():
        fn()
    return seen


def test_penalty_conv_takes_no_weight_gradient_for_the_input_gradient_alone():
    from gankit.models.penaltyconv import PenaltyConv2d

    conv = PenaltyConv2d(8, 8, 3, padding=1, groups=2, bias=False)
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    calls = _convolutions_in(lambda: torch.autograd.grad(conv(x).square().sum(), x))
    masks = [mask for op, mask, _ in calls if op == "convolution_backward"]
    assert masks == [(True, False, False)]  # D's weights get no gradient while R1 takes D's input gradient
    calls = _convolutions_in(lambda: conv(x).square().sum().backward())
    assert [mask for op, mask, _ in calls if op == "convolution_backward"] == [(True, True, False)]
    assert conv.weight.grad is not None and x.grad is not None


def test_r1_through_r3gan_d_has_no_per_group_convolutions():
    """PyTorch's generic double backward runs a grouped convolution's weight term group by group (batch-1
    convolutions, one per group); through the penalty convolutions the count of convolutions in a D step
    with R1 + R2 does not grow with the number of groups."""
    from gankit.losses.regularizers import r1_penalty

    def d_step_convolutions(group_width):
        torch.manual_seed(0)
        D = R3GANDiscriminator(1, 16, widths=[16, 16, 16], blocks=[1, 1, 1], group_width=group_width)
        x, fake = torch.randn(4, 1, 16, 16, requires_grad=True), torch.randn(4, 1, 16, 16, requires_grad=True)

        def step():  # R1 + R2 (Huang et al. 2024, Eq. 3) and their gradients to D's weights
            (r1_penalty(D(x), x) + r1_penalty(D(fake), fake)).backward()
        return _convolutions_in(step)

    few, many = d_step_convolutions(16), d_step_convolutions(2)  # 2 groups a layer against 16
    assert len(few) == len(many)
    assert not [c for c in many if c[2] == 1]  # no batch-1 convolution: no group-by-group loop


def test_penalty_conv_accepts_what_f_conv2d_accepts():
    """A transposed convolution with output_padding >= stride (dilation > stride), one unbatched image, and
    float64 under autocast: the same output and input gradients (first and second order) as F's."""
    from gankit.models.penaltyconv import PenaltyConv2d, penalty_conv2d

    torch.manual_seed(0)
    w = torch.randn(2, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    fn = lambda x, w: penalty_conv2d(x, w, 1, 0, 2, 1, True, 1)  # noqa: E731
    ref = torch.nn.functional.conv_transpose2d(x, w, None, 1, 0, 1, 1, 2)
    assert torch.equal(fn(x, w), ref) and ref.shape == (1, 3, 9, 10)
    assert torch.autograd.gradgradcheck(fn, (x, w))
    conv = PenaltyConv2d(4, 4, 3, padding=1, bias=False)
    plain = torch.nn.Conv2d(4, 4, 3, padding=1, bias=False)
    plain.load_state_dict(conv.state_dict())
    x1 = torch.randn(4, 5, 5, requires_grad=True)
    g, = torch.autograd.grad(conv(x1).square().sum(), x1)
    g_ref, = torch.autograd.grad(plain(x1).square().sum(), x1)
    assert g.shape == (4, 5, 5) and torch.allclose(g, g_ref, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert penalty_conv2d(x, w.detach(), transposed=True).dtype == torch.float64  # autocast leaves float64


def test_gemm_layers_take_no_weight_gradient_for_the_input_gradient_alone():
    """The bf16 GEMM layers (DCGAN's small ones) under R1's input-gradient pass: no weight gradient, which
    oneDNN's bf16 kernels would compute slowly and the pass would discard."""
    from gankit.models.smallconv import Conv2d

    layer = Conv2d(8, 16, 4, 2, 1, bias=False)
    x = torch.randn(4, 8, 8, 8, requires_grad=True)

    def r1_pass():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = layer(x)
        torch.autograd.grad(out.float().square().sum(), x, create_graph=True)
    calls = _convolutions_in(r1_pass)
    assert [mask for op, mask, _ in calls if op == "convolution_backward"] == []  # adjoint: a transposed conv
    assert [op for op, _, _ in calls] == ["convolution"]
