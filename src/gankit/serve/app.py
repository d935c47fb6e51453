"""The GAN explorer: a FastAPI app over trained run directories.

Runs are addressed by name (their directory name). Every file the app serves comes from one of
two allow-lists, the bundled page (``STATIC``) and known run artefacts (``RUN_FILES``), looked up
by key, never by joining a request path. Generation runs in worker threads behind a capacity
limiter, and requests beyond the limiter's queue are refused (503), so a burst cannot exhaust
memory: at most ``max_concurrency`` batches of at most ``max_n`` samples exist at once.
"""
from __future__ import annotations

import base64
import importlib.util
import math
import secrets
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

import anyio
import torch
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from ..errors import GankitError
from ..runs import FILES, Run
from .latent import latents, path
from .render import render_png

MAX_SEED = 2**63 - 1
MAX_UPLOAD = 8 * 2**20  # bytes of one uploaded image (translation runs)
STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "style.css": "text/css; charset=utf-8", "docs.html": "text/html; charset=utf-8",
          "docs.js": "text/javascript; charset=utf-8"}
DOCS_ASSETS = {"swagger-ui.css": "text/css; charset=utf-8", "swagger-ui-bundle.js": "text/javascript; charset=utf-8"}
RUN_FILES = FILES  # the run directory's servable artefacts (gankit.runs)
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' blob: data:; object-src 'none'; "
                                 b"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


@dataclass
class LoadedRun:
    """A run directory with its generator loaded once, at start-up."""

    name: str
    run: Run
    G: torch.nn.Module
    meta: dict = field(repr=False)

    loaded_mtime: float = 0.0  # of the generator weights G holds

    @property
    def G_device(self) -> torch.device:
        return next(self.G.parameters()).device

    def refresh(self) -> bool:
        """A run still training: reload G when newer generator weights have landed. True if reloaded."""
        from ..pretrained import load

        try:
            mtime = self.run.generator_weights().stat().st_mtime
        except (GankitError, OSError):
            return False
        if mtime <= self.loaded_mtime:
            return False
        try:
            self.G = load(self.path, device=self.G_device)
        except (GankitError, OSError, RuntimeError, ValueError):  # a file being replaced: next time
            return False
        self.loaded_mtime = mtime
        return True

    def progress(self, last: dict | None) -> dict:
        """How far training got: last logged step, the configured steps, the newest checkpoint, and
        whether it is still running (metrics written in the last minute, steps not reached)."""
        import time

        steps = self.meta["config"].get("steps")
        step = (last or {}).get("step")
        ckpt = self.run.latest_checkpoint()
        m = self.run.metrics_path
        recent = m.is_file() and time.time() - m.stat().st_mtime < 60
        return {"step": step, "steps": steps, "checkpoint": ckpt.name if ckpt else None,
                "running": bool(recent and steps and step is not None and step < steps)}

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def num_classes(self) -> int:
        return int(getattr(self.G, "num_classes", 0) or 0)

    @property
    def kind(self) -> str:
        return self.meta["data_spec"].get("kind", "image")

    @property
    def translates(self) -> bool:
        """pix2pix / CycleGAN: the generator maps images to images (no noise, no ``z_dim``)."""
        return self.run.kind() == "translation"

    def file(self, name: str) -> Path | None:
        """The allow-listed artefact ``name`` if the run has it (a regular file inside the run)."""
        return self.run.file(name)

    def summary(self) -> dict:
        c = self.meta["config"]
        return {"name": self.name, "model": c["model"], "loss": c["loss"], "data": c["data"],
                "kind": "translation" if self.translates else self.kind, "num_classes": self.num_classes,
                "z_dim": getattr(self.G, "z_dim", None), "directions": list(getattr(self.G, "directions", ())),
                "url": f"/api/runs/{self.name}"}


def load_runs(run_dirs, device: str = "cpu") -> dict[str, LoadedRun]:
    from ..pretrained import load

    runs: dict[str, LoadedRun] = {}
    for d in run_dirs:
        d = Path(d).resolve()
        meta = Run(d).meta()
        if d.name in runs:
            raise GankitError(f"two runs are named {d.name!r} ({runs[d.name].path} and {d}); "
                              f"runs are addressed by directory name, so rename one")
        run = Run(d)
        runs[d.name] = LoadedRun(d.name, run, load(d, device=device), meta,
                                 loaded_mtime=run.generator_weights().stat().st_mtime)
    if not runs:
        raise GankitError("no runs to serve; pass one or more run directories")
    return runs


_docs_cache: dict[str, tuple[bytes, str]] = {}


def docs_assets() -> dict[str, tuple[bytes, str]]:
    """Swagger UI 5's script and stylesheet from the installed swagger-ui-py package ({} without it)."""
    if not _docs_cache:
        try:
            spec = importlib.util.find_spec("swagger_ui")
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            return {}
        folder = Path(list(spec.submodule_search_locations)[0]) / "static"
        for name, media in DOCS_ASSETS.items():
            if not (folder / name).is_file():
                return {}
            _docs_cache[name] = ((folder / name).read_bytes(), media)
    return _docs_cache


def _history(run: Run, limit: int = 200) -> list[dict]:
    """The run's logged losses / D outputs, thinned to at most ``limit`` rows."""
    rows = [row for row in run.metrics() if "d_loss" in row]
    stride = max(1, -(-len(rows) // limit))
    keys = ("step", "d_loss", "g_loss", "d_real", "d_fake")
    kept = rows[::stride] + ([rows[-1]] if rows and (len(rows) - 1) % stride else [])  # always the last
    return [{k: r.get(k) for k in keys} for r in kept]


class Generation:
    """Bounded generation: at most ``max_concurrency`` worker threads, ``max_queue`` waiters; beyond
    that, 503 with ``Retry-After``: the seconds the queue now needs to drain (from the mean time of
    recent calls), as a whole number from 1 to 60."""

    def __init__(self, max_concurrency: int, max_queue: int):
        self.max_concurrency, self.max_queue = max_concurrency, max_queue
        self.limiter: anyio.CapacityLimiter | None = None
        self.pending = 0
        self.mean_s = 0.0  # running mean duration of a call (exponential, weight 0.1)

    def retry_after(self) -> int:
        return max(1, min(60, math.ceil(self.pending * self.mean_s / self.max_concurrency)))

    async def run(self, fn, *args):
        if self.limiter is None:  # created on the serving event loop
            self.limiter = anyio.CapacityLimiter(self.max_concurrency)
        if self.pending >= self.max_concurrency + self.max_queue:
            raise HTTPException(503, "the explorer is busy (generation queue full); retry shortly",
                                headers={"Retry-After": str(self.retry_after())})
        self.pending += 1
        try:
            return await anyio.to_thread.run_sync(self._timed, fn, *args, limiter=self.limiter)
        finally:
            self.pending -= 1

    def _timed(self, fn, *args):
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.mean_s += 0.1 * (time.perf_counter() - t0 - self.mean_s)


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with a one-line ``detail`` ("n: Input should be less than or equal to 256") and the
    structured ``errors``."""
    errors = jsonable_encoder(exc.errors())
    msg = "; ".join(f"{'.'.join(str(x) for x in e['loc'] if x not in ('query', 'path'))}: {e['msg']}"
                    for e in errors)
    return JSONResponse({"detail": msg, "errors": errors}, status_code=422)


class _SecurityHeaders:
    """Pure ASGI middleware: a same-origin CSP (the page loads nothing from elsewhere), nosniff."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(run_dirs, max_n: int = 256, max_concurrency: int = 2, max_queue: int = 64,
               device: str = "cpu", runs: dict[str, LoadedRun] | None = None, extra_routes=None) -> FastAPI:
    """The explorer over ``run_dirs`` (or already loaded ``runs``); the first run is the default
    of the ``/api/sample``, ``/api/interpolate`` and ``/api/info`` shortcuts. ``extra_routes(app)`` adds
    more pages (``gankit serve --lab``: the lab, whose tab the page then shows)."""
    runs = runs if runs is not None else load_runs(run_dirs, device)
    static = {name: (resources.files(__package__) / "static" / name).read_bytes() for name in STATIC}
    gen = Generation(max_concurrency, max_queue)
    app = FastAPI(title="gankit explorer", version="1", docs_url=None, redoc_url=None,
                  description="Sample, interpolate and inspect trained gankit runs.")
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(_SecurityHeaders)
    app.state.runs, app.state.generation, app.state.max_n = runs, gen, max_n
    default = next(iter(runs))

    async def run_from_path(run: str) -> LoadedRun:  # async: no thread hop per request
        if run not in runs:
            raise HTTPException(404, f"unknown run {run!r}; this server has: {', '.join(runs)}")
        return runs[run]

    async def run_from_query(run: str | None = Query(None, description=f"run name (default: {default})")):
        return await run_from_path(default if run is None else run)

    def check_label(r: LoadedRun, label: int | None) -> None:
        if r.translates:
            raise HTTPException(422, f"run {r.name!r} is a {r.meta['config']['model']} run, which translates images "
                                     f"instead of sampling noise: use /api/runs/{r.name}/translate")
        if label is None:
            return
        if not r.num_classes:
            raise HTTPException(422, f"label: run {r.name!r} is unconditional; drop the label")
        if label >= r.num_classes:
            raise HTTPException(422, f"label: {label} is out of range; run {r.name!r} has classes "
                                     f"0..{r.num_classes - 1}")

    def respond(r: LoadedRun, png: bytes, fmt: str, info: dict) -> Response:
        if fmt == "json":
            return JSONResponse({"run": r.name, **info, "media_type": "image/png",
                                 "png_base64": base64.b64encode(png).decode()})
        return Response(png, media_type="image/png",
                        headers={"X-Seed": str(info.get("seed", info.get("seed_a"))), "Cache-Control": "no-store"})

    Seed = Query(None, ge=0, le=MAX_SEED, description="noise seed (default: random, returned in X-Seed)")
    Label = Query(None, ge=0, description="class for conditional runs (default: random per sample)")
    Trunc = Query(None, ge=0.05, le=10.0, allow_inf_nan=False,
                  description="truncation threshold t: components with |z| > t are resampled (Brock et al. 2019)")
    Fmt = Query("png", description="png: the image; json: metadata and the PNG in base64")
    png_response = {200: {"content": {"image/png": {}}, "description": "a PNG grid (or JSON with format=json)"}}

    def make_sample(dep):
        async def sample(r: LoadedRun = Depends(dep),
                         n: int = Query(16, ge=1, le=max_n, description=f"number of samples (1..{max_n})"),
                         seed: int | None = Seed, label: int | None = Label, truncation: float | None = Trunc,
                         nrow: int | None = Query(None, ge=1, le=max_n, description="images per grid row"),
                         format: Literal["png", "json"] = Fmt):
            """A grid of n samples; the same seed (and parameters) gives the same bytes."""
            check_label(r, label)
            seed = secrets.randbelow(2**31) if seed is None else seed

            def work():
                z, y = latents(seed, n, r.G.z_dim, r.num_classes, label, truncation)
                with torch.inference_mode():
                    x = r.G(z, y)
                return render_png(x, r.kind, nrow), None if y is None else y.tolist()

            png, labels = await gen.run(work)
            return respond(r, png, format, {"n": n, "seed": seed, "label": label, "labels": labels,
                                            "truncation": truncation})
        return sample

    def make_interpolate(dep):
        async def interpolate(r: LoadedRun = Depends(dep),
                              seed_a: int = Query(0, ge=0, le=MAX_SEED, description="seed of the start code"),
                              seed_b: int = Query(1, ge=0, le=MAX_SEED, description="seed of the end code"),
                              mode: Literal["lerp", "slerp"] = Query("slerp", description="lerp or slerp"),
                              t: float | None = Query(None, ge=0.0, le=1.0, allow_inf_nan=False,
                                                      description="one image at this fraction of the path"),
                              steps: int = Query(8, ge=2, le=max_n, description="images along the path (without t)"),
                              label: int | None = Label, truncation: float | None = Trunc,
                              format: Literal["png", "json"] = Fmt):
            """Images along the path from seed_a's code to seed_b's: one at ``t``, or ``steps`` in a row.
            Conditional runs hold the label fixed (default: seed_a's random label)."""
            check_label(r, label)
            ts = [t] if t is not None else [i / (steps - 1) for i in range(steps)]

            def work():
                za, ya = latents(seed_a, 1, r.G.z_dim, r.num_classes, label, truncation)
                zb, _ = latents(seed_b, 1, r.G.z_dim, r.num_classes, label, truncation)
                z = path(za[0], zb[0], ts, mode)
                y = None if ya is None else ya.expand(len(ts)).clone()
                with torch.inference_mode():
                    x = r.G(z, y)
                return render_png(x, r.kind, nrow=len(ts)), None if y is None else int(y[0])

            png, lab = await gen.run(work)
            return respond(r, png, format, {"seed_a": seed_a, "seed_b": seed_b, "mode": mode, "t": ts,
                                            "label": lab, "truncation": truncation})
        return interpolate

    def make_info(dep):
        async def info(r: LoadedRun = Depends(dep)):
            """Config, data spec, training curves (thinned metrics), last metrics, evaluation report."""
            def read():  # file reads off the event loop (metrics.jsonl of a long run is large)
                hist = _history(r.run)
                reloaded = r.refresh()
                return {**r.summary(), "config": r.meta["config"], "data_spec": r.meta["data_spec"],
                        "gankit_version": r.meta.get("gankit_version"), "last_metrics": hist[-1] if hist else None,
                        "history": hist, "eval": r.run.eval_result(), "eval_history_count": len(r.run.eval_history()),
                        "progress": {**r.progress(hist[-1] if hist else None), "reloaded": reloaded},
                        "sample_steps": sorted(r.run.sample_grids()),
                        "files": {k: f"/api/runs/{r.name}/files/{k}" for k in RUN_FILES if r.file(k)},
                        "limits": {"max_n": max_n}}
            return await anyio.to_thread.run_sync(read)
        return info

    for prefix, dep, tag in (("/api/runs/{run}", run_from_path, "runs"), ("/api", run_from_query, "default run")):
        app.add_api_route(f"{prefix}/sample", make_sample(dep), methods=["GET"], tags=[tag],
                          response_class=Response, responses=png_response, name=f"sample ({tag})")
        app.add_api_route(f"{prefix}/interpolate", make_interpolate(dep), methods=["GET"], tags=[tag],
                          response_class=Response, responses=png_response, name=f"interpolate ({tag})")
        app.add_api_route("/api/runs/{run}" if dep is run_from_path else "/api/info", make_info(dep),
                          methods=["GET"], tags=[tag], name=f"info ({tag})")

    translation_inputs: dict[str, object] = {}  # run name -> its dataset (ImagePairs), loaded on first use

    def translation_run(r: LoadedRun, direction: str) -> None:
        if not r.translates:
            raise HTTPException(422, f"run {r.name!r} samples noise ({r.meta['config']['model']}); "
                                     f"/translate is for pix2pix and cyclegan runs")
        if direction not in r.G.directions:
            raise HTTPException(422, f"direction: a {r.meta['config']['model']} run translates "
                                     f"{' and '.join(r.G.directions)} only")

    def translate_png(r: LoadedRun, x: torch.Tensor, direction: str) -> bytes:
        """Inputs (uint8 NCHW) in the first row, their translations in the second."""
        x = x.float().div(127.5).sub(1.0).to(r.G_device)
        with torch.inference_mode():
            y = r.G.translate(x, direction)
        return render_png(torch.cat([x, y.clamp(-1, 1)]).cpu(), "image", nrow=len(x))

    Direction = Query("ab", pattern="^(ab|ba)$", description="ab: domain A -> B; ba: B -> A (CycleGAN)")

    @app.get("/api/runs/{run}/translate", tags=["runs"], response_class=Response, responses=png_response)
    async def translate_sampled(r: LoadedRun = Depends(run_from_path), direction: str = Direction,
                                n: int = Query(8, ge=1, le=max_n, description="inputs drawn from the run's data"),
                                seed: int | None = Seed, format: Literal["png", "json"] = Fmt):
        """Translation runs: ``n`` inputs drawn (by ``seed``) from the run's own data, over their translations."""
        translation_run(r, direction)
        seed = secrets.randbelow(2**31) if seed is None else seed

        def work():
            if r.name not in translation_inputs:
                from ..data import load_dataset

                try:
                    translation_inputs[r.name] = load_dataset(r.G.config.replace(download=False))
                except GankitError as e:
                    raise HTTPException(422, f"cannot load run {r.name!r}'s data to draw inputs ({e}); "
                                             f"POST an image to /api/runs/{r.name}/translate instead") from None
            data = translation_inputs[r.name]
            pool = data.a if direction == "ab" else data.b
            idx = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))[:n]
            return translate_png(r, pool[idx], direction)

        png = await gen.run(work)
        return respond(r, png, format, {"seed": seed, "n": n, "direction": direction})

    @app.post("/api/runs/{run}/translate", tags=["runs"], response_class=Response, responses=png_response)
    async def translate_upload(request: Request, r: LoadedRun = Depends(run_from_path), direction: str = Direction):
        """Translation runs: the image in the request body (PNG, JPEG, ...; at most 8 MB), resized to the
        run's size, beside its translation."""
        from io import BytesIO

        translation_run(r, direction)
        body = await request.body()
        if not body or len(body) > MAX_UPLOAD:
            raise HTTPException(422, f"body: send one image file of 1 byte to {MAX_UPLOAD // 2**20} MB")
        from ..errors import DataError
        from ..translation.data import read_image, to_tensor

        shape = r.meta["data_spec"]["shape"]

        def work():
            try:
                arr = read_image(BytesIO(body), shape[-1], shape[0])
            except DataError:
                raise HTTPException(422, "body: not an image gankit can read (PNG, JPEG, BMP, ...)") from None
            return translate_png(r, to_tensor([arr]), direction)

        return Response(await gen.run(work), media_type="image/png", headers={"Cache-Control": "no-store"})

    @app.get("/api/runs", tags=["runs"])
    async def list_runs():
        """The runs this server explores."""
        return [r.summary() for r in runs.values()]

    @app.get("/api/runs/{run}/files/{name}", tags=["runs"],
             responses={200: {"content": {t: {} for t in set(RUN_FILES.values())}}})
    async def run_file(name: str, r: LoadedRun = Depends(run_from_path)):
        """One of the run's known artefacts (curves.png, samples.png, training.gif, report.md,
        eval.json, eval.md, metrics.jsonl, config.json); any other name is 404."""
        p = r.file(name)
        if p is None:
            raise HTTPException(404, f"run {r.name!r} has no file {name!r}; served files: {', '.join(RUN_FILES)}")
        return Response(await anyio.Path(p).read_bytes(), media_type=RUN_FILES[name])

    @app.get("/api/runs/{run}/steps/{step}", tags=["runs"], responses={200: {"content": {"image/png": {}}}})
    async def sample_grid(step: int, r: LoadedRun = Depends(run_from_path)):
        """The sample grid saved at ``step`` of training (the steps are the info's ``sample_steps``)."""
        p = r.run.sample_grids().get(step)
        if p is None:
            raise HTTPException(404, f"run {r.name!r} saved no sample grid at step {step}")
        return Response(await anyio.Path(p).read_bytes(), media_type="image/png")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        """Swagger UI from the swagger-ui-py package (no CDN); its start-up script is /static/docs.js."""
        if not docs_assets():
            return Response("<!doctype html><title>API docs</title><p>The interactive API docs need the "
                            "swagger-ui-py package: <code>pip install 'gankit[serve]'</code>. The schema is at "
                            "<a href='/openapi.json'>/openapi.json</a>.", media_type="text/html; charset=utf-8")
        return Response(static["docs.html"], media_type=STATIC["docs.html"])

    @app.get("/docs-assets/{name}", include_in_schema=False)
    async def docs_asset(name: str):
        assets = docs_assets()
        if name not in assets:
            raise HTTPException(404, f"no docs asset {name!r}")
        return Response(assets[name][0], media_type=assets[name][1])

    @app.get("/", include_in_schema=False)
    async def index():
        return Response(static["index.html"], media_type=STATIC["index.html"])

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str):
        if name not in static:
            raise HTTPException(404, f"no static file {name!r}")
        return Response(static[name], media_type=STATIC[name])

    if extra_routes is not None:
        extra_routes(app)

    @app.get("/api/features", include_in_schema=False)
    async def features():  # what the page may link to
        return {"lab": hasattr(app.state, "lab")}

    return app
