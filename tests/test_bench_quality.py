"""Smoke tests of the quality benchmarks' quick variants (bench/mnist_quality.py, bench/stacked_mnist.py):
tiny models for a few steps on the real MNIST test split, a tiny evaluator; the table structure,
finite numbers, eval.json in each run, and the docs section they write. Not a quality gate."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch
from conftest import SHARED_MNIST

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import mnist_quality, stacked_mnist  # noqa: E402


def _table(text: str, title: str) -> list[list[str]]:
    """The rows of the first markdown table after ``## title``."""
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in section.splitlines() if ln.startswith("| ")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]


def test_mnist_quality_quick(tmp_path, capsys):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    status = mnist_quality.main(["--quick", "--models", "mlp,dcgan,cgan,acgan", "--objectives", "nonsaturating,wgan-gp",
                                 "--data-root", str(SHARED_MNIST), "--out", str(tmp_path / "runs"), "--doc", str(doc)])
    assert status == 0
    results = json.loads((tmp_path / "runs" / "results.json").read_text())
    assert [(r["model"], r["objective"]) for r in results] == [
        (m, o) for m in ("mlp", "dcgan", "cgan", "acgan") for o in ("nonsaturating", "wgan-gp")]
    for r in results:
        assert r["steps"] == 4
        assert all(math.isfinite(r[k]) for k in ("fid", "kid", "precision", "recall", "density", "coverage"))
        assert r["fid"] > 0 and 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1
        assert 1 <= r["classes_seen"] <= 10
        assert ("class_accuracy" in r) == (r["model"] in ("cgan", "acgan"))
        ev = json.loads((Path(r["run"]) / "eval.json").read_text())
        assert ev["n"] == 200 and ev["split"] == "test" and ev["metrics"]["fid"] == r["fid"]
    assert next(r for r in results if r["objective"] == "wgan-gp")["n_critic"] == 2
    text = doc.read_text()
    assert "## Other\n\nkept" in text  # other sections untouched
    rows = _table(text, mnist_quality.SECTION)
    assert rows[0] == mnist_quality.HEADER and len(rows) == 2 + len(results)
    for row, r in zip(rows[2:], results):
        assert row[:2] == [r["model"], r["objective"]] and float(row[2]) > 0
        assert (row[10] == "—") == (r["model"] in ("mlp", "dcgan"))
    assert "test split" in text and "--quick" in text
    for m in ("mlp", "dcgan", "cgan", "acgan"):  # one grid per model, referenced from the section
        assert f"images/quality-{m}.png" in text and (tmp_path / "images" / f"quality-{m}.png").stat().st_size > 0
    assert "| mlp | nonsaturating |" in capsys.readouterr().out  # the table is printed too


def test_stacked_mnist_quick(tmp_path):
    doc = tmp_path / "benchmarks.md"
    status = stacked_mnist.main(["--quick", "--variants", "dcgan,pacdcgan2,best", "--data-root", str(SHARED_MNIST),
                                 "--out", str(tmp_path / "runs"), "--doc", str(doc)])
    assert status == 0
    results = json.loads((tmp_path / "runs" / "results.json").read_text())
    real, runs, drs = results[:2], results[2:5], results[5]
    assert [r["variant"] for r in runs] == ["dcgan", "pacdcgan2", "best"]
    # best + DRS: the best run's samples filtered by its calibrated D (gamma at the median: about half kept)
    assert drs["variant"] == "best + DRS" and drs["steps"] == 4 and 1 <= drs["classes_seen"] <= 1000
    assert 0.2 < drs["acceptance"] < 0.8 and math.isfinite(drs["class_kl"])
    # --quick stacks 2,000 training images: about 1000·(1 - e^-2) ≈ 865 modes hit, classifier errors
    # only moving images between modes; 500 fresh real triples can hit at most 500 (≈ 393 expected)
    assert 780 < real[0]["classes_seen"] <= 950 and 0 <= real[0]["class_kl"] < 1
    assert 300 < real[1]["classes_seen"] <= 500 and math.isfinite(real[1]["class_kl"])
    for r in runs:
        assert r["steps"] == 4 and 1 <= r["classes_seen"] <= 1000
        assert math.isfinite(r["class_kl"]) and 0 <= r["class_kl"] <= math.log(1000) + 1e-9
        assert math.isfinite(r["fid"]) and r["fid"] > 0
        ev = json.loads((Path(r["run"]) / "eval.json").read_text())
        assert ev["data"] == "stacked-mnist" and ev["metrics"]["num_classes"] == 1000 and ev["n"] == 500
        assert json.loads((Path(r["run"]) / "config.json").read_text())["config"]["pack"] == (
            2 if r["variant"] == "pacdcgan2" else 1)
    rows = _table(doc.read_text(), stacked_mnist.SECTION)
    assert rows[0] == ["run", "remedy", "steps", "modes (of 1000)", "KL", "FID", "train s"]
    assert [row[0] for row in rows[4:8]] == ["dcgan", "pacdcgan2", "best", "best + DRS"]  # after the real-data rows
    assert [int(row[3]) for row in rows[2:8]] == [r["classes_seen"] for r in results]
    assert "PacDCGAN2" in doc.read_text() and (tmp_path / "images" / "quality-stacked-mnist.png").is_file()

    # --reuse reads the finished runs back (same config, evaluator and protocol) instead of training again
    before = {r["variant"]: r for r in runs}
    assert stacked_mnist.main(["--quick", "--variants", "dcgan,pacdcgan2,best", "--data-root", str(SHARED_MNIST),
                               "--out", str(tmp_path / "runs"), "--no-write", "--reuse", "--diagnose"]) == 0
    again = json.loads((tmp_path / "runs" / "results.json").read_text())
    # --diagnose: each channel's digit KL; the joint KL is their sum plus the channels' dependence, never less
    for r in again[:5]:
        digit_kl, uncertain = r.pop("digit_kl"), r.pop("uncertain")
        assert len(digit_kl) == 3 and all(0 <= k <= math.log(10) + 1e-9 for k in digit_kl) and 0 <= uncertain <= 1
        assert r["class_kl"] >= sum(digit_kl) - 1e-9
    assert all(r.pop("reused") for r in again[2:5]) and {r["variant"]: r for r in again[2:5]} == before
    assert again[5] == drs  # the DRS row too (drs.json in the run), its timing included: not sampled again


def test_stacked_mnist_seed_spread_groups_a_variant_with_its_seed_rows():
    rows = [dict(variant="best-w64", class_kl=0.06, classes_seen=1000),
            dict(variant="best-w64-seed1", class_kl=0.08, classes_seen=999),
            dict(variant="best", class_kl=0.10, classes_seen=1000)]  # one seed: no spread line
    assert stacked_mnist.seed_spread(rows) == [
        "", "best-w64 over 2 seeds: modes 999-1000, KL 0.070 ± 0.014 (worst 0.080)."]
    assert stacked_mnist.seed_spread(rows[2:]) == []


def test_stacked_mnist_best_preset_is_the_benchmarked_recipe():
    from gankit import TrainConfig

    bench = stacked_mnist.config("best-w64-rpgan-lazy", 12000, SHARED_MNIST, quick=False)
    preset = TrainConfig.from_preset("stacked-mnist-best")
    run_only = ("data_root", "split", "sample_every", "checkpoint_every", "keep_checkpoints", "log_every", "epochs",
                *stacked_mnist.QUIET)
    differ = {k for k, v in bench.to_dict().items() if preset.to_dict()[k] != v and k not in run_only}
    # the preset asks for bf16 where the hardware has it (the benchmark's machine did), fp32 elsewhere
    assert differ == {"amp"} and (preset.amp, bench.amp) == ("auto", "bf16"), differ
    assert (preset.g_width, preset.d_width, preset.steps, preset.loss) == (64, 64, 45000, "rpgan")
    assert (preset.r1_gamma, preset.r2_gamma, preset.reg_interval, preset.spectral_norm) == (0.1, 0.1, 16, False)


def test_a_benchmark_run_killed_part_way_resumes_exactly_with_reuse(tmp_path):
    """A long benchmark run spans sessions: killed after a checkpoint, ``--reuse`` resumes it from there
    (same weights as one uninterrupted run); a run of another config in the folder is not resumed."""
    import pytest
    from safetensors.torch import load_file

    from bench._quality import _resumable, mnist_evaluator, train_and_evaluate

    evaluator, _ = mnist_evaluator(None, SHARED_MNIST, quick=True)
    cfg = stacked_mnist.config("best", 6, SHARED_MNIST, quick=True).replace(checkpoint_every=2)
    straight = train_and_evaluate(cfg, tmp_path / "straight", evaluator, n=200, metrics="modes")

    def killed_at_step_3(trainer):  # after the step-2 checkpoint, before the next: as a SIGKILL would
        if trainer.step == 3:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        train_and_evaluate(cfg, tmp_path / "killed", evaluator, n=200, metrics="modes", callbacks=[killed_at_step_3])
    assert _resumable(tmp_path / "killed", cfg) and not _resumable(tmp_path / "killed", cfg.replace(seed=1))
    steps_seen = []
    resumed = train_and_evaluate(cfg, tmp_path / "killed", evaluator, n=200, metrics="modes", reuse=True,
                                 callbacks=[lambda t: steps_seen.append(t.step)])
    assert steps_seen == [3, 4, 5, 6]  # from the step-2 checkpoint, not from scratch
    assert resumed["steps"] == straight["steps"] == 6 and resumed["class_kl"] == straight["class_kl"]
    for role in ("generator", "generator_ema", "discriminator"):
        a, b = (load_file(tmp_path / d / f"{role}.safetensors") for d in ("straight", "killed"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), role


@pytest.mark.parametrize("native", [True, False])
def test_an_fp32_checkpoint_resumes_under_auto_only_where_auto_picks_fp32(tmp_path, monkeypatch, native):
    """--reuse must not finish an fp32 run in bf16 (one table, two precisions): an auto config resumes a
    checkpoint only if what auto picks on this machine is what the run recorded."""
    import gankit
    from bench._quality import _resumable
    from conftest import tiny

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    cfg = tiny(steps=4, checkpoint_every=2, image_size=16)
    gankit.train(cfg.replace(amp="none"), tmp_path / "fp32")
    gankit.train(cfg.replace(amp="auto"), tmp_path / "auto")
    assert _resumable(tmp_path / "fp32", cfg.replace(amp="auto")) == (not native)
    assert _resumable(tmp_path / "auto", cfg.replace(amp="auto"))  # what auto picked here, it picks again
    assert _resumable(tmp_path / "fp32", cfg.replace(amp="none"))
