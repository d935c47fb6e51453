"""Smoke test of the 2-D mode-coverage benchmark (bench/toy_modes.py): runs, not a quality gate."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import toy_modes  # noqa: E402
from bench._common import replace_section  # noqa: E402


def _quick(out: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m bench toy_modes --quick ARGS --json OUT`` in a subprocess (one torch thread)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "bench", "toy_modes", "--quick", *args, "--json", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_quick_run_prints_table_and_finite_numbers(tmp_path):
    out = tmp_path / "runs.json"
    proc = _quick(out, "--steps", "60", "--data", "ring", "--configs", "nonsaturating,best")
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| ring |"))
    for col in ("modes (max 8)", "modes ≥ 20%", "% high quality", "reverse KL", "s / run"):
        assert col in header
    rows = {line.split("|")[1].strip().split(" ")[0]: line for line in lines if line.startswith("| ")}
    assert {"nonsaturating", "best"} <= set(rows)
    assert "best vs nonsaturating" in proc.stdout
    runs = json.loads(out.read_text())
    assert [(r["config"], r["seed"], r["steps"]) for r in runs] == [("nonsaturating", 0, 60), ("best", 0, 60)]
    for r in runs:
        assert 0 <= r["modes_strict"] <= r["modes"] <= r["num_modes"] == 8
        assert 0.0 <= r["high_quality"] <= 1.0 and r["seconds"] > 0
        # reverse KL is defined exactly when some sample is high quality, and lies in [0, log 8]
        assert math.isfinite(r["reverse_kl"]) == (r["high_quality"] > 0)
        if r["high_quality"] > 0:
            assert -1e-9 <= r["reverse_kl"] <= math.log(8) + 1e-9
    assert runs[1]["ema"] is True  # the best preset samples its EMA generator


def test_summary_statistics_over_seeds():
    rows = [{"modes": m, "modes_strict": m, "high_quality": h, "reverse_kl": k, "seconds": 1.0}
            for m, h, k in ((8, 0.99, 0.0), (6, 0.97, 0.3), (7, 0.98, 0.1))]
    s = toy_modes.summarise(rows)
    assert s["modes"] == {"mean": 7.0, "std": 1.0, "min": 6.0, "max": 8.0, "n": 3}
    assert math.isclose(s["high_quality"]["mean"], 0.98) and math.isclose(s["high_quality"]["std"], 0.01)
    assert s["reverse_kl"]["max"] == 0.3
    rows[0]["reverse_kl"] = math.nan  # no high-quality sample: reverse KL undefined, left out
    s = toy_modes.summarise(rows)
    assert s["reverse_kl"]["n"] == 2 and math.isclose(s["reverse_kl"]["mean"], 0.2)
    assert "0.200 ± 0.141 (2 of 3 seeds)" in toy_modes.table("ring", {"x": [dict(r, ema=False) for r in rows]})


def test_a_benchmark_replaces_only_its_own_section(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Other\n\nkeep me\n")
    replace_section(doc, toy_modes.SECTION, toy_modes.SECTION + "\n\nfirst\n")
    replace_section(doc, toy_modes.SECTION, toy_modes.SECTION + "\n\nsecond\n")
    text = doc.read_text()
    assert text.count(toy_modes.SECTION) == 1 and "second" in text and "first" not in text
    assert "## Other\n\nkeep me" in text
    doc.write_text(f"# Benchmarks\n\n{toy_modes.SECTION}\n\nold\n\n## Later\n\nstays\n")
    replace_section(doc, toy_modes.SECTION, toy_modes.SECTION + "\n\nnew\n")
    assert doc.read_text() == f"# Benchmarks\n\n{toy_modes.SECTION}\n\nnew\n\n## Later\n\nstays\n"


def test_bench_dispatcher_lists_and_rejects():
    proc = subprocess.run([sys.executable, "-m", "bench", "no_such_bench"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "toy_modes" in proc.stderr


def test_quick_grid_best_adds_a_rejection_sampling_row(tmp_path):
    out = tmp_path / "runs.json"
    proc = _quick(out, "--steps", "40", "--data", "grid", "--configs", "best")
    assert "| best + DRS (EMA G) |" in proc.stdout and "grid: best + DRS vs" not in proc.stdout  # no baseline run
    (run,) = json.loads(out.read_text())
    drs = run["drs"]
    assert 0 < drs["acceptance"] <= 1 and drs["num_modes"] == 25 and 0 <= drs["high_quality"] <= 1
    assert drs["seconds"] > run["seconds"]


def test_reuse_reads_back_matching_runs_only(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    _quick(first, "--steps", "30", "--data", "ring", "--configs", "nonsaturating,best")
    proc = _quick(second, "--steps", "30", "--data", "ring", "--configs", "nonsaturating,best,lsgan",
                  "--reuse", str(first))
    assert f"read back 2 of 3 runs from {first}" in proc.stdout
    old, new = json.loads(first.read_text()), json.loads(second.read_text())
    by_config = {r["config"]: r for r in new}
    assert by_config["lsgan"].get("reused") is None and by_config["best"]["reused"] is True
    for r in old:  # read back as they were, samples of best seed 0 included
        assert {k: v for k, v in by_config[r["config"]].items() if k != "reused"} == r
    assert "samples" in by_config["best"]
    # A different budget is a different run: nothing matches.
    proc = _quick(tmp_path / "c.json", "--steps", "31", "--data", "ring", "--configs", "nonsaturating",
                  "--reuse", str(first))
    assert f"read back 0 of 1 runs from {first}" in proc.stdout
    # A run saved before a config field existed (here: aux_fake, at its default) still matches; a saved
    # config that differs in a value does not.
    rows = json.loads(first.read_text())
    for r in rows:
        del r["spec"]["config"]["aux_fake"]
    rows[0]["spec"]["config"]["lr"] *= 2  # nonsaturating's run
    first.write_text(json.dumps(rows))
    proc = _quick(tmp_path / "d.json", "--steps", "30", "--data", "ring", "--configs", "nonsaturating,best",
                  "--reuse", str(first))
    assert f"read back 1 of 2 runs from {first}" in proc.stdout
    assert {r["config"]: r.get("reused") for r in json.loads((tmp_path / "d.json").read_text())} == \
        {"nonsaturating": None, "best": True}


def test_standard_error_spread_and_the_issue_16_target_line():
    rows = [{"modes": 25, "modes_strict": 25, "high_quality": h, "reverse_kl": k, "seconds": 1.0, "ema": True}
            for h, k in ((0.97, 0.01), (0.95, 0.03), (0.93, 0.05), (0.99, 0.01))]
    # std of the high-quality fractions 0.0258; standard error = std / sqrt(4) = 0.0129
    assert "96.00 ± 2.58" in toy_modes.table("grid", {"c": rows})
    assert "96.00 ± 1.29" in toy_modes.table("grid", {"c": rows}, spread="se")
    line = toy_modes.target_16("grid", "c", rows)  # mean 96% >= 95%, KL 0.025 <= 0.04; worst seed 93%, KL 0.05
    assert line.endswith("on the mean of 4 seeds: met; on every seed: NOT met")
    rows[0]["modes"] = 24  # the mean of modes drops below 25
    assert "on the mean of 4 seeds: NOT met" in toy_modes.target_16("grid", "c", rows)


def test_categorical_rows_are_the_categorical_preset_with_k_fixed_by_the_mode_count():
    cfg = toy_modes.make_config("grid", "categorical", 3, None)
    assert (cfg.latent_categories, cfg.z_dim, cfg.seed, cfg.steps) == (100, 3, 3, 10000)
    assert toy_modes.make_config("ring", "categorical-modes", 0, 50).latent_categories == 8
    assert toy_modes.make_config("ring", "categorical", 0, None).latent_categories == 32
