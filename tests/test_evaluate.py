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
                            save_evaluator, toy_mode_metrics)
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
    _finite(m, ["fid", "kid", "kid_std", "is", "is_std", "is_real", "precision", "recall", "density",
                "coverage", "classes_seen", "class_kl"])
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


def test_evaluate_ring_gives_toy_metrics(tmp_path):
    run = tmp_path / "ring"
    gankit.train(tiny(data="ring", model="mlp", num_points=512, steps=3, batch_size=64), run)
    assert main(["evaluate", str(run), "--n", "400", "--metrics", "fid,modes,pr"]) == 0
    result = json.loads((run / "eval.json").read_text())
    m = result["metrics"]
    assert m["num_modes"] == 8 and 0 <= m["modes"] <= 8 and 0 <= m["high_quality"] <= 1
    _finite(m, ["modes", "high_quality", "precision", "recall", "density", "coverage"])
    assert "fid" in result["skipped"] and "fid" not in m
    assert "high quality" in (run / "eval.md").read_text()
    x, _ = sample_generator(gankit.load(run), 400, seed=0)
    from gankit.data.toy import RING_STD, ring_centres

    direct = toy_mode_metrics(x, ring_centres(), RING_STD)
    assert m["high_quality"] == direct["high_quality"] and m["modes"] == direct["modes"]


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
