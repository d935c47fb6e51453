"""The run directory: the one place that knows its layout.

Layout (``FORMAT`` 2; a run without ``format`` in its config.json is format 1, gankit 0.1.0)::

    run/config.json                 {"format", "gankit_version", "config", "data_spec",
                                     "generator", "discriminator"}: the training config and each
                                     network's own constructor arguments (models/layers.py)
    run/generator.safetensors       latest G (and generator_ema.safetensors when EMA is on)
    run/discriminator.safetensors   latest D
    run/checkpoints/step-0000500/   {generator,discriminator,generator_ema}.safetensors + state.pt
                                    + manifest.json (sizes and SHA-256 of the others; written last,
                                    absent in checkpoints of gankit <= 0.2)
    run/checkpoints/latest          name of the newest complete checkpoint (updated last)
    run/checkpoints/.tmp-step-N/    a checkpoint being written (.old-/.del-step-N: being replaced/pruned)
    run/.lock                       flock'ed by the process training the run
    run/metrics.jsonl               one JSON row per log step
    run/samples/step-0000500.png    sample grids over training; run/samples.png the last one
    run/curves.png, training.gif, report.md, tensorboard/   the logger's summaries
    run/eval.json, eval.md          ``gankit evaluate``'s latest result
    run/evals/eval-<time>.json      every evaluation's result (eval.json is the newest of them)

Writers: the trainer (config, checkpoints via ``training/checkpoint.py``, metrics and samples via
its logger) and ``gankit evaluate``. Readers — loading, serving, ``gankit info``, analysis — go
through :class:`Run` and import nothing from ``training/``.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from . import __version__
from .config import ABSENT_MEANS, TRANSLATION_MODELS, TrainConfig
from .errors import GankitError
from .utils.io import MANIFEST, FolderLock, manifest_problem, write_json

log = logging.getLogger(__name__)
FORMAT = 2
#: the weight files of a run (top level and in every checkpoint), by network role
WEIGHTS = ("generator", "discriminator", "generator_ema")
#: artefacts a viewer may serve, with their media types (never weights or training state)
FILES = {"curves.png": "image/png", "samples.png": "image/png", "training.gif": "image/gif",
         "report.md": "text/markdown; charset=utf-8", "eval.json": "application/json",
         "eval.md": "text/markdown; charset=utf-8", "metrics.jsonl": "application/x-ndjson",
         "config.json": "application/json"}
#: config keys a resume may change: the budget, learning rates, logging and checkpoint cadence, and
#: where it runs; every other key shapes the model or its training and is fixed once a run starts
RESUMABLE = frozenset({"steps", "epochs", "lr", "lr_g", "lr_d", "log_every", "sample_every", "checkpoint_every",
                       "keep_checkpoints", "checkpoint_minutes", "on_divergence", "rollback_lr_factor",
                       "max_rollbacks", "n_samples", "tensorboard", "progress", "device", "threads"})
#: the name of a checkpoint folder (what ``checkpoints/latest`` may hold)
CHECKPOINT_NAME = re.compile(r"^step-\d{7,}$")


class Run:
    """A run directory. Cheap to create; every accessor reads the files as they are now."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # ------------------------------------------------------------------ paths
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / "checkpoints"

    def weights(self, role: str) -> Path:
        """``generator``, ``discriminator`` or ``generator_ema`` weights at the top level."""
        return self.path / f"{role}.safetensors"

    def generator_weights(self, ema: bool = True) -> Path:
        """The EMA generator's weights when asked for and kept, else the raw generator's."""
        path = self.weights("generator_ema")
        if not (ema and path.is_file()):
            path = self.weights("generator")
        if not path.is_file():
            raise GankitError(f"{self.path} has no generator weights yet (no checkpoint was written)")
        return path

    def file(self, name: str) -> Path | None:
        """The served artefact ``name`` (one of ``FILES``) if the run has it as a regular file inside it."""
        if name not in FILES:
            return None
        p = self.path / name
        return p if p.is_file() and p.resolve().parent == self.path.resolve() else None

    # ------------------------------------------------------------------ config
    def is_run(self) -> bool:
        return self.config_path.is_file()

    def meta(self) -> dict[str, Any]:
        """config.json as a dict, checked to be one gankit wrote."""
        if not self.is_run():
            raise GankitError(f"{self.path} is not a gankit run directory (no config.json)")
        try:
            meta = json.loads(self.config_path.read_text())
            if not isinstance(meta, dict) or not isinstance(meta["config"], dict):
                raise TypeError("no 'config' mapping")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise GankitError(f"{self.config_path} is corrupt ({e}); it must be the JSON gankit wrote") from None
        return meta

    def config(self) -> TrainConfig:
        return self.read()[0]

    def read(self) -> tuple[TrainConfig, dict[str, Any]]:
        """(training config, the whole config.json); keys added to TrainConfig since the run was
        recorded take the values it trained with (``config.ABSENT_MEANS``)."""
        meta = self.meta()
        return TrainConfig.from_dict({**ABSENT_MEANS, **meta["config"]}, str(self.config_path)), meta

    def data_spec(self):
        """The :class:`~gankit.data.DataSpec` the run was trained on (sample shape, classes, kind)."""
        from .data.base import DataSpec

        try:
            return DataSpec.from_dict(self.meta()["data_spec"])
        except (KeyError, TypeError, ValueError) as e:
            raise GankitError(f"{self.config_path} has no valid data_spec ({e}); it must be the JSON gankit "
                              f"wrote") from None

    @property
    def format(self) -> int:
        return int(self.meta().get("format", 1))

    def kind(self) -> str:
        """``translation`` (pix2pix, CycleGAN), ``points`` (2-D data) or ``image``."""
        meta = self.meta()
        if meta["config"].get("model") in TRANSLATION_MODELS:
            return "translation"
        return meta.get("data_spec", {}).get("kind", "image")

    def require_noise_generator(self, what: str) -> None:
        """Refuse, in one line, a translation run for ``what`` (a command that samples noise)."""
        if self.kind() == "translation":
            model = self.meta()["config"].get("model")
            raise GankitError(f"{what} needs a noise-to-image run (dcgan, cgan, acgan, mlp, r3gan); {self.path} is a "
                              f"{model} run, which translates images: use `gankit translate {self.path} IMAGE... "
                              f"--out DIR` (or gankit serve, which translates uploads)")

    def write_config(self, cfg: TrainConfig, data_spec: dict, networks: dict[str, dict],
                     torch_threads: int | None = None) -> None:
        """config.json of a new run: the training config, the data spec, each network's own arguments and
        the torch thread count (CPU results are bit-identical per seed at the same thread count)."""
        write_json(self.config_path, {"format": FORMAT, "gankit_version": __version__, "config": cfg.to_dict(),
                                      "data_spec": data_spec, **networks, "torch_threads": torch_threads})

    def resume_changes(self, cfg: TrainConfig) -> dict[str, list]:
        """``{key: [old, new]}`` of what ``cfg`` changes in the run's config; refuses the keys that
        cannot change on resume (anything but ``RESUMABLE``) in one line."""
        old = self.config().to_dict()
        changes = {k: [old[k], v] for k, v in cfg.to_dict().items() if k != "out" and old.get(k) != v}
        fixed = [k for k in changes if k not in RESUMABLE]
        if fixed:
            what = ", ".join(f"{k} {old[k]!r} -> {changes[k][1]!r}" for k in fixed)
            raise GankitError(f"{' and '.join(fixed)} cannot change on resume ({what}); drop "
                              f"{' '.join('--' + k.replace('_', '-') for k in fixed)} or start a new run with --out"
                              f" (a resume may change: {', '.join(sorted(RESUMABLE))})")
        return changes

    def record_resume(self, cfg: TrainConfig, changes: dict[str, list], step: int, torch_threads: int) -> None:
        """Save a resume in config.json: the config as it now is, and a ``resumed`` history entry
        (the checkpoint step, what changed as ``[old, new]``, the thread count, when)."""
        import time

        meta = self.meta()
        meta["config"] = {**meta["config"], **{k: new for k, (_, new) in changes.items()}}
        meta.setdefault("resumed", []).append({"step": step, "changed": changes, "torch_threads": torch_threads,
                                               "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        write_json(self.config_path, meta)

    def remove(self) -> None:
        """Delete the run folder (a new run that failed before anything worth keeping was saved)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def sample_grids(self) -> dict[int, Path]:
        """The sample grids saved over training (samples/step-NNNNNNN.png), by step."""
        out = {}
        for p in sorted(self.samples_dir.glob("step-*.png")):
            try:
                out[int(p.stem.rpartition("-")[2])] = p
            except ValueError:
                continue
        return out

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self, step: int) -> Path:
        return self.checkpoints_dir / f"step-{step:07d}"

    def checkpoint_problem(self, path: Path) -> str | None:
        """Why checkpoint folder ``path`` cannot be trusted, or None: its manifest must list
        state.pt and match every file (size and SHA-256); a checkpoint of gankit <= 0.2 (no
        manifest) needs state.pt and the weight files the run has."""
        if not path.exists():
            return "it is missing"
        if not path.is_dir() or path.resolve().parent != self.checkpoints_dir.resolve():
            return "not a checkpoint folder of this run"
        if (path / MANIFEST).is_file():
            return manifest_problem(path, required=["state.pt"])
        needed = ["state.pt", "generator.safetensors", "discriminator.safetensors"]
        if self.weights("generator_ema").is_file():
            needed.append("generator_ema.safetensors")
        missing = [n for n in needed if not (path / n).is_file()]
        return f"{', '.join(missing)} missing" if missing else None

    def latest_checkpoint(self) -> Path | None:
        """The newest complete checkpoint: the ``latest`` pointer's if it verifies, else the newest
        step folder that does (with a one-line warning saying why and which)."""
        pointer = self.checkpoints_dir / "latest"
        named = None
        if pointer.is_file():
            try:
                text = pointer.read_text().strip()
            except (OSError, UnicodeDecodeError):
                text = "<unreadable>"
            if CHECKPOINT_NAME.match(text):
                named = self.checkpoints_dir / text
                problem = self.checkpoint_problem(named)
                if problem is None:
                    return named
            else:
                problem = f"it names {text[:80]!r}, not a checkpoint folder inside {self.checkpoints_dir}"
        found = sorted((p for p in self.checkpoints_dir.glob("step-*") if CHECKPOINT_NAME.match(p.name)),
                       key=lambda p: int(p.name[5:]), reverse=True)
        best = next((p for p in found if p != named and self.checkpoint_problem(p) is None), None)
        if pointer.is_file():
            what = f"checkpoint {named.name}" if named is not None else f"{pointer}"
            log.warning("ignoring %s (%s); %s", what, problem,
                        f"using {best.name}, the newest complete checkpoint" if best else "no complete checkpoint")
        return best

    def lock(self) -> FolderLock:
        """Take the run's exclusive lock (held while training; released when the process ends,
        however it ends), or refuse in one line if another process holds it."""
        lock = FolderLock(self.path)
        if not lock.acquire():
            holder = lock.holder()
            raise GankitError(f"run {self.path} is in use by another gankit process"
                              f"{f' (pid {holder})' if holder.isdigit() else ''}; wait for it to finish or stop it")
        lock.note(str(os.getpid()))
        return lock

    # ------------------------------------------------------------------ metrics, results
    def metrics(self) -> list[dict]:
        """The rows of metrics.jsonl; blank lines and a half-written last line are skipped."""
        if not self.metrics_path.is_file():
            return []
        rows = []
        for line in self.metrics_path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows

    def truncate_metrics(self, step: int) -> None:
        """Drop log rows past ``step`` (steps a resumed run is about to replay)."""
        from .utils.io import atomic_write

        if self.metrics_path.is_file():
            rows = [json.dumps(r) for r in self.metrics() if r.get("step", 0) <= step]
            atomic_write(self.metrics_path, lambda p: Path(p).write_text("".join(r + "\n" for r in rows)))

    @property
    def evals_dir(self) -> Path:
        return self.path / "evals"

    def new_eval_path(self) -> Path:
        """A fresh ``evals/eval-<YYYYmmdd-HHMMSS>[-k].json`` for the evaluation being written."""
        import time

        stamp = time.strftime("%Y%m%d-%H%M%S")
        path, k = self.evals_dir / f"eval-{stamp}.json", 1
        while path.exists():
            path, k = self.evals_dir / f"eval-{stamp}-{k}.json", k + 1
        return path

    def eval_history(self) -> list[dict]:
        """Every evaluation kept in ``evals/``, oldest first (unreadable files skipped)."""
        out = []
        for p in sorted(self.evals_dir.glob("eval-*.json"), key=lambda p: (p.stem[:20], len(p.stem), p.stem)):
            try:
                row = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(row, dict):
                out.append({"file": p.name, **row})
        return out

    def eval_result(self) -> dict | None:
        """``gankit evaluate``'s eval.json, if there is a readable one inside the run (not a link out)."""
        path = self.file("eval.json")
        try:
            return json.loads(path.read_text()) if path else None
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------------ lifecycle
    def check_resumable(self) -> None:
        if not self.is_run():
            raise GankitError(f"cannot resume: {self.path} is not a gankit run (no config.json)")

    def check_new(self, overwrite: bool) -> None:
        """Refuse to start a new run where one exists (unless ``overwrite``) or where a non-run is."""
        if self.path.exists() and not self.path.is_dir():
            raise GankitError(f"--out {self.path} is a file; choose a directory path")
        if self.path.exists() and any(self.path.iterdir()):
            if not overwrite:
                raise GankitError(f"run directory {self.path} already exists; pass --resume to continue it, "
                                  f"--overwrite to replace it, or choose another --out")
            if not self.is_run():
                raise GankitError(f"refusing to overwrite {self.path}: it is not a gankit run directory")

    def create(self, overwrite: bool) -> None:
        """Make the (empty) run directory, replacing an existing run when ``overwrite``."""
        if overwrite and self.path.exists():
            for child in self.path.iterdir():  # all but the lock file, which this process may hold
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                elif child.name != ".lock":
                    child.unlink()
        self.path.mkdir(parents=True, exist_ok=True)
