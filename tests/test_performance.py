"""The fast paths of the CPU training step: GEMM convolutions at small spatial sizes
(gankit.models.smallconv) and fused Adam. Each must compute what the reference path computes."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from gankit import TrainConfig, Trainer
from gankit.models import smallconv
from gankit.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gankit.models.smallconv import Conv2d, ConvTranspose2d, _SmallConv
from gankit.runs import Run

# (class, reference, (c_in, c_out, kernel, stride, padding), input size): DCGAN's small-side layers
SMALL = [
    (ConvTranspose2d, nn.ConvTranspose2d, (20, 32, 4, 1, 0), 1),   # G's first layer: 1x1 -> 4x4
    (ConvTranspose2d, nn.ConvTranspose2d, (32, 16, 4, 2, 1), 4),   # 4x4 -> 8x8
    (Conv2d, nn.Conv2d, (16, 32, 4, 2, 1), 8),                     # D: 8x8 -> 4x4
    (Conv2d, nn.Conv2d, (32, 1, 4, 1, 0), 4),                      # D's head: 4x4 -> 1
    (Conv2d, nn.Conv2d, (32, 10, 4, 1, 0), 4),                     # AC-GAN's classifier (with bias)
    (Conv2d, nn.Conv2d, (16, 32, 3, 2, 1), 7),                     # another geometry: 7x7 -> 4x4, k 3
]


def _pair(cls, ref, args, fmt):
    torch.manual_seed(0)
    bias = args[1] == 10
    fast, plain = cls(*args, bias=bias), ref(*args, bias=bias)
    plain.load_state_dict(fast.state_dict())  # same parameters and keys
    return fast.to(memory_format=fmt), plain.to(memory_format=fmt)


def _rel(a, b):
    return ((a.float() - b.float()).abs().max() / b.float().abs().max()).item()


@pytest.mark.parametrize("fmt", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("cls,ref,args,size", SMALL)
def test_bf16_gemm_path_matches_onednn(cls, ref, args, size, fmt):
    """Under bf16 autocast: output and the gradients of input, weight and bias within bf16 rounding
    of nn.Conv2d / nn.ConvTranspose2d's (both in bf16)."""
    fast, plain = _pair(cls, ref, args, fmt)
    x = torch.randn(6, args[0], size, size).to(memory_format=fmt).requires_grad_(True)
    x2 = x.detach().clone().requires_grad_(True)
    with torch.autocast("cpu", torch.bfloat16):
        y, y2 = fast(x), plain(x2)
    assert y.dtype == y2.dtype == torch.bfloat16 and y.shape == y2.shape
    assert _rel(y, y2) < 1e-2
    g = torch.randn(y.shape)
    (y.float() * g).sum().backward()
    (y2.float() * g).sum().backward()
    for a, b in [(x.grad, x2.grad), (fast.weight.grad, plain.weight.grad)] + (
            [(fast.bias.grad, plain.bias.grad)] if fast.bias is not None else []):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert _rel(a, b) < 2e-2


@pytest.mark.parametrize("transposed,args,size", [
    (False, (3, 4, 4, 2, 1), 4), (False, (3, 2, 4, 1, 0), 4), (False, (3, 4, 3, 2, 1), 5),
    (True, (3, 4, 4, 2, 1), 2), (True, (3, 4, 4, 1, 0), 1), (True, (2, 3, 3, 2, 1), 3)])
def test_gemm_conv_gradcheck_float64(transposed, args, size):
    """The GEMM formulas themselves (im2col / col2im, both gradients, bias) against finite
    differences, in float64, and against torch's convolution."""
    ci, co, k, s, p = args
    x = torch.randn(2, ci, size, size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(*((ci, co) if transposed else (co, ci)), k, k, dtype=torch.float64, requires_grad=True)
    b = torch.randn(co, dtype=torch.float64, requires_grad=True)
    fn = lambda x, w, b: _SmallConv.apply(x, w, b, s, p, transposed)  # noqa: E731
    ref = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d
    torch.testing.assert_close(fn(x, w, b), ref(x, w, b, s, p), rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(fn, (x, w, b))


@pytest.mark.parametrize("transposed,args,size", [
    (False, (3, 4, 4, 2, 1), 4), (False, (3, 2, 4, 1, 0), 4), (True, (3, 4, 4, 2, 1), 2), (True, (3, 4, 4, 1, 0), 1)])
def test_gemm_conv_second_order_gradcheck_float64(transposed, args, size):
    """R1, R2 and the gradient penalty differentiate the layer's backward: its gradients' own gradients
    against finite differences (before the fix, the weight's second-order term was dropped)."""
    ci, co, k, s, p = args
    x = torch.randn(2, ci, size, size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(*((ci, co) if transposed else (co, ci)), k, k, dtype=torch.float64, requires_grad=True)
    b = torch.randn(co, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda x, w, b: _SmallConv.apply(x, w, b, s, p, transposed), (x, w, b))


def test_r1_under_bf16_reaches_every_weight_of_dcgan_d(monkeypatch):
    """R1's gradient on DCGAN's D under bf16 autocast, GEMM layers (the 4x4 -> 1 head) included, equals
    the plain layers' within bf16 rounding."""
    from gankit.losses.regularizers import r1_penalty

    torch.manual_seed(0)
    D = DCGANDiscriminator(1, 16, width=8, norm="none")
    x0 = torch.randn(6, 1, 16, 16)

    def r1_grads(enabled):
        monkeypatch.setattr(smallconv, "ENABLED", enabled)
        D.zero_grad()
        x = x0.clone().requires_grad_(True)
        with torch.autocast("cpu", torch.bfloat16):
            out = D(x)
        r1_penalty(out.float(), x).backward()
        return {n: p.grad for n, p in D.named_parameters()}

    fast, plain = r1_grads(True), r1_grads(False)
    assert all(g is not None for g in plain.values())
    for name, g in plain.items():
        assert fast[name] is not None and _rel(fast[name], g) < 3e-2, name


@pytest.mark.parametrize("cls,ref,args,size", SMALL)
def test_fp32_is_the_plain_layer_bit_for_bit(cls, ref, args, size):
    """Without bf16 the layers are nn's own (fp32 runs stay bit-identical to earlier versions)."""
    fast, plain = _pair(cls, ref, args, torch.contiguous_format)
    x = torch.randn(4, args[0], size, size)
    assert torch.equal(fast(x), plain(x))
    assert list(fast.state_dict()) == list(plain.state_dict())


def test_switch_and_size_limit(monkeypatch):
    """ENABLED=False or a small side above MAX_POSITIONS takes the plain path; else the GEMM one."""
    layer = Conv2d(8, 8, 4, 2, 1, bias=False)
    calls = []
    real = _SmallConv.apply
    monkeypatch.setattr(_SmallConv, "apply", lambda *a: calls.append(a) or real(*a))
    with torch.autocast("cpu", torch.bfloat16):
        layer(torch.randn(2, 8, 8, 8))        # 4x4 output: 16 positions
        assert len(calls) == 1
        layer(torch.randn(2, 8, 16, 16))      # 8x8 output: 64 > MAX_POSITIONS
        monkeypatch.setattr(smallconv, "ENABLED", False)
        layer(torch.randn(2, 8, 8, 8))
    assert len(calls) == 1


@pytest.mark.parametrize("cls, ref, args, size", SMALL)
def test_gemm_output_is_no_view_so_an_inplace_activation_may_follow(cls, ref, args, size):
    """DCGAN's D at 8x8 applies LeakyReLU(inplace=True) straight to its first conv's 4x4 output: autograd
    forbids modifying a custom Function's output in place when it is a view (as it was, until fixed)."""
    fast, plain = _pair(cls, ref, args, torch.channels_last)
    x = torch.randn(3, args[0], size, size, requires_grad=True)
    with torch.autocast("cpu", torch.bfloat16):
        y = fast(x)
        assert y._base is None and y.is_contiguous(memory_format=torch.channels_last)
        out = nn.functional.leaky_relu(y, 0.2, inplace=True)
        with torch.no_grad():
            expected = nn.functional.leaky_relu(plain(x), 0.2)
    out.float().sum().backward()
    assert _rel(out, expected) < 2e-2 and torch.isfinite(x.grad).all()


def test_dcgan_bf16_step_as_accurate_as_onednn(monkeypatch):
    """A whole DCGAN-32 G and D backward under bf16 autocast, on 3 initialisations: against the fp32
    gradients, the GEMM path's relative error, averaged over the 54 parameter tensors, is no larger than
    (1.1x) the oneDNN bf16 path's. One tensor at a time the two errors are noise of bf16 rounding
    (0.01-0.27 each; either path is the worse on some tensors, and which depends on the CPU's kernels:
    oneDNN emulates bf16 where the CPU lacks it), so the claim is about the whole step."""
    def grads(G, D, z, enabled, bf16=True):
        monkeypatch.setattr(smallconv, "ENABLED", enabled)
        G.zero_grad(), D.zero_grad()
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            loss = D(G(z)).float().square().mean()
        loss.backward()
        return [p.grad.clone() for p in (*G.parameters(), *D.parameters())]

    fast_err, onednn_err = [], []
    for seed in range(3):
        torch.manual_seed(seed)
        nets = DCGANGenerator(1, 32, z_dim=16, width=8), DCGANDiscriminator(1, 32, width=8), torch.randn(8, 16)
        exact = grads(*nets, False, bf16=False)
        for fast, onednn, truth in zip(grads(*nets, True), grads(*nets, False), exact):
            fast_err.append(float((fast - truth).norm() / truth.norm()))
            onednn_err.append(float((onednn - truth).norm() / truth.norm()))
    assert len(fast_err) == 54 and max(fast_err) < 0.4       # bf16 rounding, not a wrong gradient
    assert sum(fast_err) <= 1.1 * sum(onednn_err), (sum(fast_err) / 54, sum(onednn_err) / 54)


def test_fused_adam_is_the_default_and_old_runs_keep_the_loop(tmp_path):
    """fused_adam defaults to on; a run recorded before the field existed reads back as off (so it
    resumes with the arithmetic it started with); both optimisers take the same steps to rounding."""
    assert TrainConfig().fused_adam is True
    cfg = TrainConfig.from_preset("dcgan-digits", steps=3, progress=False, tensorboard=False, seed=0)
    weights = {}
    for fused in (True, False):
        trainer = Trainer(cfg.replace(fused_adam=fused), tmp_path / f"run-{fused}")
        assert trainer.opt_g.defaults["fused"] is (True if fused else None)
        trainer.train()
        weights[fused] = torch.cat([p.detach().flatten() for p in trainer.G.parameters()])
    # "to rounding": the two differ by 1.7e-5 of the weights' norm on an AVX-512 EPYC, 2e-7 on AVX2, and
    # no weight by a whole step (lr 2e-4; Adam's first steps are near lr * sign(g), so a weight whose
    # gradient rounds to the other sign moves by up to that). Three steps of the full update move the
    # weights by about 3% of their norm, so a different optimiser fails by orders of magnitude.
    diff = (weights[True] - weights[False]).abs()
    assert diff.norm() <= 1e-4 * weights[False].norm() and diff.max() < cfg.lr, (diff.norm(), diff.max())
    assert (diff > 1e-5).float().mean() < 1e-3
    meta_path = Run(tmp_path / "run-True").config_path
    meta = json.loads(meta_path.read_text())
    del meta["config"]["fused_adam"]
    meta_path.write_text(json.dumps(meta))
    assert Run(tmp_path / "run-True").config().fused_adam is False


def test_lenet_extractor_runs_channels_last_with_the_nchw_features_and_leaves_the_model_alone():
    import copy

    from evaluator_helpers import mnist_test_split, tiny_mnist_evaluator
    from gankit.metrics import LeNetExtractor

    model = copy.deepcopy(tiny_mnist_evaluator()[0]).train()
    x = mnist_test_split()[0][:300]
    ext = LeNetExtractor(model)
    conv = ext.model.conv2.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    # the caller's model: still NCHW, still in training mode, still trainable
    assert model.conv2.weight.is_contiguous() and model.training and model.conv2.weight.requires_grad
    reference = copy.deepcopy(model).eval()
    with torch.no_grad():
        h = reference.features(x)
        want = {"features": h, "logits": reference.classify(h)}
    got = ext.extract(x)
    for key in ("features", "logits"):
        assert _rel(got[key], want[key]) < 2e-6, key
    # Stacked MNIST: three digits as channels, each read by the channels-last copy
    stacked = torch.cat([x, x.roll(1, 0), x.roll(2, 0)], dim=1)
    with torch.no_grad():
        parts = [reference.features(p) for p in stacked.split(1, dim=1)]
    assert _rel(ext.extract(stacked)["features"], torch.cat(parts, dim=1)) < 2e-6
