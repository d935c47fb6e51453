"""gankit's fused Adam: PyTorch's fused CPU kernel fed flat views in each parameter's memory order —
the per-parameter Adam's results for dense parameters in any order (NCHW, channels-last, permuted) with
gradients and loaded moments in any layout, no copies for channels-last parameters, bit-for-bit
PyTorch's fused results for contiguous ones."""
import pytest
import torch
from torch.profiler import profile

from gankit.training.optim import Adam

CF, CL = torch.contiguous_format, torch.channels_last
SHAPES = [(8, 4, 3, 3), (16, 1, 4, 4), (4, 6, 1, 1), (7,), (5, 3)]


def run(opt_cls, fmt, gfmt, state_fmt=None, fused=True, steps=3, amsgrad=False):
    """``steps`` Adam steps from fixed values on parameters in ``fmt`` and gradients in ``gfmt``; with
    ``state_fmt`` the moments go through a state dict in that layout after the first step (a resume)."""
    g = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(s, generator=g).contiguous(memory_format=fmt if len(s) == 4 else CF))
              for s in SHAPES]
    grads = [[torch.randn(s, generator=g) for s in SHAPES] for _ in range(steps)]
    opt = opt_cls(params, lr=0.05, betas=(0.5, 0.99), fused=fused, amsgrad=amsgrad)
    for i in range(steps):
        for p, gr in zip(params, grads[i]):
            p.grad = gr.contiguous(memory_format=gfmt if gr.dim() == 4 else CF)
        opt.step()
        if i == 0 and state_fmt is not None:
            sd = opt.state_dict()
            for st in sd["state"].values():
                for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
                    if k in st and st[k].dim() == 4:
                        st[k] = st[k].contiguous(memory_format=state_fmt)
            opt = opt_cls(params, lr=0.05, betas=(0.5, 0.99), fused=fused, amsgrad=amsgrad)
            opt.load_state_dict(sd)
    return [p.detach().clone() for p in params], opt


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("fmt,gfmt,state_fmt", [(CF, CF, None), (CL, CL, None), (CL, CF, None), (CF, CL, None),
                                                (CL, CL, CF), (CF, CF, CL)])
def test_every_layout_gives_the_per_parameter_adam_result(fmt, gfmt, state_fmt, amsgrad):
    ref, _ = run(torch.optim.Adam, CF, CF, None, fused=False, amsgrad=amsgrad)
    got, opt = run(Adam, fmt, gfmt, state_fmt, amsgrad=amsgrad)
    for r, x in zip(ref, got):
        assert (r - x).abs().max().item() < 1e-6
    for p in opt.param_groups[0]["params"]:  # the parameters keep their layout
        assert p.is_contiguous(memory_format=fmt if p.dim() == 4 else CF)


def test_contiguous_parameters_are_bit_for_bit_pytorchs_fused_adam():
    ref, _ = run(torch.optim.Adam, CF, CF)
    got, _ = run(Adam, CF, CF)
    assert all(torch.equal(r, x) for r, x in zip(ref, got))


def test_channels_last_step_makes_no_copies():
    p = torch.nn.Parameter(torch.randn(64, 32, 4, 4).contiguous(memory_format=CL))
    p.grad = torch.randn(64, 32, 4, 4).contiguous(memory_format=CL)
    for cls, copies in ((torch.optim.Adam, True), (Adam, False)):
        opt = cls([p], lr=1e-3, fused=True)
        opt.step()
        with profile() as prof:
            opt.step()
        names = {e.key for e in prof.key_averages()}
        assert ("aten::clone" in names) is copies, (cls, names)


def test_state_dict_is_pytorchs():
    _, ours = run(Adam, CL, CL)
    theirs = torch.optim.Adam(ours.param_groups[0]["params"], lr=0.05, betas=(0.5, 0.99), fused=True)
    theirs.load_state_dict(ours.state_dict())
    a, b = ours.state_dict(), theirs.state_dict()
    assert a["param_groups"] == b["param_groups"] and a["state"].keys() == b["state"].keys()
    assert all(torch.equal(a["state"][i][k], b["state"][i][k]) for i in a["state"] for k in a["state"][i])


@pytest.mark.parametrize("grad_layout", ["contiguous", "like the parameter", "channels-last"])
def test_permuted_parameters_give_the_per_parameter_adam_result(grad_layout):
    """Dense parameters in other orders (a transposed matrix, a 4-D tensor with its first two dims swapped)."""
    def params():
        g = torch.Generator().manual_seed(1)
        return [torch.nn.Parameter(torch.randn(5, 3, generator=g).t()),
                torch.nn.Parameter(torch.randn(4, 6, 3, 3, generator=g).permute(1, 0, 2, 3))]
    g = torch.Generator().manual_seed(2)
    grads = [[torch.randn(3, 5, generator=g), torch.randn(6, 4, 3, 3, generator=g)] for _ in range(3)]
    results = []
    for cls, fused in ((torch.optim.Adam, False), (Adam, True)):
        ps = params()
        opt = cls(ps, lr=0.05, fused=fused)
        for step in grads:
            for p, gr in zip(ps, step):
                if grad_layout == "like the parameter":
                    gr = torch.empty_like(p).copy_(gr)
                elif grad_layout == "channels-last" and gr.dim() == 4:
                    gr = gr.contiguous(memory_format=CL)
                p.grad = gr
            opt.step()
        results.append([p.detach().clone() for p in ps])
    assert all((a - b).abs().max().item() < 1e-6 for a, b in zip(*results))


def test_sparse_gradients_get_pytorchs_message():
    p = torch.nn.Parameter(torch.randn(4, 3))
    p.grad = torch.randn(4, 3).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        Adam([p], lr=0.1, fused=True).step()
