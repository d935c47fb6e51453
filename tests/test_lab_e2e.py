"""End to end: the lab page in headless Chromium (Debian's, driven by Playwright): a ring run whose own
mode counter rises and whose generated points are on the canvas (read back from its pixels), pause, single
steps (Algorithm 1), a loss change (a new run, in the URL), a comparison, a bad setting reported on the page,
and the 1-D deep link's four Figure 1 panels, drawn and changing as training proceeds. Screenshots go to
the test's temporary folder; ``GANKIT_LAB_SCREENSHOTS=docs/images`` refreshes the documentation's.
Missing Chromium or playwright is a failure, not a skip."""
import os
import time
from pathlib import Path

import pytest
import torch

from conftest import headless_page, serve_in_thread

from gankit.lab.app import create_lab_app

#: where the screenshots go when set (docs/images to refresh the docs' figures); else the test's tmp_path
SCREENSHOTS = os.environ.get("GANKIT_LAB_SCREENSHOTS")


@pytest.fixture(scope="module")
def server():
    torch.set_num_threads(1)
    app = create_lab_app(max_sessions=4, max_steps=20_000, idle_timeout=10)
    for url in serve_in_thread(app):
        yield url, app


def data(page, sel, key):
    return page.eval_on_selector(sel, f"e => e.dataset.{key}")


# the plane's pixels at the generated points of the frame it shows (heat map, arrows and manifold off:
# white, real points green, fake points purple, drawn last)
FAKE_PIXELS = """() => {
  const p = panels.a, c = p.plane, px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  const fake = f32(p.frame.fake), at = (x, y) => 4 * (Math.round(y) * c.width + Math.round(x));
  const purple = i => px[i + 2] - px[i + 1] > 40 && px[i] < 180, green = i => px[i + 1] - px[i] > 40 && px[i + 1] > px[i + 2];
  let inView = 0, onFake = 0, purplePx = 0, greenPx = 0, whitePx = 0;
  for (let k = 0; k < fake.length; k += 2) {
    const [x, y] = toPx(p, fake[k], fake[k + 1]);
    if (x < 2 || y < 2 || x > c.width - 3 || y > c.height - 3) continue;
    inView++; if (purple(at(x, y))) onFake++;
  }
  for (let i = 0; i < px.length; i += 4) {
    if (purple(i)) purplePx++; else if (green(i)) greenPx++; else if (px[i] + px[i + 1] + px[i + 2] > 750) whitePx++;
  }
  return {n: fake.length / 2, inView, onFake, purplePx, greenPx, whitePx, total: px.length / 4};
}"""

# one Figure 1 panel's pixels: its series' colours, the z -> x lines' band, a hash of the picture
FIG1_PIXELS = """(sel) => {
  const c = document.querySelector(sel), W = c.width, H = c.height, px = c.getContext("2d").getImageData(0, 0, W, H).data;
  const near = (i, r, g, b) => Math.abs(px[i] - r) + Math.abs(px[i + 1] - g) + Math.abs(px[i + 2] - b) < 60;
  const out = {green: 0, blue: 0, orange: 0, lines: 0, hash: 0, drawn: JSON.parse(c.dataset.drawn || "{}"),
               pending: c.dataset.pending, visible: c.offsetWidth > 0};
  for (let i = 0; i < px.length; i += 4) {
    if (near(i, 27, 158, 62)) out.green++; else if (near(i, 36, 99, 201)) out.blue++; else if (near(i, 224, 138, 0)) out.orange++;
    const row = Math.floor(i / 4 / W);
    if (row > H * 0.66 + 3 && row < H - 17 && px[i] + px[i + 1] + px[i + 2] < 700) out.lines++;
    out.hash = (Math.imul(out.hash, 31) + px[i] + 7 * px[i + 1] + 13 * px[i + 2]) >>> 0;
  }
  return out;
}"""


def figure1(page):
    return {k: page.evaluate(FIG1_PIXELS, f"#panel-a .fig1-{k}") for k in "abcd"}


def assert_four_panels_drawn(panels):
    for k, q in panels.items():
        assert q["visible"], k
        assert q["drawn"]["p_data"] >= 50 and q["drawn"]["p_g"] == q["drawn"]["D"] == q["drawn"]["D*"] == 192, (k, q)
        assert q["drawn"]["map"] == 25 and q["lines"] > 300, (k, q)  # the 25 lines x = G(z)
        assert q["green"] > 150 and q["blue"] > 100 and q["orange"] > 40, (k, q)  # p_g, D, D* on the canvas


def test_lab_page_in_headless_chromium(server, tmp_path):
    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    url, app = server
    bad = []
    with headless_page(url, viewport={"width": 1000, "height": 1150}) as (browser, page, errors, foreign):
        page.on("response", lambda r: bad.append(f"{r.status} {r.request.method} {r.url}") if r.status >= 400 else None)
        page.goto(url + "/lab?data=ring&show=1&steps=20000")  # steps: the server's most, so still running when paused below
        page.wait_for_selector("body[data-ready='1']", timeout=20000)
        page.wait_for_function("() => +document.querySelector('#panel-a').dataset.frames >= 1")
        assert data(page, "#panel-a", "modes") == "0" and data(page, "#panel-a", "step") == "0"

        # play: the fake points move onto the ring; the page's own mode counter rises within 4,000 steps
        page.click("#play")
        # (on a fast machine 4 modes can come within 80 steps and 5 frames: the animation is waited for, not raced)
        page.wait_for_function("() => +document.querySelector('#panel-a').dataset.modes >= 4", timeout=40000)
        step = int(data(page, "#panel-a", "step"))
        assert 0 < step <= 4000
        page.wait_for_function("() => +document.querySelector('#panel-a').dataset.frames > 5", timeout=20000)
        assert "modes captured" in page.inner_text("#panel-a .metrics")
        assert float(data(page, "#panel-a", "arrowNorm")) > 0  # the mean |grad| readout
        assert "Counting rule: a sample is high quality within 3σ" in page.inner_text("#panel-a .rule")

        # the generated points are drawn on the plane: its pixels at their positions are purple
        page.uncheck("#show-heat")
        page.uncheck("#show-arrows")
        px = page.evaluate(FAKE_PIXELS)
        assert px["n"] == 1000 and px["inView"] > 500, px
        assert px["onFake"] >= 0.97 * px["inView"], px  # every point is on the canvas, where the frame has it
        assert px["purplePx"] > 1500 and px["greenPx"] > 200 and px["whitePx"] > 0.6 * px["total"], px
        page.check("#show-heat")  # the heat map back: the white background is gone
        assert page.evaluate(FAKE_PIXELS)["whitePx"] < 0.3 * px["total"]
        page.check("#show-arrows")
        page.check("#show-manifold")
        page.screenshot(path=str(shots / "lab-ring.png"))

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
        page.screenshot(path=str(shots / "lab-compare.png"))

        # a bad setting: the server's 422, on the page
        page.uncheck("#compare")
        page.wait_for_function("() => document.querySelector('#panel-b').hidden")  # that reset has read the form
        page.fill("input[name=lr_g]", "5")
        page.dispatch_event("input[name=lr_g]", "change")
        page.wait_for_selector("#error:not([hidden])")
        assert page.inner_text("#error").startswith("422: lr_g: Input should be less than or equal to 0.1")

        # a deep link to the 1-D case: Figure 1 of Goodfellow et al. 2014, live, in four panels
        page.goto(url + "/lab?data=gauss1d&speed=50&steps=2000")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_function("() => +document.querySelector('#panel-a').dataset.frames >= 1")
        assert page.is_hidden("#panel-a .plane") and page.is_visible("#panel-a .fig1")
        assert "Figure 1 of Goodfellow et al. 2014, live" in page.inner_text("#panel-a .fig1-note")
        at0 = figure1(page)
        assert_four_panels_drawn(at0)
        page.click("#play")
        page.wait_for_function("() => +document.querySelector('#panel-a').dataset.step >= 40", timeout=30000)
        page.click("#play")
        page.wait_for_function("() => document.querySelector('#panel-a').dataset.status === 'paused'")
        time.sleep(0.3)
        later = figure1(page)
        assert_four_panels_drawn(later)
        assert all(later[k]["hash"] != at0[k]["hash"] for k in "abcd")  # every panel changed as G and D learnt
        # one D step: (b) shows D after it, (c) waits for the G step; the G step completes the iteration
        page.click("#d-step")
        page.wait_for_function("() => document.querySelector('#panel-a .fig1-c').dataset.pending === '1'")
        assert "pending: 1 of k=1 D steps done" in page.evaluate("() => panels.a.frame.fig1.pending && "
                                                                 "figurePanels(panels.a).c.note")
        page.click("#g-step")
        page.wait_for_function("() => document.querySelector('#panel-a .fig1-c').dataset.pending === '0'")
        stepped = figure1(page)
        assert_four_panels_drawn(stepped)
        assert stepped["b"]["hash"] != later["b"]["hash"] and stepped["c"]["hash"] != later["c"]["hash"]
        page.locator("#panel-a").screenshot(path=str(shots / "lab-1d.png"))
    assert foreign == []  # no CDN, no network: every request went to the lab
    assert len(errors) == 1 and "status of 422" in errors[0], (errors, bad)  # Chromium's note on the 422 above
    for name in ("lab-ring.png", "lab-compare.png", "lab-1d.png"):
        assert (shots / name).stat().st_size > 10_000
    deadline = time.monotonic() + 30  # the page is gone: its runs end (idle timeout 10 s)
    while app.state.lab.sessions and time.monotonic() < deadline:
        time.sleep(0.2)
    assert app.state.lab.sessions == {}
