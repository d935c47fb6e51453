"""``gankit lab``'s server: a FastAPI app that runs lab sessions and streams their frames (Server-Sent Events).

Bounded: at most one session per browser tab and slot (``a``, and ``b`` for a comparison; a new one
replaces the old), at most ``max_sessions`` in all (503 beyond), each stopping by itself after its
``steps`` (at most ``max_steps``) or ``idle_timeout`` seconds after its last viewer left. Every setting is
validated (422 naming it). The page and its script are bundled (no CDN), served with the explorer's
same-origin security headers.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
import threading
import time
from importlib import resources
from typing import Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import GankitError
from ..losses import OBJECTIVES
from ..serve.app import _SecurityHeaders, _validation_error
from .session import LabSession
from .settings import DATA, DATA_1D, LabSettings

STATIC = {"lab.html": "text/html; charset=utf-8", "lab.js": "text/javascript; charset=utf-8",
          "lab.css": "text/css; charset=utf-8"}


class NewSession(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tab: str = Field(..., pattern=r"^[A-Za-z0-9_-]{1,64}$", description="the browser tab's id")
    slot: Literal["a", "b"] = "a"
    settings: dict = Field(default_factory=dict)


class Control(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["play", "pause", "step", "d_step", "g_step", "set"]
    speed: float | None = Field(None, ge=0, le=10_000, allow_inf_nan=False,
                                description="iterations per second (0: as fast as it goes)")
    dstar: bool | None = Field(None, description="compute the D* overlay (costly in 2-D: only while shown)")


def clean(v):
    """JSON-safe: non-finite floats become null (JSON has no NaN)."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    return v


def sse(obj) -> bytes:
    return f"data: {json.dumps(clean(obj), separators=(',', ':'))}\n\n".encode()


def settings_422(e: ValidationError) -> HTTPException:
    msg = "; ".join(f"{'.'.join(str(x) for x in err['loc']) or 'settings'}: {err['msg']}" for err in e.errors())
    return HTTPException(422, msg)


class Lab:
    """The sessions of one server, keyed by id and by (tab, slot)."""

    def __init__(self, max_sessions: int = 8, max_steps: int = 20_000, idle_timeout: float = 20.0, fps: float = 12.0):
        self.max_sessions, self.max_steps, self.idle_timeout, self.fps = max_sessions, max_steps, idle_timeout, fps
        self.sessions: dict[str, LabSession] = {}
        self.by_tab: dict[tuple[str, str], str] = {}
        self.lock, self.create_lock = threading.Lock(), threading.Lock()

    def _forget(self, session: LabSession):
        with self.lock:
            for key, sid in list(self.by_tab.items()):
                if self.sessions.get(sid) is session:
                    del self.by_tab[key]
            for sid, s in list(self.sessions.items()):
                if s is session:
                    del self.sessions[sid]

    def create(self, tab: str, slot: str, settings: LabSettings) -> tuple[str, LabSession]:
        with self.create_lock:  # one at a time: two quick resets of a tab leave one run, not two
            return self._create(tab, slot, settings)

    def _create(self, tab: str, slot: str, settings: LabSettings) -> tuple[str, LabSession]:
        old = self.by_tab.get((tab, slot))
        if old in self.sessions:  # a tab runs one session per slot: the new settings replace the old run
            self.close(old)
        with self.lock:
            if len(self.sessions) >= self.max_sessions:
                raise HTTPException(503, f"the lab is at its limit of {self.max_sessions} running sessions; "
                                         f"close a tab or retry shortly", headers={"Retry-After": "5"})
            sid = secrets.token_urlsafe(12)
            self.sessions[sid] = None  # reserved while building
        try:
            s = LabSession(settings, self.max_steps, self.fps, self.idle_timeout, on_close=self._forget)
        except GankitError as e:
            with self.lock:
                self.sessions.pop(sid, None)
            raise HTTPException(422, f"settings: {e}") from None
        except BaseException:
            with self.lock:
                self.sessions.pop(sid, None)
            raise
        with self.lock:
            self.sessions[sid], self.by_tab[(tab, slot)] = s, sid
        return sid, s

    def get(self, sid: str) -> LabSession:
        s = self.sessions.get(sid)
        if s is None:
            raise HTTPException(404, f"no lab session {sid!r} (it ended, or was replaced); start a new one")
        return s

    def close(self, sid: str):
        s = self.sessions.get(sid)
        if s is not None:
            s.close()
            self._forget(s)

    def close_all(self):
        for sid in list(self.sessions):
            self.close(sid)


def options(lab: Lab) -> dict:
    return {"data": list(DATA), "data_1d": list(DATA_1D), "losses": OBJECTIVES.names(),
            "defaults": LabSettings().model_dump(exclude={"points"}),
            "limits": {"max_sessions": lab.max_sessions, "max_steps": lab.max_steps, "max_points": 5000}}


def add_lab_routes(app: FastAPI, lab: Lab, page: str = "/lab") -> None:
    """The lab's API under ``/api/lab`` and its page at ``page`` (static files under ``/lab/static``)."""
    static = {n: (resources.files(__package__) / "static" / n).read_bytes() for n in STATIC}
    app.state.lab = lab

    @app.get(page, include_in_schema=False)
    async def lab_page():
        return Response(static["lab.html"], media_type=STATIC["lab.html"])

    @app.get("/lab/static/{name}", include_in_schema=False)
    async def lab_static(name: str):
        if name not in static:
            raise HTTPException(404, f"no static file {name!r}")
        return Response(static[name], media_type=STATIC[name])

    @app.get("/api/lab/options", tags=["lab"])
    async def lab_options():
        """Data sets, objectives, default settings and the server's limits."""
        return options(lab)

    @app.post("/api/lab/sessions", status_code=201, tags=["lab"])
    async def new_session(body: NewSession):
        """Start a (paused) run with ``settings``; it replaces this tab's run in the same slot."""
        try:
            settings = LabSettings(**body.settings)
        except ValidationError as e:
            raise settings_422(e) from None
        if settings.steps > lab.max_steps and "steps" in body.settings:  # the default is capped
            raise HTTPException(422, f"steps: at most {lab.max_steps} on this server (got {settings.steps})")
        sid, s = await asyncio.to_thread(lab.create, body.tab, body.slot, settings)
        return {"id": sid, "stream": f"/api/lab/sessions/{sid}/stream", "query": settings.query(), **s.state()}

    @app.post("/api/lab/sessions/{sid}/control", tags=["lab"])
    async def control(sid: str, body: Control):
        """play / pause / step (k D steps + 1 G step) / d_step / g_step, and the speed; returns the state after."""
        fut = lab.get(sid).control(body.action, body.speed, body.dstar)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), 30)
        except RuntimeError as e:
            raise HTTPException(409, str(e)) from None

    @app.get("/api/lab/sessions/{sid}", tags=["lab"])
    async def session_state(sid: str):
        """The hello message (settings, data, history) with the latest frame."""
        return JSONResponse(clean(lab.get(sid).hello()))

    @app.delete("/api/lab/sessions/{sid}", status_code=204, tags=["lab"])
    async def end_session(sid: str):
        await asyncio.to_thread(lab.close, sid)
        return Response(status_code=204)

    @app.post("/api/lab/sessions/{sid}/end", status_code=204, include_in_schema=False)
    async def end_beacon(sid: str):  # navigator.sendBeacon can only POST
        await asyncio.to_thread(lab.close, sid)
        return Response(status_code=204)

    @app.get("/api/lab/sessions/{sid}/stream", tags=["lab"])
    async def stream(sid: str, request: Request):
        """Server-Sent Events: a ``hello``, then each new frame (latest only: a slow viewer skips frames, and
        then gets the history in full again)."""
        s = lab.get(sid)

        async def events():
            s.clients += 1
            try:
                yield sse(s.hello())
                seen = s.seq
                while s.alive and not getattr(app.state, "lab_closing", False):
                    if await request.is_disconnected():
                        return
                    if s.seq != seen:
                        skipped, seen, frame = s.seq - seen > 1, s.seq, s.frame
                        if skipped:
                            yield sse({**frame, "history_tail": s.history, "stride": s.stride, "full": True})
                        else:  # encoded once per frame, for every viewer
                            cached = getattr(s, "_sse", None)
                            if cached is None or cached[0] is not frame:
                                cached = s._sse = (frame, sse(frame))
                            yield cached[1]
                    await asyncio.sleep(0.02)
                yield sse({"type": "end", **s.state()})
            finally:
                s.clients -= 1
                s.last_seen = time.monotonic()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def create_lab_app(max_sessions: int = 8, max_steps: int = 20_000, idle_timeout: float = 20.0,
                   fps: float = 12.0) -> FastAPI:
    """The standalone lab (``gankit lab``): the page at ``/`` and ``/lab``."""
    lab = Lab(max_sessions, max_steps, idle_timeout, fps)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        app.state.lab_closing = True  # open streams end, then every run stops
        await asyncio.to_thread(lab.close_all)

    app = FastAPI(title="gankit lab", version="1", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Watch a GAN learn, live (after GAN Lab, Kahng et al. 2018).")
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(_SecurityHeaders)
    add_lab_routes(app, lab)

    @app.get("/", include_in_schema=False)
    async def index():
        return Response((resources.files(__package__) / "static" / "lab.html").read_bytes(),
                        media_type=STATIC["lab.html"])

    return app
