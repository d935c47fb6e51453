"""Crash safety: SIGKILL anywhere (even mid-checkpoint) + resume == an unbroken run, bit for bit;
SIGTERM stops gracefully; divergence stops or rolls back; parsers survive random bytes."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import gankit
from gankit.errors import GankitError
from gankit.runs import Run
from gankit.training import checkpoint as ckpt

from conftest import tiny

ARGS = ["--model", "mlp", "--g-hidden", "32", "--d-hidden", "32", "--z-dim", "8", "--image-size", "8",
        "--dropout", "0.3", "--ema-decay", "0.9", "--batch-size", "64", "--checkpoint-every", "5",
        "--log-every", "5", "--no-progress", "--no-tensorboard", "--device", "cpu", "--seed", "3"]
STEPS = 300


def _gankit(*args, env=None):
    e = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "gankit", *args], env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _latest_step(run: Path) -> int:
    p = run / "checkpoints" / "latest"
    try:
        return int(p.read_text().strip().split("-")[1])
    except (OSError, IndexError, ValueError):
        return -1


def _wait_for_step(proc, run, step, timeout=120):
    t = time.time()
    while _latest_step(run) < step:
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t < timeout, "run did not reach the step in time"
        time.sleep(0.005)


def _assert_same_weights(a: Path, b: Path):
    for name in ("generator", "discriminator", "generator_ema"):
        wa, wb = load_file(str(a / f"{name}.safetensors")), load_file(str(b / f"{name}.safetensors"))
        assert wa.keys() == wb.keys()
        diff = [k for k in wa if not torch.equal(wa[k], wb[k])]
        assert not diff, f"{name}: {diff}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run = tmp_path_factory.mktemp("ref") / "run"
    p = _gankit("train", "--steps", str(STEPS), "--out", str(run), *ARGS)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return run


def _resume(run):
    p = _gankit("train", "--resume", str(run), "--no-progress")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return out, err


def test_sigkill_mid_run_then_resume_is_bit_identical(reference, tmp_path):
    run = tmp_path / "run"
    p = _gankit("train", "--steps", str(STEPS), "--out", str(run), *ARGS)
    _wait_for_step(p, run, 50)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL
    killed_at = _latest_step(run)
    assert 50 <= killed_at < STEPS
    _resume(run)
    _assert_same_weights(reference, run)
    rows = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows == sorted(set(rows)) and rows[-1] == STEPS  # replayed steps are not logged twice


def test_sigkill_during_checkpoint_write_keeps_the_previous_one(reference, tmp_path):
    run = tmp_path / "run"
    p = _gankit("train", "--steps", str(STEPS), "--out", str(run), *ARGS, env={"GANKIT_FAULT": "checkpoint-write:10"})
    p.communicate(timeout=300)
    assert p.returncode == -signal.SIGKILL
    ckpts = run / "checkpoints"
    assert (ckpts / ".tmp-step-0000010").is_dir()          # the half-written checkpoint
    assert not (ckpts / "step-0000010").exists()
    assert (ckpts / "latest").read_text().strip() == "step-0000005"
    assert Run(run).latest_checkpoint().name == "step-0000005"
    _resume(run)
    _assert_same_weights(reference, run)
    assert not (ckpts / ".tmp-step-0000010").exists()


def test_sigterm_stops_gracefully_and_resumes_exactly(reference, tmp_path):
    run = tmp_path / "run"
    p = _gankit("train", "--steps", str(STEPS), "--out", str(run), *ARGS)
    _wait_for_step(p, run, 30)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "stopped early (signal) and saved" in out and "--resume" in err
    stopped = _latest_step(run)
    assert stopped < STEPS
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] <= stopped
    _resume(run)
    _assert_same_weights(reference, run)


class _NanOnce:
    """Wraps an objective so that its generator loss is NaN once, at one step."""

    def __init__(self, objective, trainer, at):
        self.objective, self.trainer, self.at, self.fired = objective, trainer, at, False

    def __getattr__(self, name):
        return getattr(self.objective, name)

    def g_loss(self, fake):
        loss = self.objective.g_loss(fake)
        if self.trainer.step + 1 == self.at and not self.fired:
            self.fired = True
            return loss * float("nan")
        return loss


def test_divergence_stops_with_a_clear_message_and_intact_checkpoint(tmp_path):
    t = gankit.Trainer(tiny(steps=12, checkpoint_every=4, log_every=2), tmp_path / "run")
    t.game.objective = _NanOnce(t.objective, t, at=7)  # the objective the game computes with
    with pytest.raises(GankitError, match=r"diverged at step 8: non-finite .*step-0000004.*lower --lr"):
        t.train()
    last = Run(tmp_path / "run").latest_checkpoint()
    assert last.name == "step-0000004"
    w = load_file(str(last / "generator.safetensors"))
    assert all(torch.isfinite(v).all() for v in w.values())


def test_divergence_rollback_lowers_lr_and_finishes(tmp_path):
    cfg = tiny(steps=12, checkpoint_every=4, log_every=2, on_divergence="rollback", lr=1e-3)
    t = gankit.Trainer(cfg, tmp_path / "run")
    t.game.objective = _NanOnce(t.objective, t, at=7)  # the objective the game computes with
    result = t.train()
    assert result["rollbacks"] == 1 and result["steps"] == 12
    assert t.opt_g.param_groups[0]["lr"] == pytest.approx(5e-4)
    assert all(torch.isfinite(p).all() for p in t.G.parameters())
    state = ckpt.load_state(Run(tmp_path / "run").latest_checkpoint() / "state.pt")
    assert state["lr_scale"] == 0.5  # a later --resume keeps the lowered rate


def test_checkpoint_by_wall_time(tmp_path):
    t = gankit.Trainer(tiny(steps=5, checkpoint_every=1000, checkpoint_minutes=1e-6), tmp_path / "run")
    t.train()
    assert len(list((tmp_path / "run" / "checkpoints").glob("step-*"))) == 3  # keep_checkpoints=3, one per step


# ---------------------------------------------------------------------- Ctrl-C, the run lock, metrics after a kill
def _python(code, *args, env=None):
    """``python -c code train ...`` with the test's stand-ins installed before gankit's CLI runs."""
    e = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-c", code + "\nfrom gankit.cli import main\nsys.exit(main(sys.argv[1:]))",
                             *args], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_line(stream, text, timeout=120):
    import select

    t = time.time()
    while time.time() - t < timeout:
        if select.select([stream], [], [], 0.1)[0]:
            line = stream.readline()
            assert line, f"the child ended before printing {text!r}"
            if text in line:
                return line
    raise AssertionError(f"no {text!r} in time")


SLOW_SAVE_AFTER_A_SIGNAL = """
import sys, time
import gankit.training.checkpoint as ck, gankit.training.trainer as tr
signals, request_stop, write_manifest = [], tr.Trainer._request_stop, ck.write_manifest
def on_signal(self, signum, frame):
    signals.append(signum)
    return request_stop(self, signum, frame)
def slow_manifest(folder):  # the checkpoint after the first signal takes 2 s: time for a second Ctrl-C
    if signals:
        print("SAVING", folder.name, flush=True)
        time.sleep(2)
    return write_manifest(folder)
tr.Trainer._request_stop, ck.write_manifest = on_signal, slow_manifest
"""


def _metrics_rows(run):
    """metrics.jsonl without its wall-clock field (``time``: elapsed seconds, which a resumed run's differ)."""
    return [{k: v for k, v in json.loads(x).items() if k != "time"} for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_second_ctrl_c_while_the_checkpoint_is_written_finishes_it_then_exits_130(reference, tmp_path):
    run = tmp_path / "run"
    p = _python(SLOW_SAVE_AFTER_A_SIGNAL, "train", "--steps", str(STEPS), "--out", str(run), *ARGS)
    _wait_for_step(p, run, 10)
    p.send_signal(signal.SIGINT)
    saving = _wait_for_line(p.stdout, "SAVING")  # inside the graceful stop's checkpoint write
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    step = int(saving.split("-")[-1])
    assert err.splitlines()[-1] == (f"gankit: interrupted at step {step}; the last checkpoint is step-{step:07d}; "
                                    f"continue with: gankit train --resume {run}")
    assert sorted(p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(".")) == []
    assert Run(run).latest_checkpoint().name == f"step-{step:07d}"
    _resume(run)
    _assert_same_weights(reference, run)


def test_ctrl_c_during_start_up_is_one_line_and_exit_130(tmp_path):
    # Python's own Ctrl-C handler, as in a terminal: a child of a shell's background job (`cmd &`) inherits
    # SIGINT ignored, and Python then installs no handler (a CI started that way once timed out here)
    slow_data = ("import signal, sys, time\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
                 "import gankit.training.trainer as tr\nload = tr.training_data\n"
                 "def slow(cfg):\n    print('LOADING', flush=True)\n    time.sleep(60)\n    return load(cfg)\n"
                 "tr.training_data = slow\n")
    p = _python(slow_data, "train", "--steps", "5", "--out", str(tmp_path / "run"), *ARGS)
    _wait_for_line(p.stdout, "LOADING")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert err == "gankit: interrupted during start-up, before training started\n"
    assert not (tmp_path / "run").exists()


def test_a_second_train_of_a_running_run_is_refused_and_a_kill_frees_the_run(tmp_path):
    run = tmp_path / "run"
    first = _gankit("train", "--steps", "1000000", "--out", str(run), *ARGS)
    _wait_for_step(first, run, 5)
    second = _gankit("train", "--resume", str(run), "--no-progress")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 2
    assert err == (f"gankit: error: run {run} is in use by another gankit process (pid {first.pid}); "
                   f"wait for it to finish or stop it\n")
    assert first.poll() is None  # untouched
    first.send_signal(signal.SIGKILL)
    first.wait()
    Run(run).lock().release()  # the kernel dropped the dead process's lock


def test_sigkill_between_log_rows_then_resume_gives_the_same_metrics_rows(reference, tmp_path):
    """Checkpoints every 3 steps, log rows every 5: killed writing checkpoint 21, the run resumes
    at 18, three steps into row 20's window; metrics.jsonl equals the unbroken run's."""
    run = tmp_path / "run"
    p = _gankit("train", "--steps", str(STEPS), "--out", str(run), *ARGS, "--checkpoint-every", "3",
                env={"GANKIT_FAULT": "checkpoint-write:21"})
    p.communicate(timeout=300)
    assert p.returncode == -signal.SIGKILL
    assert Run(run).latest_checkpoint().name == "step-0000018"
    assert [r["step"] for r in _metrics_rows(run)] == [5, 10, 15, 20]
    _resume(run)
    _assert_same_weights(reference, run)
    assert _metrics_rows(run) == _metrics_rows(reference)
    assert len(_metrics_rows(run)) == STEPS // 5
