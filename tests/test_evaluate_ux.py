"""`gankit evaluate` is easy to start with (issue 18, item 9): an opt-in, hash-checked download of the FID
Inception weights (tested against a local http.server, never the internet), the offline options named in
the errors, a warning when the evaluator was trained on other data, and earlier results kept."""
import functools
import hashlib
import http.server
import json
import threading

import pytest
import torch
from conftest import tiny

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.metrics import inception
from gankit.runs import Run


@pytest.fixture
def caches(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "stats"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANKIT_INCEPTION_WEIGHTS", raising=False)
    return tmp_path


@pytest.fixture
def weights_server(tmp_path, monkeypatch):
    """A local HTTP server holding a small tensor file; the module's URL and SHA-256 point at it."""
    root = tmp_path / "served"
    root.mkdir()
    torch.save({"w": torch.arange(6.0)}, root / inception.INCEPTION_WEIGHTS_FILE)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    data = (root / inception.INCEPTION_WEIGHTS_FILE).read_bytes()
    monkeypatch.setattr(inception, "INCEPTION_WEIGHTS_URL",
                        f"http://127.0.0.1:{server.server_address[1]}/{inception.INCEPTION_WEIGHTS_FILE}")
    monkeypatch.setattr(inception, "INCEPTION_WEIGHTS_SHA256", hashlib.sha256(data).hexdigest())
    yield data
    server.shutdown()


def test_pinned_hash_is_pytorch_fids_file():
    # torch.hub names a file by its SHA-256 prefix: pt_inception-2015-12-05-<first 8 hex>.pth
    assert inception.INCEPTION_WEIGHTS_SHA256.startswith(inception.INCEPTION_WEIGHTS_FILE[-12:-4])
    assert len(inception.INCEPTION_WEIGHTS_SHA256) == 64
    assert inception.INCEPTION_WEIGHTS_URL.startswith("https://github.com/mseitzer/pytorch-fid/releases/")


def test_inception_download_is_opt_in_and_hash_checked(caches, weights_server, monkeypatch):
    with pytest.raises(GankitError) as e:
        inception.find_inception_weights()                      # not asked: nothing fetched
    for option in ("--download-weights", "--extractor pixels", "gankit train-evaluator"):
        assert option in str(e.value)
    assert not (caches / "weights").exists()

    path = inception.find_inception_weights(download=True)
    assert path == caches / "weights" / inception.INCEPTION_WEIGHTS_FILE and path.read_bytes() == weights_server
    assert inception.find_inception_weights() == path            # cached: found without asking again
    path.unlink()

    monkeypatch.setattr(inception, "INCEPTION_WEIGHTS_SHA256", "0" * 64)   # a tampered file is refused
    with pytest.raises(GankitError, match="does not match"):
        inception.find_inception_weights(download=True)
    assert list((caches / "weights").iterdir()) == []              # nothing half-written


def test_evaluate_cli_downloads_then_reads_only_tensors(caches, weights_server, tmp_path, capsys):
    run = tmp_path / "run"
    gankit.train(tiny(steps=1), run)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--extractor", "inception", "--n", "8"]) == 2
    assert "--download-weights" in capsys.readouterr().err
    assert main(["evaluate", str(run), "--extractor", "inception", "--download-weights", "--n", "8"]) == 2
    err = capsys.readouterr().err.strip()
    # fetched and checked, then loaded with weights_only=True: the small served file is no Inception-v3
    assert len(err.splitlines()) == 1 and "is not the FID Inception-v3 state dict" in err, err
    assert (caches / "weights" / inception.INCEPTION_WEIGHTS_FILE).read_bytes() == weights_server


def test_no_evaluator_error_names_the_offline_options(caches, tmp_path, capsys):
    run = tmp_path / "run"
    gankit.train(tiny(steps=1), run)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--n", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    for option in ("gankit train-evaluator --data digits", "--extractor pixels", "--download-weights"):
        assert option in err, err


def test_mismatched_evaluator_warns_and_results_are_kept(caches, tmp_path, capsys, fake_mnist):
    run = tmp_path / "run"
    gankit.train(tiny(steps=1), run)
    ev = tmp_path / "ev"
    assert main(["train-evaluator", "--data", "mnist", "--data-root", str(fake_mnist), "--split", "test",
                 "--image-size", "8", "--epochs", "1", "--width", "4", "--hidden", "8", "--out", str(ev)]) == 0
    (run / "eval.json").write_text(json.dumps({"metrics": {"fid": 1.5}, "legacy": True}))  # an older gankit's
    capsys.readouterr()
    assert main(["evaluate", str(run), "--evaluator", str(ev), "--n", "20", "--n-ref", "50", "--metrics", "fid"]) == 0
    err = capsys.readouterr().err
    assert "warning: the evaluator was trained on mnist, the run on digits" in err
    assert main(["evaluate", str(run), "--extractor", "pixels", "--n", "20", "--n-ref", "50",
                 "--metrics", "fid"]) == 0
    history = Run(run).eval_history()
    assert [h.get("legacy", False) for h in history] == [True, False, False]
    assert [h["extractor"]["name"] for h in history[1:]] == ["lenet", "pixels"]
    assert Run(run).eval_result() == {k: v for k, v in history[-1].items() if k != "file"}  # eval.json: the newest
    assert history[1]["warnings"][0].startswith("the evaluator was trained on mnist")
