"""Figures label themselves (issue 18, item 10): arithmetic rows, memorization headers, class-grid
columns, GIF frames saying their step, and `gankit analyze` printing the figures it wrote."""
import numpy as np
import torch
from conftest import tiny
from PIL import Image, ImageSequence

import gankit
from gankit.analysis import latent, memorization
from gankit.cli import main
from gankit.utils.images import save_image_grid


def pixels(path):
    return np.asarray(Image.open(path).convert("L"))


def test_labels_are_drawn_in_margins_around_the_same_grid(tmp_path):
    images = torch.rand(6, 1, 8, 8) * 2 - 1
    plain = pixels(save_image_grid(images, tmp_path / "plain.png", nrow=3, scale=4))
    labelled = pixels(save_image_grid(images, tmp_path / "labelled.png", nrow=3, scale=4, title="a title",
                                      row_labels=["first", "second"], col_labels=["x", "y", "z"]))
    h, w = plain.shape
    top, left = labelled.shape[0] - h, labelled.shape[1] - w
    assert top > 10 and left > 10
    assert np.array_equal(labelled[top:, left:], plain)          # the grid itself is untouched (nearest, not blurred)
    assert labelled[:top].min() < 100 and labelled[top:, :left].min() < 100   # dark text in both margins
    unlabelled_rows = pixels(save_image_grid(images, tmp_path / "cols.png", nrow=3, scale=4, col_labels=["x", "y", "z"]))
    assert unlabelled_rows.shape[1] == w                          # no row labels: no left margin


def test_arithmetic_memorization_and_class_grid_say_what_they_show(tmp_path):
    run = tmp_path / "run"
    gankit.train(tiny(steps=1), run)
    G = gankit.load(run)
    res = latent.vector_arithmetic(G, {"a": [0, 1], "b": [2], "c": [3]}, tmp_path / "ar", pool=16, n_results=3)
    assert res["row_labels"] == ["A", "B", "C", "A - B + C"]
    fig = pixels(res["png"])
    # the left margin holds a label beside each of the 4 rows: dark pixels in 4 separate bands
    margin_rows = np.flatnonzero(fig[34:, :55].min(1) < 100)    # below the title and column headers
    assert len(np.split(margin_rows, np.flatnonzero(np.diff(margin_rows) > 3) + 1)) >= 4

    samples, train = G.sample(20, seed=0), torch.rand(30, 1, 8, 8) * 2 - 1
    mem = memorization.memorization_check(samples, train, tmp_path / "mem", n_show=4)
    assert mem["col_labels"] == ["sample", "NN 1", ""]
    assert pixels(mem["png"])[:12].min() < 100                     # the header line is drawn

    cg_run = tmp_path / "cgan"
    gankit.train(tiny(model="cgan", steps=1), cg_run)
    grid = latent.class_grid(gankit.load(cg_run), tmp_path / "class-grid.png", n_rows=2)
    assert grid["col_labels"] == [str(k) for k in range(10)]
    im = pixels(grid["png"])
    assert im.shape[0] > 2 * (im.shape[1] // 10)                   # taller than two square rows: a header
    assert im[:14].min() < 100


def test_gif_frames_show_their_step(tmp_path):
    run = tmp_path / "run"
    gankit.train(tiny(steps=4, sample_every=2), run)
    frames = [np.asarray(f.convert("L")) for f in ImageSequence.Iterator(Image.open(run / "training.gif"))]
    assert len(frames) == 2                                        # steps 2 and 4
    band = [f[:18] for f in frames]
    assert all(b.min() < 100 for b in band)                        # a caption on every frame
    assert not np.array_equal(band[0], band[1])                    # "step 2" vs "step 4"


def test_analyze_prints_the_figures_it_wrote(tmp_path, capsys):
    run = tmp_path / "run"
    gankit.train(tiny(model="cgan", steps=1), run)
    out = tmp_path / "fig"
    capsys.readouterr()
    assert main(["analyze", "interpolate", str(run), "--out", str(out), "--paths", "2", "--steps", "3",
                 "--method", "slerp"]) == 0
    printed = capsys.readouterr().out.splitlines()
    want = [f"wrote {out / name}" for name in ("interpolate-slerp.png", "interpolate-slerp.gif", "class-grid.png")]
    assert printed[-3:] == want and all((out / n).is_file() for n in ("interpolate-slerp.png", "class-grid.png"))
