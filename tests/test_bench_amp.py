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
            "--out", str(tmp_path / "runs"), "--doc", str(doc), "--speed-rounds", "0"]
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
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines()
            if line.startswith("| dcgan-mnist") or line.startswith("| stacked-mnist")}
    assert set(rows) == {"dcgan-mnist", "stacked-mnist"} and all("FD ↓" in row for row in rows.values())
    for preset, line in rows.items():  # the table's verdict is the paired test's, on these runs
        assert f" | {amp_quality.paired(results, preset, 'fid')['verdict']} | " in line
    decision, deciding = amp_quality.rule(results)
    assert {"met": "**Rule met**", "not met": "**Rule not met**", "undecided": "**Rule undecided**"}[decision] in text
    assert all(r["n"] == 200 for r in results)  # the quick sample count, as the text says
    assert "dcgan-mnist 200, stacked-mnist 200" in text
    # a second invocation with --reuse reads every run back instead of training it again
    assert amp_quality.main([*argv, "--reuse", "--no-write"]) == 0
    again = json.loads((tmp_path / "runs" / "results.json").read_text())
    assert all(r["reused"] for r in again) and [r["fid"] for r in again] == [r["fid"] for r in results]


def _rows(fp32, bf16, metric="fid", preset="p"):
    return ([{"preset": preset, "amp": "none", "seed": s, metric: v} for s, v in enumerate(fp32)]
            + [{"preset": preset, "amp": "bf16", "seed": s, metric: v} for s, v in enumerate(bf16)])


def test_paired_t_test_by_hand():
    # differences 2, 4, 6: mean 4, sd 2, SE 2/sqrt(3) = 1.1547; t(0.975, 2 df) = 4.3027: 95% CI 4 +- 4.968,
    # which contains zero: no significant difference
    p = amp_quality.paired(_rows([10, 10, 10], [12, 14, 16]), "p", "fid")
    assert p["diffs"] == [2, 4, 6] and p["mean"] == 4 and p["se"] == pytest.approx(1.1547, abs=1e-4)
    assert p["ci"] == pytest.approx(4.3027 * 1.1547, abs=1e-3) and p["verdict"] == amp_quality.SAME
    # differences 5, 6, 7: mean 6, SE 0.5774, CI 6 +- 2.484: FD significantly higher in bf16, worse
    assert amp_quality.paired(_rows([10, 10, 10], [15, 16, 17]), "p", "fid")["verdict"] == "worse"
    # the same FDs the other way round: better; as accuracies (higher is better): worse
    assert amp_quality.paired(_rows([15, 16, 17], [10, 10, 10]), "p", "fid")["verdict"] == "better"
    acc = amp_quality.paired(_rows([0.9, 0.9, 0.9], [0.85, 0.84, 0.83], metric="accuracy"), "p", "accuracy")
    assert acc["verdict"] == "worse"
    # only the seeds with both runs are paired; one pair has no standard error, hence no verdict
    one = amp_quality.paired(_rows([10, 10], [11]), "p", "fid")
    assert one["seeds"] == [0] and one["diffs"] == [1] and one["verdict"] == amp_quality.ONE_SEED


def test_rule_needs_every_preset_paired_and_none_worse():
    same = _rows([10, 10, 10], [12, 14, 16], preset="a")
    assert amp_quality.rule(same) == ("met", [])
    worse = same + _rows([10, 10, 10], [15, 16, 17], preset="b")
    assert amp_quality.rule(worse) == ("not met", ["b"])
    fp32_only = same + [{"preset": "c", "amp": "none", "seed": s, "fid": 10} for s in range(3)]
    assert amp_quality.rule(fp32_only) == ("undecided", ["c"])
    assert amp_quality.rule(same + _rows([10, 10], [11], preset="d")) == ("undecided", ["d"])


def test_report_with_pix2pix_rows_and_speeds():
    rows = [{**r, "train_s": 10.0, "eval_s": 1.0, "steps": 600, "accuracy": r.pop("fid") / 20}
            for r in _rows([18, 18, 18], [18.2, 17.8, 18.4], preset=amp_quality.PIX2PIX)]
    text = amp_quality.table(amp_quality.HEADER, amp_quality.summary_rows(rows))
    speed = {"p": {"none": [10.0, 12.0, 11.0], "bf16": [20.0, 18.0, 33.0]}}
    assert amp_quality.speed_rows(speed) == [["p", "11.0", "20.0", "**2.00×** (1.50–3.00)"]]
    out = amp_quality.report(rows, text, "speeds", {}, "cmd", 3)
    assert "accuracy ↑" in out and "**Rule met**" in out and "3 interleaved rounds" in out and "\nspeeds\n" in out


def test_speeds_time_both_arithmetics_of_a_preset():
    measured = amp_quality.speeds(["dcgan-digits"], SHARED_MNIST, rounds=2, iters=1)
    rates = measured["dcgan-digits"]
    assert set(rates) == {"none", "bf16"} and all(len(v) == 2 and min(v) > 0 for v in rates.values())
