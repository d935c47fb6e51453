"""The theory of Goodfellow et al. 2014, Sec. 4, checked numerically on 1-D densities.

* Proposition 1: for a fixed G the optimal discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)).
* Theorem 1: the value of the game at D* is V(G, D*) = -log 4 + 2 JSD(p_data || p_g), whose
  minimum -log 4 is reached exactly when p_g = p_data.

Densities are 1-D Gaussian mixtures with exact log-densities; integrals are taken on a dense grid
(Simpson's rule) far beyond the densities' support. A small MLP D trained on samples with gankit's
``minimax`` discriminator loss shows the learnt D approaching D*.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.integrate import simpson
from scipy.special import logsumexp
from torch import Tensor, nn

from ..losses import build_objective
from . import _plot

LOG4 = math.log(4.0)


@dataclass(frozen=True)
class Mixture1D:
    """An equal- or weighted mixture of 1-D Gaussians (a single Gaussian is one component)."""

    means: tuple[float, ...]
    stds: tuple[float, ...]
    weights: tuple[float, ...] | None = None
    name: str = ""

    def _w(self) -> np.ndarray:
        w = np.ones(len(self.means)) if self.weights is None else np.asarray(self.weights, float)
        return w / w.sum()

    def logpdf(self, x) -> np.ndarray:
        x = np.asarray(x, np.float64)[..., None]
        mu, sd = np.asarray(self.means, float), np.asarray(self.stds, float)
        comp = -0.5 * ((x - mu) / sd) ** 2 - np.log(sd) - 0.5 * math.log(2 * math.pi)
        return logsumexp(comp + np.log(self._w()), axis=-1)

    def pdf(self, x) -> np.ndarray:
        return np.exp(self.logpdf(x))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """(n, 1) float32 samples."""
        k = torch.multinomial(torch.as_tensor(self._w()), n, replacement=True, generator=generator)
        mu, sd = torch.tensor(self.means)[k], torch.tensor(self.stds)[k]
        return (mu + sd * torch.randn(n, generator=generator)).float()[:, None]

    def support(self, k: float = 4.0) -> tuple[float, float]:
        """[min(mean - k std), max(mean + k std)] over the components."""
        return (min(m - k * s for m, s in zip(self.means, self.stds)),
                max(m + k * s for m, s in zip(self.means, self.stds)))

    def __str__(self) -> str:
        if len(self.means) == 1:
            return f"N({self.means[0]:g}, {self.stds[0]:g}²)"
        w = self._w()
        return " + ".join(f"{wi:.2g}·N({m:g}, {s:g}²)" for wi, m, s in zip(w, self.means, self.stds))


def gaussian(mean: float, std: float) -> Mixture1D:
    return Mixture1D((float(mean),), (float(std),))


#: the (p_data, p_g) pairs the commands and the gallery use.
PAIRS: dict[str, tuple[Mixture1D, Mixture1D]] = {
    "gaussians": (gaussian(0.0, 1.0), gaussian(2.0, 0.7)),
    "mixture": (Mixture1D((-2.0, 2.0), (0.6, 0.6)), gaussian(0.5, 1.5)),
    "equal": (gaussian(0.0, 1.0), gaussian(0.0, 1.0)),
}


def grid_for(p_data: Mixture1D, p_g: Mixture1D, n: int = 20_001, k: float = 12.0) -> np.ndarray:
    """A dense grid covering both densities to ``k`` standard deviations (their mass outside < 1e-30)."""
    lo = min(p_data.support(k)[0], p_g.support(k)[0])
    hi = max(p_data.support(k)[1], p_g.support(k)[1])
    return np.linspace(lo, hi, n)


def optimal_discriminator(p_data: Mixture1D, p_g: Mixture1D, x) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g) (Proposition 1), computed from log-densities."""
    a, b = p_data.logpdf(x), p_g.logpdf(x)
    return np.exp(a - np.logaddexp(a, b))


def game_value(p_data: Mixture1D, p_g: Mixture1D, D=None, x: np.ndarray | None = None) -> float:
    """V(G, D) = E_pdata[log D(x)] + E_pg[log(1 - D(x))] (Eq. 1) by integration on a grid.

    ``D``: a function of a numpy grid returning probabilities; None means D* (computed in
    log space, so no log of 0 where one density underflows).
    """
    x = grid_for(p_data, p_g) if x is None else x
    a, b = p_data.logpdf(x), p_g.logpdf(x)
    if D is None:
        log_d, log_1md = a - np.logaddexp(a, b), b - np.logaddexp(a, b)
    else:
        d = np.clip(np.asarray(D(x), np.float64), 1e-300, 1.0)
        log_d, log_1md = np.log(d), np.log(np.clip(1.0 - d, 1e-300, 1.0))
    return float(simpson(np.exp(a) * log_d + np.exp(b) * log_1md, x=x))


def jensen_shannon(p_data: Mixture1D, p_g: Mixture1D, x: np.ndarray | None = None) -> float:
    """JSD(p || q) = KL(p || m)/2 + KL(q || m)/2, m = (p + q)/2, in nats, by integration."""
    x = grid_for(p_data, p_g) if x is None else x
    a, b = p_data.logpdf(x), p_g.logpdf(x)
    log_m = np.logaddexp(a, b) - math.log(2.0)
    return float(0.5 * simpson(np.exp(a) * (a - log_m), x=x) + 0.5 * simpson(np.exp(b) * (b - log_m), x=x))


def jensen_shannon_mc(p_data: Mixture1D, p_g: Mixture1D, n: int = 1_000_000, seed: int = 0) -> tuple[float, float]:
    """Monte Carlo JSD from samples (an independent check of the integral): (estimate, std error)."""
    g = torch.Generator().manual_seed(seed)
    terms = []
    for p in (p_data, p_g):
        s = p.sample(n, g)[:, 0].double().numpy()
        a, b = p_data.logpdf(s), p_g.logpdf(s)
        log_m = np.logaddexp(a, b) - math.log(2.0)
        terms.append(0.5 * ((a if p is p_data else b) - log_m))
    est = sum(t.mean() for t in terms)
    se = math.sqrt(sum(t.var() / n for t in terms))
    return float(est), se


class Discriminator1D(nn.Module):
    """A small MLP on standardised 1-D inputs, returning logits (B,)."""

    def __init__(self, centre: float, scale: float, hidden: int = 64):
        super().__init__()
        self.centre, self.scale = centre, scale
        self.net = nn.Sequential(nn.Linear(1, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - self.centre) / self.scale).squeeze(-1)

    @torch.no_grad()
    def prob(self, x) -> np.ndarray:
        """D(x) = sigmoid(logit) on a numpy grid."""
        t = torch.as_tensor(np.asarray(x, np.float32))[:, None]
        return torch.sigmoid(self(t)).double().numpy()


def fit_discriminator(p_data: Mixture1D, p_g: Mixture1D, steps: int = 2000, batch_size: int = 2048,
                      lr: float = 1e-2, hidden: int = 64, seed: int = 0,
                      loss: str = "minimax") -> tuple[Discriminator1D, list[float]]:
    """Train D alone (G fixed: p_g is given) on fresh samples of both densities with the
    ``loss`` objective's ``d_loss``; Adam with a cosine learning-rate decay to 0 so that D settles.
    Returns D and its loss every step."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    lo, hi = min(p_data.support()[0], p_g.support()[0]), max(p_data.support()[1], p_g.support()[1])
    D = Discriminator1D((lo + hi) / 2, (hi - lo) / 2, hidden)
    objective = build_objective(loss)
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    losses = []
    for _ in range(steps):
        real, fake = p_data.sample(batch_size, g), p_g.sample(batch_size, g)
        d_loss = objective.d_loss(D(real), D(fake))
        opt.zero_grad(set_to_none=True)
        d_loss.backward()
        opt.step()
        sched.step()
        losses.append(d_loss.detach())
    return D.eval(), torch.stack(losses).tolist()


def discriminator_error(p_data: Mixture1D, p_g: Mixture1D, D: Discriminator1D, n: int = 2001,
                        mass: float = 0.05) -> dict:
    """|D - D*| on a dense grid where the mixture (p_data + p_g)/2 is at least ``mass`` times its
    maximum (where samples actually fall); max and mean absolute error."""
    lo, hi = min(p_data.support()[0], p_g.support()[0]), max(p_data.support()[1], p_g.support()[1])
    x = np.linspace(lo, hi, n)
    m = 0.5 * (p_data.pdf(x) + p_g.pdf(x))
    keep = m >= mass * m.max()
    err = np.abs(D.prob(x) - optimal_discriminator(p_data, p_g, x))[keep]
    return {"max_abs_error": float(err.max()), "mean_abs_error": float(err.mean()),
            "grid_points": int(keep.sum()), "interval": [float(x[keep].min()), float(x[keep].max())],
            "mass_threshold": mass}


# ---------------------------------------------------------------------- figures
def plot_optimal_d(fits: dict, path) -> Path:
    """One panel per pair: p_data, p_g (shaded), D* and the trained D."""
    plt = _plot.plt()
    fig, axes = plt.subplots(1, len(fits), figsize=(4.4 * len(fits), 3.3), squeeze=False)
    for ax, (name, (p_data, p_g, D, err)) in zip(axes[0], fits.items()):
        lo, hi = min(p_data.support()[0], p_g.support()[0]), max(p_data.support()[1], p_g.support()[1])
        x = np.linspace(lo, hi, 801)
        a, b = p_data.pdf(x), p_g.pdf(x)
        scale = 0.9 / max(a.max(), b.max())
        ax.fill_between(x, a * scale, color="k", alpha=0.12, label="p_data (scaled)")
        ax.fill_between(x, b * scale, color="#2ca02c", alpha=0.18, label="p_g (scaled)")
        ax.plot(x, optimal_discriminator(p_data, p_g, x), "k", lw=2.2, label="D* = p_data/(p_data+p_g)")
        ax.plot(x, D.prob(x), color="#ff7f0e", lw=1.3, ls="--", label="trained D")
        lo_e, hi_e = err["interval"]
        ax.axvspan(lo_e, hi_e, color="#1f77b4", alpha=0.05)
        ax.set(ylim=(0, 1.02), xlabel="x", title=f"{name}: max |D - D*| = {err['max_abs_error']:.3f}")
        ax.title.set_fontsize(9)
    axes[0][0].legend(fontsize=7, loc="center left")
    fig.tight_layout()
    return _plot.save(fig, path)


def value_curves(p_data: Mixture1D, shifts, scales) -> dict:
    """V(G, D*) and 2 JSD - log 4 for p_g = p_data's first component moved (mean + shift) or
    rescaled (std x scale): both curves reach -log 4 only at p_g = p_data."""
    mu, sd = p_data.means[0], p_data.stds[0]
    out = {}
    for key, family in (("shift", [gaussian(mu + s, sd) for s in shifts]),
                        ("scale", [gaussian(mu, sd * s) for s in scales])):
        v = [game_value(p_data, q) for q in family]
        j = [2 * jensen_shannon(p_data, q) - LOG4 for q in family]
        out[key] = {"param": list(shifts if key == "shift" else scales), "value": v, "two_jsd_minus_log4": j}
    return out


def plot_game_value(curves: dict, path, p_data: Mixture1D) -> Path:
    plt = _plot.plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.3))
    labels = {"shift": f"p_g = N({p_data.means[0]:g} + s, {p_data.stds[0]:g}²): shift s",
              "scale": f"p_g = N({p_data.means[0]:g}, ({p_data.stds[0]:g}·r)²): scale r"}
    for ax, (key, c) in zip(axes, curves.items()):
        ax.plot(c["param"], c["value"], "k", lw=2, label="V(G, D*) by integration")
        ax.plot(c["param"], c["two_jsd_minus_log4"], ls="none", marker="o", ms=3, color="#ff7f0e",
                label="2·JSD(p_data‖p_g) − log 4")
        ax.axhline(-LOG4, color="#d62728", lw=0.8, ls="--", label="−log 4")
        ax.set(xlabel=labels[key], ylabel="value of the game")
        if key == "scale":
            ax.set_xscale("log")
            ax.set_xticks([0.2, 0.5, 1, 2, 5], ["0.2", "0.5", "1", "2", "5"])
            ax.minorticks_off()
        ax.xaxis.label.set_fontsize(8)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"p_data = {p_data}", fontsize=9)
    fig.tight_layout()
    return _plot.save(fig, path)


def optimal_d_report(pairs: dict, out_dir, d_steps: int = 2000, batch_size: int = 2048, seed: int = 0) -> dict:
    """Fit D on each (p_data, p_g) pair and compare it with D* (Prop. 1): the errors, the game value at
    the trained D and at D*, and ``optimal-d.png`` in ``out_dir``."""
    fits, result = {}, {}
    for name, (p_data, p_g) in pairs.items():
        D, losses = fit_discriminator(p_data, p_g, steps=d_steps, batch_size=batch_size, seed=seed)
        err = discriminator_error(p_data, p_g, D)
        fits[name] = (p_data, p_g, D, err)
        result[name] = {"p_data": str(p_data), "p_g": str(p_g), **err, "final_d_loss": losses[-1],
                        "value_at_trained_d": game_value(p_data, p_g, D.prob),
                        "value_at_d_star": game_value(p_data, p_g)}
    result["d_steps"], result["batch_size"], result["seed"] = d_steps, batch_size, seed
    result["png"] = str(plot_optimal_d(fits, Path(out_dir) / "optimal-d.png"))
    return result


def game_value_report(pairs: dict, out_dir) -> dict:
    """V(G, D*) against 2 JSD - log 4 (Theorem 1) for each pair, by quadrature and Monte Carlo, and over
    shifted/scaled Gaussians (``game-value.png`` in ``out_dir``)."""
    result = {"log4": LOG4, "pairs": {}}
    for name, (p_data, p_g) in pairs.items():
        v, j = game_value(p_data, p_g), jensen_shannon(p_data, p_g)
        mc, se = jensen_shannon_mc(p_data, p_g)
        result["pairs"][name] = {"p_data": str(p_data), "p_g": str(p_g), "value": v, "jsd": j,
                                 "two_jsd_minus_log4": 2 * j - LOG4, "abs_difference": abs(v - (2 * j - LOG4)),
                                 "jsd_monte_carlo": mc, "jsd_monte_carlo_stderr": se}
    p_data = gaussian(0.0, 1.0)
    curves = value_curves(p_data, np.linspace(-4, 4, 41).tolist(), np.geomspace(0.2, 5, 41).tolist())
    result["curves"] = curves
    result["max_abs_difference_on_curves"] = max(abs(a - b) for c in curves.values()
                                                 for a, b in zip(c["value"], c["two_jsd_minus_log4"]))
    result["png"] = str(plot_game_value(curves, Path(out_dir) / "game-value.png", p_data))
    return result
