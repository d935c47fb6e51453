"""Evaluation options (EvalOptions), the metric registry, and eval.json kept as it was.

EXPECTED holds eval.json of three tiny runs as gankit wrote it before EvalOptions (commit 1ded19e,
on the 2-core development CPU with one thread), with the temporary folder written as ``TMP`` and
the wall times reduced to their keys, then updated once for issue 20 (notes on FID below the feature
dimension and KID below its subset size, ``fid_samples``, the ``cmmd`` metric, ``kid_std`` null for
sets smaller than the subset, and the ring scored on unclamped samples with ``modes_strict``).
Training and evaluation are bit-identical on one machine for the same seed and thread count (docs/reliability.md); floats are compared to 1e-6 relative.
"""
from __future__ import annotations

import json
import math

import pytest
import torch

import gankit
from gankit.cli import main
from gankit.data import load_dataset
from gankit.errors import GankitError
from gankit.metrics import evaluate_run, save_evaluator
from gankit.metrics.lenet import load_evaluator, train_lenet

from conftest import tiny

# name: (TrainConfig overrides, evaluate_run keywords, with the evaluator); the image runs train in fp32
# (--amp none), as when the expected values were recorded (the default auto picks bf16 on some CPUs)
CASES = {
    "pixels": (dict(steps=3, amp="none"), dict(n=40, extractor="pixels"), False),
    "pixels-cgan-evaluator": (dict(model="cgan", steps=3, amp="none"), dict(n=50, extractor="pixels", seed=3,
                                                                             n_ref=300), True),
    "lenet": (dict(steps=3, amp="none"), dict(n=60, metrics="modes,is,fid,kid,pr", ema=False, batch_size=16), True),
    "ring": (dict(data="ring", model="mlp", num_points=512, steps=3, batch_size=64),
             dict(n=100, metrics="fid,modes,pr"), False),
}


def train_digits_evaluator(folder):
    """A one-epoch LeNet on the 8x8 digits (an evaluator folder)."""
    data = load_dataset(tiny())
    model = train_lenet(data.all_images(), data.y, 10, epochs=1, width=8, hidden=32, lr=5e-3, seed=0)
    return save_evaluator(model, folder, dataset="digits")


def evaluate_case(name, tmp_path, evaluator):
    """Train case ``name``'s run in ``tmp_path`` and evaluate it with a fresh cache: (result, run)."""
    overrides, kwargs, with_evaluator = CASES[name]
    run = tmp_path / "run"
    gankit.train(tiny(**overrides), run)
    kwargs = dict(kwargs, cache_dir=tmp_path / "c", **({"evaluator": evaluator} if with_evaluator else {}))
    return evaluate_run(run, **kwargs), run


def snapshot(result: dict, tmp_path, evaluator=None) -> dict:
    """``result`` with ``tmp_path`` written as TMP, the evaluator's identity as EVALUATOR and the wall
    times reduced to their keys.

    The identity is a hash of the evaluator's weights, which the test trains: one-ulp differences
    between CPUs' kernels change the hash while leaving every metric equal to 1e-6, so it is checked
    against the evaluator actually used (``load_evaluator(...).identity``), not a recorded string."""
    text = json.dumps(result).replace(str(tmp_path), "TMP")
    if evaluator is not None:
        identity = load_evaluator(evaluator).identity
        assert len(identity) == 16 and identity in text
        text = text.replace(identity, "EVALUATOR")
    out = json.loads(text)
    out["time_s"] = list(out["time_s"])
    return out


def assert_same(got, expected, where="result"):
    """Equal, with dict keys in the same order and floats to 1e-6 relative."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and list(got) == list(expected), (where, list(got), list(expected))
        for k in expected:
            assert_same(got[k], expected[k], f"{where}.{k}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), (where, got, expected)
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same(g, e, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-6, abs=1e-12), (where, got, expected)
    else:
        assert type(got) is type(expected) and got == expected, (where, got, expected)


EXPECTED = {'pixels': {'run': 'TMP/run',
            'data': 'digits',
            'split': 'train',
            'shape': [1, 8, 8],
            'conditional': False,
            'n': 40,
            'seed': 0,
            'ema': True,
            'metrics_requested': ['fid', 'kid', 'cmmd', 'is', 'pr', 'modes'],
            'extractor': {'name': 'pixels', 'identity': ''},
            'reference': {'count': 1797,
                          'cache_file': 'TMP/c/digits-train-8px-pixels-n1797-ac2213023a1d.safetensors',
                          'cached': False},
            'notes': ['FID from 40 samples in 64 feature dimensions: the covariance is rank-deficient and the '
                      'estimate is biased upwards; use more than 64 samples',
                      'KID: 40 samples and subset size 1000: every subset of the smaller set is the whole set, '
                      'so the std over subsets is not reported (NaN); use more samples than the subset size'],
            'metrics': {'fid': 45.760903141972285,
                        'fid_samples': 40,
                        'kid': 1.9170470574684262,
                        'kid_std': None,
                        'cmmd': 9.968625013442534,
                        'precision': 0.0,
                        'recall': 0.0,
                        'density': 0.0,
                        'coverage': 0.0},
            'non_finite': {'kid_std': 'nan'},
            'skipped': {'is': 'the extractor has no classifier (use lenet or inception)',
                        'modes': 'class metrics need an evaluator for this dataset (--evaluator)'},
            'time_s': ['reference', 'sample', 'features', 'metrics', 'total']},
 'pixels-cgan-evaluator': {'run': 'TMP/run',
                           'data': 'digits',
                           'split': 'train',
                           'shape': [1, 8, 8],
                           'conditional': True,
                           'n': 50,
                           'seed': 3,
                           'ema': True,
                           'metrics_requested': ['fid', 'kid', 'cmmd', 'is', 'pr', 'modes'],
                           'evaluator': {'identity': 'EVALUATOR',
                                         'dataset': 'digits',
                                         'held_out_accuracy': None,
                                         'image_size': 8},
                           'extractor': {'name': 'pixels', 'identity': ''},
                           'reference': {'count': 300,
                                         'cache_file': 'TMP/c/digits-train-8px-pixels-n300-abae03113919.safetensors',
                                         'cached': False},
                           'notes': ['FID from 50 samples in 64 feature dimensions: the covariance is '
                                     'rank-deficient and the estimate is biased upwards; use more than 64 '
                                     'samples',
                                     'KID: 50 samples and subset size 1000: every subset of the smaller set is '
                                     'the whole set, so the std over subsets is not reported (NaN); use more '
                                     'samples than the subset size'],
                           'metrics': {'fid': 45.91575241344364,
                                       'fid_samples': 50,
                                       'kid': 1.928154196217322,
                                       'kid_std': None,
                                       'cmmd': 13.52837616758662,
                                       'precision': 0.0,
                                       'recall': 0.0,
                                       'density': 0.0,
                                       'coverage': 0.0,
                                       'classes_seen': 1,
                                       'num_classes': 10,
                                       'class_kl': 2.302585092994046,
                                       'class_accuracy': 0.1,
                                       'class_kl_to_target': None},
                           'non_finite': {'class_kl_to_target': 'inf', 'kid_std': 'nan'},
                           'skipped': {'is': 'the extractor has no classifier (use lenet or inception)'},
                           'time_s': ['reference', 'sample', 'features', 'metrics', 'total']},
 'lenet': {'run': 'TMP/run',
           'data': 'digits',
           'split': 'train',
           'shape': [1, 8, 8],
           'conditional': False,
           'n': 60,
           'seed': 0,
           'ema': False,
           'metrics_requested': ['modes', 'is', 'fid', 'kid', 'pr'],
           'evaluator': {'identity': 'EVALUATOR',
                         'dataset': 'digits',
                         'held_out_accuracy': None,
                         'image_size': 8},
           'extractor': {'name': 'lenet', 'identity': 'EVALUATOR'},
           'reference': {'count': 1797,
                         'cache_file': 'TMP/c/digits-train-8px-lenet_EVALUATOR-n1797-ac2213023a1d.safetensors',
                         'cached': False},
           'notes': ['KID: 60 samples and subset size 1000: every subset of the smaller set is the whole set, '
                     'so the std over subsets is not reported (NaN); use more samples than the subset size'],
           'metrics': {'fid': 0.6942174817607072,
                       'fid_samples': 60,
                       'kid': 0.05037496096821858,
                       'kid_std': None,
                       'is': 1.0000000148705723,
                       'is_std': 8.703667398006565e-09,
                       'is_real': 1.0017098136660727,
                       'is_real_std': 0.0004981712908206839,
                       'precision': 0.0,
                       'recall': 0.0,
                       'density': 0.0,
                       'coverage': 0.0,
                       'classes_seen': 1,
                       'num_classes': 10,
                       'class_kl': 2.302585092994046},
           'non_finite': {'kid_std': 'nan'},
           'time_s': ['reference', 'sample', 'features', 'metrics', 'total']},
 'ring': {'run': 'TMP/run',
          'data': 'ring',
          'split': 'train',
          'shape': [2],
          'conditional': False,
          'n': 100,
          'seed': 0,
          'ema': True,
          'metrics_requested': ['fid', 'modes', 'pr'],
          'metrics': {'modes': 0,
                      'modes_strict': 0,
                      'num_modes': 8,
                      'high_quality': 0.0,
                      'reverse_kl': None,
                      'precision': 0.0,
                      'recall': 0.0,
                      'density': 0.0,
                      'coverage': 0.0},
          'non_finite': {'reverse_kl': 'nan'},
          'skipped': {'fid': 'an image metric; 2-D runs get the toy mode metrics and PR/DC on coordinates'},
          'time_s': ['sample', 'metrics', 'total']}}


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory):
    return train_digits_evaluator(tmp_path_factory.mktemp("ev") / "lenet-digits-8")


@pytest.mark.parametrize("name", list(CASES))
def test_eval_json_is_unchanged(name, tmp_path, evaluator):
    result, run = evaluate_case(name, tmp_path, evaluator)
    assert_same(snapshot(result, tmp_path, evaluator if CASES[name][2] else None), EXPECTED[name])
    assert json.loads((run / "eval.json").read_text()) == result
    assert (run / "eval.md").read_text().startswith(f"# Evaluation of `{run}`")


# ------------------------------------------------------------------ EvalOptions
@pytest.mark.parametrize("kwargs, message", [
    (dict(n=1), "--n must be at least 2 (got 1)"),
    (dict(batch_size=0), "--batch-size must be at least 1 (got 0)"),
    (dict(n_ref=1), "--n-ref must be at least 2 (got 1)"),
    (dict(n=2.5), "--n must be a whole number (got 2.5)"),
    (dict(metrics="fid,bogus"), "unknown metric bogus; choose from: fid, kid, cmmd, is, pr, modes"),
])
def test_options_validation_is_one_line(kwargs, message, tmp_path):
    from gankit.metrics import EvalOptions

    with pytest.raises(GankitError) as info:
        EvalOptions(**kwargs).validate()
    assert str(info.value) == message and "\n" not in message
    # evaluate_run checks its options before it reads the run (this one does not exist).
    with pytest.raises(GankitError) as info:
        evaluate_run(tmp_path / "missing", **kwargs)
    assert str(info.value) == message
    good = EvalOptions(n=2, n_ref=2, batch_size=1, metrics="fid")
    assert good.validate() is good


def test_cli_reports_bad_options_in_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    gankit.train(tiny(steps=1), run)
    for flags, message in ((["--batch-size", "0"], "--batch-size must be at least 1 (got 0)"),
                           (["--n-ref", "1"], "--n-ref must be at least 2 (got 1)"),
                           (["--n", "1"], "--n must be at least 2 (got 1)")):
        assert main(["evaluate", str(run), "--extractor", "pixels", *flags]) == 2
        err = capsys.readouterr().err
        assert err == f"gankit: error: {message}\n"
    assert not (run / "eval.json").exists()


def test_options_object_gives_the_keyword_result(tmp_path):
    """``evaluate_run(run, EvalOptions(**kw))`` equals ``evaluate_run(run, **kw)``.

    The inputs are the SAME run and options; the two calls differ only in how the arguments
    reach evaluate_run, so their results must be equal (wall times aside). The cache is filled
    first so that both read it ("cached": true in both).
    """
    from gankit.metrics import EvalOptions

    run = tmp_path / "run"
    gankit.train(tiny(steps=2), run)
    kw = dict(n=30, seed=2, extractor="pixels", metrics="fid,kid,pr", cache_dir=tmp_path / "c", batch_size=7,
              write=False)
    evaluate_run(run, **kw)
    by_object = evaluate_run(run, EvalOptions(**kw))
    by_keywords = evaluate_run(run, **kw)
    assert by_object["reference"]["cached"] and by_keywords["reference"]["cached"]
    assert snapshot(by_object, tmp_path) == snapshot(by_keywords, tmp_path)
    # Keywords next to an options object override its fields.
    other = evaluate_run(run, EvalOptions(**kw), seed=5)
    assert snapshot(other, tmp_path) == snapshot(evaluate_run(run, **dict(kw, seed=5)), tmp_path)
    assert other["seed"] == 5 and other["metrics"]["fid"] != by_object["metrics"]["fid"]
    assert not (run / "eval.json").exists()  # write=False
    with pytest.raises(TypeError):
        evaluate_run(run, EvalOptions(), bogus=1)
    with pytest.raises(TypeError, match="EvalOptions"):
        evaluate_run(run, {"n": 30})


# ------------------------------------------------------------------ registry and report
def test_metrics_are_registered_by_name():
    from gankit.metrics.evaluate import METRICS, parse_metrics
    from gankit.metrics.registry import image_metrics, metric_names

    assert METRICS == metric_names() == ("fid", "kid", "cmmd", "is", "pr", "modes")
    assert parse_metrics(None) == list(METRICS) and parse_metrics(None, "points") == ["modes", "pr"]
    assert parse_metrics(" KID, fid ,kid") == ["kid", "fid"]
    with pytest.raises(GankitError, match=r"unknown metric \(none\)"):
        parse_metrics(",")
    # A metric whose input is missing is skipped with its reason; values come in registry order.
    class Ref:  # the fields of ReferenceFeatures that the metrics read
        features = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
        logits = None
        mu, sigma = features.double().mean(0).numpy(), features.double().T.cov().numpy()

    fake = {"features": torch.randn(32, 3, generator=torch.Generator().manual_seed(1))}
    values, skipped = image_metrics(["modes", "is", "pr", "fid"], fake, Ref())
    assert list(values) == ["fid", "fid_samples", "precision", "recall", "density", "coverage"]
    assert list(skipped) == ["is", "modes"] and "no classifier" in skipped["is"]
    assert "--evaluator" in skipped["modes"]
    _, skipped = image_metrics(["modes"], fake, Ref(), classes="digits is unlabelled")
    assert skipped == {"modes": "digits is unlabelled"}
    assert math.isfinite(values["fid"])


def test_report_lives_in_report_module():
    from gankit.metrics import evaluate, report

    assert evaluate.write_report is report.write_report
    assert "fid" in report._LABELS
