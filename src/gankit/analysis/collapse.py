"""Watching for mode collapse during training.

On the 2-D toy mixtures (ring of 8, grid of 25 Gaussians; Metz et al. 2017, Fig. 1; Srivastava
et al. 2017) a scatter of samples with the mode centres marked, every ``every`` steps, with
the modes captured and the high-quality fraction (:func:`gankit.metrics.toy_mode_metrics`). On
labelled images, the histogram of a classifier's labels for the samples over training, with
its KL to uniform and the number of classes present (:func:`gankit.metrics.class_distribution_kl`).
A Trainer callback records them; ``save`` writes the frames, a GIF, a summary PNG and the numbers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from ..data.toy import TOY_MODES
from ..metrics import class_distribution_kl, count_modes, toy_mode_metrics
from ..utils.images import save_gif, save_scatter
from . import _plot


class CollapseRecorder:
    """Trainer callback (``trainer.callbacks.append(rec)``) sampling fixed noise every ``every``
    steps. ``classifier`` (images -> logits) is needed for image data; for the toy sets the mode
    centres and std come from the dataset name."""

    def __init__(self, every: int = 100, n: int = 2000, classifier: Callable[[Tensor], Tensor] | None = None,
                 num_classes: int = 10, seed: int = 0):
        self.every, self.n, self.classifier, self.num_classes, self.seed = every, n, classifier, num_classes, seed
        self.records: list[dict] = []
        self.points: list[np.ndarray] = []
        self.reference = self.centres = self.std = None
        self._noise = None

    def __call__(self, trainer) -> None:
        if trainer.step % self.every == 0:
            self.record(trainer)

    @torch.no_grad()
    def record(self, trainer) -> dict:
        if self._noise is None:
            self._setup(trainer)
        x = trainer.generate(*self._noise)
        row = {"step": trainer.step}
        if trainer.spec.kind == "points":
            self.points.append(x.float().cpu().numpy())
            if self.centres is not None:
                row.update(toy_mode_metrics(x.cpu(), self.centres, self.std))
        else:
            if self.classifier is None:
                raise ValueError("class histograms of image samples need a classifier (e.g. a LeNet evaluator)")
            labels = torch.cat([self.classifier(b).argmax(1).cpu() for b in x.split(500)])
            counts = np.bincount(labels.numpy(), minlength=self.num_classes)
            row.update({"counts": counts.tolist(), "kl_to_uniform": class_distribution_kl(labels, self.num_classes),
                        "classes_present": count_modes(labels, self.num_classes, max(1, self.n // (10 * self.num_classes)))})
        self.records.append(row)
        return row

    def _setup(self, trainer) -> None:
        g = torch.Generator().manual_seed(self.seed + 7)
        z = torch.randn(self.n, trainer.cfg.z_dim, generator=g).to(trainer.device)
        k = getattr(trainer.G, "num_classes", 0)
        y = torch.randint(k, (self.n,), generator=g).to(trainer.device) if k else None
        self._noise = (z, y)
        if trainer.spec.kind == "points":
            self.reference = trainer.data.x[:2000].cpu()
            if trainer.cfg.data in TOY_MODES:
                centres_fn, self.std = TOY_MODES[trainer.cfg.data]
                self.centres = centres_fn()

    # ------------------------------------------------------------------ outputs
    def save(self, out_dir, duration_ms: int = 250) -> dict:
        out_dir = Path(out_dir)
        frame_dir = out_dir / "frames"
        if self.points:
            lim = float(self.reference.abs().max()) * 1.25
            frames = [save_scatter(torch.from_numpy(p), frame_dir / f"step-{r['step']:07d}.png", self.reference,
                                   self.centres, title=self._title(r), lim=lim) for p, r in zip(self.points, self.records)]
            panels = self._scatter_panels(out_dir / "collapse.png", lim)
        else:
            frames = [self._histogram(r, frame_dir / f"step-{r['step']:07d}.png") for r in self.records]
            panels = self._heatmap(out_dir / "collapse.png")
        gif = save_gif(frames, out_dir / "collapse.gif", duration_ms, captions=[f"step {r['step']}" for r in self.records])
        return {"every": self.every, "n_samples": self.n, "records": self.records,
                "png": str(panels), "gif": str(gif)}

    @staticmethod
    def _title(r: dict) -> str:
        if "modes" in r:
            return f"step {r['step']}: {r['modes']}/{r['num_modes']} modes, {100 * r['high_quality']:.0f}% high quality"
        return f"step {r['step']}"

    def _scatter_panels(self, path, lim: float, k: int = 5) -> Path:
        plt = _plot.plt()
        pick = np.unique(np.linspace(0, len(self.points) - 1, min(k, len(self.points))).round().astype(int))
        fig, axes = plt.subplots(1, len(pick), figsize=(2.6 * len(pick), 3.1), squeeze=False)
        ref = self.reference.numpy()
        for ax, i in zip(axes[0], pick):
            p, r = self.points[i], self.records[i]
            ax.scatter(ref[:, 0], ref[:, 1], s=1, c="#bbbbbb")
            ax.scatter(p[:, 0], p[:, 1], s=1, c="#1f77b4")
            if self.centres is not None:
                c = self.centres.numpy()
                ax.scatter(c[:, 0], c[:, 1], s=25, marker="x", c="#d62728")
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
            ax.set_title(self._title(r).replace(": ", "\n"), fontsize=8)
        fig.tight_layout()
        return _plot.save(fig, path)

    def _histogram(self, r: dict, path) -> Path:
        plt = _plot.plt()
        fig, ax = plt.subplots(figsize=(4, 3))
        frac = np.asarray(r["counts"]) / max(sum(r["counts"]), 1)
        ax.bar(range(self.num_classes), frac, color="#1f77b4")
        ax.axhline(1 / self.num_classes, color="#d62728", lw=1, ls="--", label="uniform")
        ax.set(xticks=range(self.num_classes), ylim=(0, max(0.5, frac.max() * 1.1)), xlabel="predicted class",
               ylabel="fraction of samples")
        ax.set_title(f"step {r['step']}: KL to uniform {r['kl_to_uniform']:.3f}, "
                     f"{r['classes_present']} classes", fontsize=8)
        ax.legend(fontsize=7)
        fig.tight_layout()
        return _plot.save(fig, path)

    def _heatmap(self, path) -> Path:
        plt = _plot.plt()
        counts = np.asarray([r["counts"] for r in self.records], float)
        frac = counts / counts.sum(1, keepdims=True).clip(1)
        steps = [r["step"] for r in self.records]
        fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [3, 2]})
        half = (steps[-1] - steps[0]) / max(len(steps) - 1, 1) / 2 or 0.5  # columns centred on their steps
        im = a.imshow(frac.T, aspect="auto", origin="lower", cmap="viridis",
                      extent=(steps[0] - half, steps[-1] + half, -0.5, self.num_classes - 0.5))
        fig.colorbar(im, ax=a, label="fraction of samples")
        a.set(xlabel="generator step", ylabel="predicted class", yticks=range(self.num_classes),
              title="class histogram of samples over training")
        b.plot(steps, [r["kl_to_uniform"] for r in self.records], color="#1f77b4")
        b.set(xlabel="generator step", ylabel="KL(classes || uniform)", title="collapse measure")
        fig.tight_layout()
        return _plot.save(fig, path)
