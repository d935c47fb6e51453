"""Everything a run writes besides checkpoints: metrics.jsonl, TensorBoard, sample grids,
curves, the GIF of grids over training, and the markdown report."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from ..utils.images import pixel_img, plot_curves, save_gif, save_image_grid, save_scatter

log = logging.getLogger(__name__)


class RunLogger:
    def __init__(self, run_dir: Path, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        (self.run_dir / "samples").mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(self.run_dir / "tensorboard"))
            except ImportError:  # tensorboard is optional
                log.info("tensorboard is not installed, so no TensorBoard logs: pip install 'gankit[tensorboard]' "
                         "(or --no-tensorboard)")

    def scalars(self, step: int, values: dict[str, float]) -> None:
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps({"step": step, **values}) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(f"train/{k}", v, step)

    def samples(self, samples: torch.Tensor, name: str, step: int, reference=None, centres=None) -> Path:
        path = self.run_dir / "samples" / f"{name}.png"
        if samples.dim() == 2:  # 2-D points
            lim = None if reference is None else float(reference.abs().max()) * 1.25
            save_scatter(samples, path, reference, centres, title=f"{name} (step {step})", lim=lim)
        else:
            save_image_grid(samples, path)
            if self.tb is not None:
                from torchvision.utils import make_grid

                self.tb.add_image("samples", make_grid(samples.add(1).div(2).clamp(0, 1).cpu()), step)
        return path

    def finish(self, final_samples: Path, probabilistic: bool, summary: dict) -> dict[str, Path | None]:
        frames = sorted((self.run_dir / "samples").glob("*.png"))
        out = {
            "samples": final_samples,
            "curves": plot_curves(self.metrics_path, self.run_dir / "curves.png", probabilistic)
            if self.metrics_path.exists() else None,
            "gif": save_gif(frames, self.run_dir / "training.gif",
                            captions=[f"step {int(f.stem.rpartition('-')[2])}" for f in frames]),
        }
        self._report(out, summary)
        if self.tb is not None:
            self.tb.close()
        return out

    def _report(self, files: dict, summary: dict) -> None:
        cfg = summary["config"]
        lines = [f"# gankit run: {cfg['model']} / {cfg['loss']} on {cfg['data']}", ""]
        lines += [f"- **{k}**: {v}" for k, v in summary.items() if k != "config"]
        lines += ["", "## Samples (fixed evaluation noise)", "", pixel_img(files["samples"], "samples"), ""]
        if files["curves"]:
            lines += ["## Training curves", "", "![curves](curves.png)", ""]
        if files["gif"]:
            lines += ["## Samples over training", "", pixel_img(files["gif"], "samples over training"), ""]
        lines += ["## Config", "", "```json", json.dumps(cfg, indent=2), "```", ""]
        (self.run_dir / "report.md").write_text("\n".join(lines))
