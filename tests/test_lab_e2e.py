"""End to end: the lab page in headless Chromium (Debian's, driven by Playwright): a ring run whose own
mode counter rises, pause, single steps (Algorithm 1), a loss change (a new run, in the URL), a
comparison, a 1-D Figure 1 panel, a bad setting reported on the page. Screenshots go to docs/images/.
Missing Chromium or playwright is a failure, not a skip."""
import time
from pathlib import Path

import pytest
import torch

from conftest import serve_in_thread

from gankit.lab.app import create_lab_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"


@pytest.fixture(scope="module")
def server():
    torch.set_num_threads(1)
    app = create_lab_app(max_sessions=4, max_steps=20_000, idle_timeout=10)
    for url in serve_in_thread(app):
        yield url, app


def data(page, sel, key):
    return page.eval_on_selector(sel, f"e => e.dataset.{key}")


def test_lab_page_in_headless_chromium(server):
    url, app = server
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    errors, foreign = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 1150})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith((url, "blob:", "data:")) else foreign.append(r.url))
        page.goto(url + "/lab?data=ring&show=1")
        page.wait_for_selector("body[data-ready='1']", timeout=20000)
        page.wait_for_function("() => +document.querySelector('#panel-a').dataset.frames >= 1")
        assert data(page, "#panel-a", "modes") == "0" and data(page, "#panel-a", "step") == "0"

        # play: the fake points move onto the ring; the page's own mode counter rises within 4,000 steps
        page.click("#play")
        page.wait_for_function("() => +document.querySelector('#panel-a').dataset.modes >= 4", timeout=40000)
        step = int(data(page, "#panel-a", "step"))
        assert 0 < step <= 4000 and int(data(page, "#panel-a", "frames")) > 5
        assert "modes captured" in page.inner_text("#panel-a .metrics")
        assert float(data(page, "#panel-a", "arrowNorm")) > 0  # the mean |grad| readout
        assert "Counting rule: a sample is high quality within 3σ" in page.inner_text("#panel-a .rule")
        page.check("#show-manifold")
        page.screenshot(path=str(IMAGES / "lab-ring.png"))

        # pause, then single steps: one D step, one G step, one Algorithm 1 iteration
        page.click("#play")
        page.wait_for_function("() => document.querySelector('#panel-a').dataset.status === 'paused'")
        time.sleep(0.3)
        s0, d0 = int(data(page, "#panel-a", "step")), int(data(page, "#panel-a", "dSteps"))
        time.sleep(0.5)
        assert int(data(page, "#panel-a", "step")) == s0  # paused stays put
        page.click("#d-step")
        page.wait_for_function(f"() => +document.querySelector('#panel-a').dataset.dSteps === {d0 + 1}")
        assert int(data(page, "#panel-a", "step")) == s0
        page.click("#g-step")
        page.wait_for_function(f"() => +document.querySelector('#panel-a').dataset.step === {s0 + 1}")
        page.click("#step")
        page.wait_for_function(f"() => +document.querySelector('#panel-a').dataset.step === {s0 + 2}")
        assert int(data(page, "#panel-a", "dSteps")) == d0 + 2

        # change the loss: a new run (step 0), and the URL holds the setting
        page.select_option("#loss", "minimax")
        page.wait_for_function("() => location.search.includes('loss=minimax')")
        page.wait_for_function("() => document.querySelector('#panel-a .title').textContent.includes('minimax')")
        page.wait_for_function("() => document.querySelector('#panel-a').dataset.step === '0'")

        # compare: B runs non-saturating beside A's minimax, same data and seed
        page.check("#compare")
        page.select_option("#b-loss", "nonsaturating")
        page.wait_for_function("() => location.search.includes('b.loss=nonsaturating') && "
                               "document.querySelector('#panel-b .title').textContent.includes('nonsaturating') && "
                               "!document.querySelector('#panel-b').hidden && "
                               "+document.querySelector('#panel-b').dataset.frames >= 1")
        page.click("#play")
        page.wait_for_function("() => +document.querySelector('#panel-a').dataset.step > 300 && "
                               "+document.querySelector('#panel-b').dataset.step > 300", timeout=30000)
        page.click("#play")
        lab = app.state.lab
        assert {k[1] for k in lab.by_tab} == {"a", "b"} and len(lab.sessions) == 2  # one run per tab and slot
        page.screenshot(path=str(IMAGES / "lab-compare.png"))

        # a bad setting: the server's 422, on the page
        page.uncheck("#compare")
        page.fill("input[name=lr_g]", "5")
        page.dispatch_event("input[name=lr_g]", "change")
        page.wait_for_selector("#error:not([hidden])")
        assert page.inner_text("#error").startswith("422: lr_g: Input should be less than or equal to 0.1")

        # a deep link to the 1-D case: Figure 1 of Goodfellow et al. 2014, live, with D*
        page.goto(url + "/lab?data=gauss1d&dstar=1&steps=300")
        page.wait_for_selector("body[data-ready='1']")
        page.click("#play")
        page.wait_for_function("() => document.querySelector('#panel-a').dataset.status === 'done'", timeout=30000)
        assert data(page, "#panel-a", "step") == "300"
        page.locator("#panel-a").screenshot(path=str(IMAGES / "lab-1d.png"))
        browser.close()
    assert foreign == []  # no CDN, no network: every request went to the lab
    assert len(errors) == 1 and "status of 422" in errors[0], errors  # Chromium's note on the 422 above
    for name in ("lab-ring.png", "lab-compare.png", "lab-1d.png"):
        assert (IMAGES / name).stat().st_size > 10_000
    deadline = time.monotonic() + 15  # the page is gone: its runs end (idle timeout 10 s)
    while app.state.lab.sessions and time.monotonic() < deadline:
        time.sleep(0.2)
    assert app.state.lab.sessions == {}
