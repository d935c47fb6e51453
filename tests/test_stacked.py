"""Stacked MNIST: the dataset builder and the classifier-based mode count."""
import math

import pytest
import torch

from gankit import TrainConfig
from gankit.data import load_dataset
from gankit.data.stacked import stack_digits
from gankit.metrics import LeNetExtractor, stacked_mnist_modes

from conftest import SHARED_MNIST
from evaluator_helpers import mnist_test_split, tiny_mnist_evaluator


def _stacked(seed=0, num_points=10_000, **kw):
    return load_dataset(TrainConfig(data="stacked-mnist", data_root=str(SHARED_MNIST), split="test", num_points=num_points,
                                    download=False, seed=seed, **kw).validate())


def test_stack_digits_label_channel_correspondence():
    x = torch.arange(4, dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 1, 2, 2).clone()  # image i is all i
    y = torch.tensor([7, 3, 0, 9])
    idx = torch.tensor([[0, 1, 2], [3, 3, 0], [2, 0, 1]])
    images, labels = stack_digits(x, y, idx)
    assert images.shape == (3, 3, 2, 2)
    assert torch.equal(images[:, :, 0, 0], idx.to(torch.uint8))  # channel c holds digit idx[:, c]
    assert labels.tolist() == [730, 997, 73]


def test_stacked_mnist_dataset_is_deterministic_and_labelled_by_channel():
    data = _stacked()
    assert len(data) == 10_000 and data.spec.shape == (3, 28, 28) and data.spec.num_classes == 1000
    assert data.x.dtype == torch.uint8 and 0 <= int(data.y.min()) and int(data.y.max()) < 1000
    assert len(data.y.unique()) > 990  # 10,000 draws of 1,000 equally likely triples
    again, other = _stacked(), _stacked(seed=1)
    assert torch.equal(again.x, data.x) and torch.equal(again.y, data.y)
    assert not torch.equal(other.y, data.y)
    # Every channel is one real MNIST digit whose label is that channel's decimal digit.
    mnist_x, mnist_y = mnist_test_split()
    mnist_u8 = ((mnist_x + 1) * 127.5).round().to(torch.uint8)
    for i in range(0, 10_000, 1000):
        for c, weight in enumerate((100, 10, 1)):
            match = (mnist_u8[:, 0] == data.x[i, c]).flatten(1).all(1).nonzero().flatten()
            assert len(match) >= 1
            assert int(data.y[i]) // weight % 10 in mnist_y[match].tolist()
    small = _stacked(image_size=14)
    assert small.spec.shape == (3, 14, 14) and torch.equal(small.y, data.y)
    more = _stacked(num_points=25_000)  # num_points triples; the first draws are the same
    assert len(more) == 25_000 and len(more.y.unique()) == 1000 and torch.equal(more.y[:10_000], data.y)


def test_stacked_mode_count_with_the_classifier():
    model, _ = tiny_mnist_evaluator()
    data = _stacked()
    images = data.batch(torch.arange(2000))[0]
    real = stacked_mnist_modes(images, model)
    # 2,000 uniform draws over 1,000 modes hit 1000·(1 - e⁻²) ≈ 865 of them; classifier errors
    # only move samples between modes.
    assert real["num_modes"] == 1000 and 750 < real["modes"] <= 1000
    assert real["kl"] < 0.6  # finite-sample KL of ~2 samples per mode
    # The joint prediction is the three per-channel predictions.
    ext = LeNetExtractor(model)
    joint = ext.extract(images[:50])["logits"].argmax(1)
    per_channel = [model(images[:50, c:c + 1]).argmax(1) for c in range(3)]
    assert torch.equal(joint, 100 * per_channel[0] + 10 * per_channel[1] + per_channel[2])

    collapsed = stacked_mnist_modes(images[:1].expand(500, -1, -1, -1), model)
    assert collapsed["modes"] == 1 and collapsed["kl"] == pytest.approx(math.log(1000))
    # The same digit image in all three channels reads as the same digit thrice: d·111, ≤ 10 modes.
    grey = data.batch(torch.arange(500))[0][:, :1].expand(-1, 3, -1, -1)
    diag = stacked_mnist_modes(grey, model)
    assert 8 <= diag["modes"] <= 10
    assert diag["kl"] > math.log(1000 / 10) - 0.1


def test_stacked_modes_digit_kl_and_uncertain_share():
    """The per-channel diagnostics equal what each channel's own classification gives."""
    from gankit.metrics.modes import class_distribution_kl
    model, _ = tiny_mnist_evaluator()
    images = _stacked().batch(torch.arange(1500))[0]
    # unbalance channel 0 alone: 500 more images whose red digit is the first image's
    extra = images[:500].clone()
    extra[:, 0] = images[0, 0]
    images = torch.cat([images, extra])
    m = stacked_mnist_modes(images, model)
    with torch.no_grad():
        probs = [model(images[:, c:c + 1].contiguous()).softmax(1) for c in range(3)]
    expect_kl = [class_distribution_kl(p.argmax(1), 10) for p in probs]
    assert m["digit_kl"] == pytest.approx(expect_kl, abs=1e-6)
    assert m["digit_kl"][0] > m["digit_kl"][1] + 0.05  # the repeated digit shows in channel 0 only
    # KL(joint || uniform) = the channels' digit KLs + their mutual dependence (≥ 0)
    assert m["kl"] >= sum(m["digit_kl"]) - 1e-9
    expect_uncertain = float(torch.cat([p.amax(1) for p in probs]).lt(0.9).float().mean())
    assert m["uncertain"] == pytest.approx(expect_uncertain, abs=1e-3)
    noise = torch.rand(300, 3, 28, 28) * 2 - 1
    assert stacked_mnist_modes(noise, model, confident=0.999)["uncertain"] > m["uncertain"]


def test_stacked_modes_rejects_wrong_channels():
    model, _ = tiny_mnist_evaluator()
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        stacked_mnist_modes(torch.zeros(4, 1, 28, 28), model)


def test_evaluate_stacked_mnist_run_counts_1000_modes(tmp_path):
    import gankit
    from gankit.metrics import evaluate_run, save_evaluator

    from conftest import tiny

    model, _ = tiny_mnist_evaluator()
    ev = save_evaluator(model, tmp_path / "ev", dataset="mnist")
    run = tmp_path / "run"
    gankit.train(tiny(data="stacked-mnist", data_root=str(SHARED_MNIST), split="test", download=False,
                      num_points=10_000, image_size=8, steps=2), run)
    result = evaluate_run(run, n=300, metrics="fid,is,modes", evaluator=ev, cache_dir=tmp_path / "c")
    m = result["metrics"]
    assert result["shape"] == [3, 8, 8] and m["num_classes"] == 1000 and 1 <= m["classes_seen"] <= 300
    assert result["reference"]["count"] == 10_000 and any("resized from 8 to 28" in n for n in result["notes"])
    assert 0 <= m["class_kl"] <= math.log(1000) + 1e-9 and m["is"] >= 1 and m["fid"] > 0
    # Real Stacked MNIST through the same pipeline scores a clearly higher IS (bounded here by the
    # 30 samples per split) than a generator after 2 steps.
    assert m["is_real"] > 2 * m["is"]
