"""Issue 20: metrics checked against their references' definitions (random weights, tiny inputs)."""
import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.metrics import InceptionExtractor, evaluate_run, inception_score, prdc
from gankit.metrics.cmmd import cmmd, rbf_mmd2
from gankit.metrics.features import clean_resize
from gankit.metrics.foundation import CLIPExtractor, DinoV2Extractor, WEIGHTS, dinov2_model, tf1_bilinear_resize
from gankit.metrics.inception import FIDInceptionV3
from gankit.metrics.weights import download_weights

from conftest import tiny

ROOT = Path(__file__).resolve().parents[1]


def _images(n=4, c=3, size=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, size, size), generator=g, dtype=torch.uint8)


@pytest.fixture(scope="module")
def inception():
    torch.manual_seed(0)
    model = FIDInceptionV3()
    with torch.no_grad():
        model.fc.weight.mul_(40)  # confident predictions: an Inception Score well above 1
        model.fc.bias.normal_(0, 3.0)  # a bias large enough to change it
    return model.eval().requires_grad_(False)


# ------------------------------------------------------------------ item 2: IS logits
def test_inception_score_uses_unbiased_logits_by_default(inception):
    x = _images(4, size=16).float() / 127.5 - 1
    default = InceptionExtractor(inception).extract(x)
    biased = InceptionExtractor(inception, is_logits="biased").extract(x)
    pool = default["features"]  # the extractor's own pool features (channels-last model: tests/test_inception.py)
    unbiased = pool @ inception.fc.weight.T
    assert torch.allclose(default["logits"], unbiased, atol=1e-5)  # Salimans et al.'s / torch-fidelity's
    assert torch.allclose(biased["logits"], unbiased + inception.fc.bias, atol=1e-5)
    is_ub, is_b = inception_score(default["logits"], 2, True)[0], inception_score(biased["logits"], 2, True)[0]
    assert is_ub == pytest.approx(inception_score(unbiased, 2, True)[0], rel=1e-6)
    assert abs(is_ub - is_b) > 1e-3
    # The two definitions never share a reference-cache entry.
    assert InceptionExtractor(inception).key() != InceptionExtractor(inception, is_logits="biased").key()


def test_eval_options_reject_unknown_is_logits_and_resize(tmp_path, capsys):
    run = tmp_path / "run"
    gankit.train(tiny(steps=1), run)
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(run), "--extractor", "pixels", "--is-logits", "both"])
    assert e.value.code == 2 and "invalid choice: 'both'" in capsys.readouterr().err
    with pytest.raises(GankitError, match="--resize must be one of"):
        evaluate_run(run, extractor="pixels", resize="nearest", n=10)


# ------------------------------------------------------------------ item 4: README says what FID uses
def test_readme_names_the_fid_method_that_is_used():
    import inspect

    from gankit.metrics.frechet import frechet_distance

    default = inspect.signature(frechet_distance).parameters["method"].default
    readme = (ROOT / "README.md").read_text()
    assert "stable sqrtm" not in readme
    assert default == "eigh" and re.search(r"eigh", readme)


# ------------------------------------------------------------------ trust checks
def test_mode_collapsed_generator_has_precision_one_and_recall_zero():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (10, 2))
    real = centres[rng.integers(0, 10, 3000)] + rng.normal(0, 0.5, (3000, 2))
    collapsed = centres[0] + rng.normal(0, 0.5, (1000, 2))  # every sample in mode 0
    out = prdc(real, collapsed)
    assert out["precision"] > 0.95 and out["recall"] < 0.15  # not swapped


def test_fid_with_fewer_samples_than_dimensions_warns_and_reports_the_count(tmp_path):
    run = tmp_path / "run"
    gankit.train(tiny(steps=1), run)  # pixel features of 8x8 digits: 64 dimensions
    with pytest.warns(RuntimeWarning, match="estimate is biased"):
        result = evaluate_run(run, n=40, extractor="pixels", metrics="fid", cache_dir=tmp_path / "c")
    m = result["metrics"]
    assert math.isfinite(m["fid"]) and m["fid"] > 0 and m["fid_samples"] == 40
    report = (run / "eval.md").read_text()
    assert "40 samples" in report and "| FID samples | 40 |" in report and "estimate is biased" in report


def test_grayscale_and_small_images_into_inception_as_pytorch_fid(inception):
    gray = _images(2, c=1, size=12).float() / 127.5 - 1
    rgb299 = F.interpolate(gray.repeat(1, 3, 1, 1), size=(299, 299), mode="bilinear", align_corners=False)
    a, b = inception(gray)["pool"], inception(rgb299)["pool"]
    assert torch.allclose(a, b, atol=1e-5)


def test_clean_resize_matches_clean_fid():
    from cleanfid.resize import make_resizer

    u8 = _images(2, size=28, seed=3)
    ours = (clean_resize(u8.float() / 127.5 - 1, 299) + 1) * 127.5
    resize = make_resizer("PIL", False, "bicubic", (299, 299))  # clean-fid's mode="clean"
    for i in range(2):
        ref = resize(u8[i].permute(1, 2, 0).numpy())
        assert np.abs(ours[i].permute(1, 2, 0).numpy() - ref).max() < 1e-3


def test_clean_resize_mode_changes_inception_features(inception):
    x = _images(2, size=16).float() / 127.5 - 1
    legacy = InceptionExtractor(inception).extract(x)["features"]
    clean = InceptionExtractor(inception, resize="clean").extract(x)["features"]
    assert not torch.allclose(legacy, clean, atol=1e-4)
    assert InceptionExtractor(inception).key() != InceptionExtractor(inception, resize="clean").key()


# ------------------------------------------------------------------ FD-DINOv2 and CMMD
def _tiny_dinov2():
    torch.manual_seed(0)
    return dinov2_model(depth=1, embed_dim=48, num_heads=2).eval()


def test_dinov2_features_equal_torch_fidelity(monkeypatch):
    import torch_fidelity.feature_extractor_dinov2 as tfd

    model = _tiny_dinov2()
    monkeypatch.setattr(tfd.torch.hub, "load", lambda *a, **k: model)  # no download: the same random weights
    ref = tfd.FeatureExtractorDinoV2("dinov2-vit-l-14", ["dinov2"])
    u8 = _images(3, size=28, seed=1)
    (expected,) = ref(u8)
    ours = DinoV2Extractor(model).extract(u8)["features"]
    assert ours.shape == (3, 48)
    assert torch.allclose(ours, expected, atol=1e-5, rtol=1e-5)
    # and the resize is torch-fidelity's TensorFlow-1 bilinear one
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = u8.float()
    assert torch.allclose(tf1_bilinear_resize(x, 224),
                          interpolate_bilinear_2d_like_tensorflow1x(x, size=(224, 224), align_corners=False), atol=1e-4)


def test_dinov2_loads_a_meta_layout_checkpoint_at_518px():
    import timm

    torch.manual_seed(1)
    meta = timm.create_model("vit_large_patch14_dinov2", img_size=518, num_classes=0, depth=1, embed_dim=48,
                             num_heads=2)
    state = {**meta.state_dict(), "mask_token": torch.zeros(1, 48)}  # Meta's file has the mask token
    model = dinov2_model(state, depth=1, embed_dim=48, num_heads=2)
    assert model.pos_embed.shape == (1, 1 + 16 * 16, 48)
    assert torch.equal(model.blocks[0].attn.qkv.weight, meta.blocks[0].attn.qkv.weight)


def _cmmd_reference(x, y, sigma=10.0, scale=1000.0):
    """The formula of google-research/cmmd distance.py (biased MMD², Gaussian RBF kernel)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    xx, yy = np.diag(x @ x.T), np.diag(y @ y.T)
    gamma = 1 / (2 * sigma ** 2)
    k_xx = np.mean(np.exp(-gamma * (-2 * x @ x.T + xx[:, None] + xx[None, :])))
    k_xy = np.mean(np.exp(-gamma * (-2 * x @ y.T + xx[:, None] + yy[None, :])))
    k_yy = np.mean(np.exp(-gamma * (-2 * y @ y.T + yy[:, None] + yy[None, :])))
    return scale * (k_xx + k_yy - 2 * k_xy)


def test_cmmd_equals_the_reference_formula():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 16)), rng.normal(size=(200, 16)) + 0.3
    xn, yn = x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)
    expected = _cmmd_reference(xn, yn)
    assert expected > 0.1
    assert cmmd(x, y) == pytest.approx(expected, abs=1e-5)
    assert rbf_mmd2(xn, yn) == pytest.approx(expected, abs=1e-5)
    assert cmmd(x, x) == pytest.approx(0, abs=1e-9)


class _TinyClip(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.proj = torch.nn.Conv2d(3, 8, 336)

    def encode_image(self, x):
        assert x.shape[-2:] == (336, 336)
        return self.proj(x).flatten(1)


def test_clip_extractor_gives_unit_norm_embeddings_for_cmmd():
    x = _images(3, c=1, size=28).float() / 127.5 - 1
    e = CLIPExtractor(_TinyClip()).extract(x)["features"]
    assert e.shape == (3, 8) and torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-5)


def test_weights_download_is_hash_checked(tmp_path):
    src = tmp_path / "w.bin"
    src.write_bytes(b"weights" * 100)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    got = download_weights(src.as_uri(), digest, tmp_path / "cache" / "w.bin")
    assert got.read_bytes() == src.read_bytes()
    with pytest.raises(GankitError, match="does not match the published"):
        download_weights(src.as_uri(), "0" * 64, tmp_path / "cache2" / "w.bin")
    assert list((tmp_path / "cache2").iterdir()) == []  # nothing left behind
    with pytest.raises(GankitError, match="no published SHA-256"):
        download_weights(src.as_uri(), None, tmp_path / "c3" / "w.bin")
    assert len(WEIGHTS["clip"].sha256) == 64 and WEIGHTS["clip"].sha256 in WEIGHTS["clip"].url


def test_foundation_extractor_without_weights_is_a_one_line_error(tmp_path, capsys):
    run = tmp_path / "run"
    gankit.train(tiny(steps=1), run)
    assert main(["evaluate", str(run), "--extractor", "dinov2", "--n", "10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--weights PATH" in err and "--download-weights" in err


def test_cmmd_metric_in_evaluate(tmp_path):
    run = tmp_path / "run"
    gankit.train(tiny(steps=1), run)
    result = evaluate_run(run, n=50, extractor="pixels", metrics="cmmd", cache_dir=tmp_path / "c", write=False)
    assert result["metrics"]["cmmd"] > 0


def test_clip_extractor_reads_an_openai_layout_weights_file(tmp_path):
    from open_clip.model import CLIP

    torch.manual_seed(0)  # a tiny CLIP in OpenAI's state-dict layout (heads = width // 64, as OpenAI's)
    model = CLIP(embed_dim=8, vision_cfg=dict(layers=1, width=64, patch_size=14, image_size=28, head_width=64),
                 text_cfg=dict(layers=1, width=64, heads=1, context_length=77, vocab_size=49408), quick_gelu=True)
    torch.save(model.state_dict(), tmp_path / "clip.pt")
    from gankit.metrics.foundation import build_foundation_extractor

    ext = build_foundation_extractor("clip", weights=tmp_path / "clip.pt")
    assert ext.size == 28 and len(ext.identity) == 16
    e = ext.extract(_images(2, size=28).float() / 127.5 - 1)["features"]
    assert e.shape == (2, 8) and torch.allclose(e.norm(dim=1), torch.ones(2), atol=1e-5)
