"""Checkpoint replacement safety: a kill after any file operation of a save (fault injection at
every one), a damaged or foreign checkpoint, stale temporary files, the run lock, file modes, and
metrics.jsonl rows that survive a kill."""
import builtins
import json
import logging
import os
import pathlib
import shutil

import pytest
import safetensors.torch
import torch
from safetensors.torch import load_file

import gankit
from gankit.errors import GankitError
from gankit.runs import Run
from gankit.training import checkpoint as ckpt
from gankit.utils import io

from conftest import tiny

#: wall-clock fields of a metrics row (elapsed seconds): a resumed run's differ, and only those
WALL_CLOCK = ("time",)


def ring(**overrides):
    """Tiny MLP on the 2-D ring, EMA on (three weight files), a checkpoint every step, only the
    newest kept (so a broken replacement has nothing to fall back on), logging every 2 steps."""
    base = dict(model="mlp", data="ring", num_points=256, z_dim=2, batch_size=64, steps=3, checkpoint_every=1,
                keep_checkpoints=1, log_every=2, ema_decay=0.9, dropout=0.3, seed=5)
    base.update(overrides)
    return tiny(**base)


def weights(run):
    return {name: load_file(str(run / f"{name}.safetensors")) for name in ("generator", "discriminator",
                                                                        "generator_ema")}


def assert_bit_identical(a, b, what=""):
    wa, wb = weights(a), weights(b)
    for name in wa:
        assert wa[name].keys() == wb[name].keys()
        assert all(torch.equal(wa[name][k], wb[name][k]) for k in wa[name]), f"{what}: {name} differs"


def rows(run):
    return [{k: v for k, v in json.loads(line).items() if k not in WALL_CLOCK}
            for line in (run / "metrics.jsonl").read_text().splitlines()]


def leftovers(run):
    """Hidden files and folders in the run besides its lock: temporaries of some interrupted write."""
    return sorted(str(p.relative_to(run)) for folder in (run, run / "checkpoints") if folder.is_dir()
                  for p in folder.iterdir() if p.name.startswith(".") and p.name != ".lock")


class Killed(BaseException):
    """A simulated SIGKILL: no ``except Exception`` catches it."""


class Faults:
    """Counts the file operations of the armed save(s) and "kills" the process before operation
    ``kill_at``: from then on every file operation raises, as nothing runs after a real SIGKILL (not
    even the ``finally`` clean-ups). A write killed midway leaves a torn file: half-written bytes at
    its target, or safetensors' own temporary file for ``save_file``."""

    def __init__(self, kill_at=None):
        self.kill_at, self.ops, self.armed, self.dead = kill_at, [], False, False

    def op(self, name, target, torn=None):
        if not self.armed:
            return
        if self.dead or len(self.ops) == self.kill_at:
            if not self.dead and torn is not None:
                torn()
            self.dead = True
            raise Killed(f"{name} {target}")
        self.ops.append(f"{name} {pathlib.Path(str(target)).name}")

    def install(self, mp):
        def garbage(path):
            return lambda: pathlib.Path(path).write_bytes(b"\x00torn")  # real open: not counted

        def wrap(owner, attr, torn_of=None):
            real = getattr(owner, attr)

            def wrapper(*a, **k):
                target = a[1] if attr in ("save_file", "save") else a[0]
                self.op(attr, target, torn_of(a) if torn_of and self.armed else None)
                return real(*a, **k)

            mp.setattr(owner, attr, wrapper)
            return real

        for attr in ("replace", "rename", "unlink", "rmdir", "mkdir", "fsync", "chmod"):
            wrap(os, attr)
        wrap(pathlib.Path, "write_text", lambda a: garbage(a[0]))
        wrap(torch, "save", lambda a: garbage(a[1]))
        wrap(safetensors.torch, "save_file", lambda a: garbage(pathlib.Path(a[1]).with_name(".tmpK1ll3d")))
        real_open = builtins.open

        def open_(file, mode="r", *a, **k):
            if any(c in mode for c in "wax+"):
                self.op("open", file, garbage(file) if "w" in mode and self.armed else None)
            return real_open(file, mode, *a, **k)

        mp.setattr(builtins, "open", open_)

    def arm_save(self, mp, which):
        """Count only the ``which``-th checkpoint save (1-based) of the run."""
        real, calls = ckpt.save_checkpoint, [0]

        def save(*a, **k):
            calls[0] += 1
            self.armed = calls[0] in which
            try:
                return real(*a, **k)
            finally:
                self.armed = self.dead  # after a kill, everything stays dead

        mp.setattr(ckpt, "save_checkpoint", save)


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory):
    run = tmp_path_factory.mktemp("unbroken") / "run"
    gankit.train(ring(), run)
    return run


@pytest.fixture
def no_plots(monkeypatch):
    """Stand-ins for the matplotlib summaries (sample scatter, curves, GIF: the run's pictures, not
    its state), which would take most of the time of the many short runs below."""
    from gankit.training import logger

    monkeypatch.setattr(logger, "save_scatter", lambda samples, path, *a, **k: pathlib.Path(path).write_bytes(b"png"))
    monkeypatch.setattr(logger, "plot_curves", lambda *a, **k: None)
    monkeypatch.setattr(logger, "save_gif", lambda *a, **k: None)


@pytest.mark.parametrize("save,what", [(3, "a new step, pruning the previous one"),
                                       (4, "the same step saved again at the end: a replacement")])
def test_kill_after_every_file_operation_of_a_save_then_resume_is_bit_identical(unbroken, tmp_path, no_plots,
                                                                                  save, what):
    cfg = ring()
    counter = Faults()
    with pytest.MonkeyPatch.context() as mp:
        counter.install(mp)
        counter.arm_save(mp, {save})
        gankit.train(cfg, tmp_path / "count")
    total = len(counter.ops)
    assert total >= 30, counter.ops  # weights x3, state, manifest, renames, fsyncs, top-level weights, pointer
    assert_bit_identical(unbroken, tmp_path / "count", "the counting run")
    for k in range(total + 1):
        run = tmp_path / f"k{k}"
        faults = Faults(kill_at=k)
        with pytest.MonkeyPatch.context() as mp:
            faults.install(mp)
            faults.arm_save(mp, {save})
            if k < total:
                with pytest.raises(Killed):
                    gankit.train(cfg, run)
            else:
                gankit.train(cfg, run)
        last_op = faults.ops[-1] if faults.ops else "none"
        gankit.Trainer(cfg, run, resume=True).train()
        assert_bit_identical(unbroken, run, f"killed after {k} of {total} ops of save {save} (last: {last_op})")
        assert rows(run) == rows(unbroken), f"k={k}"
        assert leftovers(run) == [], f"k={k}"
        assert Run(run).latest_checkpoint().name == "step-0000003"
        shutil.rmtree(run)


def test_a_damaged_checkpoint_is_skipped_for_the_newest_complete_one(unbroken, tmp_path, caplog):
    run = tmp_path / "run"
    cfg = ring(keep_checkpoints=3)
    gankit.train(cfg, run)
    g = run / "checkpoints" / "step-0000003" / "generator.safetensors"
    data = bytearray(g.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight: same size, other content
    g.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="gankit.runs"):
        assert Run(run).latest_checkpoint().name == "step-0000002"
    assert [r.getMessage() for r in caplog.records] == [
        "ignoring checkpoint step-0000003 (generator.safetensors does not match its SHA-256); "
        "using step-0000002, the newest complete checkpoint"]
    t = gankit.Trainer(cfg, run, resume=True)
    assert t.step == 2
    t.train()
    assert_bit_identical(unbroken, run)
    assert rows(run) == rows(unbroken)


def test_checkpoints_without_a_manifest_still_resume(unbroken, tmp_path):
    """Checkpoints of gankit <= 0.2 have no manifest.json: trusted when their files are all there."""
    run = tmp_path / "run"
    cfg = ring(keep_checkpoints=3)
    gankit.train(cfg.replace(steps=2), run)
    for m in (run / "checkpoints").glob("step-*/manifest.json"):
        m.unlink()
    (run / "checkpoints" / "step-0000002" / "generator_ema.safetensors").unlink()  # a half-deleted one
    assert Run(run).latest_checkpoint().name == "step-0000001"
    state = ckpt.load_state(run / "checkpoints" / "step-0000001" / "state.pt")
    for key in ("log_stats", "log_count"):
        del state[key]  # as gankit <= 0.2 wrote it
    torch.save(state, run / "checkpoints" / "step-0000001" / "state.pt")
    gankit.Trainer(cfg, run, resume=True).train()
    assert_bit_identical(unbroken, run)


def test_latest_pointer_outside_the_run_is_ignored(tmp_path, caplog):
    other, run = tmp_path / "other", tmp_path / "run"
    gankit.train(ring(steps=2), other)
    gankit.train(ring(steps=1), run)
    (run / "checkpoints" / "latest").write_text("../../other/checkpoints/step-0000002\n")
    with caplog.at_level(logging.WARNING, logger="gankit.runs"):
        assert Run(run).latest_checkpoint() == run / "checkpoints" / "step-0000001"
    assert "not a checkpoint folder inside" in caplog.text and "using step-0000001" in caplog.text
    (run / "checkpoints" / "step-0000009").symlink_to(other / "checkpoints" / "step-0000002")
    assert Run(run).latest_checkpoint() == run / "checkpoints" / "step-0000001"  # nor a link out


def test_a_run_in_use_is_refused_and_the_lock_is_released_after(tmp_path):
    run = tmp_path / "run"
    gankit.train(ring(steps=1), run)
    first = gankit.Trainer(ring(steps=2), run, resume=True)
    with pytest.raises(GankitError, match=rf"run {run} is in use by another gankit process \(pid {os.getpid()}\)"):
        gankit.Trainer(ring(steps=2), run, resume=True)
    with pytest.raises(GankitError, match="in use"):
        gankit.Trainer(ring(steps=2), run, overwrite=True)  # nor replaced under its feet
    first.train()
    gankit.Trainer(ring(steps=3), run, resume=True).train()  # released when train() returned
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "config.json").write_text((run / "config.json").read_text())
    with pytest.raises(GankitError, match="nothing to resume"):
        gankit.Trainer(ring(), empty, resume=True)
    gankit.Trainer(ring(steps=1), empty, overwrite=True).train()  # the failed start released its lock


def test_stale_temporary_files_are_removed_on_the_next_start(unbroken, tmp_path):
    run = tmp_path / "run"
    gankit.train(ring(steps=2), run)
    ck = run / "checkpoints"
    planted = {ck / ".tmp-step-0000003": "dir", ck / ".del-step-0000001": "dir",
               run / ".tmpAb12Cd": 5_000_000,                         # safetensors' own temporary file
               run / ".generator.safetensors.tmp-4242": 1000,         # atomic_write's
               ck / ".latest.tmp-77": 10, ck / ".tmpZZ99zz": 10}
    for p, size in planted.items():
        if size == "dir":
            p.mkdir()
            (p / "generator.safetensors").write_bytes(b"\x00" * 100)
        else:
            p.write_bytes(b"\x00" * size)
    foreign = [run / ".eval.json.tmp-4242", run / "notes.tmp"]  # not the trainer's: kept
    for p in foreign:
        p.write_text("x")
    gankit.Trainer(ring(), run, resume=True).train()
    assert leftovers(run) == [".eval.json.tmp-4242"]
    assert all(p.exists() for p in foreign)
    assert_bit_identical(unbroken, run)


def test_weight_files_get_the_modes_of_the_rest_of_the_run(tmp_path):
    run = tmp_path / "run"
    gankit.train(ring(steps=1), run)
    mode = 0o666 & ~io._UMASK
    files = [run / "config.json", run / "generator.safetensors", run / "discriminator.safetensors",
             *(run / "checkpoints" / "step-0000001").iterdir()]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: oct(mode) for p in files}


def test_metrics_rows_after_a_kill_between_log_rows_match_an_unbroken_run(tmp_path):
    """Log rows every 3 steps, checkpoints every 2: resumed from step 4, one step into the window
    of row 6, the row still averages steps 4-6 (the partial sums are in the checkpoint)."""
    cfg = ring(steps=11, log_every=3, checkpoint_every=2, keep_checkpoints=2)
    gankit.train(cfg, tmp_path / "full")

    def kill_at_8(trainer):
        if trainer.step == 8:
            raise Killed("step 8")
    t = gankit.Trainer(cfg, tmp_path / "part")
    t.callbacks.append(kill_at_8)
    with pytest.raises(Killed):
        t.train()
    resumed = gankit.Trainer(cfg, tmp_path / "part", resume=True)
    assert resumed.step == 6 and resumed._count == 0  # a log row was written at 6: nothing pending
    # and once more from a checkpoint in the middle of a log window (step 4: one step since row 3)
    shutil.rmtree(tmp_path / "part" / "checkpoints" / "step-0000006")
    resumed.close()
    resumed = gankit.Trainer(cfg, tmp_path / "part", resume=True)
    assert resumed.step == 4 and resumed._count == 1
    resumed.train()
    assert [r["step"] for r in rows(tmp_path / "full")] == [3, 6, 9, 11]
    assert rows(tmp_path / "part") == rows(tmp_path / "full")
    assert_bit_identical(tmp_path / "full", tmp_path / "part")
