"""Evaluation: FID behaviour on real digits, the reference-feature cache, and `gankit evaluate`."""
import json
import math

import pytest
import torch
from safetensors.torch import save_file

import gankit
from gankit.cli import main
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.metrics import (FeatureCache, LeNet, LeNetExtractor, PixelExtractor, evaluate_run,
                            fid_from_features, kernel_inception_distance, load_evaluator, sample_generator,
                            save_evaluator)
from gankit.metrics.evaluate import parse_metrics
from gankit.metrics.inception import FIDInceptionV3
from gankit.metrics.lenet import train_lenet

from conftest import tiny
from evaluator_helpers import mnist_test_split, tiny_mnist_evaluator


# ------------------------------------------------------------------ FID on real MNIST digits
def test_fid_small_between_halves_and_grows_with_noise():
    x, y = mnist_test_split()
    ext = LeNetExtractor(tiny_mnist_evaluator()[0])
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(x), generator=g)
    a, b = x[perm[:5000]], x[perm[5000:]]
    fa, fb = ext.extract(a)["features"], ext.extract(b)["features"]
    halves = fid_from_features(fa, fb)
    noisy = {s: ext.extract((b + s * torch.randn(b.shape, generator=g)).clamp(-1, 1))["features"]
             for s in (0.1, 0.2, 0.4, 0.8)}
    fids = [fid_from_features(fa, f) for f in noisy.values()]
    assert halves < fids[0]
    assert all(lo < hi for lo, hi in zip(fids, fids[1:])), fids
    assert fids[-1] > 50 * halves
    zeros_vs_ones = fid_from_features(ext.extract(x[y == 0])["features"], ext.extract(x[y == 1])["features"])
    assert zeros_vs_ones > 100 * halves
    # KID agrees: about 0 between halves, clearly positive with strong noise.
    kid_halves, _ = kernel_inception_distance(fa, fb, num_subsets=10)
    kid_noisy, _ = kernel_inception_distance(fa, noisy[0.8], num_subsets=10)
    assert abs(kid_halves) < 0.05 * kid_noisy
    # The weights-free pixel space orders the same way.
    pix = PixelExtractor()
    pa, pb = pix.extract(a)["features"], pix.extract(b)["features"]
    pn = pix.extract((b + 0.2 * torch.randn(b.shape, generator=g)).clamp(-1, 1))["features"]
    assert fid_from_features(pa, pb) < fid_from_features(pa, pn)


# ------------------------------------------------------------------ cache
def _digits(size):
    return load_dataset(tiny(image_size=size))


def test_cache_reuses_entries(tmp_path):
    cache = FeatureCache(tmp_path)
    data, ext = _digits(8), PixelExtractor()
    first = cache.reference(data, ext, dataset="digits", split="train")
    assert not first.cached and cache.computed == 1 and first.path.parent == tmp_path
    mtime = first.path.stat().st_mtime_ns
    second = FeatureCache(tmp_path).reference(data, ext, dataset="digits", split="train")
    assert second.cached and second.path == first.path and first.path.stat().st_mtime_ns == mtime
    assert torch.equal(second.features, first.features) and second.features.shape == (1797, 64)
    assert torch.equal(second.labels, data.y)
    assert second.mu == pytest.approx(first.features.double().mean(0).numpy())
    third = cache.reference(data, ext, dataset="digits", split="train")
    assert third.cached and cache.computed == 1
    # A damaged entry is recomputed, not trusted.
    first.path.write_bytes(b"garbage")
    fourth = cache.reference(data, ext, dataset="digits", split="train")
    assert not fourth.cached and cache.computed == 2 and torch.equal(fourth.features, first.features)



def test_cache_entry_of_the_wrong_shape_is_recomputed_once_with_a_warning(tmp_path, caplog):
    from safetensors.torch import save_file

    cache = FeatureCache(tmp_path)
    data, ext = _digits(8), PixelExtractor()
    entry = cache.reference(data, ext, dataset="digits", split="train")
    save_file({"features": torch.zeros(1797, 10), "mu": torch.zeros(10, dtype=torch.float64),
               "sigma": torch.eye(10, dtype=torch.float64), "labels": data.y}, str(entry.path))
    with caplog.at_level("WARNING", logger="gankit.metrics.cache"):
        again = cache.reference(data, ext, dataset="digits", split="train")
    assert not again.cached and cache.computed == 2 and torch.equal(again.features, entry.features)
    assert [r.getMessage() for r in caplog.records] == [
        f"cached features {entry.path} are of the wrong shape (features (1797, 10) instead of (1797, 64); "
        f"mu (10,) instead of (64,); sigma (10, 10) instead of (64, 64)); recomputing them"]
    caplog.clear()
    assert cache.reference(data, ext, dataset="digits", split="train").cached and not caplog.records  # fixed for good


def test_cache_removes_temporary_files_of_killed_writers_unless_one_is_writing(tmp_path):
    from gankit.utils.io import FolderLock

    stale = [tmp_path / ".tmpAb12Cd", tmp_path / ".digits-train-8px-x.safetensors.tmp-4242"]
    for p in stale:
        p.write_bytes(b"\x00" * 1000)
    keep = tmp_path / "notes.tmp"
    keep.write_text("x")
    writer = FolderLock(tmp_path, shared=True)  # another process computing an entry right now
    assert writer.acquire()
    FeatureCache(tmp_path).reference(_digits(8), PixelExtractor(), dataset="digits", split="train")
    assert all(p.exists() for p in stale)  # maybe its own: left alone
    writer.release()
    FeatureCache(tmp_path).reference(_digits(8), PixelExtractor(), dataset="digits", split="train")
    assert not any(p.exists() for p in stale) and keep.exists()
def test_cache_key_separates_split_size_extractor_and_data(tmp_path, fake_mnist, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "env-cache"))
    cache = FeatureCache()
    assert cache.root == tmp_path / "env-cache"
    pix = PixelExtractor()
    lenet_a, lenet_b = LeNetExtractor(_tiny_lenet(8, 0)), LeNetExtractor(_tiny_lenet(8, 1))
    paths = set()
    for split in ("train", "test"):
        d = load_dataset(tiny(data="mnist", data_root=str(fake_mnist), split=split, image_size=8))
        paths.add(cache.reference(d, pix, dataset="mnist", split=split).path)
    for size in (8, 16):
        paths.add(cache.reference(_digits(size), pix, dataset="digits", split="train").path)
    for ext in (lenet_a, lenet_b):
        paths.add(cache.reference(_digits(8), ext, dataset="digits", split="train").path)
    # Same name, split and size but other images (another root or folder): another entry.
    d = _digits(8)
    d.x = d.x.flip(0)
    paths.add(cache.reference(d, pix, dataset="digits", split="train").path)
    assert cache.computed == 7 and len(paths) == 7 and all(p.is_file() for p in paths)
    names = sorted(p.name for p in paths)
    assert sum(n.startswith("mnist-test-8px-pixels-n64-") for n in names) == 1
    assert sum(n.startswith("digits-train-16px-pixels-") for n in names) == 1
    assert sum(n.startswith("digits-train-8px-lenet_") for n in names) == 2
    assert sum(n.startswith("digits-train-8px-pixels-n1797-") for n in names) == 2  # two data hashes
    # Subsampled reference sets carry their size in the key.
    sub = cache.reference(_digits(8), pix, dataset="digits", split="train", max_count=500)
    assert "-n500-" in sub.path.name and len(sub.features) == 500


def _tiny_lenet(size, seed):
    torch.manual_seed(seed)
    return LeNet(1, size, 10, 4, 16).eval()


# ------------------------------------------------------------------ gankit evaluate
@pytest.fixture(scope="module")
def digits_evaluator(tmp_path_factory):
    """A small evaluator for 8x8 digits, trained on them for 3 short epochs."""
    data = load_dataset(tiny())
    x, y = data.all_images(), data.y
    model = train_lenet(x, y, 10, epochs=3, width=8, hidden=32, lr=5e-3, seed=0)
    return save_evaluator(model, tmp_path_factory.mktemp("ev") / "lenet-digits-8", dataset="digits")


def _finite(values, keys):
    for k in keys:
        assert isinstance(values[k], (int, float)) and math.isfinite(values[k]), (k, values[k])


def test_evaluate_digits_end_to_end(tmp_path, digits_evaluator, capsys):
    run = tmp_path / "run"
    gankit.train(tiny(steps=3), run)
    cache = tmp_path / "cache"
    argv = ["evaluate", str(run), "--evaluator", str(digits_evaluator), "--n", "200", "--cache-dir", str(cache)]
    assert main(argv) == 0
    assert "fid" in capsys.readouterr().out
    result = json.loads((run / "eval.json").read_text())
    m = result["metrics"]
    _finite(m, ["fid", "kid", "is", "is_std", "is_real", "precision", "recall", "density",
                "coverage", "classes_seen", "class_kl"])
    # Issue 20 item 3: 200 samples < KID's subset size 1000, every subset is the whole set: no std.
    assert m["kid_std"] is None and result["non_finite"]["kid_std"] == "nan"
    assert m["fid"] > 0 and 1 <= m["is"] <= 10 and 1 <= m["classes_seen"] <= 10 and m["num_classes"] == 10
    assert result["reference"]["count"] == 1797 and result["reference"]["cached"] is False
    assert result["extractor"]["name"] == "lenet" and "class_accuracy" not in m  # unconditional
    assert "| FID |" in (run / "eval.md").read_text()
    # The numbers are those of the pure functions on the same samples.
    ext = LeNetExtractor(load_evaluator(digits_evaluator))
    x, _ = sample_generator(gankit.load(run), 200, seed=0)
    real = ext.extract(load_dataset(tiny()).all_images())["features"]
    assert m["fid"] == pytest.approx(fid_from_features(ext.extract(x)["features"], real), rel=1e-6)
    # Second evaluation: the reference comes from the cache, and the result is identical.
    assert main(argv) == 0
    again = json.loads((run / "eval.json").read_text())
    assert again["reference"]["cached"] is True and again["metrics"] == m
    # Other seed, other samples.
    other = evaluate_run(run, n=200, seed=1, evaluator=digits_evaluator, cache_dir=cache, write=False)
    assert other["metrics"]["fid"] != m["fid"]


def test_evaluate_conditional_run_reports_class_agreement(tmp_path, digits_evaluator):
    run = tmp_path / "cgan"
    gankit.train(tiny(model="cgan", steps=3), run)
    result = evaluate_run(run, n=100, metrics="fid,modes", evaluator=digits_evaluator, cache_dir=tmp_path / "c")
    m = result["metrics"]
    assert result["conditional"] and set(m) >= {"fid", "classes_seen", "class_kl", "class_accuracy"}
    assert 0 <= m["class_accuracy"] <= 1 and "kid" not in m and "is" not in m
    # class_kl_to_target is inf (written as null) when a requested class is never predicted.
    assert m["class_kl_to_target"] is None or m["class_kl_to_target"] >= 0
    assert (m["class_kl_to_target"] is None) == ("class_kl_to_target" in result.get("non_finite", {}))
    # The requested labels are balanced: 100 samples, 10 of each class.
    _, y = sample_generator(gankit.load(run), 100, seed=0)
    assert torch.bincount(y, minlength=10).tolist() == [10] * 10


def _mixture_generator(G, data: str):
    """``G`` whose forward draws from the true mixture of ``data`` (the z's first coordinates
    pick the mode and the noise), so evaluate's answer is known."""
    from gankit.data.toy import TOY_MODES

    centres_fn, std = TOY_MODES[data]
    centres = centres_fn()

    def forward(z, y=None):
        mode = (z[:, 0].abs() * 1e4).long() % len(centres)
        return centres[mode] + std * z[:, 1:3]

    G.forward = forward
    return G


@pytest.mark.parametrize("data, num_modes", [("ring", 8), ("grid", 25)])
def test_evaluate_toy_run_scores_the_true_mixture_as_perfect(tmp_path, monkeypatch, data, num_modes):
    # Issue 20 item 1: samples were clamped to [-1, 1], so a perfect ring sampler scored 0/8 modes.
    import gankit.pretrained

    run = tmp_path / data
    gankit.train(tiny(data=data, model="mlp", num_points=512, steps=2, batch_size=64), run)
    real_load = gankit.pretrained.load
    monkeypatch.setattr(gankit.pretrained, "load", lambda *a, **k: _mixture_generator(real_load(*a, **k), data))
    assert main(["evaluate", str(run), "--n", "5000", "--metrics", "fid,modes,pr"]) == 0
    result = json.loads((run / "eval.json").read_text())
    m = result["metrics"]
    # A perfect 2-D sampler: 1 - exp(-9/2) = 98.89% within 3σ, every mode, reverse KL ≈ 0.
    assert m["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.005)
    assert m["modes"] == m["modes_strict"] == m["num_modes"] == num_modes
    assert 0 <= m["reverse_kl"] < 0.01
    assert m["precision"] > 0.9 and m["recall"] > 0.9 and m["coverage"] > 0.9
    assert "fid" in result["skipped"] and "high quality" in (run / "eval.md").read_text()


@pytest.mark.parametrize("data", ["ring", "grid"])
def test_evaluate_agrees_with_the_toy_benchmark_on_a_short_real_run(tmp_path, data):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench import toy_modes

    run = tmp_path / data
    row = toy_modes.run_config(data, "nonsaturating", 0, 400, run_dir=run)  # trains and scores itself
    # The benchmark's protocol: 2,500 samples of the EMA (if any) generator, noise seed 10,000 + seed.
    m = evaluate_run(run, n=toy_modes.N_SAMPLES, seed=10_000, metrics="modes", write=False)["metrics"]
    for key in ("modes", "modes_strict", "num_modes", "high_quality"):
        assert m[key] == row[key], key
    assert m["reverse_kl"] == pytest.approx(row["reverse_kl"], abs=1e-9)
    assert row["high_quality"] > 0 and row["modes"] >= 1  # a real, partly trained generator: not all-zero


def test_evaluate_with_inception_extractor(tmp_path, digits_evaluator):
    torch.manual_seed(0)
    weights = tmp_path / "inception.safetensors"
    save_file({k: v.contiguous() for k, v in FIDInceptionV3().state_dict().items()}, str(weights))
    run = tmp_path / "run"
    gankit.train(tiny(steps=2), run)
    result = evaluate_run(run, n=8, n_ref=8, extractor="inception", inception_weights=weights,
                          evaluator=digits_evaluator, cache_dir=tmp_path / "c", metrics="fid,is,modes")
    m = result["metrics"]
    assert result["extractor"]["name"] == "inception" and result["reference"]["count"] == 8
    _finite(m, ["fid", "is", "classes_seen"])  # IS from the 1008 Inception logits, classes from the evaluator
    assert "-8px-inception_" in result["reference"]["cache_file"]


def test_evaluate_errors(tmp_path, capsys):
    run = tmp_path / "run"
    gankit.train(tiny(steps=2), run)
    assert main(["evaluate", str(run), "--n", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gankit: error: no evaluator") and "gankit train-evaluator" in err
    assert main(["evaluate", str(run), "--metrics", "fid,bogus", "--extractor", "pixels"]) == 2
    assert "unknown metric bogus" in capsys.readouterr().err
    with pytest.raises(GankitError, match="not an evaluator folder"):
        evaluate_run(run, evaluator=tmp_path / "nope", n=10)
    assert parse_metrics(None, "points") == ["modes", "pr"]
    # Pixel features have no classifier: IS and class metrics are skipped with a reason.
    result = evaluate_run(run, n=20, extractor="pixels", cache_dir=tmp_path / "c")
    assert set(result["skipped"]) == {"is", "modes"} and math.isfinite(result["metrics"]["fid"])
