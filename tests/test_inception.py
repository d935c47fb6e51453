"""The FID Inception network: same features as pytorch-fid for the same weights, local-only
weight loading, a clear error when the file is missing, and no unpickling of arbitrary objects.

The real weights are never needed: random weights saved in the standard state-dict format
stand in for pt_inception-2015-12-05-6726825d.pth, and both gankit and pytorch-fid load them.
"""
from __future__ import annotations

import pathlib
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.metrics.inception import (
    INCEPTION_WEIGHTS_ENV,
    INCEPTION_WEIGHTS_FILE,
    INCEPTION_WEIGHTS_URL,
    FIDInceptionV3,
    InceptionWeightsError,
    find_inception_weights,
    load_inception,
)

TOL = 1e-4


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch, tmp_path):
    """Any attempt to fetch weights fails the test, and the hub cache is an empty folder."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to download: {args[:1]}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)


def _random_model(seed: int = 0) -> FIDInceptionV3:
    """Seeded random weights, with batch-norm affine parameters and running statistics moved
    away from identity so that every buffer of the file matters, while activations stay O(1)."""
    torch.manual_seed(seed)
    model = FIDInceptionV3()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.8, 1.2, generator=g)
                m.bias.normal_(0.0, 0.1, generator=g)
                m.running_mean.normal_(0.0, 0.1, generator=g)
                m.running_var.uniform_(0.7, 1.4, generator=g)
        model.fc.bias.normal_(0.0, 0.1, generator=g)
    return model.eval()


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("weights") / INCEPTION_WEIGHTS_FILE
    torch.save(_random_model().state_dict(), path)
    return path


@pytest.fixture(scope="module")
def models(weights_file):
    """(gankit model, pytorch-fid model) from the same local weights file, nothing downloaded."""
    import pytorch_fid.inception as pfi  # test dependency (pyproject's [test] extra)

    def local_weights(url, *args, **kwargs):
        assert url.endswith(INCEPTION_WEIGHTS_FILE), url
        return torch.load(weights_file, map_location="cpu", weights_only=True)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pfi, "load_state_dict_from_url", local_weights)
        ref = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True,
                              normalize_input=True, use_fid_inception=True).eval()
    ours = load_inception(weights_file)
    return ours, ref


def _images(n: int, channels: int, size: int, seed: int) -> torch.Tensor:
    """Images in [-1, 1] that differ in contrast and brightness, as generated ones would."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.3, 3.0, n).view(n, 1, 1, 1)
    offset = torch.linspace(-0.8, 0.8, n).view(n, 1, 1, 1)
    return torch.tanh(torch.randn(n, channels, size, size, generator=g) * scale + offset)


def _check_meaningful(pool: torch.Tensor) -> None:
    assert torch.isfinite(pool).all()
    assert pool.abs().mean() > 1e-2, "features vanished: the comparison would prove nothing"
    assert pool.abs().max() < 1e3, "features blew up"
    if pool.shape[0] > 1:
        assert (pool - pool[:1]).abs().max() > 1e-2, "features do not vary between images"


def test_pool_features_match_pytorch_fid(models):
    ours, ref = models
    x = _images(4, 3, 32, seed=1)
    with torch.no_grad():
        out = ours(x)
        expected = ref((x + 1) / 2)[0].flatten(1)  # pytorch-fid takes [0, 1]
    assert out["pool"].shape == (4, 2048) and out["logits"].shape == (4, 1008)
    assert out["pool"].dtype == torch.float32
    _check_meaningful(out["pool"])
    assert (out["pool"] - expected).abs().max().item() <= TOL
    # Logits are the 1008-way fc layer of the same file applied to the pool features.
    logits = F.linear(expected, ours.fc.weight, ours.fc.bias)
    assert (out["logits"] - logits).abs().max().item() <= TOL


def test_grayscale_64px_matches_pytorch_fid_on_rgb(models):
    ours, ref = models
    x = _images(1, 1, 64, seed=2)
    with torch.no_grad():
        pool = ours(x)["pool"]
        expected = ref((x.repeat(1, 3, 1, 1) + 1) / 2)[0].flatten(1)
    _check_meaningful(pool)
    assert (pool - expected).abs().max().item() <= TOL


def test_inference_copy_features_within_2e6_of_the_model(weights_file):
    """What InceptionExtractor runs (``for_inference()``: batch norms folded into the convolutions,
    model and input channels-last): the same pool features as the loaded NCHW model within 2e-6 of the
    features' scale; the model handed to the extractor is left unchanged."""
    from gankit.metrics.features import InceptionExtractor

    nchw = load_inception(weights_file)
    before = {k: v.clone() for k, v in nchw.state_dict().items()}
    extractor = InceptionExtractor(nchw)
    assert extractor.model.channels_last and not nchw.channels_last
    assert not any(isinstance(m, nn.BatchNorm2d) for m in extractor.model.modules())
    assert all(torch.equal(v, nchw.state_dict()[k]) for k, v in before.items())
    x = _images(3, 3, 32, seed=3)
    with torch.no_grad():
        a, b = nchw(x)["pool"], extractor.model(x)["pool"]
    _check_meaningful(a)
    assert (a - b).abs().max().item() <= 2e-6 * a.abs().max().item()


def test_loaded_model_is_frozen_and_exact(models, weights_file):
    ours, _ = models
    assert not ours.training
    assert not any(p.requires_grad for p in ours.parameters())
    saved = torch.load(weights_file, map_location="cpu", weights_only=True)
    assert saved.keys() == ours.state_dict().keys()
    assert all(torch.equal(saved[k], v) for k, v in ours.state_dict().items())


def test_files_without_bn_counters_and_safetensors_load(weights_file, tmp_path):
    from safetensors.torch import save_file

    state = torch.load(weights_file, map_location="cpu", weights_only=True)
    stripped = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert len(stripped) < len(state)
    torch.save(stripped, tmp_path / "stripped.pth")
    save_file(stripped, str(tmp_path / "w.safetensors"))
    for name in ("stripped.pth", "w.safetensors"):
        loaded = load_inception(tmp_path / name).state_dict()
        assert all(torch.equal(stripped[k], loaded[k]) for k in stripped), name


def test_wrong_state_dict_is_rejected(weights_file, tmp_path):
    state = torch.load(weights_file, map_location="cpu", weights_only=True)
    del state["fc.weight"]
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(InceptionWeightsError, match="fc.weight") as info:
        load_inception(bad)
    assert str(bad) in str(info.value)


def test_missing_weights_error_names_file_and_url(monkeypatch, tmp_path):
    hub = tmp_path / "empty_hub"
    hub.mkdir()
    missing = tmp_path / "nowhere" / INCEPTION_WEIGHTS_FILE
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(missing))
    for call in (find_inception_weights, load_inception):
        with pytest.raises(FileNotFoundError) as info:
            call()
        msg = str(info.value)
        assert "\n" not in msg
        for needle in (INCEPTION_WEIGHTS_FILE, INCEPTION_WEIGHTS_URL, INCEPTION_WEIGHTS_ENV,
                       "--inception-weights", str(missing), str(hub / "checkpoints")):
            assert needle in msg, needle


def test_explicit_missing_path_is_not_silently_replaced(monkeypatch, tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / INCEPTION_WEIGHTS_FILE).write_bytes(b"")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    typo = tmp_path / "typo.pth"
    with pytest.raises(FileNotFoundError, match="typo.pth"):
        find_inception_weights(typo)


def test_search_order(monkeypatch, tmp_path):
    hub_file = tmp_path / "hub" / "checkpoints" / INCEPTION_WEIGHTS_FILE
    env_dir = tmp_path / "env"
    arg_file = tmp_path / "arg.pth"
    for f in (hub_file, env_dir / INCEPTION_WEIGHTS_FILE, arg_file):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert find_inception_weights() == hub_file
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(env_dir))  # a folder holding the file
    assert find_inception_weights() == env_dir / INCEPTION_WEIGHTS_FILE
    assert find_inception_weights(arg_file) == arg_file
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, str(tmp_path / "stale.pth"))  # falls through
    assert find_inception_weights() == hub_file


class _Payload:
    """Unpickling this creates a file: what a malicious weights file could do."""

    def __init__(self, target: pathlib.Path):
        self.target = target

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.target),))


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"fc.weight": _Payload(marker)}, protocol=2)
    pickle.loads(payload)  # the payload is live: plain unpickling runs it
    assert marker.exists()
    marker.unlink()

    raw = tmp_path / "raw" / INCEPTION_WEIGHTS_FILE
    raw.parent.mkdir()
    raw.write_bytes(payload)
    zipped = tmp_path / "zip" / INCEPTION_WEIGHTS_FILE
    zipped.parent.mkdir()
    torch.save({"fc.weight": _Payload(marker)}, zipped)
    for path in (raw, zipped):
        with pytest.raises(InceptionWeightsError, match="refusing"):
            load_inception(path)
        assert not marker.exists()


def test_input_checks():
    model = FIDInceptionV3()
    with pytest.raises(ValueError, match="shape"):
        model(torch.zeros(1, 2, 8, 8))
    with pytest.raises(TypeError, match="uint8"):
        model(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
