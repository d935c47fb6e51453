"""bench/amp_quality.py: its quick variant end to end on the real MNIST test split (two presets, two seeds, fp32
and bf16 + channels-last: the runs' configs, the paired table and the verdict line in the docs section), and the
verdict rule on hand-computed differences. Not a quality gate."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import SHARED_MNIST

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import amp_quality  # noqa: E402


def test_amp_quality_quick_pairs_fp32_and_bf16_runs_by_seed(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    argv = ["--quick", "--presets", "dcgan-mnist,stacked-mnist", "--seeds", "0,1", "--data-root", str(SHARED_MNIST),
            "--out", str(tmp_path / "runs"), "--doc", str(doc)]
    assert amp_quality.main(argv) == 0
    results = json.loads((tmp_path / "runs" / "results.json").read_text())
    assert [(r["preset"], r["seed"], r["amp"]) for r in results] == [
        (p, s, a) for p in ("dcgan-mnist", "stacked-mnist") for s in (0, 1) for a in ("none", "bf16")]
    for r in results:
        cfg = json.loads((Path(r["run"]) / "config.json").read_text())["config"]
        assert (cfg["amp"], cfg["channels_last"]) == ({"none": ("none", False), "bf16": ("bf16", True)}[r["amp"]])
        assert cfg["seed"] == r["seed"] and cfg["steps"] == amp_quality.QUICK_STEPS
        assert r["fid"] > 0
    assert all(r["class_kl"] >= 0 for r in results if r["preset"] == "stacked-mnist")
    text = doc.read_text()
    assert "## Other\n\nkept" in text and f"## {amp_quality.TITLE}" in text
    rows = [line for line in text.splitlines() if line.startswith("| dcgan-mnist") or line.startswith("| stacked-mnist")]
    assert len(rows) == 2 and all("FD ↓" in row for row in rows)
    assert "Rule met on every measured preset" in text or "Rule not met" in text
    # a second invocation with --reuse reads every run back instead of training it again
    assert amp_quality.main([*argv, "--reuse", "--no-write"]) == 0
    again = json.loads((tmp_path / "runs" / "results.json").read_text())
    assert all(r["reused"] for r in again) and [r["fid"] for r in again] == [r["fid"] for r in results]


def _rows(fp32, bf16, metric="fid", preset="p"):
    return ([{"preset": preset, "amp": "none", "seed": s, metric: v} for s, v in enumerate(fp32)]
            + [{"preset": preset, "amp": "bf16", "seed": s, metric: v} for s, v in enumerate(bf16)])


def test_paired_difference_and_verdict_by_hand():
    # differences 2, 4, 6: mean 4, sd 2, SE 2/sqrt(3) = 1.1547; 4 > 2 SE: worse (FD, lower is better)
    p = amp_quality.paired(_rows([10, 10, 10], [12, 14, 16]), "p", "fid")
    assert p["diffs"] == [2, 4, 6] and p["mean"] == 4 and p["se"] == pytest.approx(1.1547, abs=1e-4)
    assert p["verdict"] == "worse"
    # differences -1, 1, 3: mean 1, SE 1.1547: within 2 SE, equal
    assert amp_quality.paired(_rows([10, 10, 10], [9, 11, 13]), "p", "fid")["verdict"] == "equal (within 2 SE)"
    # FD lower by 4 +- 1.15: better; for accuracy (higher is better) the same numbers are worse
    assert amp_quality.paired(_rows([12, 14, 16], [10, 10, 10]), "p", "fid")["verdict"] == "better"
    acc = amp_quality.paired(_rows([0.9, 0.9, 0.9], [0.8, 0.82, 0.84], metric="accuracy"), "p", "accuracy")
    assert acc["verdict"] == "worse"
    # only the seeds with both runs are paired; one pair has no standard error, hence no verdict
    one = amp_quality.paired(_rows([10, 10], [11]), "p", "fid")
    assert one["seeds"] == [0] and one["diffs"] == [1] and one["verdict"] == "one seed: none"
