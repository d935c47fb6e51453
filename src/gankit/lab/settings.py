"""What a lab run is made of: one validated settings object, and the data sets the lab offers.

Every setting is a field of :class:`LabSettings` (pydantic, extra keys refused), named as in the page's
URL, so a deep link ``/lab?data=ring&loss=minimax`` and the JSON API share one vocabulary and one set of
bounds; a bad value is a 422 that names the setting. :func:`train_config` maps the settings onto the
project's :class:`gankit.TrainConfig`, whose own checks (PacGAN packing divides the batch, ...) apply too.
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..analysis.theory import PAIRS, Mixture1D
from ..config import TrainConfig
from ..data import DataSpec, TensorData
from ..data.toy import TOY_MODES, sample_mixture, sample_spiral
from ..losses import OBJECTIVES

#: data sets: 2-D (ring/grid are the VEEGAN/PacGAN mixtures, moons, spiral, drawn/uploaded points) and
#: 1-D (as in Figure 1 of Goodfellow et al. 2014).
DATA_2D = ("ring", "grid", "spiral", "moons", "custom")
DATA_1D = {"gauss1d": PAIRS["gaussians"][0], "bimodal1d": PAIRS["mixture"][0]}
DATA = (*DATA_2D, *DATA_1D)
NUM_POINTS = 20_000   # training set size of the generated data sets
MAX_POINTS = 5_000    # most drawn / uploaded points
MAX_COORD = 1_000.0


def _widths(v):
    if isinstance(v, str):  # "64,64,64" from a URL
        try:
            return [int(s) for s in v.split(",") if s.strip()]
        except ValueError:
            raise ValueError("must be comma-separated integers, e.g. 64,64,64") from None
    return v


class LabSettings(BaseModel):
    """The settings of one lab run (Kahng et al. 2018, GAN Lab, offers data, loss and learning rates;
    the lab offers every gankit objective and regulariser, PacGAN packing, n_critic and more)."""

    model_config = ConfigDict(extra="forbid")

    data: Literal[DATA] = "ring"
    points: list[list[float]] | None = Field(None, description="custom data: up to 5,000 [x, y] points")
    loss: str = "nonsaturating"
    gp_weight: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    r1_gamma: float = Field(0.0, ge=0, le=100, allow_inf_nan=False)
    spectral_norm: bool = False
    n_critic: int = Field(1, ge=1, le=10)
    lr_g: float = Field(1e-3, gt=0, le=0.1, allow_inf_nan=False)
    lr_d: float = Field(1e-3, gt=0, le=0.1, allow_inf_nan=False)
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    beta1: float = Field(0.5, ge=0, lt=1, allow_inf_nan=False)
    batch_size: int = Field(128, ge=8, le=1024)
    pack: int = Field(1, ge=1, le=8)
    g_hidden: list[int] = Field(default_factory=lambda: [64, 64, 64], min_length=1, max_length=4)
    d_hidden: list[int] = Field(default_factory=lambda: [64, 64, 64], min_length=1, max_length=4)
    z_dim: int | None = Field(None, ge=1, le=16, description="default: 2 for 2-D data, 1 for 1-D")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    steps: int = Field(5000, ge=1, description="the run stops by itself after this many G steps")

    _w = field_validator("g_hidden", "d_hidden", mode="before")(lambda v: _widths(v))

    @field_validator("g_hidden", "d_hidden")
    @classmethod
    def _width_range(cls, v):
        if any(not 1 <= w <= 512 for w in v):
            raise ValueError("each layer width must be in 1..512")
        return v

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, v):
        if v not in OBJECTIVES:
            raise ValueError(f"unknown objective {v!r}; choose one of: {', '.join(OBJECTIVES.names())}")
        return v

    @field_validator("points")
    @classmethod
    def _points(cls, v):
        if v is None:
            return v
        if not 8 <= len(v) <= MAX_POINTS:
            raise ValueError(f"need 8..{MAX_POINTS} points (got {len(v)})")
        for i, p in enumerate(v):
            if len(p) != 2 or not all(math.isfinite(c) and abs(c) <= MAX_COORD for c in p):
                raise ValueError(f"point {i} must be [x, y] with finite |x|, |y| <= {MAX_COORD:g} (got {p})")
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.data == "custom" and self.points is None:
            raise ValueError("data=custom needs points (draw them on the page or upload a CSV of x,y rows)")
        if self.data != "custom" and self.points is not None:
            raise ValueError(f"points are for data=custom only (data is {self.data!r})")
        if self.batch_size % self.pack:
            raise ValueError(f"pack ({self.pack}) must divide batch_size ({self.batch_size})")
        return self

    @property
    def dim(self) -> int:
        return 1 if self.data in DATA_1D else 2

    def query(self) -> dict:
        """The settings that differ from the defaults, as URL parameters (points are not put in links)."""
        default = LabSettings(data="custom", points=[[0, 0]] * 8) if self.data == "custom" else LabSettings()
        out = {}
        for k, v in self.model_dump(exclude={"points"}).items():
            if k == "data" or v != getattr(default, k):
                out[k] = ",".join(map(str, v)) if isinstance(v, list) else v
        return out


def train_config(s: LabSettings, steps_cap: int) -> TrainConfig:
    """The project's TrainConfig for these settings (a 2-D or 1-D MLP GAN on the CPU)."""
    return TrainConfig.from_dict(dict(
        model="mlp", data="ring", loss=s.loss, gp_weight=s.gp_weight, r1_gamma=s.r1_gamma,
        spectral_norm=s.spectral_norm, n_critic=s.n_critic, lr_g=s.lr_g, lr_d=s.lr_d, optimizer=s.optimizer,
        beta1=s.beta1, batch_size=s.batch_size, pack=s.pack, g_hidden=list(s.g_hidden), d_hidden=list(s.d_hidden),
        z_dim=s.z_dim or s.dim, seed=s.seed, steps=min(s.steps, steps_cap), dropout=0.0, device="cpu",
        tensorboard=False, progress=False, num_points=NUM_POINTS, log_every=10**9), source="lab settings")


def two_moons(n: int, generator: torch.Generator, noise: float = 0.05) -> torch.Tensor:
    """The two interleaved half circles (as scikit-learn's make_moons), scaled by 2 and centred."""
    upper = torch.rand(n, generator=generator) < 0.5
    t = torch.rand(n, generator=generator) * math.pi
    x = torch.where(upper, t.cos(), 1 - t.cos())
    y = torch.where(upper, t.sin(), 0.5 - t.sin())
    pts = torch.stack([x - 0.5, y - 0.25], 1) * 2
    return pts + noise * torch.randn(n, 2, generator=generator)


def make_data(s: LabSettings) -> TensorData:
    """The training points, drawn from ``s.seed`` (the same data for the two sides of a comparison)."""
    g = torch.Generator().manual_seed(s.seed + 12345)
    if s.data in TOY_MODES:
        centres, std = TOY_MODES[s.data]
        x = sample_mixture(centres(), std, NUM_POINTS, g)[0]
    elif s.data == "spiral":
        x = sample_spiral(NUM_POINTS, g)
    elif s.data == "moons":
        x = two_moons(NUM_POINTS, g)
    elif s.data == "custom":
        pts = torch.tensor(s.points, dtype=torch.float32)
        reps = -(-max(s.batch_size, 1024) // len(pts))  # at least a batch: the points, repeated
        x = pts.repeat(reps, 1)
    else:
        x = DATA_1D[s.data].sample(NUM_POINTS, g)
    return TensorData(x.float(), None, DataSpec((s.dim,), 0, "points"), f"lab-{s.data}")


def data_density(s: LabSettings):
    """log p_data as a function of an (N, dim) numpy array, where it is known in closed form (the
    Gaussian mixtures: ring, grid, the 1-D pairs); None otherwise."""
    if s.data in DATA_1D:
        mix: Mixture1D = DATA_1D[s.data]
        return lambda x: mix.logpdf(np.asarray(x)[:, 0])
    if s.data in TOY_MODES:
        centres, std = TOY_MODES[s.data]
        c = centres().double().numpy()

        def logpdf(x):
            d2 = ((np.asarray(x, np.float64)[:, None, :] - c[None]) ** 2).sum(-1)
            comp = -d2 / (2 * std**2) - np.log(2 * math.pi * std**2)
            m = comp.max(1, keepdims=True)
            return (m + np.log(np.exp(comp - m).mean(1, keepdims=True)))[:, 0]
        return logpdf
    return None
