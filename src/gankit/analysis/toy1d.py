"""The classic 1-D picture of GAN training (Goodfellow et al. 2014, Fig. 1), as a GIF.

A 1-D generator x = G(z), z ~ N(0, 1), and a discriminator D (gankit's MLPs) are trained by the
one gankit Trainer (passed in as ``make_trainer``: analysis imports nothing from training) on
samples of a 1-D p_data. Every ``every`` steps a frame records p_data (black,
dashed), p_g (green; a kernel density estimate of G's samples), D(x) (blue) and the optimal
D*(x) = p_data / (p_data + p_g) for that p_g (blue, dotted), with the map z -> G(z) drawn below.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.integrate import simpson
from scipy.stats import gaussian_kde

from ..config import TrainConfig
from ..data import DataSpec, TensorData
from ..utils.images import save_gif
from . import _plot
from .theory import Mixture1D, gaussian

#: 1-D data distributions for the animation.
DATA_1D: dict[str, Mixture1D] = {
    "gaussian": gaussian(2.0, 0.5),
    "bimodal": Mixture1D((-2.0, 2.0), (0.4, 0.4)),
}


def default_config(**overrides) -> TrainConfig:
    """A 1-D MLP GAN: z_dim 1, G 32-32, D 64-64 without dropout, Adam (beta1 0.5), D 4x G's rate."""
    base = dict(model="mlp", loss="nonsaturating", data="ring", z_dim=1, g_hidden=[32, 32], d_hidden=[64, 64],
                dropout=0.0, batch_size=256, lr=5e-4, lr_d=2e-3, steps=3000, log_every=100, tensorboard=False,
                progress=False, sample_every=10**9, checkpoint_every=10**9, device="cpu")
    base.update(overrides)
    return TrainConfig(**base).validate()


@dataclass
class Frame:
    step: int
    x: np.ndarray          # grid
    p_data: np.ndarray
    p_g: np.ndarray        # KDE of G's samples
    d: np.ndarray          # D(x)
    z: np.ndarray          # quantiles of z
    gz: np.ndarray         # G(z) at those quantiles

    def numbers(self) -> dict:
        """JSD(p_data || p_g) (nats; both normalised on the grid, p_g from the KDE) and the mean of D
        under p_data and under p_g."""
        a, b = (np.maximum(p, 1e-300) / max(simpson(p, x=self.x), 1e-300) for p in (self.p_data, self.p_g))
        m = 0.5 * (a + b)
        jsd = 0.5 * simpson(a * np.log(a / m), x=self.x) + 0.5 * simpson(b * np.log(b / m), x=self.x)
        return {"step": self.step, "jsd": float(np.clip(jsd, 0.0, np.log(2))),  # quadrature error aside
                "mean_d_on_data": float(simpson(self.p_data * self.d, x=self.x)),
                "mean_d_on_g": float(simpson(self.p_g * self.d, x=self.x) / max(simpson(self.p_g, x=self.x), 1e-12))}


def dataset(p_data: Mixture1D, n_points: int = 50_000, seed: int = 0) -> TensorData:
    """``n_points`` samples of the 1-D ``p_data`` as a gankit dataset (drawn from ``seed + 12345``)."""
    g = torch.Generator().manual_seed(seed + 12345)
    return TensorData(p_data.sample(n_points, g), None, DataSpec((1,), 0, "points"), "gauss1d")


class Toy1DRecorder:
    """Trainer callback: every ``every`` steps, a :class:`Frame` of p_data, p_g, D and z -> G(z)."""

    def __init__(self, p_data: Mixture1D, every: int, x_range: tuple[float, float] | None = None,
                 n_kde: int = 20_000):
        self.p_data, self.every, self.x_range, self.n_kde = p_data, every, x_range, n_kde
        self.frames: list[Frame] = []
        self.x = None

    def __call__(self, trainer) -> None:
        if trainer.step % self.every == 0:
            self.snapshot(trainer)

    @torch.no_grad()
    def _g_samples(self, trainer) -> np.ndarray:
        return trainer.G(self.kde_z)[:, 0].double().cpu().numpy()

    def _setup(self, trainer) -> None:
        gz = torch.Generator().manual_seed(trainer.cfg.seed + 2)
        self.kde_z = torch.randn(self.n_kde, trainer.cfg.z_dim, generator=gz).to(trainer.device)
        self.quantile_z = torch.linspace(-2, 2, 21)[:, None].expand(-1, trainer.cfg.z_dim).contiguous().to(
            trainer.device)
        x_range = self.x_range
        if x_range is None:
            lo, hi = self.p_data.support(3.0)
            s = self._g_samples(trainer)
            x_range = (min(lo, float(np.quantile(s, 0.005))) - 0.5, max(hi, float(np.quantile(s, 0.995))) + 0.5)
        self.x = np.linspace(*x_range, 400)

    @torch.no_grad()
    def snapshot(self, trainer) -> Frame:
        if self.x is None:
            self._setup(trainer)
        s = self._g_samples(trainer)
        p_g = gaussian_kde(s)(self.x) if np.std(s) > 1e-6 else np.zeros_like(self.x)
        xt = torch.as_tensor(self.x, dtype=torch.float32, device=trainer.device)[:, None]
        d = torch.sigmoid(trainer.D(xt)).double().cpu().numpy()
        frame = Frame(trainer.step, self.x, self.p_data.pdf(self.x), p_g, d, self.quantile_z[:, 0].cpu().numpy(),
                      trainer.G(self.quantile_z)[:, 0].double().cpu().numpy())
        self.frames.append(frame)
        return frame


def draw_frames(frames: list[Frame], path, titles: list[str] | None = None, dpi: int = 100) -> Path:
    """One panel per frame, side by side (one frame: a GIF frame; four: Fig. 1's (a)-(d))."""
    plt = _plot.plt()
    fig, axes = plt.subplots(1, len(frames), figsize=(4.2 * len(frames), 3.2), squeeze=False)
    for i, (ax, f) in enumerate(zip(axes[0], frames)):
        top = max(1.05, 1.1 * max(f.p_data.max(), 1e-9))
        with np.errstate(divide="ignore", invalid="ignore"):
            d_star = np.where(f.p_data + f.p_g > 1e-2 * f.p_data.max(), f.p_data / (f.p_data + f.p_g), np.nan)
        ax.plot(f.x, f.p_data, "k--", lw=1.2, label="p_data")
        ax.plot(f.x, np.minimum(f.p_g, top), color="#2ca02c", lw=1.5, label="p_g")
        ax.plot(f.x, f.d, color="#1f77b4", lw=1.5, label="D(x)")
        ax.plot(f.x, d_star, color="#1f77b4", lw=1, ls=":", label="D* for this p_g")
        base, span = -0.25 * top, f.x[-1] - f.x[0]
        ax.hlines([base, 0], f.x[0], f.x[-1], color="#888888", lw=0.8)
        z_pos = np.interp(f.z, (f.z.min(), f.z.max()), (f.x[0] + 0.1 * span, f.x[-1] - 0.1 * span))
        for z, gz in zip(z_pos, f.gz):  # the map z -> x = G(z), as in Fig. 1 (z's line rescaled)
            ax.annotate("", xy=(np.clip(gz, f.x[0], f.x[-1]), 0), xytext=(z, base),
                        arrowprops=dict(arrowstyle="->", lw=0.5, color="#555555"))
        ax.text(f.x[0], base, " z ~ N(0, 1)", va="bottom", fontsize=7)
        ax.text(f.x[0], 0, " x", va="bottom", fontsize=8)
        ax.set_ylim(base - 0.05 * top, top)
        ax.set_xlim(f.x[0], f.x[-1])
        ax.set_yticks([0, 0.5, 1])
        ax.set_title(titles[i] if titles else f"step {f.step}", fontsize=9)
        if i == 0:
            ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return _plot.save(fig, path, dpi)


def animate(make_trainer, p_data: Mixture1D, out_dir, cfg: TrainConfig | None = None, every: int = 100,
            duration_ms: int = 150) -> dict:
    """Train the 1-D GAN in ``out_dir/run`` with ``make_trainer(cfg, run_dir, data=..., overwrite=True)``
    (``gankit.Trainer``), writing ``toy1d.gif`` (a frame every ``every`` steps), ``toy1d.png`` (four
    snapshots, as Fig. 1 (a)-(d)) and returning the numbers."""
    cfg = cfg or default_config()
    out_dir = Path(out_dir)
    trainer = make_trainer(cfg, out_dir / "run", data=dataset(p_data, seed=cfg.seed), overwrite=True)
    recorder = Toy1DRecorder(p_data, every)
    recorder.snapshot(trainer)  # step 0
    trainer.callbacks.append(recorder)
    trainer.train()
    recorder.snapshot(trainer)  # the last step (again, if step % every == 0)
    frames = list({f.step: f for f in recorder.frames}.values())
    frame_dir = out_dir / "frames"
    paths = [draw_frames([f], frame_dir / f"step-{f.step:07d}.png", dpi=80) for f in frames]
    gif = save_gif(paths, out_dir / "toy1d.gif", duration_ms, captions=[f"step {f.step}" for f in frames])
    pick = sorted({0, len(frames) // 8, len(frames) // 3, len(frames) - 1})
    png = draw_frames([frames[i] for i in pick], out_dir / "toy1d.png",
                      [f"({'abcd'[j]}) step {frames[i].step}" for j, i in enumerate(pick)])
    return {"p_data": str(p_data), "config": {k: cfg.to_dict()[k] for k in ("loss", "z_dim", "g_hidden",
            "d_hidden", "batch_size", "lr", "lr_d", "steps", "seed")}, "every": every,
            "frames": [f.numbers() for f in frames], "gif": str(gif), "png": str(png)}
