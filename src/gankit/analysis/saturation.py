"""Why the minimax generator starves early (Goodfellow et al. 2014, Sec. 3; NIPS 2016 tutorial, Fig. 16).

With D(G(z)) = sigmoid(l), the minimax generator descends log(1 - D), whose gradient with respect
to the logit is -D: it vanishes when D confidently rejects the samples (D(G(z)) -> 0, early in
training). The non-saturating generator descends -log D, with gradient -(1 - D) -> -1 there.
``saturation_curves`` reads both off gankit's own objectives by autograd; ``compare_objectives``
measures G's gradient norm over the first steps of real runs under each objective.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..config import TrainConfig
from ..losses import build_objective
from ..runs import Run
from . import _plot

OBJECTIVES = ("minimax", "nonsaturating")


def saturation_curves(n: int = 999, objectives=OBJECTIVES) -> dict:
    """Per-sample G cost and its derivative with respect to D's logit, for D(G(z)) on (0, 1),
    computed by autograd through each objective's ``g_loss``."""
    d = torch.linspace(0.5 / (n + 1), 1 - 0.5 / (n + 1), n, dtype=torch.float64)
    out = {"d": d.tolist()}
    for name in objectives:
        g_loss = build_objective(name).g_loss
        logit = torch.logit(d).requires_grad_(True)
        cost = torch.func.vmap(lambda one: g_loss(one[None]))(logit)  # per-sample cost
        (grad,) = torch.autograd.grad(cost.sum(), logit)
        out[name] = {"cost": cost.detach().tolist(), "dcost_dlogit": grad.tolist()}
    return out


def plot_saturation_curves(curves: dict, path) -> Path:
    plt = _plot.plt()
    d = np.asarray(curves["d"])
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    labels = {"minimax": "minimax: log(1 - D)", "nonsaturating": "non-saturating: -log D"}
    for name in (k for k in curves if k != "d"):
        a.plot(d, curves[name]["cost"], label=labels.get(name, name))
        b.plot(d, np.abs(curves[name]["dcost_dlogit"]), label=name)
    a.set(xlabel="D(G(z))", ylabel="generator cost", title="G's cost")
    b.set(xlabel="D(G(z))", ylabel="|d cost / d logit|", title="its gradient at D's logit", ylim=(0, 1.05))
    b.axvspan(0, 0.1, color="#d62728", alpha=0.08, label="D rejects G (early training)")
    a.legend(fontsize=8)
    b.legend(fontsize=8)
    fig.tight_layout()
    return _plot.save(fig, path)


def gradient_norm(module: nn.Module) -> Tensor:
    """||grad||_2 over all of ``module``'s parameters (stays on the device)."""
    grads = [p.grad.detach().flatten() for p in module.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.cat(grads)) if grads else torch.zeros(())


class GradNormRecorder:
    """Trainer callback: G's gradient norm after every generator step (``g_step`` leaves the
    step's ``.grad`` on G's parameters). Kept on the device; read once with ``values()``."""

    def __init__(self):
        self.norms: list[Tensor] = []

    def __call__(self, trainer) -> None:
        self.norms.append(gradient_norm(trainer.G))

    def values(self) -> list[float]:
        return torch.stack(self.norms).tolist() if self.norms else []


def run_objective(make_trainer, cfg: TrainConfig, run_dir, pretrain_d: int = 0) -> dict:
    """Train ``cfg`` (its ``steps``) in ``run_dir`` after ``pretrain_d`` extra D steps, recording G's
    gradient norm and D(G(z)) (the mean over the D step's fake batch) at every step.
    ``make_trainer(cfg, run_dir, overwrite=True)`` builds the trainer (``gankit.Trainer``)."""
    cfg = cfg.replace(log_every=1, tensorboard=False, progress=False, checkpoint_every=10**9,
                      sample_every=10**9)
    trainer = make_trainer(cfg, run_dir, overwrite=True)
    for _ in range(pretrain_d):
        trainer.d_step()
    recorder = GradNormRecorder()
    trainer.callbacks.append(recorder)
    trainer.train()
    rows = Run(run_dir).metrics()
    return {"grad_norm": recorder.values(), "d_fake": [r["d_fake"] for r in rows],
            "d_real": [r["d_real"] for r in rows], "g_loss": [r["g_loss"] for r in rows]}


def compare_objectives(make_trainer, cfg: TrainConfig, root, pretrain_d: int = 0, objectives=OBJECTIVES) -> dict:
    """The same config, seed and data order under each objective; runs go to ``root/<objective>``."""
    return {name: run_objective(make_trainer, cfg.replace(loss=name), Path(root) / name, pretrain_d)
            for name in objectives}


def summarise(runs: dict, first: int = 10) -> dict:
    """Mean gradient norm and D(G(z)) over the first ``first`` steps and over all, per objective."""
    out = {}
    for name, r in runs.items():
        g, d = np.asarray(r["grad_norm"]), np.asarray(r["d_fake"])
        out[name] = {f"grad_norm_first_{first}": float(g[:first].mean()), "grad_norm_mean": float(g.mean()),
                     "grad_norm_step_1": float(g[0]), f"d_fake_first_{first}": float(d[:first].mean()),
                     "d_fake_last": float(d[-1])}
    if "minimax" in out and "nonsaturating" in out:
        out["ratio_minimax_over_nonsaturating_first"] = (out["minimax"][f"grad_norm_first_{first}"] /
                                                        out["nonsaturating"][f"grad_norm_first_{first}"])
    return out


def plot_gradient_norms(runs: dict, path, title: str = "") -> Path:
    plt = _plot.plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    for name, r in runs.items():
        steps = np.arange(1, len(r["grad_norm"]) + 1)
        a.plot(steps, r["grad_norm"], label=name)
        b.plot(steps, r["d_fake"], label=name)
    a.set(xlabel="generator step", ylabel="||grad_G||", yscale="log", title="G's gradient norm")
    b.set(xlabel="generator step", ylabel="D(G(z))", ylim=(0, 1), title="D on the fake batch")
    a.legend(fontsize=8)
    b.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _plot.save(fig, path)


def report(make_trainer, cfg: TrainConfig | None, out_dir, pretrain_d: int = 50) -> dict:
    """The analytic curves (``saturation-curves.png``) and, unless ``cfg`` is None, the same config trained
    under minimax and non-saturating (runs in ``out_dir/runs``; ``saturation.png``) with G's gradient norms."""
    out_dir = Path(out_dir)
    result = {"curves_png": str(plot_saturation_curves(saturation_curves(), out_dir / "saturation-curves.png"))}
    c = saturation_curves(n=3)  # D(G(z)) = 1/8, 1/2, 7/8: the two gradients side by side
    result["gradient_at_d"] = {f"{d:.3f}": {k: abs(c[k]["dcost_dlogit"][i]) for k in OBJECTIVES}
                               for i, d in enumerate(c["d"])}
    if cfg is None:
        return result
    runs = compare_objectives(make_trainer, cfg, out_dir / "runs", pretrain_d=pretrain_d)
    title = (f"{cfg.model} on {cfg.data} ({cfg.split}), {cfg.optimizer} lr {cfg.lr_generator:g}, "
             f"D pre-trained {pretrain_d} steps, seed {cfg.seed}")
    result.update({"config": cfg.to_dict(), "pretrain_d": pretrain_d, "summary": summarise(runs), "runs": runs,
                   "png": str(plot_gradient_norms(runs, out_dir / "saturation.png", title))})
    return result
