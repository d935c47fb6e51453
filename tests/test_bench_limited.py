"""Smoke test of bench/limited_data.py's quick variant: the cGAN recipe on 1,000 digits of the real MNIST test
split with and without DiffAugment, and the un-augmented control on all 10,000 digits; the runs' data and
augmentation, the docs section with its control line and its own figure. Not a quality gate."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import SHARED_MNIST

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import limited_data  # noqa: E402


def test_limited_data_quick_with_the_full_data_control(tmp_path, monkeypatch):
    def no_digits(*a, **k):
        raise AssertionError("the 16x16 digits evaluator was loaded for a run without the digits set")

    monkeypatch.setattr(limited_data, "digits_evaluator", no_digits)
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    title = "Limited data: the cGAN recipe"
    status = limited_data.main(["--quick", "--recipes", "cgan", "--sets", "mnist-1000,mnist-100,mnist-full", "--seeds", "0",
                                "--augs", "none,diffaug", "--data-root", str(SHARED_MNIST),
                                "--out", str(tmp_path / "runs"), "--doc", str(doc), "--title", title])
    assert status == 0
    results = json.loads((tmp_path / "runs" / "results.json").read_text())
    # the control (all 10,000 digits) is trained without augmentation only
    assert [(r["recipe"], r["set"], r["augment"]) for r in results] == [
        ("cgan", "mnist-1000", "none"), ("cgan", "mnist-1000", "diffaug"), ("cgan", "mnist-100", "none"),
        ("cgan", "mnist-100", "diffaug"), ("cgan", "mnist-full", "none")]
    for r in results:
        cfg = json.loads((Path(r["run"]) / "config.json").read_text())["config"]
        assert cfg["model"] == "cgan" and cfg["conditioning"] == "concat" and cfg["steps"] == 20
        assert cfg["train_subset"] == {"mnist-1000": 1000, "mnist-100": 100, "mnist-full": None}[r["set"]]
        assert cfg["augment"] == ("diffaug" if r["augment"] == "diffaug" else "none")
        assert r["fid"] > 0 and len(r["curve"]) == 20  # the FD curve: every step of a 20-step run
    text = doc.read_text()
    assert "## Other\n\nkept" in text  # other sections untouched
    section = text.split(f"## {title}\n", 1)[1]
    assert "`cgan` (the class-conditional GAN of preset `cgan-mnist`" in section
    data = section.split("Data: ", 1)[1].split(". Evaluation:", 1)[0]  # the sets of this invocation only
    assert "1,000-digit subset" in data and "100 digits" in data and "`mnist-full`" in data and "1,797" not in data
    control_row = next(line for line in section.splitlines() if line.startswith("| cgan | mnist-full | none |"))
    none_1000 = next(r["fid"] for r in results if r["set"] == "mnist-1000" and r["augment"] == "none")
    assert control_row.split("|")[6].strip() == limited_data.fixed(ctrl_fid(results) / none_1000)
    assert "Control (cgan): the same recipe on all 10,000 digits, without augmentation, reaches FD" in section
    ctrl = ctrl_fid(results)
    assert f"reaches FD {limited_data.fmt(ctrl, 3)} (1 seed(s))" in section
    assert "Real digits against the full split, as the runs are measured: the 1,000 training digits themselves FD" in section
    # the figures are the recipe's own: the DCGAN sections' figures are not overwritten
    assert "![FD over training](images/limited-cgan-fd-curve.png)" in section
    assert (tmp_path / "images" / "limited-cgan-fd-curve.png").stat().st_size > 1000
    for aug in ("none", "diffaug"):  # the 100-digit runs' grids and nearest-training-image figures
        assert f"![{aug}](images/limited-cgan-100-{aug}.png)" in section
        assert (tmp_path / "images" / f"limited-cgan-100-nearest-{aug}.png").is_file()
    assert not [p.name for p in (tmp_path / "images").iterdir() if not p.name.startswith("limited-cgan-")]


def ctrl_fid(results) -> float:
    return next(r["fid"] for r in results if r["set"] == "mnist-full")


def test_a_limited_data_run_killed_part_way_resumes_with_its_fd_curve(tmp_path, monkeypatch):
    """Long limited-data runs span sessions: they checkpoint part-way, and ``--reuse`` resumes a killed run
    from its checkpoint with the FD points measured before it; the result equals one uninterrupted run's."""
    import argparse

    import pytest

    from bench._quality import mnist_evaluator
    from gankit.metrics.features import LeNetExtractor

    model, _ = mnist_evaluator(None, SHARED_MNIST, quick=True)
    args = argparse.Namespace(d_width=None, ada_kimg=None, reuse=True, n=None)
    assert limited_data.config("mnist-1000", "ada", 0, 32000, SHARED_MNIST, False).checkpoint_every == 2000

    def run(out):
        evaluators = {"mnist": (LeNetExtractor(model), None)}
        return limited_data.one_run("mnist-1000", "ada", 0, 8, SHARED_MNIST, True, evaluators, args, out, recipe="cgan")

    straight = run(tmp_path / "straight")
    assert [p[0] for p in straight["curve"]] == list(range(1, 9))

    real_train = limited_data.train_and_evaluate

    def killed_at_step_6(*a, **k):  # after the step-4 checkpoint (every 8 // 4 = 2 steps), before the next
        def kill(trainer):
            if trainer.step == 6:
                raise RuntimeError("killed")
        return real_train(*a, **{**k, "callbacks": [*k["callbacks"], kill]})

    monkeypatch.setattr(limited_data, "train_and_evaluate", killed_at_step_6)
    with pytest.raises(RuntimeError, match="killed"):
        run(tmp_path / "killed")
    steps_seen = []

    def watched(*a, **k):
        return real_train(*a, **{**k, "callbacks": [*k["callbacks"], lambda t: steps_seen.append(t.step)]})

    monkeypatch.setattr(limited_data, "train_and_evaluate", watched)
    resumed = run(tmp_path / "killed")
    assert steps_seen == [5, 6, 7, 8]  # from the step-4 checkpoint, not from scratch
    assert resumed["curve"] == straight["curve"]  # points 1-4 kept, 5-8 measured again after the resume
    assert resumed["fid"] == straight["fid"] and resumed["steps"] == 8
