"""Discriminator rejection sampling (DRS; Azadi et al. 2019, "Discriminator Rejection Sampling").

A discriminator trained to optimality gives the density ratio of data and samples:
D*(x) = p_data / (p_data + p_g), so its logit is log(p_data(x) / p_g(x)) (Goodfellow et al.
2014, Prop. 1). Rejection sampling from p_g with acceptance exp(logit(x) - M), M the largest
logit, then draws from p_data. DRS (Algorithm 1) computes that acceptance through

    F(x) = logit(x) - M - log(1 - exp(logit(x) - M - eps)) - gamma,    p(x) = sigmoid(F(x)),

which is exactly exp(logit - M) for gamma = 0 (eps -> 0); gamma > 0 (here the ``percentile`` of F
over each batch, as in the paper) accepts more samples at the cost of exactness. M is estimated
on ``burn_in`` samples and raised whenever a larger logit is seen. The trained D is only
approximately optimal, and was trained against the raw G, not the EMA G one samples from:
:func:`calibrate_discriminator` first trains D further with that G frozen (Sec. 3.2 of the paper).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .models.layers import source_logits

__all__ = ["calibrate_discriminator", "RejectionSampler", "run_sampler"]


def calibrate_discriminator(D: nn.Module, G: nn.Module, data, steps: int = 1000, batch_size: int = 256,
                            lr: float = 1e-4, seed: int = 0) -> nn.Module:
    """Train D for ``steps`` more updates (non-saturating D loss, Adam(lr, (0.5, 0.999))) on
    minibatches of ``data`` (a tensor of samples in the model's range, or a ``TensorData``) against
    the frozen ``G`` (unconditional). Returns D in eval mode, in place."""
    g = torch.Generator().manual_seed(seed)
    device = next(D.parameters()).device
    D.train().requires_grad_(True)
    opt = torch.optim.Adam(D.parameters(), lr, betas=(0.5, 0.999))
    for _ in range(steps):
        idx = torch.randint(len(data), (batch_size,), generator=g)
        real = data.batch(idx, device)[0] if hasattr(data, "batch") else data[idx].to(device)
        with torch.no_grad():
            fake = G(torch.randn(batch_size, G.z_dim, generator=g).to(device))
        loss = F.softplus(-source_logits(D(real))).mean() + F.softplus(source_logits(D(fake))).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return D.eval().requires_grad_(False)


class RejectionSampler:
    """Samples of ``G`` filtered by ``D`` (both unconditional, D on single samples, not packed).

    ``percentile``: gamma is this quantile of F in each batch (the paper's choice, e.g. 0.95);
    ``None`` gives gamma = 0, exact rejection sampling under an optimal D.
    """

    def __init__(self, G: nn.Module, D: nn.Module, percentile: float | None = 0.95, burn_in: int = 10_000,
                 batch_size: int = 2500, eps: float = 1e-6, max_batches: int = 1000):
        if percentile is not None and not 0 <= percentile < 1:
            raise ValueError(f"percentile must be in [0, 1) or None (got {percentile})")
        self.G, self.D, self.percentile, self.eps = G.eval(), D.eval(), percentile, eps
        self.batch_size, self.burn_in, self.max_batches = batch_size, burn_in, max_batches
        self.device = next(G.parameters()).device
        self.max_logit: float | None = None
        self.acceptance: float | None = None  # of the last call to sample()

    @torch.no_grad()
    def _draw(self, n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
        x = self.G(torch.randn(n, self.G.z_dim, generator=g).to(self.device))
        return x, source_logits(self.D(x)).float().flatten()

    @torch.no_grad()
    def sample(self, n: int, seed: int = 0) -> Tensor:
        """``n`` accepted samples (on G's device)."""
        g = torch.Generator().manual_seed(seed)
        if self.max_logit is None:
            self.max_logit = max(float(self._draw(self.batch_size, g)[1].max())
                                 for _ in range(max(1, -(-self.burn_in // self.batch_size))))
        kept, drawn, count = [], 0, 0
        for _ in range(self.max_batches):
            x, logit = self._draw(self.batch_size, g)
            drawn += len(x)
            self.max_logit = max(self.max_logit, float(logit.max()))
            d = logit - self.max_logit  # <= 0
            f = d - torch.log1p(-torch.exp(d - self.eps))
            if self.percentile is not None:
                f = f - torch.quantile(f, self.percentile)
            accept = torch.rand(len(x), generator=g).to(self.device) < torch.sigmoid(f)
            kept.append(x[accept])
            count += int(accept.sum())
            if count >= n:
                break
        else:
            raise RuntimeError(f"rejection sampling accepted {count} of {drawn} samples, fewer than {n}; "
                               "lower the percentile or raise max_batches")
        self.acceptance = count / drawn
        return torch.cat(kept)[:n]


def run_sampler(G: nn.Module, D: nn.Module, calibrate: int = 0, calibrate_batch: int = 256, seed: int = 0,
                **sampler_kw) -> RejectionSampler:
    """A :class:`RejectionSampler` of a trained run's ``G`` and ``D`` (``gankit.load(run, discriminator=True)``),
    D first calibrated ``calibrate`` steps against G on the run's own data (``G.config``)."""
    if calibrate:
        from .data import load_dataset

        calibrate_discriminator(D, G, load_dataset(G.config.replace(download=False)), steps=calibrate,
                                batch_size=calibrate_batch, seed=seed)
    return RejectionSampler(G, D, **sampler_kw)
