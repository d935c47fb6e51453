"""Every command on a pix2pix / CycleGAN run either works or refuses it in one line (issue 18, item 1)."""
import io

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main

TINY = ["--image-size", "8", "--g-width", "8", "--d-width", "8", "--batch-size", "8", "--no-progress",
        "--no-tensorboard", "--device", "cpu", "--log-every", "1", "--steps", "1"]


@pytest.fixture
def runs(tmp_path, fake_mnist):
    made = {"cyc": ["--model", "cyclegan", "--loss", "lsgan", "--data", "digits2inverted"],
            "p2p": ["--model", "pix2pix", "--data", "edges2mnist", "--data-root", str(fake_mnist), "--split", "test",
                    "--no-download"],
            "dc": ["--model", "dcgan", "--z-dim", "8"]}
    for name, flags in made.items():
        assert main(["train", *flags, "--out", str(tmp_path / name), *TINY]) == 0
    return {name: str(tmp_path / name) for name in made}


@pytest.mark.parametrize("argv", [
    ["analyze", "interpolate", "{run}"], ["analyze", "arithmetic", "{run}", "--a", "1", "--b", "2", "--c", "3"],
    ["analyze", "memorization", "{run}"], ["sample", "{run}", "--drs"], ["sample", "{run}", "--label", "1"],
    ["sample", "{run}"], ["evaluate", "{run}", "--extractor", "pixels"]])
@pytest.mark.parametrize("kind", ["cyc", "p2p"])
def test_noise_commands_refuse_translation_runs_in_one_line(runs, kind, argv, capsys, tmp_path):
    capsys.readouterr()
    out = tmp_path / "out"
    code = main([a.format(run=runs[kind]) for a in argv] + (["--out", str(out)] if argv[0] == "analyze" else []))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "translat" in err and "image" in err, err
    assert not out.exists()  # nothing half-written


@pytest.mark.parametrize("kind", ["cyc", "p2p"])
def test_info_describes_translation_runs(runs, kind, capsys):
    capsys.readouterr()
    assert main(["info", runs[kind]]) == 0
    out = capsys.readouterr().out
    assert ("cyclegan" if kind == "cyc" else "pix2pix") in out and "generator_params" in out


def test_explorer_serves_translation_runs_beside_noise_runs(runs):
    from fastapi.testclient import TestClient

    from gankit.serve.app import create_app

    c = TestClient(create_app([runs["dc"], runs["cyc"], runs["p2p"]]))
    listed = {r["name"]: r for r in c.get("/api/runs").json()}          # was a 500 for the whole page
    assert listed["dc"]["z_dim"] == 8 and listed["dc"]["kind"] == "image"
    assert listed["cyc"]["kind"] == "translation" and listed["cyc"]["directions"] == ["ab", "ba"]
    assert listed["p2p"]["directions"] == ["ab"]
    assert c.get("/api/runs/cyc").status_code == 200 and c.get("/api/runs/dc/sample?seed=1").status_code == 200

    # inputs drawn from the run's own data over their translations: 2 rows of n, the same seed the same bytes
    r = c.get("/api/runs/cyc/translate?seed=3&n=4&direction=ba")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    w, h = Image.open(io.BytesIO(r.content)).size
    assert w > h > 0 and r.content == c.get("/api/runs/cyc/translate?seed=3&n=4&direction=ba").content
    assert c.get("/api/runs/p2p/translate?seed=0&n=2").status_code == 200

    # an uploaded image, resized to the run's 8x8, above its translation (= gankit translate's output)
    buf = io.BytesIO()
    Image.new("L", (20, 30), 0).save(buf, "PNG")
    r = c.post("/api/runs/cyc/translate?direction=ab", content=buf.getvalue())
    assert r.status_code == 200
    grid = np.asarray(Image.open(io.BytesIO(r.content)).convert("L"))
    assert grid.shape[0] > grid.shape[1]                                    # input above output
    assert grid[grid.shape[0] // 4, grid.shape[1] // 2] == 0               # the black input, upscaled

    for method, url, body, message in [
        ("get", "/api/runs/cyc/sample", None, "translates images"),
        ("get", "/api/runs/cyc/interpolate", None, "translates images"),
        ("get", "/api/runs/dc/translate", None, "pix2pix and cyclegan"),
        ("get", "/api/runs/p2p/translate?direction=ba", None, "translates ab only"),
        ("post", "/api/runs/cyc/translate", b"not an image", "not an image"),
        ("post", "/api/runs/cyc/translate", b"", "one image file")]:
        r = getattr(c, method)(url, **({"content": body} if method == "post" else {}))
        assert r.status_code == 422 and message in r.json()["detail"], (url, r.json())
