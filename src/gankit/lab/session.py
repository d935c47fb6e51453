"""One live lab run: the project's Trainer stepped in a background thread, and the frames it streams.

The thread alone touches the trainer: controls (play, pause, one D step, one G step, speed) reach it
through a queue, and it publishes a frame, computed once for every viewer, a few times a second.
A frame holds what GAN Lab (Kahng et al. 2018) draws and more: real and generated points, D over the
plane (the heat map), each fake point's arrow -∇ℓ_G (the direction G's loss moves it), G's image of a
z-grid (the manifold), losses / D outputs / gradient norms, the toy mode metrics, and D* =
p_data / (p_data + p_g) (Goodfellow et al. 2014, Prop. 1) where p_data is known in closed form; for 1-D
data, the four panels of that paper's Figure 1 for the latest iteration of Algorithm 1 (:class:`Figure1`).
"""
from __future__ import annotations

import base64
import copy
import math
import queue
import tempfile
import threading
import time
from concurrent.futures import Future

import numpy as np
import torch

from ..data.toy import TOY_MODES
from ..metrics.modes import toy_mode_metrics
from ..models import pack
from ..models.layers import evaluating, source_logits
from ..training import Trainer
from .settings import LabSettings, data_density, make_data, train_config

N_FAKE, N_METRIC, N_REAL, HEAT, N_KDE, N_MAP = 1000, 2500, 1000, 48, 300, 25
HISTORY = 600  # rows kept; beyond, every other row goes and the recording stride doubles
COUNTING_RULE = ("a sample is high quality within 3σ of its nearest centre; a mode is captured when at least "
                 "one high-quality sample is nearest to it (Srivastava et al. 2017; Lin et al. 2018's code); "
                 "strict: at least ceil(N/(5M)) of them (gankit's stricter count)")


def b64(a) -> str:
    """float32 little-endian bytes in base64 (the page reads them as a Float32Array)."""
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


def unb64(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f4")


# ---------------------------------------------------------------------------------------- what a frame shows
def d_values(trainer, x: torch.Tensor, D=None) -> torch.Tensor:
    """D's report on each row of x (sigmoid probability, or the critic's value), in eval mode. With
    PacGAN packing m > 1, D judges m copies of each x. ``D``: another copy of the discriminator."""
    m, D = trainer.cfg.pack, trainer.D if D is None else D
    with evaluating(D):
        return trainer.objective.d_output(source_logits(D(pack(x.repeat_interleave(m, 0), m))).float())


def g_arrows(trainer, fake: torch.Tensor) -> torch.Tensor:
    """-∇_{x_i} ℓ_G for each fake point x_i, ℓ_G = N · objective.g_loss(D(x_1..x_N)): the gradient of G's
    loss with respect to the point (G's weights move so as to move x_i along it)."""
    m = trainer.cfg.pack
    x = fake.detach().clone().requires_grad_(True)
    with evaluating(trainer.D), torch.enable_grad():
        loss = trainer.objective.g_loss(source_logits(trainer.D(pack(x, m))).float()) * (len(x) // m)
        (grad,) = torch.autograd.grad(loss, x)
    return -grad


def kde_logpdf(samples: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log of a Gaussian kernel density estimate of ``samples`` at ``x`` (both (N, d)), Scott's rule:
    covariance = sample covariance · n^(-2/(d+4)), as scipy.stats.gaussian_kde."""
    s, x = np.asarray(samples, np.float64), np.asarray(x, np.float64)
    n, d = s.shape
    cov = np.atleast_2d(np.cov(s.T)) * n ** (-2 / (d + 4)) + 1e-12 * np.eye(d)
    chol = np.linalg.cholesky(np.linalg.inv(cov))  # whitening: (a-b)' cov^-1 (a-b) = |(a-b) L|^2
    q = torch.cdist(torch.from_numpy(x @ chol), torch.from_numpy(s @ chol)).square_()
    logdet = np.linalg.slogdet(cov)[1]
    q = q.mul_(-0.5)  # log-sum-exp; terms below e^-700 of a row's largest are dropped (exp's slow underflow path)
    m = q.amax(1, keepdim=True)
    lse = (m[:, 0] + q.sub_(m).clamp_(min=-700.0).exp_().sum(1).log_()).numpy()
    return lse - math.log(n) - 0.5 * (logdet + d * math.log(2 * math.pi))


def optimal_d(log_pd: np.ndarray, log_pg: np.ndarray) -> np.ndarray:
    """D* = p_data / (p_data + p_g) (Goodfellow et al. 2014, Proposition 1), in log space."""
    return np.exp(log_pd - np.logaddexp(log_pd, log_pg))


def view_box(x: torch.Tensor, dim: int) -> list[float]:
    """The plotted extent: the data's 0.5..99.5% range, padded by 30% (1-D: [lo, hi, 0, 1])."""
    lo, hi = np.quantile(x.numpy(), [0.005, 0.995], axis=0)
    pad = 0.3 * (hi - lo) + 0.5
    lo, hi = lo - pad, hi + pad
    if dim == 1:
        return [float(lo[0]), float(hi[0]), 0.0, 1.0]
    c, r = (lo + hi) / 2, (hi - lo).max() / 2  # square
    return [float(c[0] - r), float(c[0] + r), float(c[1] - r), float(c[1] + r)]


def grid_points(box: list[float], dim: int, n: int = HEAT) -> torch.Tensor:
    """Cell centres of the heat map: n x n (row-major, y from top to bottom) or n*4 along the line."""
    if dim == 1:
        k = 4 * n
        return torch.tensor(box[0] + (np.arange(k) + 0.5) / k * (box[1] - box[0]), dtype=torch.float32)[:, None]
    xs = box[0] + (np.arange(n) + 0.5) / n * (box[1] - box[0])
    ys = box[3] - (np.arange(n) + 0.5) / n * (box[3] - box[2])
    gx, gy = np.meshgrid(xs, ys)
    return torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)


def z_grid(z_dim: int, lines: int = 11, per_line: int = 25) -> torch.Tensor:
    """Polylines of a grid in z-space over [-2.5, 2.5]² (first two coordinates; the rest 0):
    ``lines`` horizontal then ``lines`` vertical ones, ``per_line`` points each; 1-D: one line."""
    t = torch.linspace(-2.5, 2.5, per_line)
    if z_dim == 1:
        return t[:, None]
    c = torch.linspace(-2.5, 2.5, lines)
    h = torch.stack([t.repeat(lines), c.repeat_interleave(per_line)], 1)
    z = torch.cat([h, h.flip(1)])
    return torch.cat([z, torch.zeros(len(z), z_dim - 2)], 1)


def z_quantiles(z_dim: int, n: int = N_MAP) -> torch.Tensor:
    """The z's of Figure 1's mapping lines: the n quantiles Φ⁻¹((i + ½)/n) of N(0, 1) along z's first
    axis (the rest 0), so that each line carries 1/n of G's mass (the paper's z is uniform, its lines
    evenly spaced): where the lines' ends bunch up on x, p_g is high."""
    q = torch.special.ndtri((torch.arange(n, dtype=torch.float64) + 0.5) / n).float()
    return torch.cat([q[:, None], torch.zeros(n, z_dim - 1)], 1)


class Figure1:
    """The four panels of Goodfellow et al. 2014, Figure 1, live, for the latest iteration of Algorithm 1
    (k D steps, then one G step): (a) G and D before the iteration's D steps; (b) after them (the same G,
    D updated towards D* = p_data/(p_data + p_g)); (c) after its G step (G now; D as in (b), but for
    spectral norm's power iteration, which a G step's pass through D advances); (d) the equilibrium
    reference: the current p_g against p_data with its D*, and D = 1/2, where D* lies once p_g = p_data
    (Prop. 1, Thm. 1). Until the iteration's G step is done (after single D steps), (b) is D now and (c)
    is pending.

    Cheap while training: a copy of G's and D's tensors as each iteration begins (before its first D
    step, or a G step with none before it) and of D's before its G step; the panels are computed from
    them only when a frame is made."""

    def __init__(self, G: torch.nn.Module, D: torch.nn.Module):
        self.G, self.D, self.D_after = (copy.deepcopy(m).eval().requires_grad_(False) for m in (G, D, D))
        tensors = lambda m: [*m.parameters(), *m.buffers()]  # noqa: E731
        self._g, self._d = (tensors(m) for m in (G, D))
        self._G, self._D, self._D_after = (tensors(m) for m in (self.G, self.D, self.D_after))
        self.step = self.d_steps = 0

    @torch.no_grad()
    def begin(self, step: int, d_steps: int):
        """An iteration begins: keep G and D as they are now."""
        torch._foreach_copy_(self._G + self._D, [t.detach() for t in self._g + self._d])
        self.step, self.d_steps = step, d_steps

    @torch.no_grad()
    def before_g_step(self):
        """The iteration's D steps are done: keep D as it is now."""
        torch._foreach_copy_(self._D_after, [t.detach() for t in self._d])


# ---------------------------------------------------------------------------------------- the session
class LabSession:
    """A lab run in its own thread; ``control(action)`` returns a Future of the resulting state."""

    def __init__(self, settings: LabSettings, steps_cap: int = 20_000, fps: float = 12.0,
                 idle_timeout: float = 20.0, on_close=None):
        self.settings, self.fps, self.idle_timeout, self.on_close = settings, fps, idle_timeout, on_close
        self.cfg = train_config(settings, steps_cap)
        self.tmp = tempfile.TemporaryDirectory(prefix="gankit-lab-")
        data = make_data(settings)
        self.trainer = Trainer(self.cfg, f"{self.tmp.name}/run", data=data)
        self.dim = settings.dim
        g = torch.Generator().manual_seed(settings.seed + 7)
        self.real = data.x[torch.randperm(len(data.x), generator=g)[:N_REAL]]
        self.z_fixed = torch.randn(N_METRIC, self.cfg.z_dim, generator=g)
        self.z_lines = z_grid(self.cfg.z_dim)
        self.box = view_box(data.x, self.dim)
        self.grid = grid_points(self.box, self.dim)
        self.log_pd = data_density(settings)
        self.log_pd_grid = None if self.log_pd is None else self.log_pd(self.grid.numpy())
        self.modes = TOY_MODES.get(settings.data)
        self.fig1 = Figure1(self.trainer.G, self.trainer.D) if self.dim == 1 else None
        self.z_map = z_quantiles(self.cfg.z_dim)
        self.d_steps = self.g_steps = 0
        self.k_done = 0  # D steps since the last G step (Algorithm 1's inner loop)
        self.running, self.speed, self.status, self.error = False, 0.0, "paused", None
        self.dstar = False  # compute the D* overlay (2-D: only while a viewer shows it)
        self.history: list[list[float]] = []
        self.stride = 1
        self._last = [math.nan] * 6  # d_loss, g_loss, d_real, d_fake, |grad D|, |grad G|
        self.frame: dict | None = None
        self.seq = 0
        self.clients, self.last_seen = 0, time.monotonic()
        self.t_rate, self.n_rate, self.rate = time.perf_counter(), 0, 0.0
        self._q: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._publish()
        self.thread = threading.Thread(target=self._loop, name="gankit-lab", daemon=True)
        self.thread.start()

    # -------------------------------------------------------------- steps
    @staticmethod
    def _grad_norm(module) -> float:
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        return float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))) if grads else math.nan

    def _iteration_begins(self):
        if self.fig1 is not None and self.k_done == 0:
            self.fig1.begin(self.g_steps, self.d_steps)

    def d_step(self):
        self._iteration_begins()
        loss, d_real, d_fake = self.trainer.d_step()
        self.d_steps += 1
        self.k_done += 1
        self._last[0], self._last[2], self._last[3] = float(loss), float(d_real), float(d_fake)
        self._last[4] = self._grad_norm(self.trainer.D)

    def g_step(self):
        self._iteration_begins()
        if self.fig1 is not None:
            self.fig1.before_g_step()
        loss = self.trainer.g_step()
        self.g_steps += 1
        self.k_done = 0
        self.trainer.step = self.g_steps
        self._last[1], self._last[5] = float(loss), self._grad_norm(self.trainer.G)
        if self.g_steps % self.stride == 0:
            self.history.append([self.g_steps, *self._last])
            if len(self.history) > HISTORY:
                self.history, self.stride = self.history[1::2], self.stride * 2
        if not all(math.isfinite(v) for v in self._last[:4]):
            self.running, self.status = False, "diverged"
            self.error = f"training diverged at step {self.g_steps} (non-finite loss); lower the learning rates"

    def iteration(self):
        """Algorithm 1, one outer iteration: the remaining of k = n_critic D steps, then one G step."""
        while self.k_done < self.cfg.n_critic:
            self.d_step()
        self.g_step()

    @property
    def done(self) -> bool:
        return self.g_steps >= self.cfg.steps

    # -------------------------------------------------------------- the thread
    def _apply(self, action: str, speed: float | None, dstar: bool | None = None):
        if speed is not None:
            self.speed = speed
        if dstar is not None:
            self.dstar = dstar
        if action == "play" and not self.done and self.status != "diverged":
            self.running, self.status = True, "running"
        elif action == "pause":
            self.running = False
            self.status = "paused" if self.status == "running" else self.status
        elif action in ("d_step", "g_step", "step") and not self.done and self.status != "diverged":
            self.running, self.status = False, "paused"
            {"d_step": self.d_step, "g_step": self.g_step, "step": self.iteration}[action]()
        if self.done and self.status != "diverged":
            self.running, self.status = False, "done"

    def _loop(self):
        next_frame = time.perf_counter()
        try:
            while not self._stop.is_set():
                block = not self.running
                try:
                    action, speed, dstar, fut = self._q.get(timeout=0.05) if block else self._q.get_nowait()
                    try:
                        self._apply(action, speed, dstar)
                        self._publish()
                        fut.set_result(self.state())
                    except Exception as e:  # noqa: BLE001 - reported to the caller
                        fut.set_exception(e)
                    continue
                except queue.Empty:
                    pass
                if self.clients == 0 and time.monotonic() - self.last_seen > self.idle_timeout:
                    break  # the page went away
                if not self.running:
                    continue
                t0 = time.perf_counter()
                self.iteration()
                self.n_rate += 1
                if self.done:
                    self.running, self.status = False, "done"
                now = time.perf_counter()
                if now >= next_frame or not self.running:
                    self._publish()
                    end = time.perf_counter()  # frames take at most half the time: training goes on
                    next_frame = end + max(1 / self.fps - (end - now), end - now)
                if self.speed > 0:  # throttle to `speed` iterations a second
                    time.sleep(max(0.0, 1 / self.speed - (time.perf_counter() - t0)))
        except Exception as e:  # noqa: BLE001 - shown on the page
            self.running, self.status, self.error = False, "error", f"{type(e).__name__}: {e}"
            self._publish()
        finally:
            self._stop.set()
            self._drain()
            if self.on_close:
                self.on_close(self)

    def _drain(self):
        while True:
            try:
                *_, fut = self._q.get_nowait()
            except queue.Empty:
                return
            fut.set_exception(RuntimeError("this lab session has ended"))

    def control(self, action: str, speed: float | None = None, dstar: bool | None = None) -> Future:
        fut: Future = Future()
        if self._stop.is_set():
            fut.set_exception(RuntimeError("this lab session has ended"))
        else:
            self._q.put((action, speed, dstar, fut))
            if self._stop.is_set():
                self._drain()
        return fut

    def close(self):
        self._stop.set()
        if threading.current_thread() is not self.thread:
            self.thread.join(10)
        self.tmp.cleanup()

    @property
    def alive(self) -> bool:
        return not self._stop.is_set()

    # -------------------------------------------------------------- frames
    def state(self) -> dict:
        return {"step": self.g_steps, "d_steps": self.d_steps, "k_done": self.k_done, "n_critic": self.cfg.n_critic,
                "steps": self.cfg.steps, "status": self.status, "error": self.error, "speed": self.speed,
                "steps_per_s": round(self.rate, 1), "dstar": self.dstar}

    def hello(self) -> dict:
        """What does not change during a run, and the whole history so far."""
        return {"type": "hello", "settings": self.settings.model_dump(exclude={"points"}),
                "query": self.settings.query(), "dim": self.dim, "box": self.box, "heat_n": HEAT,
                "real": b64(self.real), "has_dstar": self.log_pd is not None,
                "data_density": None if self.log_pd_grid is None else b64(np.exp(self.log_pd_grid)),
                "modes": None if self.modes is None else {"centres": self.modes[0]().tolist(), "std": self.modes[1],
                                                         "rule": COUNTING_RULE},
                "history": self.history, "stride": self.stride,
                "fig1_z": None if self.fig1 is None else b64(self.z_map[:, 0]),
                "probabilistic": self.trainer.objective.probabilistic, "frame": self.frame}

    @torch.no_grad()
    def compute_frame(self) -> dict:
        t = self.trainer
        with evaluating(t.G):
            fake_all = t.G(self.z_fixed).float()
            manifold = t.G(self.z_lines).float()
        fake = fake_all[:N_FAKE]
        heat = d_values(t, self.grid)
        arrows = g_arrows(t, fake)
        f = {"type": "frame", **self.state(), "fake": b64(fake), "arrows": b64(arrows), "heat": b64(heat),
             "manifold": b64(manifold), "d_fake_mean": float(d_values(t, fake).mean()),
             "d_real_mean": float(d_values(t, self.real).mean()), "last": self._last,
             "history_tail": [r for r in self.history if r[0] > (self.frame or {}).get("step", -1)]}
        if self.log_pd is not None and (self.dstar or self.dim == 1):  # the KDE is costly: when shown
            log_pg = kde_logpdf(fake[:N_KDE].numpy(), self.grid.numpy())
            f["dstar"], f["p_g"] = b64(optimal_d(self.log_pd_grid, log_pg)), b64(np.exp(log_pg))
        if self.fig1 is not None:
            f["fig1"] = self.figure1_frame(heat)
        if self.modes is not None:
            f["metrics"] = toy_mode_metrics(fake_all, self.modes[0](), self.modes[1])
        now = time.perf_counter()
        if now - self.t_rate > 0.5:
            self.rate, self.t_rate, self.n_rate = self.n_rate / (now - self.t_rate), now, 0
        return f

    @torch.no_grad()
    def figure1_frame(self, heat: torch.Tensor) -> dict:
        """What Figure 1's panels need beyond the frame's own D (``heat``), p_g and D* (the state now):
        x = G(z) for hello's ``fig1_z`` now and before the iteration; D, p_g and D* before it; D after its
        D steps (D now while its G step is pending)."""
        t, fig, grid = self.trainer, self.fig1, self.grid.numpy()
        pending = self.k_done > 0
        log_pg = kde_logpdf(fig.G(self.z_fixed[:N_KDE]).float().numpy(), grid)
        with evaluating(t.G):
            gz_now = t.G(self.z_map).float()
        return {"pending": pending, "before": {"step": fig.step, "d_steps": fig.d_steps},
                "gz": b64(gz_now), "gz_before": b64(fig.G(self.z_map).float()),
                "d_before": b64(d_values(t, self.grid, fig.D)), "p_g_before": b64(np.exp(log_pg)),
                "dstar_before": b64(optimal_d(self.log_pd_grid, log_pg)),
                "d_after_d": b64(heat if pending else d_values(t, self.grid, fig.D_after))}

    def _publish(self):
        self.frame = self.compute_frame()
        self.seq += 1
