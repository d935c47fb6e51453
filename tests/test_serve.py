"""The GAN explorer's API (``gankit serve``), through FastAPI's test client and raw ASGI calls."""
import asyncio
import base64
import importlib.util
import io
import json
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit.cli import main
from gankit.errors import GankitError
from gankit.serve.app import RUN_FILES, create_app, load_runs
from gankit.serve.latent import latents, lerp, slerp, truncate_
from gankit.serve.render import image_grid_png

with warnings.catch_warnings():  # newer Starlette prefers httpx2 to httpx; either works
    warnings.simplefilter("ignore")
    import httpx
    from fastapi.testclient import TestClient

from conftest import tiny

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An unconditional DCGAN (with an eval.json), a conditional cgan, and an MLP on 2-D points."""
    base = tmp_path_factory.mktemp("runs")
    gankit.train(tiny(), base / "dcgan")
    (base / "dcgan" / "eval.json").write_text(json.dumps({"fid": 12.5, "precision": 0.7}))
    gankit.train(tiny(model="cgan"), base / "cgan")
    gankit.train(tiny(model="mlp", data="ring", num_points=256), base / "ring")
    return base


@pytest.fixture(scope="module")
def client(runs):
    app = create_app([runs / "dcgan", runs / "cgan", runs / "ring"], max_n=64)
    with TestClient(app) as c:
        yield c


def png(r) -> np.ndarray:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(r.content)))


# ---------------------------------------------------------------------- sampling
def test_sample_is_a_png_grid_reproducible_by_seed(client):
    a = client.get("/api/runs/dcgan/sample?n=4&seed=7")
    b = client.get("/api/runs/dcgan/sample?n=4&seed=7")
    c = client.get("/api/runs/dcgan/sample?n=4&seed=8")
    assert a.content == b.content and a.headers["x-seed"] == "7"
    assert a.content != c.content
    img = png(a)
    assert min(img.shape[:2]) >= 256  # 2x2 tiles of 8x8, upscaled
    # No seed: the server picks one and says which, and that seed reproduces the grid.
    d = client.get("/api/runs/dcgan/sample?n=4")
    assert client.get(f"/api/runs/dcgan/sample?n=4&seed={d.headers['x-seed']}").content == d.content


def test_sample_equals_generator_sample_with_the_same_seed(client, runs):
    """The API draws exactly what ``G.sample(n, seed=s)`` (and so ``gankit sample --seed s``) draws."""
    G = gankit.load(runs / "dcgan")
    r = client.get("/api/runs/dcgan/sample?n=9&seed=123")
    assert r.content == image_grid_png(G.sample(9, seed=123))


def test_sample_json_carries_the_same_png_in_base64(client):
    p = client.get("/api/runs/cgan/sample?n=6&seed=3")
    j = client.get("/api/runs/cgan/sample?n=6&seed=3&format=json").json()
    assert base64.b64decode(j["png_base64"]) == p.content
    assert j["media_type"] == "image/png" and j["seed"] == 3 and j["n"] == 6 and j["run"] == "cgan"
    assert len(j["labels"]) == 6 and all(0 <= k < 10 for k in j["labels"])


def test_label_selects_the_class_of_a_conditional_run(client):
    three = client.get("/api/runs/cgan/sample?n=4&seed=1&label=3&format=json").json()
    four = client.get("/api/runs/cgan/sample?n=4&seed=1&label=4&format=json").json()
    assert three["labels"] == [3, 3, 3, 3] and four["labels"] == [4, 4, 4, 4]
    assert three["png_base64"] != four["png_base64"]  # same noise, another class, another image
    r = client.get("/api/runs/cgan/sample?label=10")
    assert r.status_code == 422 and "label" in r.json()["detail"] and "0..9" in r.json()["detail"]
    r = client.get("/api/runs/dcgan/sample?label=1")
    assert r.status_code == 422 and "unconditional" in r.json()["detail"]


def test_points_run_renders_a_scatter(client):
    a, b = png(client.get("/api/runs/ring/sample?n=64&seed=0")), png(client.get("/api/runs/ring/sample?n=64&seed=1"))
    assert a.shape[:2] == (256, 256) and (a != b).any()


def test_default_run_shortcuts(client):
    """/api/sample, /api/interpolate, /api/info use the first run unless ?run= names another."""
    assert client.get("/api/sample?n=4&seed=7").content == client.get("/api/runs/dcgan/sample?n=4&seed=7").content
    assert client.get("/api/sample?run=cgan&n=4&seed=7").content == \
        client.get("/api/runs/cgan/sample?n=4&seed=7").content
    assert client.get("/api/interpolate?t=0.5").content == client.get("/api/runs/dcgan/interpolate?t=0.5").content
    assert client.get("/api/info?run=ring").json()["name"] == "ring"


@pytest.mark.parametrize("query, param", [
    ("n=0", "n"), ("n=10000", "n"), ("n=65", "n"), ("n=abc", "n"), ("seed=-1", "seed"), ("seed=x", "seed"),
    ("truncation=0", "truncation"), ("truncation=-1", "truncation"), ("truncation=nan", "truncation"),
    ("truncation=inf", "truncation"), ("truncation=11", "truncation"), ("label=-1", "label"),
    ("format=gif", "format"), ("nrow=0", "nrow"),
])
def test_bad_sample_parameters_are_422_naming_the_parameter(client, query, param):
    r = client.get(f"/api/runs/cgan/sample?{query}")
    assert r.status_code == 422
    assert r.json()["detail"].startswith(f"{param}: ")


@pytest.mark.parametrize("query, param", [
    ("mode=cubic", "mode"), ("t=1.5", "t"), ("t=-0.1", "t"), ("t=nan", "t"), ("steps=1", "steps"),
    ("steps=1000", "steps"), ("seed_a=-3", "seed_a"), ("seed_b=2.5", "seed_b"),
])
def test_bad_interpolation_parameters_are_422(client, query, param):
    r = client.get(f"/api/runs/dcgan/interpolate?{query}")
    assert r.status_code == 422 and r.json()["detail"].startswith(f"{param}: ")


# ---------------------------------------------------------------------- latents
def test_truncation_resamples_only_components_beyond_the_threshold():
    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(512, 64, generator=g)
    z = truncate_(z0.clone(), 0.5, g)
    inside = z0.abs() <= 0.5
    assert torch.equal(z[inside], z0[inside])  # kept as drawn
    assert z.abs().max() <= 0.5
    # Resampled, not clamped: a truncated N(0,1) on [-0.5, 0.5] has std 0.2842, and no mass at the edge.
    assert abs(z.std().item() - 0.2842) < 0.005
    assert (z.abs() == 0.5).float().mean() < 1e-3


def test_truncation_changes_the_images_and_stays_reproducible(client):
    plain = client.get("/api/runs/dcgan/sample?n=4&seed=2").content
    t1 = client.get("/api/runs/dcgan/sample?n=4&seed=2&truncation=0.5").content
    assert t1 != plain and t1 == client.get("/api/runs/dcgan/sample?n=4&seed=2&truncation=0.5").content
    z, _ = latents(2, 4, 8, truncation=0.5)
    assert z.abs().max() <= 0.5


def test_lerp_and_slerp_endpoints_and_geometry():
    a, b = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    for f in (lerp, slerp):
        assert torch.allclose(f(a, b, 0.0), a, atol=1e-6) and torch.allclose(f(a, b, 1.0), b, atol=1e-6)
    assert torch.allclose(lerp(a, b, 0.5), torch.tensor([[1.5, 1.5]]))
    mid = slerp(a, b, 0.5)  # on the circle of radius 3, at 45 degrees
    assert torch.allclose(mid, torch.tensor([[3 / 2**0.5, 3 / 2**0.5]]), atol=1e-5)
    assert torch.allclose(slerp(a, 2 * a, 0.5), lerp(a, 2 * a, 0.5))  # parallel: falls back to lerp


def test_interpolation_path_runs_from_seed_a_to_seed_b(client):
    # lerp at t=0 is exactly seed_a's code: the image of /sample?n=1&seed=seed_a.
    start = client.get("/api/runs/dcgan/interpolate?seed_a=5&seed_b=6&mode=lerp&t=0").content
    assert start == client.get("/api/runs/dcgan/sample?n=1&seed=5").content
    end = client.get("/api/runs/dcgan/interpolate?seed_a=5&seed_b=6&mode=lerp&t=1").content
    assert end == client.get("/api/runs/dcgan/sample?n=1&seed=6").content
    half_l = client.get("/api/runs/dcgan/interpolate?seed_a=5&seed_b=6&mode=lerp&t=0.5").content
    half_s = client.get("/api/runs/dcgan/interpolate?seed_a=5&seed_b=6&mode=slerp&t=0.5").content
    assert len({start, end, half_l, half_s}) == 4
    strip = png(client.get("/api/runs/dcgan/interpolate?seed_a=5&seed_b=6&steps=8"))
    assert strip.shape[1] > 6 * strip.shape[0]  # one row of 8 tiles
    j = client.get("/api/runs/cgan/interpolate?seed_a=5&seed_b=6&steps=3&label=2&format=json").json()
    assert j["label"] == 2 and j["t"] == [0.0, 0.5, 1.0]


# ---------------------------------------------------------------------- info, files, pages
def test_info_reports_config_curves_metrics_and_evaluation(client, runs):
    info = client.get("/api/runs/dcgan").json()
    assert info["config"]["model"] == "dcgan" and info["z_dim"] == 8 and info["num_classes"] == 0
    assert [h["step"] for h in info["history"]] == [1, 2, 3] and info["last_metrics"]["step"] == 3
    assert info["eval"] == {"fid": 12.5, "precision": 0.7}
    assert set(info["files"]) >= {"curves.png", "samples.png", "report.md", "eval.json", "config.json"}
    curves = client.get(info["files"]["curves.png"])
    assert curves.headers["content-type"] == "image/png"
    assert curves.content == (runs / "dcgan" / "curves.png").read_bytes()
    assert client.get("/api/runs/cgan").json()["eval"] is None
    assert [r["name"] for r in client.get("/api/runs").json()] == ["dcgan", "cgan", "ring"]


def test_history_is_thinned_keeps_the_last_row_and_skips_a_half_written_line(tmp_path):
    from gankit.runs import Run
    from gankit.serve.app import _history

    p = tmp_path / "metrics.jsonl"
    p.write_text("".join(json.dumps({"step": i, "d_loss": 1.0 / i}) + "\n" for i in range(1, 1001)) + '{"step": 10')
    h = _history(Run(tmp_path), limit=200)
    assert len(h) == 201 and h[0]["step"] == 1 and h[-1]["step"] == 1000 and h[1]["step"] == 6


def test_unknown_run_is_404_listing_the_runs(client):
    for url in ("/api/runs/nope", "/api/runs/nope/sample", "/api/runs/nope/interpolate", "/api/sample?run=nope",
                "/api/info?run=nope", "/api/runs/nope/files/curves.png"):
        r = client.get(url)
        assert r.status_code == 404 and "unknown run 'nope'" in r.json()["detail"] and "dcgan" in r.json()["detail"]


def test_files_outside_the_allow_list_are_404(client, runs):
    for name in ("generator.safetensors", "checkpoints", "metrics.jsonl.bak", "eval.md"):
        assert client.get(f"/api/runs/dcgan/files/{name}").status_code == 404  # eval.md: not written here
    assert "generator.safetensors" not in RUN_FILES


def asgi_get(app, raw_path: bytes) -> tuple[int, bytes]:
    """GET with the path exactly as given (clients normalise '..'; an attacker's need not)."""
    out = {"status": None, "body": b""}

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    from urllib.parse import unquote

    path, _, query = raw_path.partition(b"?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": unquote(path.decode()), "raw_path": path, "query_string": query, "root_path": "",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    return out["status"], out["body"]


@pytest.mark.parametrize("raw", [
    b"/static/../../pyproject.toml", b"/static/..%2F..%2Fpyproject.toml", b"/static/%2e%2e/%2e%2e/pyproject.toml",
    b"/api/runs/..%2F..%2Fetc/sample", b"/api/runs/..%2F..%2Fetc%2Fpasswd", b"/api/runs/dcgan/files/../config.json",
    b"/api/runs/dcgan/files/..%2F..%2F..%2F..%2Fetc%2Fpasswd", b"/api/runs/dcgan/files/%2Fetc%2Fpasswd",
    b"/api/runs/../dcgan/files/config.json", b"/api/sample?run=..%2Fdcgan", b"/static/%2Fetc%2Fpasswd",
])
def test_path_traversal_is_404(client, raw):
    assert asgi_get(client.app, b"/api/runs/dcgan/files/config.json")[0] == 200  # the raw GET itself works
    status, body = asgi_get(client.app, raw)
    assert status == 404
    assert b"root:" not in body and b"[project]" not in body and b"gankit_version" not in body


def test_symlinked_artefact_pointing_outside_the_run_is_not_served(tmp_path):
    gankit.train(tiny(steps=1), tmp_path / "run")
    secret = tmp_path / "secret.json"
    secret.write_text('{"token": "s3cret"}')
    (tmp_path / "run" / "eval.json").symlink_to(secret)
    with TestClient(create_app([tmp_path / "run"])) as c:
        assert c.get("/api/runs/run/files/eval.json").status_code == 404
        assert c.get("/api/runs/run").json()["eval"] is None


def test_page_and_assets_are_local_only(client):
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert 'src="/static/app.js"' in page.text and 'href="/static/style.css"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/", "/static/app.js", "/static/style.css", "/docs", "/static/docs.js"):
        text = client.get(asset).text
        assert "http://" not in text and "https://" not in text and "//cdn" not in text  # nothing fetched from elsewhere
    assert client.get("/static/nope.js").status_code == 404
    # /docs: Swagger UI from the installed swagger-ui-py package, served by the explorer itself
    assert 'src="/docs-assets/swagger-ui-bundle.js"' in client.get("/docs").text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs-assets/index.html").status_code == 404


def test_openapi_schema_lists_the_endpoints(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for p in ("/api/runs", "/api/runs/{run}", "/api/runs/{run}/sample", "/api/runs/{run}/interpolate",
              "/api/runs/{run}/files/{name}", "/api/sample", "/api/interpolate", "/api/info"):
        assert "get" in paths[p], p
    n = next(q for q in paths["/api/runs/{run}/sample"]["get"]["parameters"] if q["name"] == "n")
    assert n["schema"]["maximum"] == 64 and n["schema"]["minimum"] == 1
    assert "image/png" in paths["/api/sample"]["get"]["responses"]["200"]["content"]


# ---------------------------------------------------------------------- bounded generation
class SlowGenerator(torch.nn.Module):
    """Wraps a generator: each call sleeps, and the peak number of calls in flight is recorded."""

    def __init__(self, G, delay: float):
        super().__init__()
        self.G, self.delay, self.z_dim, self.num_classes = G, delay, G.z_dim, G.num_classes
        self.lock, self.active, self.peak = threading.Lock(), 0, 0

    def forward(self, z, y=None):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.delay)
        with self.lock:
            self.active -= 1
        return self.G(z, y)


def burst(app, urls: list[str]) -> list[int]:
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return [r.status_code for r in await asyncio.gather(*(c.get(u) for u in urls))]

    return asyncio.run(go())


def test_concurrency_limiter_bounds_generation_in_flight(runs):
    loaded = load_runs([runs / "dcgan"])
    slow = loaded["dcgan"].G = SlowGenerator(loaded["dcgan"].G, 0.15)
    app = create_app(None, max_concurrency=2, max_queue=64, runs=loaded)
    t0 = time.perf_counter()
    statuses = burst(app, [f"/api/runs/dcgan/sample?n=4&seed={i}" for i in range(8)])
    elapsed = time.perf_counter() - t0
    assert statuses == [200] * 8
    assert slow.peak == 2  # never more than max_concurrency at once, and the limit was reached
    assert elapsed >= 4 * 0.15  # 8 calls, two at a time


def test_requests_beyond_the_queue_are_refused_with_503(runs):
    loaded = load_runs([runs / "dcgan"])
    slow = loaded["dcgan"].G = SlowGenerator(loaded["dcgan"].G, 0.4)
    app = create_app(None, max_concurrency=1, max_queue=1, runs=loaded)
    statuses = burst(app, [f"/api/runs/dcgan/sample?n=2&seed={i}" for i in range(5)])
    assert sorted(statuses) == [200, 200, 503, 503, 503]  # one running + one queued; the rest refused
    assert slow.peak == 1


def test_503_says_when_to_retry(runs):
    loaded = load_runs([runs / "dcgan"])
    loaded["dcgan"].G = SlowGenerator(loaded["dcgan"].G, 0.4)
    app = create_app(None, max_concurrency=1, max_queue=1, runs=loaded)
    assert burst(app, ["/api/runs/dcgan/sample?n=2&seed=0"]) == [200]  # one call: a mean time of 0.04 s (0.1 x 0.4)

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
            return await asyncio.gather(*(c.get(f"/api/runs/dcgan/sample?n=2&seed={i}") for i in range(5)))

    refused = [r for r in asyncio.run(go()) if r.status_code == 503]
    assert len(refused) == 3
    # 2 pending x about 0.04 s / 1 thread rounds up to 1 second
    assert [r.headers["retry-after"] for r in refused] == ["1", "1", "1"]
    assert all("busy" in r.json()["detail"] for r in refused)


# ---------------------------------------------------------------------- CLI and load smoke test
def test_duplicate_run_names_are_refused(runs, tmp_path):
    gankit.train(tiny(steps=1), tmp_path / "dcgan")
    with pytest.raises(GankitError, match="two runs are named 'dcgan'"):
        load_runs([runs / "dcgan", tmp_path / "dcgan"])


def test_cli_serve_errors_are_one_line(tmp_path, monkeypatch, capsys):
    assert main(["serve", str(tmp_path)]) == 2
    assert "not a gankit run directory" in capsys.readouterr().err
    monkeypatch.setitem(__import__("sys").modules, "fastapi", None)  # as if the extra were not installed
    assert main(["serve", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'gankit[serve]'" in err


def test_load_smoke_over_loopback(runs):
    """A small run of bench/bench_serve.py: the real CLI server on loopback, concurrent clients, no errors."""
    spec = importlib.util.spec_from_file_location("bench_serve", ROOT / "bench" / "bench_serve.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.measure(runs / "cgan", requests=120, concurrency=16, n=8, warmup=16)
    assert result["errors"] == 0 and result["requests"] == 120
    assert 0 < result["p50_ms"] <= result["p99_ms"]


def test_retry_after_is_the_time_the_queue_needs_to_drain():
    from gankit.serve.app import Generation

    g = Generation(max_concurrency=2, max_queue=10)
    g.pending, g.mean_s = 12, 0.5
    assert g.retry_after() == 3  # 12 waiting x 0.5 s over 2 threads
    g.mean_s = 100.0
    assert g.retry_after() == 60  # capped
    g.pending, g.mean_s = 1, 0.001
    assert g.retry_after() == 1  # never 0: a whole number of seconds, at least 1
