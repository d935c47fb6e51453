"""Checkpoints: atomic files, named mismatches, and no code execution from crafted pickles."""
import pickle

import pytest
import torch

import gankit
from gankit.errors import GankitError
from gankit.runs import Run
from gankit.utils import io

from conftest import tiny


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "w.txt"
    target.write_text("old")

    def failing(p):
        open(p, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        io.atomic_write(target, failing)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["w.txt"]  # no temp file left behind


def test_keep_last_n_checkpoints_and_latest_pointer(tmp_path):
    gankit.train(tiny(steps=6, checkpoint_every=1, keep_checkpoints=2), tmp_path / "run")
    steps = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("step-*"))
    assert steps == ["step-0000005", "step-0000006"]
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text().strip() == "step-0000006"


def test_weights_from_another_architecture_name_the_tensors(tmp_path):
    gankit.train(tiny(steps=1), tmp_path / "a")
    G = gankit.load(tmp_path / "a")
    other, _ = gankit.models.build_models(tiny(g_width=16), G.data_spec)
    with pytest.raises(GankitError, match=r"shape mismatch: main\.0\.weight"):
        io.load_weights(other, tmp_path / "a" / "generator.safetensors")


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_malicious_pickle_state_is_refused_without_running(tmp_path):
    run = tmp_path / "run"
    gankit.train(tiny(steps=2), run)
    marker = tmp_path / "pwned"
    state = Run(run).latest_checkpoint() / "state.pt"
    with open(state, "wb") as f:
        pickle.dump({"step": _Evil(str(marker))}, f)
    # the manifest no longer matches: the checkpoint is not trusted at all
    with pytest.raises(GankitError, match="no complete checkpoint"):
        gankit.Trainer(tiny(steps=3), run, resume=True)
    io.write_manifest(state.parent)  # an attacker who rewrites the manifest too still runs no code
    with pytest.raises(GankitError, match="refusing or unable to read training state"):
        gankit.Trainer(tiny(steps=3), run, resume=True)
    assert not marker.exists()
    # a torch.save'd file with the same payload is refused too
    torch.save({"x": _Evil(str(marker))}, state)
    io.write_manifest(state.parent)
    with pytest.raises(GankitError):
        gankit.Trainer(tiny(steps=3), run, resume=True)
    assert not marker.exists()


def test_corrupt_safetensors_is_a_clear_error(tmp_path):
    gankit.train(tiny(steps=1), tmp_path / "run")
    (tmp_path / "run" / "generator.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(GankitError, match="cannot read weights .*corrupt"):
        gankit.load(tmp_path / "run")
