"""Pure metric functions of gankit.metrics checked against references and known answers."""
import math

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.metrics.frechet import feature_statistics, fid_from_features, frechet_distance
from gankit.metrics.inception_score import inception_score
from gankit.metrics.kid import kernel_inception_distance, polynomial_mmd2
from gankit.metrics.modes import class_distribution_kl, class_kl_to_target, count_modes, toy_mode_metrics
from gankit.metrics.prdc import density_coverage, prdc, precision_recall


# ---------------------------------------------------------------- Fréchet distance / FID

def reference_frechet(mu1, s1, mu2, s2):
    """The textbook formula, float64, plain scipy sqrtm."""
    diff = mu1 - mu2
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2)).real


def random_stats(rng, dim, n=None):
    """Mean and covariance of n Gaussian features in `dim` dims (rank n-1 when n <= dim)."""
    n = n or 4 * dim
    mix = rng.normal(size=(dim, dim)) / math.sqrt(dim)
    feats = rng.normal(size=(n, dim)) @ mix + rng.normal(size=dim)
    return feature_statistics(feats)


@pytest.mark.parametrize("method", ["sqrtm", "eigh"])
@pytest.mark.parametrize("dim,n", [(1, 8), (2, 8), (5, 20), (32, 128), (64, 256), (32, 12), (64, 40)])
def test_frechet_matches_scipy_reference(method, dim, n):
    rng = np.random.default_rng(dim * 1000 + n)
    mu1, s1 = random_stats(rng, dim, n)
    mu2, s2 = random_stats(rng, dim, n)
    if n <= dim:
        assert np.linalg.matrix_rank(s1) < dim  # the rank-deficient cases really are
    got = frechet_distance(mu1, s1, mu2, s2, method=method)
    assert got == pytest.approx(reference_frechet(mu1, s1, mu2, s2), rel=1e-6)


def test_frechet_closed_forms():
    # 1-D: (m1 - m2)² + (σ1 - σ2)²; diagonal: Σ (√a - √b)² + |Δμ|².
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4 + 1)
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.0])
    for method in ("sqrtm", "eigh"):
        got = frechet_distance(np.zeros(3), np.diag(a), np.ones(3), np.diag(b), method=method)
        assert got == pytest.approx(3 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum(), rel=1e-9)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pytorch-fid passes sqrtm's old disp=
def test_frechet_matches_pytorch_fid():
    fid_score = pytest.importorskip("pytorch_fid.fid_score")
    rng = np.random.default_rng(11)
    stats = random_stats(rng, 48) + random_stats(rng, 48)
    expected = fid_score.calculate_frechet_distance(*stats)
    for method in ("sqrtm", "eigh"):
        assert frechet_distance(*stats, method=method) == pytest.approx(expected, rel=1e-9)


def test_sqrtm_fallback_and_imaginary_error(monkeypatch):
    calls = []
    real_sqrtm = scipy.linalg.sqrtm

    def nan_first(a):  # the first root is non-finite: retried with eps*I added
        calls.append(a.copy())
        return np.full_like(a, np.nan) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(scipy.linalg, "sqrtm", nan_first)
    got = frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), 4 * np.eye(2), eps=1e-3, method="sqrtm")
    np.testing.assert_allclose(calls[1], (1 + 1e-3) * (4 + 1e-3) * np.eye(2))
    assert got == pytest.approx(2 * (1 + 4) - 2 * 2 * math.sqrt(1.001 * 4.001))
    monkeypatch.setattr(scipy.linalg, "sqrtm", lambda a: a + 1j * np.eye(len(a)))
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), method="sqrtm")


def test_fid_same_features_is_zero_and_grows_with_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16))
    scale = np.trace(np.cov(x, rowvar=False))
    assert fid_from_features(x, x) < 1e-6 * scale
    assert fid_from_features(torch.from_numpy(x).float(), x) < 1e-6 * scale  # tensors accepted
    shifts = [0.0, 0.25, 0.5, 1.0, 2.0, 4.0]
    fids = [fid_from_features(x, x + s) for s in shifts]
    assert all(a < b for a, b in zip(fids, fids[1:]))
    # a constant shift keeps the covariance, so FID is exactly |shift|² = 16 s².
    np.testing.assert_allclose(fids[1:], [16 * s * s for s in shifts[1:]], rtol=1e-6)


def test_feature_statistics_and_errors():
    x = np.random.default_rng(1).normal(size=(50, 4))
    mu, sigma = feature_statistics(torch.from_numpy(x))
    np.testing.assert_allclose(mu, x.mean(0))
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False))
    assert mu.dtype == sigma.dtype == np.float64
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.eye(2), method="nope")
    with pytest.raises(ValueError):
        feature_statistics(np.zeros((1, 3)))


# ---------------------------------------------------------------- KID

def brute_force_mmd2(x, y, degree=3, coef0=1.0):
    m, d = len(x), x.shape[1]
    k = lambda a, b: (float(np.dot(a, b)) / d + coef0) ** degree  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return (xx + yy) / (m * (m - 1)) - 2 * xy / (m * m)


def test_kid_matches_brute_force_loop():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3)) + 0.5
    expected = brute_force_mmd2(x, y)
    assert polynomial_mmd2(x, y) == pytest.approx(expected, rel=1e-12)
    # one subset of all samples is a permutation of each set: MMD² is permutation invariant.
    with pytest.warns(RuntimeWarning, match="std over subsets is not reported"):
        mean, std = kernel_inception_distance(x, y, num_subsets=3, subset_size=100)  # clipped to 7
    assert mean == pytest.approx(expected, rel=1e-12) and math.isnan(std)  # no spread to measure


def test_kid_near_zero_for_same_distribution_and_larger_when_shifted():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    same_mean, same_std = kernel_inception_distance(a, b, num_subsets=20, subset_size=200)
    shift_mean, _ = kernel_inception_distance(a, b + 0.5, num_subsets=20, subset_size=200)
    assert abs(same_mean) < 0.01 * shift_mean
    assert abs(same_mean) < 3 * same_std
    assert shift_mean > 0.05
    again = kernel_inception_distance(a, torch.from_numpy(b), num_subsets=20, subset_size=200)
    assert again == (same_mean, same_std)  # deterministic given the seed, tensors accepted
    assert kernel_inception_distance(a, b, num_subsets=20, subset_size=200, seed=1) != again


# ---------------------------------------------------------------- Inception Score

def test_inception_score_known_values():
    c = 10
    one_hot = np.eye(c)[np.arange(200) % c]  # every split holds each class equally often
    mean, std = inception_score(one_hot, splits=10)
    assert mean == pytest.approx(c) and std == pytest.approx(0, abs=1e-12)
    constant = np.tile(np.random.default_rng(4).dirichlet(np.ones(c)), (50, 1))
    assert inception_score(constant, splits=5)[0] == pytest.approx(1.0)
    # p(y|x) = [1, 0], [.5, .5]; p(y) = [.75, .25]; KLs log(4/3) and ½ log(4/3) -> IS = (4/3)^¾.
    two = np.array([[1.0, 0.0], [0.5, 0.5]])
    assert inception_score(two, splits=1)[0] == pytest.approx((4 / 3) ** 0.75, rel=1e-12)


def test_inception_score_from_logits_matches_probs():
    logits = torch.randn(120, 7, generator=torch.Generator().manual_seed(5)) * 3
    probs = torch.softmax(logits.double(), dim=1)
    a = inception_score(logits, splits=4, from_logits=True)
    b = inception_score(probs, splits=4)
    assert a == pytest.approx(b, rel=1e-10)
    with pytest.raises(ValueError):
        inception_score(logits, splits=4)  # logits are not probabilities


# ---------------------------------------------------------------- precision / recall / density / coverage

def brute_force_prdc(real, fake, k_pr, k_dc):
    def radii(x, k):
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, axis=1)[:, k - 1]

    d = np.linalg.norm(real[:, None] - fake[None], axis=2)  # (real, fake)
    r_pr, f_pr, r_dc = radii(real, k_pr), radii(fake, k_pr), radii(real, k_dc)
    return dict(precision=(d <= r_pr[:, None]).any(0).mean(), recall=(d <= f_pr[None]).any(1).mean(),
                density=(d <= r_dc[:, None]).sum(0).mean() / k_dc, coverage=(d.min(1) <= r_dc).mean())


def test_prdc_points_on_a_line():
    real = np.arange(5.0)[:, None]  # 0..4: every 1-NN radius is 1, real balls cover [-1, 5]
    fake = np.array([0.5, 1.5, 10.0, 10.5])[:, None]  # fake 1-NN radii 1, 1, .5, .5
    assert precision_recall(real, fake, k=1) == pytest.approx((0.5, 0.6))  # reals 0, 1, 2 recalled
    # 0.5 and 1.5 each lie in two real balls: density (2 + 2 + 0 + 0) / 4; reals 0, 1, 2 covered.
    assert density_coverage(real, fake, k=1) == pytest.approx((1.0, 0.6))


def test_prdc_matches_brute_force_and_chunking():
    rng = np.random.default_rng(6)
    real, fake = rng.normal(size=(60, 5)), rng.normal(size=(45, 5)) * 1.3 + 0.3
    expected = brute_force_prdc(real, fake, 3, 5)
    for chunk in (1 << 24, 7, 100):
        got = prdc(torch.from_numpy(real).float(), fake, chunk_elems=chunk)
        assert got == pytest.approx(expected, rel=1e-12)
    assert precision_recall(real, fake) == pytest.approx((expected["precision"], expected["recall"]))
    assert density_coverage(real, fake) == pytest.approx((expected["density"], expected["coverage"]))


def test_prdc_identical_sets():
    x = np.random.default_rng(7).normal(size=(80, 8))
    out = prdc(x, x.copy())
    assert out["precision"] == out["recall"] == out["coverage"] == 1.0
    with pytest.raises(ValueError):
        precision_recall(x[:3], x, k=3)  # 3 points have no 3 other neighbours


# ---------------------------------------------------------------- toy modes and class histograms

RING = np.stack([2 * np.cos(2 * np.pi * np.arange(8) / 8), 2 * np.sin(2 * np.pi * np.arange(8) / 8)], 1)
GRID = np.array([(-4 + 2 * i, -4 + 2 * j) for i in range(5) for j in range(5)], dtype=float)
STD = 0.02
IN_3_SIGMA_2D = 1 - math.exp(-4.5)  # P(|z| <= 3) for a standard 2-D Gaussian: 0.98889


def sample_mixture(centres, n, rng, which=None):
    which = rng.integers(len(centres), size=n) if which is None else which
    return centres[which] + STD * rng.normal(size=(n, 2))


@pytest.mark.parametrize("centres", [RING, GRID], ids=["ring8", "grid25"])
def test_toy_metrics_perfect_sampler(centres):
    out = toy_mode_metrics(sample_mixture(centres, 20000, np.random.default_rng(8)), centres, STD)
    assert out["modes"] == out["num_modes"] == len(centres)
    assert abs(out["high_quality"] - IN_3_SIGMA_2D) < 0.005
    assert 0 <= out["reverse_kl"] < 0.01


@pytest.mark.parametrize("centres", [RING, GRID], ids=["ring8", "grid25"])
def test_toy_metrics_collapsed_and_half_samplers(centres):
    rng = np.random.default_rng(9)
    collapsed = toy_mode_metrics(sample_mixture(centres, 2000, rng, np.zeros(2000, int)), centres, STD)
    assert collapsed["modes"] == 1
    assert collapsed["reverse_kl"] == pytest.approx(math.log(len(centres)))
    half = len(centres) // 2
    halves = toy_mode_metrics(sample_mixture(centres, 4000, rng, np.arange(4000) % half), centres, STD)
    assert halves["modes"] == half
    assert halves["reverse_kl"] == pytest.approx(math.log(len(centres) / half), abs=1e-3)


def test_toy_metrics_min_count_and_quality():
    centres = RING
    which = np.r_[np.zeros(990, int), np.ones(10, int)]  # mode 1 gets 10 samples: default min 25
    x = sample_mixture(centres, 1000, np.random.default_rng(10), which)
    out = toy_mode_metrics(x, centres, STD)
    assert out["modes"] == 2 and out["modes_strict"] == 1  # papers' rule: one sample captures a mode
    assert toy_mode_metrics(x, centres, STD, min_count=10)["modes_strict"] == 2
    far = toy_mode_metrics(np.full((5, 2), 0.0), centres, STD)  # origin: 2 from every centre
    assert far["high_quality"] == 0 and far["modes"] == 0 and math.isnan(far["reverse_kl"])


def test_class_histogram_metrics():
    uniform = np.arange(100) % 10
    assert class_distribution_kl(uniform, 10) == pytest.approx(0, abs=1e-12)
    assert class_distribution_kl(torch.zeros(30, dtype=torch.long), 10) == pytest.approx(math.log(10))
    assert count_modes(uniform, 10) == 10 and count_modes([0, 0, 3], 10) == 2
    assert count_modes([0, 0, 3], 10, min_count=2) == 1
    assert class_kl_to_target(uniform, uniform[::-1], 10) == pytest.approx(0, abs=1e-12)
    # target [.5, .5], predicted [.75, .25]: KL = .5 log(2/3) + .5 log 2.
    assert class_kl_to_target([0, 0, 0, 1], [0, 1, 0, 1], 2) == pytest.approx(0.5 * math.log(4 / 3))
    assert class_kl_to_target([0, 0], [0, 1], 2) == math.inf  # a requested class never appears
    with pytest.raises(ValueError):
        class_distribution_kl([0, 10], 10)
