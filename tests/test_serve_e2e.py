"""End to end: the explorer page in headless Chromium (Debian's, driven by Playwright).

Needs /usr/bin/chromium and the ``playwright`` package; ``.ci/run`` installs both. Missing either
is a failure, not a skip. The screenshot lands in tests/artifacts/serve-e2e.png.
"""
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gankit
from gankit.serve.app import create_app

from conftest import headless_page, serve_in_thread, tiny

ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "serve-e2e.png"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """uvicorn on a free loopback port, in a thread, over a conditional and an unconditional run."""
    base = tmp_path_factory.mktemp("e2e")
    gankit.train(tiny(model="cgan", steps=4), base / "cgan")
    (base / "cgan" / "eval.json").write_text(json.dumps({"fid": 42.25, "recall": 0.5}))
    gankit.train(tiny(steps=2), base / "dcgan")
    app = create_app([base / "cgan", base / "dcgan"])
    yield from serve_in_thread(app)


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.int16)


def wait_new_image(page, sel: str, old_url: str | None) -> str:
    """Wait until <img sel> shows a response to a request other than ``old_url``; its URL."""
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel);"
        " return i.dataset.state === 'ready' && i.dataset.url !== old && i.complete && i.naturalWidth > 0; }",
        arg=[sel, old_url], timeout=20000)
    return page.eval_on_selector(sel, "i => i.dataset.url")


def wait_image_with(page, sel: str, fragment: str) -> str:
    """Wait until <img sel> shows a response to a request whose URL contains ``fragment``; its URL (a
    request still in flight from before, e.g. one a label change started, cannot stand in for it)."""
    page.wait_for_function(
        "([sel, frag]) => { const i = document.querySelector(sel);"
        " return i.dataset.state === 'ready' && (i.dataset.url || '').includes(frag) && i.complete && i.naturalWidth > 0; }",
        arg=[sel, fragment], timeout=20000)
    return page.eval_on_selector(sel, "i => i.dataset.url")


def wait_image_of_run(page, sel: str, run: str) -> str:
    """Wait until <img sel> shows a response from ``run``'s API (its URL names the run); its URL.

    Unlike ``wait_new_image`` this holds however fast the image came: switching back to a run
    may bring the very URL shown before, perhaps before the test reads it.
    """
    page.wait_for_function(
        "([sel, run]) => { const i = document.querySelector(sel);"
        " return i.dataset.state === 'ready' && (i.dataset.url || '').includes(`/api/runs/${run}/`)"
        " && i.complete && i.naturalWidth > 0; }",
        arg=[sel, run], timeout=20000)
    return page.eval_on_selector(sel, "i => i.dataset.url")


def test_explorer_page_in_headless_chromium(server):
    with headless_page(server, viewport={"width": 1200, "height": 1000}) as (browser, page, errors, foreign):
        page.goto(server + "/")

        grid = wait_new_image(page, "#grid", None)
        interp = wait_new_image(page, "#interp", None)
        wait_new_image(page, "#strip", None)
        assert page.is_visible("#label-box")  # the first run is conditional: a label picker
        assert page.locator("#label option").count() == 11  # random + classes 0..9
        assert "42.25" in page.inner_text("#metrics") and page.is_visible("#curves")
        page.wait_for_function("() => { const i = document.querySelector('#curves'); return i.complete && i.naturalWidth > 0; }")

        # 'new samples': a new seed in the box and a different grid on screen.
        seed0 = page.input_value("#seed")
        before = pixels(page.locator("#grid").screenshot())
        page.click("#new-samples")
        grid = wait_new_image(page, "#grid", grid)
        after = pixels(page.locator("#grid").screenshot())
        assert page.input_value("#seed") != seed0 and f"seed={page.input_value('#seed')}" in grid
        assert before.shape == after.shape and (before != after).mean() > 0.05

        # The label picker: class 3 for every tile.
        page.select_option("#label", "3")
        grid = wait_new_image(page, "#grid", grid)
        assert "label=3" in grid
        interp = wait_image_with(page, "#interp", "label=3")  # the label change reloads the interpolation too

        # The interpolation slider: drag to about 3/4 of the way from seed A to seed B.
        before = pixels(page.locator("#interp").screenshot())
        box = page.locator("#t").bounding_box()
        page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + box["height"] / 2)
        interp = wait_new_image(page, "#interp", interp)
        t = float(page.input_value("#t"))
        assert 0.6 < t < 0.9 and page.inner_text("#t-value") == f"{t:.2f}"
        after = pixels(page.locator("#interp").screenshot())
        assert (before != after).mean() > 0.05
        page.keyboard.press("End")  # keyboard works too: t = 1
        interp = wait_image_with(page, "#interp", "&t=1")
        assert page.input_value("#t") == "1"

        # A bad value is reported on the page, not thrown.
        page.fill("#seed", "99999999999999999999")  # beyond 2**63 - 1
        page.click("#show")
        page.wait_for_selector("#error:not([hidden])")
        assert page.inner_text("#error").startswith("422: seed: ")
        page.fill("#seed", "5")
        page.click("#show")
        page.wait_for_selector("#error", state="hidden")

        # The other run: unconditional, so no label picker.
        page.select_option("#run", "dcgan")
        page.wait_for_function("() => document.querySelector('#run-summary').textContent.startsWith('dcgan')")
        wait_image_of_run(page, "#grid", "dcgan")
        assert not page.is_visible("#label-box") and page.is_visible("#no-eval")

        ARTIFACT.parent.mkdir(exist_ok=True)
        page.select_option("#run", "cgan")
        page.wait_for_function("() => document.querySelector('#run-summary').textContent.startsWith('cgan')")
        assert "/api/runs/cgan/" in wait_image_of_run(page, "#strip", "cgan")
        page.screenshot(path=str(ARTIFACT), full_page=True)

    # The one console error is Chromium's own note on the 422 provoked above.
    assert len(errors) == 1 and "status of 422" in errors[0], errors
    assert foreign == []  # every request went to the explorer itself: no CDN, no network
    assert ARTIFACT.stat().st_size > 10_000
