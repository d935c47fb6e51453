"""bench/ablation.py (issue 16's loss x regulariser x backbone ablation, its cost table and the D = G/4
setting): the configurations each row trains, the cost arithmetic on hand-made curves, the shared queue of
grid runs, and quick runs of each suite on the real MNIST test split. Not a quality gate."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from conftest import SHARED_MNIST

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import ablation  # noqa: E402


def test_a_stacked_row_changes_only_the_loss_and_the_regulariser():
    from gankit import TrainConfig

    base = ablation.stacked_config("dcgan", "nonsaturating", "none", 1000, SHARED_MNIST, quick=False)
    other = ablation.stacked_config("dcgan", "rpgan", "R1 + R2", 1000, SHARED_MNIST, quick=False)
    diff = {k for k, v in base.to_dict().items() if other.to_dict()[k] != v}
    assert diff == {"loss", "r1_gamma", "r2_gamma"}
    assert (other.loss, other.r1_gamma, other.r2_gamma) == ("rpgan", 0.1, 0.1)
    assert (base.r1_gamma, base.r2_gamma, base.ema_decay, base.model) == (0.0, 0.0, 0.999, "dcgan")
    r1 = ablation.stacked_config("r3gan", "nonsaturating", "R1", 1000, SHARED_MNIST, quick=False)
    preset = TrainConfig.from_preset("r3gan-stacked-mnist")
    assert (r1.model, r1.r3gan_widths, r1.r1_gamma, r1.r2_gamma) == ("r3gan", [64, 32, 16], 0.1, 0.0)
    assert (r1.beta1, r1.beta2, r1.ema_decay, r1.steps) == (preset.beta1, preset.beta2, preset.ema_decay, 1000)


def test_d_quarter_rows_give_d_a_quarter_of_gs_widths():
    for row in ablation.D_QUARTER_DEFAULT:
        cfg = ablation.d_quarter_config(row, 12000, SHARED_MNIST, quick=False)
        assert (cfg.g_width, cfg.d_width) == (32, 8) and cfg.data == "stacked-mnist"
    assert ablation.d_quarter_config("pacdcgan4", 10, SHARED_MNIST, quick=False).pack == 4
    assert ablation.d_quarter_config("best-seed2", 10, SHARED_MNIST, quick=False).seed == 2
    assert ablation.d_quarter_config("best-d2", 10, SHARED_MNIST, quick=False).d_width == 2


def _curve(kls, cpu_per_step):
    return [{"step": 250 * (i + 1), "modes": 1000, "kl": kl, "cpu_s": (250 * (i + 1) - 1) * cpu_per_step,
             "wall_s": 0.0} for i, kl in enumerate(kls)]


def test_cost_lines_read_the_steps_each_backbone_needs_for_the_kl_both_reach():
    rows = [{"backbone": "dcgan", "loss": "rpgan", "reg": "R1 + R2", "curve": _curve([2.0, 0.9, 0.5, 0.45], 0.05)},
            {"backbone": "r3gan", "loss": "rpgan", "reg": "R1 + R2", "curve": _curve([1.5, 0.6, 0.4, 0.3], 0.5)},
            {"backbone": "dcgan", "loss": "rpgan", "reg": "none", "curve": _curve([0.1] * 4, 0.05)}]  # not this pair
    lines = ablation.cost_lines(rows)
    # the lowest KL both reach: dcgan's best, 0.45; r3gan gets below it at step 750 (the clocks start after
    # step 1: the rate is cpu_s / (step - 1))
    assert "is 0.45." in lines[0]
    table = [ln.strip("|").split("|") for ln in "\n".join(lines).splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    assert [[c.strip() for c in row] for row in table] == [
        ["dcgan", "1,000", "50", "0.050", "1280.0"], ["r3gan", "750", "375", "0.500", "128.0"]]
    assert ablation.cost_lines(rows[:1]) == []  # one backbone: nothing to compare


def test_grid_invocations_share_the_queue_and_read_back_finished_runs(tmp_path, capsys):
    args = ["--suite", "grid", "--quick", "--seeds", "2", "--out", str(tmp_path), "--reuse"]
    claimed = tmp_path / "grid" / "rpgan-r1r2-s1-4.claim"  # another invocation is training this one
    claimed.parent.mkdir(parents=True)
    claimed.touch()
    assert ablation.main(args) == 0
    first = capsys.readouterr().out
    assert "rpgan R1 + R2 seed 1: claimed by another invocation" in first
    done = sorted(p.name for p in (tmp_path / "grid").glob("*.json"))
    assert len(done) == 11 and "rpgan-r1r2-s1-4.json" not in done
    saved = json.loads((tmp_path / "grid" / "nonsaturating-none-s0-4.json").read_text())
    assert saved["steps"] == 4 and 1 <= saved["modes"] <= 25 and 0 <= saved["high_quality"] <= 1
    assert ablation.main(args) == 0  # everything finished is read back, nothing trained again
    second = capsys.readouterr().out
    assert "seed 0: modes" not in second and second.count("claimed by another invocation") == 1
    row = next(ln for ln in second.splitlines() if ln.startswith("| rpgan | R1 + R2 |"))
    assert "± 0.00" in row  # the R1 + R2 row has one seed (the other is claimed): no spread


@pytest.mark.parametrize("suite", ["stacked", "d-quarter"])
def test_quick_stacked_suites_run_and_write_their_section(tmp_path, suite):
    before = ablation.DOCS.read_bytes()
    extra = ["--backbones", "dcgan"] if suite == "stacked" else ["--rows", "dcgan,best,best-seed1"]
    assert ablation.main(["--suite", suite, "--quick", *extra, "--data-root", str(SHARED_MNIST),
                          "--out", str(tmp_path / "runs")]) == 0
    assert ablation.DOCS.read_bytes() == before  # --quick leaves docs/benchmarks.md alone
    if suite == "stacked":
        runs = sorted((tmp_path / "runs" / "stacked").iterdir())
        assert [p.name for p in runs] == sorted(ablation.slug("dcgan", loss, reg) for loss, reg in ablation.combos())
        curve = json.loads((runs[0] / "curve.json").read_text())
        assert [p["step"] for p in curve] == [1, 2, 3, 4]  # every steps // 4
        assert all(0 <= p["kl"] <= math.log(1000) + 1e-9 and 1 <= p["modes"] <= 1000 for p in curve)
        cpu = [p["cpu_s"] for p in curve]
        assert cpu[0] < 0.01 and all(b >= a for a, b in zip(cpu, cpu[1:]))
        ev = json.loads((runs[0] / "eval.json").read_text())
        assert ev["n"] == 500 and ev["metrics"]["num_classes"] == 1000
    else:
        for row in ("dcgan", "best", "best-seed1"):
            cfg = json.loads((tmp_path / "runs" / "d-quarter" / row / "config.json").read_text())["config"]
            assert cfg["d_width"] == 8 and cfg["steps"] == 4
