"""The explorer as a person uses it, in headless Chromium (issue 18): key metrics first with details folded,
deep links, two runs side by side, the interpolation slider, samples over training, a grid download,
report.md rendered, a translation run, offline /docs, a phone-width page. Takes the README's screenshots
docs/images/explorer-desktop.png and explorer-phone.png. Missing Chromium or playwright is a failure."""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gankit
from gankit.metrics import quality
from gankit.serve.app import create_app

from conftest import headless_page, serve_in_thread, tiny

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("explorer")
    env = {"GANKIT_EVALUATORS": str(base / "evaluators"), "GANKIT_CACHE": str(base / "stats")}
    saved_env, saved_recipe = {k: os.environ.get(k) for k in env}, quality.RECIPES["digits"]
    os.environ.update(env)
    quality.RECIPES["digits"] = dict(epochs=2, width=8, hidden=16)
    try:
        for name, model in (("cgan", "cgan"), ("dcgan", "dcgan")):
            gankit.train(tiny(model=model, steps=40, sample_every=10, batch_size=32, lr=1e-3), base / name)
            quality.measure_quality(base / name, n=300)
    finally:
        quality.RECIPES["digits"] = saved_recipe
        for k, v in saved_env.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    gankit.train(tiny(model="cyclegan", loss="lsgan", data="digits2inverted", steps=1), base / "cyclegan")
    # a run still training: more steps configured than logged (its metrics are touched just before it is shown)
    shutil.copytree(base / "dcgan", base / "live")
    meta = json.loads((base / "live" / "config.json").read_text())
    meta["config"]["steps"] = 1000
    (base / "live" / "config.json").write_text(json.dumps(meta))
    app = create_app([base / n for n in ("cgan", "dcgan", "cyclegan", "live")])
    for url in serve_in_thread(app):
        yield url, base


def ready(page, sel, old=None):
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel); return i && i.dataset.state === 'ready'"
        " && i.dataset.url !== old && i.complete && i.naturalWidth > 0; }", arg=[sel, old], timeout=20000)
    return page.eval_on_selector(sel, "i => i.dataset.url")


def test_explorer_as_a_person_uses_it(server, tmp_path):
    url, base = server
    IMAGES.mkdir(parents=True, exist_ok=True)
    with headless_page(url, viewport={"width": 1280, "height": 1100}, accept_downloads=True) as (browser, page, errors, foreign):

        # a deep link: run, seed and t come from the URL
        page.goto(f"{url}/?run=cgan&seed=7&t=0.25")
        grid = ready(page, "#grid")
        assert "seed=7" in grid and "/runs/cgan/" in grid and page.input_value("#t") == "0.25"
        interp = ready(page, "#interp")
        assert "t=0.25" in interp

        # key metrics first, the details folded away
        keys = page.eval_on_selector_all("#metrics .metric", "ts => ts.map(t => t.dataset.key)")
        assert keys == ["fid", "kid", "precision", "recall", "class_accuracy"]
        ev = json.loads((base / "cgan" / "eval.json").read_text())
        assert f"{ev['metrics']['fid']:.4g}"[:4] in page.inner_text("#metrics")
        assert not page.is_visible("#eval-table")
        page.click("#eval-details summary")
        assert page.is_visible("#eval-table") and "reference.cache_file" in page.inner_text("#eval-table")
        box = page.locator("#quality-panel").bounding_box()
        assert page.locator("#eval-table").bounding_box()["width"] <= box["width"]   # no overflow of its card

        # two runs side by side: the same seed, the same grid size
        page.click("#compare-box summary")
        page.check("#compare-list input[value=dcgan]")
        page.wait_for_function("() => document.querySelectorAll('#grids img').length === 2")
        ready(page, "#grids figure:nth-child(2) img")
        urls = page.eval_on_selector_all("#grids img", "is => is.map(i => i.dataset.url)")
        assert "/runs/cgan/" in urls[0] and "/runs/dcgan/" in urls[1]
        assert all("seed=7" in u and "n=16" in u for u in urls)
        assert "compare=dcgan" in page.url and "seed=7" in page.url

        # the interpolation slider, kept in the URL
        before = page.locator("#interp").screenshot()
        slider = page.locator("#t").bounding_box()
        page.mouse.click(slider["x"] + slider["width"] * 0.8, slider["y"] + slider["height"] / 2)
        interp = ready(page, "#interp", interp)
        t = float(page.input_value("#t"))
        assert 0.65 < t < 0.95 and f"t={page.input_value('#t')}" in page.url
        assert page.locator("#interp").screenshot() != before

        # samples over training: a step slider over the saved grids
        steps = json.loads(page.evaluate("() => JSON.stringify(run.sample_steps)"))
        assert steps == [10, 20, 30, 40]
        last = ready(page, "#step-grid")
        assert last.endswith("/steps/40")
        page.fill("#step", "0")
        page.dispatch_event("#step", "input")
        assert ready(page, "#step-grid", last).endswith("/steps/10") and page.inner_text("#step-value") == "10"

        # download the grid: the bytes the page shows, a PNG
        with page.expect_download() as dl:
            page.click("#download-grid")
        saved = tmp_path / "grid.png"
        dl.value.save_as(saved)
        assert dl.value.suggested_filename == "cgan-seed7.png"
        assert Image.open(saved).size == (page.eval_on_selector("#grid", "i => i.naturalWidth"),
                                          page.eval_on_selector("#grid", "i => i.naturalHeight"))

        # report.md rendered, not raw: headings, a metrics table, the samples image at native size
        assert page.locator("#report h1").count() == 1 and "## " not in page.inner_text("#report")
        assert page.locator("#report table").count() >= 1
        page.wait_for_function("() => [...document.querySelectorAll('#report img')].every(i => i.complete && i.naturalWidth > 0)")
        page.click("#eval-details summary")                          # folded again, as a visitor finds it
        page.click("#compare-box summary")
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(IMAGES / "explorer-desktop.png"), full_page=False)

        # a translation run translates sampled inputs instead of breaking the page
        page.select_option("#run", "cyclegan")
        page.wait_for_selector("#translate-panel:not([hidden])")
        assert "translate" in ready(page, "#translated") and not page.is_visible("#samples-panel")

        # a run still training says so and polls
        os.utime(base / "live" / "metrics.jsonl")  # "running" = written within 60 s: the copy kept dcgan's time
        page.select_option("#run", "live")
        page.wait_for_function("() => document.querySelector('#progress').dataset.running === '1'")
        assert "still training" in page.inner_text("#progress")

        # FastAPI's /docs, with the bundled Swagger UI assets (no CDN)
        page.goto(f"{url}/docs")
        page.wait_for_selector(".swagger-ui .opblock", timeout=20000)
        assert "/api/runs/{run}/translate" in page.inner_text(".swagger-ui")

        # phone width: usable, no sideways scroll
        phone = browser.new_page(viewport={"width": 420, "height": 900})
        phone.goto(f"{url}/?run=cgan&seed=7&compare=dcgan")
        ready(phone, "#grid")
        ready(phone, "#grids figure:nth-child(2) img")
        assert phone.evaluate("() => document.documentElement.scrollWidth") <= 420
        phone.evaluate("() => window.scrollTo(0, 0)")
        phone.screenshot(path=str(IMAGES / "explorer-phone.png"), full_page=False)

    assert errors == [] and foreign == []
    for name in ("explorer-desktop.png", "explorer-phone.png"):
        assert Image.open(IMAGES / name).size[0] in (1280, 420)
        assert np.asarray(Image.open(IMAGES / name).convert("L")).std() > 10   # not a blank page


def test_live_run_reloads_new_weights(server):
    from fastapi.testclient import TestClient

    url, base = server
    run = base / "reload"
    gankit.train(tiny(steps=1), run)
    c = TestClient(create_app([run]))
    first = c.get("/api/runs/reload/sample?seed=3").content
    assert c.get("/api/runs/reload").json()["progress"]["reloaded"] is False
    gankit.train(tiny(steps=3), run, resume=True)                  # new weights land
    info = c.get("/api/runs/reload").json()
    assert info["progress"]["reloaded"] is True and info["progress"]["step"] == 3
    assert c.get("/api/runs/reload/sample?seed=3").content != first
    r = c.get("/api/runs/reload/steps/2")
    assert r.status_code in (200, 404)
    assert c.get("/api/runs/reload/steps/999").status_code == 404
