"""Discriminator rejection sampling: exact under the optimal D, a stronger filter with gamma > 0."""
import math

import pytest
import torch
from torch import nn

from gankit.sampling import RejectionSampler, calibrate_discriminator


class Identity(nn.Module):
    """p_g = N(0, I) in 2-D."""
    z_dim = 2

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, z):
        return z + 0 * self.dummy


class OptimalD(nn.Module):
    """The optimal logit log(p_data / p_g) for p_data = N(0, s^2 I), p_g = N(0, I) in 2-D."""

    def __init__(self, s=0.5):
        super().__init__()
        self.s = nn.Parameter(torch.tensor(s), requires_grad=False)

    def forward(self, x):
        r2 = (x ** 2).sum(1)
        return -r2 / (2 * self.s ** 2) + r2 / 2 - 2 * torch.log(self.s)


def test_drs_with_the_optimal_discriminator_samples_the_data_distribution():
    sampler = RejectionSampler(Identity(), OptimalD(0.5), percentile=None, burn_in=50_000)
    x = sampler.sample(20_000, seed=1)
    assert x.shape == (20_000, 2)
    # N(0, 0.25 I): per-coordinate std 0.5 (p_g has 1.0); 20,000 samples give about +-0.004.
    assert x.std(0).tolist() == pytest.approx([0.5, 0.5], abs=0.02)
    assert x.mean(0).abs().max() < 0.02
    # Acceptance = E_pg[p_data / p_g] / max ratio = 1 / 4 (M from the burn-in is a shade below log 4).
    assert sampler.max_logit == pytest.approx(math.log(4), abs=0.01)
    assert sampler.acceptance == pytest.approx(0.25, abs=0.02)
    assert torch.equal(sampler.sample(100, seed=3), sampler.sample(100, seed=3))  # seeded


def test_drs_percentile_shifts_acceptance_but_still_filters():
    exact = RejectionSampler(Identity(), OptimalD(0.5), percentile=None)
    loose = RejectionSampler(Identity(), OptimalD(0.5), percentile=0.5)
    strict = RejectionSampler(Identity(), OptimalD(0.5), percentile=0.99)
    xe, xl, xs = (s.sample(5000, seed=0) for s in (exact, loose, strict))
    assert loose.acceptance > exact.acceptance > strict.acceptance
    assert 0.5 < xl.std() < 0.95  # looser than exact, still far from p_g's 1.0
    assert xs.std() < xe.std()
    with pytest.raises(ValueError, match="percentile"):
        RejectionSampler(Identity(), OptimalD(), percentile=1.5)


def test_calibration_trains_d_towards_the_density_ratio():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
    data = 0.5 * torch.randn(20_000, 2)
    calibrate_discriminator(D, Identity(), data, steps=600, lr=1e-3)
    assert not D.training
    probe = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, -2.0]])
    with torch.no_grad():
        got = D(probe).flatten()
    want = OptimalD(0.5)(probe)  # log 4 at 0, -0.11 at r=1, -4.6 at r=2
    assert got[0] > got[1] > got[2] and got[0] > got[3]
    assert (got - want)[:2].abs().max() < 0.6
