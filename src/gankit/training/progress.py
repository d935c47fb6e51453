"""Training progress: a tqdm bar on a terminal; off a terminal (logs, CI, nohup) one plain line every
``log_every`` steps, as PyTorch Lightning does, instead of tqdm's update per step."""
from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    """``update()`` every step, ``log(step, values)`` at each log step, ``close()`` at the end.

    ``enabled=False`` (``--no-progress``) prints nothing; ``stream`` (default stderr) decides: a
    terminal gets the bar, anything else gets the periodic lines.
    """

    def __init__(self, total: int, initial: int, *, enabled: bool, desc: str, images_per_step: int, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.images_per_step, self.desc = total, images_per_step, desc
        self.lines = enabled and not getattr(self.stream, "isatty", lambda: False)()
        self.bar = tqdm(total=total, initial=initial, disable=not enabled or self.lines, unit="step",
                        dynamic_ncols=True, desc=desc, file=self.stream)
        self._mark = (initial, time.perf_counter())

    def update(self) -> None:
        self.bar.update(1)

    def reset(self, step: int) -> None:
        """After a rollback: the bar (and the rate) restart from ``step``."""
        self.bar.reset(self.total)
        self.bar.update(step)
        self._mark = (step, time.perf_counter())

    def log(self, step: int, values: dict[str, float]) -> None:
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()})
        if not self.lines:
            return
        (step0, t0), now = self._mark, time.perf_counter()
        self._mark = (step, now)
        rate = (step - step0) / max(now - t0, 1e-9)  # steps/s over the last interval
        eta = _duration((self.total - step) / rate) if rate > 0 else "?"
        losses = " ".join(f"{k} {v:.3f}" for k, v in values.items())
        print(f"{self.desc} step {step}/{self.total} ({100 * step // self.total}%) | {losses} | "
              f"{rate * self.images_per_step:.0f} images/s | ETA {eta}", file=self.stream, flush=True)

    def close(self) -> None:
        self.bar.close()
