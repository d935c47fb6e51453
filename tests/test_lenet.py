"""The LeNet evaluator: architecture, augmentation, training, save/load, train-evaluator CLI."""
import json

import pytest
import torch

from gankit.cli import main
from gankit.errors import GankitError
from gankit.metrics.lenet import LeNet, accuracy, load_evaluator, random_shift, save_evaluator, train_evaluator

from conftest import SHARED_MNIST
from evaluator_helpers import mnist_test_split, tiny_mnist_evaluator


@pytest.mark.parametrize("size", [8, 16, 28, 32])
def test_lenet_shapes(size):
    m = LeNet(in_channels=1, image_size=size, num_classes=10, width=4, hidden=16)
    x = torch.rand(5, 1, size, size) * 2 - 1
    assert m.features(x).shape == (5, 16)
    assert m(x).shape == (5, 10)
    assert (m.features(x) >= 0).all()  # post-ReLU features, like Inception's pool3


def test_random_shift_moves_each_image_within_bounds():
    x = torch.full((64, 1, 9, 9), -1.0)
    x[:, 0, 4, 4] = 1.0  # one bright pixel in the centre
    g = torch.Generator().manual_seed(0)
    out = random_shift(x, 2, g)
    assert out.shape == x.shape
    pos = (out[:, 0] == 1.0).nonzero()[:, 1:]  # (row, col) of the bright pixel per image
    assert len(pos) == 64  # never shifted out of the frame at this distance
    offsets = pos - 4
    assert offsets.abs().max() == 2 and set(offsets.flatten().tolist()) == {-2, -1, 0, 1, 2}
    assert (out == -1.0).sum() == 64 * 80  # filled with background, nothing duplicated
    assert torch.equal(random_shift(x, 0, g), x)


def test_tiny_evaluator_learns_mnist():
    _, acc = tiny_mnist_evaluator()
    assert acc > 0.85  # 2 epochs on 4,000 real digits, measured on 2,000 others (chance: 0.1)


def test_train_evaluator_saves_loads_and_predicts(tmp_path):
    cfg = train_evaluator(data="mnist", data_root=str(SHARED_MNIST), split="test", out=tmp_path / "ev",
                          held_out=200, limit=2000, epochs=2, width=8, hidden=32, lr=5e-3, seed=3)
    assert cfg["train_size"] == 1800 and cfg["held_out_size"] == 200 and cfg["image_size"] == 28
    on_disk = json.loads((tmp_path / "ev" / "config.json").read_text())
    assert on_disk["held_out_accuracy"] == cfg["held_out_accuracy"] > 0.3
    model = load_evaluator(tmp_path / "ev")
    assert not model.training and len(model.identity) == 16
    # The loaded weights reproduce the reported held-out accuracy on the same seeded split.
    x, y = mnist_test_split()
    held = torch.randperm(10_000, generator=torch.Generator().manual_seed(3))[:200]
    assert accuracy(model, x[held], y[held]) == pytest.approx(cfg["held_out_accuracy"], abs=1e-12)
    # Saving other weights changes the identity (cache keys depend on it).
    other = LeNet(1, 28, 10, 8, 32)
    save_evaluator(other, tmp_path / "other")
    assert load_evaluator(tmp_path / "other").identity != model.identity


def test_train_evaluator_cli(tmp_path, capsys):
    out = tmp_path / "digits-ev"
    rc = main(["train-evaluator", "--data", "digits", "--image-size", "8", "--out", str(out), "--epochs", "1",
               "--width", "4", "--hidden", "16", "--limit", "500", "--held-out", "0.2"])
    assert rc == 0
    assert "held-out accuracy" in capsys.readouterr().out
    ev = load_evaluator(out)
    assert ev.config["dataset"] == "digits" and ev.config["held_out_size"] == 100 and ev.image_size == 8
    assert main(["train-evaluator", "--data", "digits", "--image-size", "8", "--out", str(tmp_path / "x"),
                 "--epochs", "1", "--width", "4", "--hidden", "16", "--limit", "300",
                 "--min-accuracy", "1.01"]) == 1


def test_train_evaluator_errors(tmp_path, capsys):
    assert main(["train-evaluator", "--data", "ring", "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error:") and "labelled image dataset" in err and "\n" not in err
    assert main(["train-evaluator", "--data", "digits", "--out", str(tmp_path / "e"), "--held-out", "0"]) == 2


def test_load_evaluator_errors(tmp_path):
    with pytest.raises(GankitError, match="gankit train-evaluator"):
        load_evaluator(tmp_path / "missing")
    save_evaluator(LeNet(1, 8, 10, 4, 16), tmp_path / "ev")
    (tmp_path / "ev" / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(GankitError, match="cannot load evaluator"):
        load_evaluator(tmp_path / "ev")
