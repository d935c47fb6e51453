"""Data loaders on real and test-made files: digits, MNIST (IDX), CIFAR-10 (binary), folders, toys."""
import gzip

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import DATASETS, EpochSampler, load_dataset
from gankit.data.idx import parse_idx
from gankit.errors import DataError

from conftest import SHARED_MNIST, tiny, write_idx


def test_digits_is_the_embedded_default():
    d = load_dataset(tiny(image_size=None))
    assert d.x.shape == (1797, 1, 16, 16) and d.x.dtype == torch.uint8
    assert d.spec.num_classes == 10 and sorted(d.y.unique().tolist()) == list(range(10))
    x, y = d.batch(torch.arange(5))
    assert x.min() >= -1 and x.max() <= 1 and x.dtype == torch.float32
    native = load_dataset(tiny(image_size=8))
    assert native.x.shape == (1797, 1, 8, 8) and native.x.max() == 255


def test_real_mnist_test_split_from_shared_data():
    assert (SHARED_MNIST / "MNIST" / "raw").is_dir(), f"the offline MNIST split is expected at {SHARED_MNIST}"
    d = load_dataset(tiny(data="mnist", data_root=str(SHARED_MNIST), split="test", image_size=None, download=False))
    assert d.x.shape == (10000, 1, 28, 28)
    counts = torch.bincount(d.y, minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert d.x.float().mean().item() == pytest.approx(33.79, abs=0.1)  # MNIST's mean intensity


def test_mnist_layout_splits_and_resize(fake_mnist):
    base = dict(data="mnist", data_root=str(fake_mnist), download=False, image_size=None)
    assert len(load_dataset(tiny(split="test", **base))) == 64
    assert len(load_dataset(tiny(split="train", **base))) == 96
    assert len(load_dataset(tiny(split="all", **base))) == 160
    assert load_dataset(tiny(split="test", **{**base, "image_size": 32})).x.shape == (64, 1, 32, 32)


def test_fashion_mnist_reads_raw_idx(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    write_idx(raw / "t10k-images-idx3-ubyte", np.zeros((20, 28, 28), np.uint8), gz=False)
    write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(20, dtype=np.uint8) % 10, gz=False)
    d = load_dataset(tiny(data="fashion-mnist", data_root=str(tmp_path), split="test", download=False))
    assert d.x.shape == (20, 1, 8, 8)


def test_missing_split_names_the_fix(fake_mnist, tmp_path, monkeypatch):
    (fake_mnist / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="train split not found .* or try --split test"):
        load_dataset(tiny(data="mnist", data_root=str(fake_mnist), split="train", download=False))
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "empty"))  # no --data-root: $GANKIT_DATA, named in the error
    with pytest.raises(DataError, match=r"empty/MNIST/raw .*--data-root, else \$GANKIT_DATA, else ~/.cache/gankit/data"):
        load_dataset(tiny(data="mnist", download=False))


def test_corrupt_and_truncated_idx(fake_mnist):
    p = fake_mnist / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    data = gzip.decompress(p.read_bytes())
    p.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset(tiny(data="mnist", data_root=str(fake_mnist), split="test", download=False))
    p.write_bytes(p.read_bytes()[:50])  # a cut gzip stream
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_dataset(tiny(data="mnist", data_root=str(fake_mnist), split="test", download=False))
    with pytest.raises(DataError, match="bad magic"):
        parse_idx(b"\x50\x4b\x03\x04rest")


def test_cifar10_binary_release(tmp_path):
    rng = np.random.default_rng(0)
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    rec = np.concatenate([np.arange(10, dtype=np.uint8)[:, None] % 10,
                          rng.integers(0, 256, (10, 3072), dtype=np.uint8)], 1)
    rec.tofile(d / "test_batch.bin")
    data = load_dataset(tiny(data="cifar10", data_root=str(tmp_path), split="test", image_size=None))
    assert data.x.shape == (10, 3, 32, 32) and data.y.tolist() == list(range(10))
    assert torch.equal(data.x[3, 1].flatten(), torch.from_numpy(rec[3, 1 + 1024:1 + 2048]))  # channel-major
    (d / "test_batch.bin").write_bytes(rec.tobytes()[:-7])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset(tiny(data="cifar10", data_root=str(tmp_path), split="test"))


def _png(path, size=(40, 30), color=(200, 10, 10)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_image_folder_resizes_crops_labels_and_skips(tmp_path):
    _png(tmp_path / "cats" / "a.png")
    _png(tmp_path / "cats" / "b.jpg", (30, 60))
    _png(tmp_path / "dogs" / "c.png", (64, 64), (0, 0, 255))
    (tmp_path / "dogs" / "broken.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "dogs" / "notes.txt").write_text("hello")
    d = load_dataset(tiny(data="folder", data_root=str(tmp_path), image_size=16))
    assert d.x.shape == (3, 3, 16, 16)
    assert d.y.tolist() == [0, 0, 1] and d.spec.num_classes == 2
    assert d.skipped == 2
    assert d.x[2, 2].float().mean() == 255 and d.x[2, 0].float().mean() == 0  # blue stays blue
    with pytest.raises(DataError, match="non-image file"):
        load_dataset(tiny(data="folder", data_root=str(tmp_path), image_size=16, strict=True))
    (tmp_path / "dogs" / "notes.txt").unlink()
    with pytest.raises(DataError, match="unreadable/corrupt .*broken.png"):
        load_dataset(tiny(data="folder", data_root=str(tmp_path), image_size=16, strict=True))
    gray = load_dataset(tiny(data="folder", data_root=str(tmp_path), image_size=16, channels=1))
    assert gray.x.shape == (3, 1, 16, 16)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tiny(data="folder", data_root=str(tmp_path / "nope")))
    _png(tmp_path / "small.png", (8, 8))
    with pytest.raises(DataError, match="no usable images of at least 64px .*1 too small"):
        load_dataset(tiny(data="folder", data_root=str(tmp_path), image_size=64))
    (tmp_path / "small.png").unlink()
    with pytest.raises(DataError, match="no usable images"):
        load_dataset(tiny(data="folder", data_root=str(tmp_path)))


@pytest.mark.parametrize("name", ["ring", "grid", "spiral"])
def test_toy_sets(name):
    d = load_dataset(tiny(data=name, num_points=4000))
    assert d.x.shape == (4000, 2) and d.spec.kind == "points"
    if name == "ring":
        r = d.x.norm(dim=1)
        assert r.mean().item() == pytest.approx(2.0, abs=0.01) and r.std().item() < 0.05
    if name == "grid":
        nearest = torch.round(d.x / 2) * 2
        assert (d.x - nearest).abs().max() < 0.2 and nearest.abs().max() == 4


def test_epoch_sampler_is_a_function_of_seed_and_position():
    s = EpochSampler(10, 3, seed=7)
    seen = [s.next() for _ in range(3)]
    assert torch.cat(seen).unique().numel() == 9  # one epoch, no repeats, ragged tail dropped
    first_of_next = s.next()
    assert s.epoch == 1
    r = EpochSampler(10, 3, seed=7)
    r.load_state_dict({"epoch": 1, "cursor": 0})
    assert torch.equal(r.next(), first_of_next)
    with pytest.raises(DataError, match="larger than the dataset"):
        EpochSampler(5, 8, seed=0)


def test_registry_names():
    assert DATASETS.names() == sorted(["digits", "mnist", "fashion-mnist", "cifar10", "folder", "ring", "grid", "spiral", "stacked-mnist",
                                     "edges2mnist", "paired-folder", "mnist2digits", "digits2inverted",
                                     "unpaired-folder"])
