import contextlib
import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit import TrainConfig

# `gankit train` measures the model after training (an evaluator trained once per dataset); tests that
# want it pass --eval, the rest stay fast. Set here so that subprocesses inherit it too.
os.environ.setdefault("GANKIT_TRAIN_EVAL", "0")

# Tiny models are fastest single-threaded, and a busy 2-core machine punishes thread oversubscription.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")  # what `gankit train --threads 0` (auto) honours, here and in subprocesses

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def tiny(**overrides) -> TrainConfig:
    """A config small enough to train a few steps in well under a second."""
    base = dict(data="digits", image_size=8, z_dim=8, g_width=8, d_width=8, g_hidden=[32], d_hidden=[32],
                batch_size=16, steps=3, log_every=1, n_samples=16, tensorboard=False, progress=False,
                device="cpu")
    base.update(overrides)
    return TrainConfig(**base).validate()


@pytest.fixture
def tiny_config():
    return tiny


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def fake_mnist(tmp_path):
    """A torchvision-layout MNIST root with a 64-image test split and 96-image train split."""
    rng = np.random.default_rng(0)
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    for prefix, n in (("t10k", 64), ("train", 96)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return tmp_path / "mnist"


def serve_in_thread(app):
    """Run ``app`` with uvicorn on a free loopback port in a daemon thread; a generator yielding its
    base URL, for module fixtures of the browser tests (``yield from serve_in_thread(app)``)."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()


#: Debian's Chromium, driven by the playwright package (both installed by .ci/run; no browser download)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def headless_page(origin: str, **page_options):
    """A page in headless Chromium for the browser tests: yields ``(browser, page, errors, foreign)``, the
    page's console errors and uncaught exceptions collected in ``errors`` and every request that leaves
    ``origin`` (no CDN, no network) in ``foreign``. Missing playwright or Chromium fails the test in one line."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing; .ci/run installs it (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium (apt-get install chromium)")
    errors, foreign = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(**page_options)
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: None if r.url.startswith((origin, "blob:", "data:")) else foreign.append(r.url))
            yield browser, page, errors, foreign
        finally:
            browser.close()
