"""report.md says how good the model is (issue 18, item 8): after `gankit train` on digits / MNIST, a
cached LeNet evaluator measures FD, KID, precision/recall (and class accuracy), into report.md and the
final line; the evaluation changes nothing the training wrote."""
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main
from gankit.metrics import quality

TINY = ["--image-size", "8", "--z-dim", "8", "--g-width", "8", "--d-width", "8", "--batch-size", "16",
        "--no-progress", "--no-tensorboard", "--device", "cpu", "--steps", "6", "--n-samples", "16"]


@pytest.fixture
def caches(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_EVALUATORS", str(tmp_path / "evaluators"))
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "stats"))
    # a tiny evaluator recipe: the same code path, a fraction of a second
    monkeypatch.setitem(quality.RECIPES, "digits", dict(epochs=1, width=4, hidden=8))
    return tmp_path


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_train_reports_quality_in_report_and_final_line(caches, tmp_path, capsys):
    run = tmp_path / "cgan"
    assert main(["train", "--model", "cgan", "--eval", "--out", str(run), *TINY]) == 0
    out, err = capsys.readouterr()
    last = out.strip().splitlines()[-1]
    assert "training the digits evaluator once" in err
    result = json.loads((run / "eval.json").read_text())
    m = result["metrics"]
    assert result["evaluator"]["dataset"] == "digits" and result["n"] == quality.SAMPLES
    assert last.startswith("quality: FD ") and f"FD {m['fid']:.4g}," in last and f"KID {m['kid']:.4g}" in last
    assert f"class accuracy {m['class_accuracy']:.4g}" in last and 0 <= m["class_accuracy"] <= 1
    report = (run / "report.md").read_text()
    assert report.index("## How good is it") < report.index("## Samples")
    for key, label in quality.QUALITY_KEYS:
        assert f"| {label} | {m[key]:.4g} |" in report
    assert len(list((caches / "evaluators").iterdir())) == 1          # cached: dataset, split, size, data, version
    # samples shown at their native size with sharp pixels, not rescaled and blurred by the viewer
    w, h = Image.open(run / "samples.png").size
    assert f'<img src="samples.png" width="{w}" height="{h}"' in report and "image-rendering: pixelated" in report

    # a second run reuses the cached evaluator; an unconditional run has no class accuracy
    run2 = tmp_path / "dcgan"
    assert main(["train", "--eval", "--model", "dcgan", "--out", str(run2), *TINY]) == 0
    out, err = capsys.readouterr()
    assert "training the digits evaluator" not in err and "class accuracy" not in out.splitlines()[-1]
    assert len(list((caches / "evaluators").iterdir())) == 1


def test_evaluation_changes_no_weights_and_can_be_skipped(caches, tmp_path, capsys):
    runs = {flag: tmp_path / flag for flag in ("--eval", "--no-eval")}
    for flag, run in runs.items():
        assert main(["train", flag, "--model", "dcgan", "--out", str(run), *TINY]) == 0
    weights = sorted(p.name for p in runs["--eval"].glob("*.safetensors"))
    assert weights and all(sha(runs["--eval"] / w) == sha(runs["--no-eval"] / w) for w in weights)
    assert (runs["--eval"] / "eval.json").is_file() and not (runs["--no-eval"] / "eval.json").exists()
    assert "How good is it" not in (runs["--no-eval"] / "report.md").read_text()
    assert np.array_equal(np.asarray(Image.open(runs["--eval"] / "samples.png")),
                          np.asarray(Image.open(runs["--no-eval"] / "samples.png")))


def test_data_without_an_automatic_evaluator_is_not_measured(caches, tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "--eval", "--model", "mlp", "--data", "ring", "--z-dim", "2", "--steps", "3",
                 "--no-progress", "--no-tensorboard", "--out", str(run)]) == 0
    assert not capsys.readouterr().out.strip().splitlines()[-1].startswith("quality:")
    assert not (caches / "evaluators").exists()
