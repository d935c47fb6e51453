"""The one training loop: Algorithm 1 of Goodfellow et al. 2014 for every model and objective.

Each generator step is preceded by ``n_critic`` (k) discriminator steps, each on a fresh minibatch
of data and noise; the generator step draws fresh noise too. Objectives, regularisers and models
are plugged in by name; the game (``games.py``), built with the modules, returns each loss as named
terms (the objective's, then the regularisers': AC-GAN's class loss, gradient penalty, R1).
"""
from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import torch

from ..config import TrainConfig
from ..data import EpochSampler, TensorData, training_data
from ..errors import GankitError
from ..losses import build_objective
from ..distributed import setup_distributed, wrap_ddp
from ..models import build_models
from ..models.layers import evaluating
from ..runs import Run
from ..utils.io import load_weights
from . import checkpoint as ckpt
from .ema import EMA
from .games import autocast_factory, build_game, input_format, total
from .logger import RunLogger
from .optim import make_optimizer
from .progress import Progress

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GankitError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GankitError(f"device {name!r} requested but CUDA is not available; use --device cpu")
    return device


#: oneDNN instruction-set caps (``ONEDNN_MAX_CPU_ISA``) below which it emulates bf16
NO_BF16_ISAS = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively: a CUDA GPU with bf16, or a CPU with AMX tiles or
    AVX512-BF16 that oneDNN may use (not capped by ``ONEDNN_MAX_CPU_ISA`` below them; elsewhere oneDNN
    emulates bf16, many times slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)  # pre-Ampere GPUs emulate it
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", "")).upper()
    if device.type == "cpu" and cap in NO_BF16_ISAS:
        return False
    if device.type == "cpu":
        cpu = torch.cpu
        return bool(getattr(cpu, "_is_amx_tile_supported", lambda: False)()
                    or getattr(cpu, "_is_avx512_bf16_supported", lambda: False)())
    return False


#: model families that ``--amp auto`` trains in fp32 on a CPU: bf16 measured no faster there (docs/benchmarks.md,
#: "bf16 as the default?"), so it would change their numbers for nothing (r3gan left this list when its
#: depthwise layers stopped running in bf16: 1.6x faster, no significant FD difference over 3 seeds)
AUTO_FP32_ON_CPU = ("cyclegan",)


def resolve_amp(amp: str, device: torch.device, cfg: TrainConfig | None = None, kind: str = "image") -> str:
    """``--amp auto`` (the default): bf16 where :func:`native_bf16`, for image data (``kind``) and, on a
    CPU, for models other than :data:`AUTO_FP32_ON_CPU` (``cfg``: the run's config); else none. Any other
    choice is returned unchanged."""
    if amp != "auto":
        return amp
    family = None if cfg is None else (cfg.backbone if cfg.model in ("cgan", "acgan") else cfg.model)
    slow = device.type == "cpu" and family in AUTO_FP32_ON_CPU
    return "bf16" if native_bf16(device) and kind == "image" and not slow else "none"


def resolve_precision(cfg: TrainConfig, device: torch.device, kind: str) -> dict:
    """The ``amp`` and ``channels_last`` a new run of ``cfg`` trains with: :func:`resolve_amp`, and bf16
    brings channels-last with it."""
    amp = resolve_amp(cfg.amp, device, cfg, kind)
    return {"amp": amp, "channels_last": cfg.channels_last or (cfg.amp == "auto" and amp == "bf16")}


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {"torch": torch.get_rng_state(), "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)),
             "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
             "python": [py_state[0], list(py_state[1]), py_state[2]]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    v, internal, gauss = state["python"]
    random.setstate((v, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """Builds data, models, objective and optimisers from a config and trains them in ``run_dir``."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, data: TensorData | None = None,
                 resume: bool = False, overwrite: bool = False):
        self.cfg, self.run = cfg, Run(run_dir)
        self.run_dir = self.run.path
        self._lock = None
        try:
            self._setup(cfg, data, resume, overwrite)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the run's lock (``train()`` does when it returns or raises)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _setup(self, cfg: TrainConfig, data: TensorData | None, resume: bool, overwrite: bool) -> None:
        self.dist, self.device = setup_distributed(resolve_device(cfg.device))
        if cfg.threads:  # 0: leave torch's setting (the CLI resolves 0 to a count: utils/threads.py)
            torch.set_num_threads(cfg.threads)
        # refuse before doing any work: a missing run, an existing one, one another process trains
        self.run.check_resumable() if resume else self.run.check_new(overwrite)
        if cfg.amp == "auto" and resume:  # the run's config records what ran: a resume keeps it, on any machine
            recorded = self.run.config()
            cfg = self.cfg = cfg.replace(amp=recorded.amp, channels_last=recorded.channels_last or cfg.channels_last)
            if cfg.amp == "bf16" and not native_bf16(self.device):
                log.warning("warning: this run trains in bf16 (chosen by --amp auto where it started), which %s "
                            "emulates, many times slower than fp32; a run keeps its precision on resume",
                            self.device)
        self._changes = self.run.resume_changes(cfg) if resume else {}
        self._created = False  # this invocation made the run folder (removed again if nothing is saved)
        if self.dist.is_main and self.run.path.is_dir():
            self._lock = self.run.lock()
            if resume:
                ckpt.recover(self.run)  # finish or undo what a kill interrupted; drop its temp files
        self.dist.barrier()
        seed_everything(cfg.seed)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=False)
        data = data if data is not None else training_data(cfg)  # --train-subset: its subset
        self.spec = data.spec
        if cfg.amp == "auto":  # a new run: bf16 + channels-last where native and measured no worse
            chosen = resolve_precision(cfg, self.device, self.spec.kind)
            if self.dist.any(chosen["amp"] != "bf16"):  # torchrun: bf16 only where every rank has it natively
                chosen = resolve_precision(cfg.replace(amp="none"), self.device, self.spec.kind)
            cfg = self.cfg = cfg.replace(**chosen)
        self.data = data.to(self.device)
        self.G, self.D = (m.to(self.device) for m in build_models(cfg, self.spec))
        if self.dist.enabled and cfg.sync_bn:
            if self.device.type != "cuda":
                raise GankitError("--sync-bn works on CUDA devices only (PyTorch's SyncBatchNorm); drop it on CPU, "
                                  "where each process normalises its own slice of the batch")
            self.G, self.D = (torch.nn.SyncBatchNorm.convert_sync_batchnorm(m) for m in (self.G, self.D))
        if cfg.channels_last and self.spec.kind == "image":
            self.G, self.D = (m.to(memory_format=torch.channels_last) for m in (self.G, self.D))
        # What the update steps call: DDP wrappers (gradients all-reduced), compiled if asked.
        # Checkpoints, EMA and sampling use the plain modules self.G / self.D.
        self.G_train, self.D_train = (wrap_ddp(m, self.dist, self.device) for m in (self.G, self.D))
        if cfg.compile:
            self.G_train, self.D_train = torch.compile(self.G_train), torch.compile(self.D_train)
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.amp)
        self.autocast = autocast_factory(self.device.type, self.autocast_dtype)
        self.inputs = input_format(cfg.channels_last)
        self.scaler_d, self.scaler_g = (torch.amp.GradScaler(self.device.type, enabled=cfg.amp == "fp16")
                                        for _ in range(2))
        self.objective = build_objective(cfg.loss, cfg.clip_value)
        # The game gets the modules it computes with, never the trainer.
        self.game = build_game(cfg, G=self.G, D=self.D, G_train=self.G_train, D_train=self.D_train,
                               objective=self.objective, autocast=self.autocast, inputs=self.inputs,
                               part=self.dist.slice, device=self.device)
        if self.game.needs_pairs != hasattr(data, "paired"):
            raise GankitError(f"--model {cfg.model} cannot train on --data {cfg.data}: "
                              + ("it translates image pairs; use a paired/unpaired dataset such as edges2mnist"
                                 if self.game.needs_pairs else "that dataset holds image pairs for pix2pix/cyclegan"))
        self._batch = None
        self.opt_g = make_optimizer(cfg, self.G.parameters(), cfg.lr_generator)
        self.opt_d = make_optimizer(cfg, self.D.parameters(), cfg.lr_discriminator)
        self.ema = EMA(self.G, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.sampler = EpochSampler(len(self.data), cfg.batch_size, cfg.seed, self.device)
        g = torch.Generator().manual_seed(cfg.seed + 1)  # fixed evaluation noise, comparable across epochs
        self.fixed_z = torch.randn(cfg.n_samples, cfg.z_dim, generator=g).to(self.device)
        k = self.spec.num_classes if getattr(self.G, "num_classes", 0) else 0
        self.fixed_y = (torch.arange(cfg.n_samples) % k).to(self.device) if k else None
        self.step, self.epochs_seen, self.elapsed = 0, 0, 0.0
        self.lr_scale, self.rollbacks = 1.0, 0
        self._stats, self._count = torch.zeros(4, device=self.device), 0
        self.stop_requested = False
        self._saving = self._interrupted = False  # a second Ctrl-C waits for the checkpoint being written
        #: called as ``fn(trainer)`` after every generator step (analysis hooks; keep them cheap,
        #: reading device values only every so often to avoid host syncs).
        self.callbacks: list = []
        if cfg.steps:
            self.total_steps = cfg.steps
        else:
            self.total_steps = max(1, (cfg.epochs or 1) * self.sampler.batches_per_epoch // cfg.n_critic)
        if resume:
            self._restore()
            if self.dist.is_main:
                threads = self.run.meta().get("torch_threads")
                if threads is not None and threads != torch.get_num_threads() and self.device.type == "cpu":
                    log.warning("warning: this run was trained with %d torch thread(s) and resumes with %d: CPU "
                                "runs are bit-identical only at the same thread count (set OMP_NUM_THREADS=%d)",
                                threads, torch.get_num_threads(), threads)
                self.run.record_resume(cfg, self._changes, self.step, torch.get_num_threads())
        elif self.dist.is_main:  # everything is built: only now replace/create the run directory
            self.run.create(overwrite)
            self._created = True
            self._lock = self._lock or self.run.lock()
            self.run.write_config(cfg, self.spec.to_dict(), {"generator": self.G.network_config(),
                                                             "discriminator": self.D.network_config()},
                                  torch_threads=torch.get_num_threads())
        self.dist.barrier()
        self.logger = RunLogger(self.run_dir, cfg.tensorboard) if self.dist.is_main else None

    # ------------------------------------------------------------------ the two updates
    def d_step(self):
        """One discriminator update on a fresh minibatch (of data, and of noise in the game)."""
        self._batch = self.data.batch(self.dist.slice(self.sampler.next()), self.device)
        # (1) Update D: minimise the objective's D loss on D(x), D(G(z)), plus the regularisers' terms
        #     (gradient penalty, R1, AC-GAN's class loss L_C), each a named term of the game's
        terms, d_real, d_fake = self.game.d_loss(self._batch)
        loss = total(terms)
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler_d.scale(loss).backward()
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        self.objective.after_d_step(self.D)  # WGAN: clip D's weights
        return loss.detach(), d_real, d_fake

    def g_step(self):
        """One generator update through a frozen D (no weight gradients for D; the plain module,
        so no DDP bookkeeping)."""
        self.D.requires_grad_(False)
        # (2) Update G: minimise the objective's G loss on D(G(z)), plus the game's other terms
        #     (AC-GAN's L_C; pix2pix's L1; CycleGAN's cycle and identity losses)
        loss = total(self.game.g_loss(self._batch))
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler_g.scale(loss).backward()
        self.scaler_g.step(self.opt_g)
        self.scaler_g.update()
        self.D.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.G)
        return loss.detach()

    # ------------------------------------------------------------------ the loop
    def train(self) -> dict:
        try:
            return self._train()
        finally:
            self.close()

    def _train(self) -> dict:
        cfg = self.cfg
        main = self.dist.is_main
        bar = Progress(self.total_steps, self.step, enabled=cfg.progress and main, desc=f"{cfg.model}/{cfg.loss}",
                       images_per_step=cfg.batch_size * cfg.n_critic)
        previous = {s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        t0, start_step = time.perf_counter() - self.elapsed, self.step
        t_session = self._last_save = time.perf_counter()
        try:
            while self.step < self.total_steps:
                if cfg.lr_decay != "none":
                    self._set_lr()
                for _ in range(cfg.n_critic):
                    d_loss, d_real, d_fake = self.d_step()
                g_loss = self.g_step()
                self.step += 1
                self._stats += torch.stack([d_loss, g_loss, d_real, d_fake])  # on device: no host sync
                self._count += 1
                bar.update()
                for fn in self.callbacks:
                    fn(self)
                if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                    values = self._flush_stats()  # the one host sync, every log_every steps
                    if values is None:  # diverged and rolled back
                        bar.reset(self.step)
                        continue
                    bar.log(self.step, values)
                    values.update(self.game.scalars())
                    self.elapsed = time.perf_counter() - t0
                    if main:
                        self.logger.scalars(self.step, {**values, "epoch": self.sampler.epoch, "time": self.elapsed})
                epoch_end = self.sampler.epoch + int(self.sampler.cursor + cfg.batch_size > self.sampler.n)
                new_epoch, self.epochs_seen = epoch_end > self.epochs_seen, max(self.epochs_seen, epoch_end)
                if main and ((cfg.sample_every and self.step % cfg.sample_every == 0) or
                             (not cfg.sample_every and new_epoch)):
                    self.save_samples(f"step-{self.step:07d}")
                by_time = cfg.checkpoint_minutes and time.perf_counter() - self._last_save > 60 * cfg.checkpoint_minutes
                if by_time or (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or \
                        (not cfg.checkpoint_every and new_epoch):
                    self.elapsed = time.perf_counter() - t0
                    self.save()
                # signals: every step alone; across ranks, agreed at log steps (one collective)
                if (self.stop_requested or self.dist.enabled) and \
                        (not self.dist.enabled or self.step % cfg.log_every == 0):
                    self.stop_requested = self.dist.any(self.stop_requested)
                    if self.stop_requested:
                        break
            self.elapsed = time.perf_counter() - t0
            self.save()  # still under the handlers: a Ctrl-C now waits for the checkpoint
        finally:
            bar.close()
            for s, h in previous.items():
                signal.signal(s, h)
        self.dist.barrier()
        if not main:
            return {"steps": self.step, "rank": self.dist.rank, "stopped_early": self.stop_requested}
        if self.stop_requested:
            log.warning("stopped at step %d; continue with: gankit train --resume %s", self.step, self.run_dir)
        final = self.save_samples(f"step-{self.step:07d}")
        shutil.copyfile(final, self.run_dir / "samples.png")
        steps_run = self.step - start_step
        summary = {
            "config": self.cfg.to_dict(), "steps": self.step, "epochs": round(self.step * cfg.n_critic /
                                                                              self.sampler.batches_per_epoch, 2),
            "wall_time_s": round(self.elapsed, 1), "device": str(self.device),
            "stopped_early": self.stop_requested, "rollbacks": self.rollbacks, "threads": torch.get_num_threads(),
            # this session (after a resume: the resumed segment alone)
            "session_steps": steps_run, "session_s": round(time.perf_counter() - t_session, 1),
            # real images through D per second (n_critic batches per generator step)
            "images_per_s": round(steps_run * cfg.batch_size * cfg.n_critic /
                                  max(time.perf_counter() - t_session, 1e-9), 1),
        }
        files = self.logger.finish(self.run_dir / "samples.png", self.objective.probabilistic, summary)
        return {**summary, **{k: str(v) if v else None for k, v in files.items()},
                "report": str(self.run_dir / "report.md"), "run_dir": str(self.run_dir)}

    def _request_stop(self, signum, frame):
        if self.stop_requested:  # second Ctrl-C: stop now, or once the checkpoint being written is complete
            if self._saving:
                self._interrupted = True
                return
            raise KeyboardInterrupt
        self.stop_requested = True
        log.warning("signal %d: finishing the current step, saving, then stopping", signum)

    # ------------------------------------------------------------------ divergence guard
    def _flush_stats(self) -> dict | None:
        """Mean losses/D outputs since the last flush; on non-finite values, stop or roll back."""
        stats = self.dist.mean(self._stats / max(self._count, 1))
        values = dict(zip(("d_loss", "g_loss", "d_real", "d_fake"), stats.tolist()))
        self._stats.zero_()
        self._count = 0
        bad = [k for k, v in values.items() if not np.isfinite(v)]
        if not bad:
            return values
        self._diverged(f"non-finite {', '.join(bad)}")
        return None

    def lr_factor(self, step: int) -> float:
        """Multiplier of both learning rates for generator step ``step`` (0-based): 1, or with
        ``lr_decay: linear`` constant until ``lr_decay_start`` of the run, then linear towards 0."""
        if self.cfg.lr_decay == "none":
            return 1.0
        start = int(self.cfg.lr_decay_start * self.total_steps)
        return 1.0 if step < start else (self.total_steps - step) / (self.total_steps - start)

    def _set_lr(self) -> None:
        factor = self.lr_scale * self.lr_factor(self.step)
        for opt, lr in ((self.opt_g, self.cfg.lr_generator), (self.opt_d, self.cfg.lr_discriminator)):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def _weights_finite(self) -> bool:
        params = [p.detach() for m in (self.G, self.D) for p in m.parameters()]
        return bool(torch.stack([torch.isfinite(p).all() for p in params]).all())

    def _diverged(self, what: str) -> None:
        last = self.run.latest_checkpoint()
        if self.cfg.on_divergence == "rollback" and last is not None and self.rollbacks < self.cfg.max_rollbacks:
            self.rollbacks += 1
            bad_step = self.step
            self._restore(lr_scale=self.lr_scale * self.cfg.rollback_lr_factor)
            log.warning("training diverged at step %d (%s): rolled back to %s with learning rates x%g",
                        bad_step, what, last.name, self.lr_scale)
            return
        if last is None:
            if self._created and self.dist.is_main:  # nothing worth keeping: leave no half-made run behind
                self.run.remove()
            raise GankitError(f"training diverged at step {self.step} ({what}) before its first checkpoint, so "
                              f"nothing was saved{' and the run folder was removed' if self._created else ''}; "
                              f"start again with a lower --lr")
        raise GankitError(f"training diverged at step {self.step}: {what}; the last good checkpoint is "
                          f"{last}; resume it with a lower --lr (or use --on-divergence rollback)")

    # ------------------------------------------------------------------ outputs and state
    @torch.no_grad()
    def generate(self, *inputs) -> torch.Tensor:
        """G's output (from the EMA generator when there is one) in eval mode, without gradients."""
        G = self.ema.model if self.ema is not None else self.G
        with evaluating(G):
            return G(*inputs)

    def save_samples(self, name: str) -> Path:
        G = self.ema.model if self.ema is not None else self.G
        samples, extra = self.game.preview(G, self.data, self.fixed_z, self.fixed_y)
        return self.logger.samples(samples, name, self.step, **extra)

    def modules(self) -> dict:
        mods = {"generator": self.G, "discriminator": self.D}
        if self.ema is not None:
            mods["generator_ema"] = self.ema.model
        return mods

    def save(self) -> Path | None:
        """Checkpoint, unless the weights or the losses since the last log went non-finite."""
        pending_ok = self._count == 0 or bool(torch.isfinite(self._stats).all())
        if not (pending_ok and self._weights_finite()):
            self._diverged("non-finite weights or losses before a checkpoint")
            return None
        self._last_save = time.perf_counter()
        state = {"step": self.step, "epochs_seen": self.epochs_seen, "elapsed": self.elapsed,
                 "lr_scale": self.lr_scale, "rollbacks": self.rollbacks,
                 "sampler": self.sampler.state_dict(), "opt_g": self.opt_g.state_dict(),
                 "opt_d": self.opt_d.state_dict(), "rng": rng_state(),
                 "ema_updates": self.ema.updates if self.ema is not None else 0}
        state["scaler_d"], state["scaler_g"] = self.scaler_d.state_dict(), self.scaler_g.state_dict()
        state["game"] = self.game.state_dict()
        # the loss sums since the last log row, so that a resumed run logs the rows an unbroken one does
        state["log_stats"], state["log_count"] = self._stats.cpu(), self._count
        if not self.dist.is_main:  # rank 0 alone writes
            return None
        self._saving = True
        try:
            return ckpt.save_checkpoint(self.run_dir, self.step, self.modules(), state, self.cfg.keep_checkpoints)
        finally:
            self._saving = False
            if self._interrupted:
                raise KeyboardInterrupt

    def _restore(self, lr_scale: float | None = None) -> None:
        path = self.run.latest_checkpoint()
        if path is None:
            raise GankitError(f"nothing to resume in {self.run_dir}: no complete checkpoint; start a new run")
        for key, module in self.modules().items():
            load_weights(module, path / f"{key}.safetensors", self.device)
        state = ckpt.load_state(path / "state.pt")
        missing = [k for k in ("opt_g", "opt_d", "sampler", "step", "epochs_seen", "elapsed", "rng")
                   if k not in state]
        if missing:
            raise GankitError(f"{path / 'state.pt'} lacks {', '.join(missing)}: the checkpoint is incomplete; "
                              f"remove {path.name} to resume from an earlier checkpoint")
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.sampler.load_state_dict(state["sampler"])
        self.step, self.epochs_seen, self.elapsed = state["step"], state["epochs_seen"], state["elapsed"]
        self.rollbacks = max(self.rollbacks, state.get("rollbacks", 0))
        self.lr_scale = state.get("lr_scale", 1.0) if lr_scale is None else lr_scale
        self._set_lr()
        set_rng_state(state["rng"])
        self.game.load_state_dict(state.get("game", {}))
        if state.get("scaler_d"):
            self.scaler_d.load_state_dict(state["scaler_d"])
            self.scaler_g.load_state_dict(state["scaler_g"])
        if self.dist.is_main:
            self.run.truncate_metrics(self.step)
        self._stats.copy_(state.get("log_stats", torch.zeros(4)))  # checkpoints of gankit <= 0.2: zeros
        self._count = state.get("log_count", 0)
        if self.ema is not None:
            self.ema.updates = state["ema_updates"]
        log.info("resumed %s at step %d", path, self.step)


def train(cfg: TrainConfig, run_dir: str | Path, **kwargs) -> dict:
    """Train ``cfg`` in ``run_dir``; returns a summary with the paths of samples and report."""
    return Trainer(cfg, run_dir, **kwargs).train()
