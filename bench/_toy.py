"""What bench/toy_modes.py and bench/ablation.py share: the 2-D protocol's sample count, its scores of a
sample set, the papers' rows, and an in-process stand-in for a multiprocessing pool."""
from __future__ import annotations

import torch

import bench._common  # noqa: F401  (first: src/ importable)

N_SAMPLES = 2500  # VEEGAN Sec. 5.1 and PacGAN's code (num_log_figure_sample)

#: the papers' rows (modes, % high quality, reverse KL or None), quoted with their spread.
PAPERS = {
    "ring": [
        ("VEEGAN Table 1: GAN", "1", "99.3", "-"),
        ("VEEGAN Table 1: ALI", "2.8", "0.13", "-"),
        ("VEEGAN Table 1: Unrolled GAN", "7.6", "35.6", "-"),
        ("VEEGAN Table 1: VEEGAN", "8", "52.9", "-"),
        ("PacGAN Table 1: GAN", "6.3 ± 0.5", "98.2 ± 0.2", "0.45 ± 0.09"),
        ("PacGAN Table 1: ALI", "6.6 ± 0.3", "97.6 ± 0.4", "0.36 ± 0.04"),
        ("PacGAN Table 1: PacGAN2", "7.9 ± 0.1", "95.6 ± 2.0", "0.07 ± 0.03"),
        ("PacGAN Table 1: PacGAN3", "7.8 ± 0.1", "97.7 ± 0.3", "0.10 ± 0.02"),
        ("PacGAN Table 1: PacGAN4", "7.8 ± 0.1", "95.9 ± 1.4", "0.07 ± 0.02"),
    ],
    "grid": [
        ("VEEGAN Table 1: GAN", "3.3", "0.5", "-"),
        ("VEEGAN Table 1: ALI", "15.8", "1.6", "-"),
        ("VEEGAN Table 1: Unrolled GAN", "23.6", "16", "-"),
        ("VEEGAN Table 1: VEEGAN", "24.6", "40", "-"),
        ("PacGAN Table 1: GAN", "17.3 ± 0.8", "94.8 ± 0.7", "0.70 ± 0.07"),
        ("PacGAN Table 1: ALI", "24.1 ± 0.4", "95.7 ± 0.6", "0.14 ± 0.03"),
        ("PacGAN Table 1: PacGAN2", "23.8 ± 0.7", "91.3 ± 0.8", "0.13 ± 0.04"),
        ("PacGAN Table 1: PacGAN3", "24.6 ± 0.4", "94.2 ± 0.4", "0.06 ± 0.02"),
        ("PacGAN Table 1: PacGAN4", "24.8 ± 0.2", "93.6 ± 0.6", "0.04 ± 0.01"),
    ],
}


def scores(x: torch.Tensor, data: str) -> dict:
    from gankit.data.toy import TOY_MODES
    from gankit.metrics import toy_mode_metrics

    centres_fn, std = TOY_MODES[data]
    m = toy_mode_metrics(x, centres_fn(), std)  # modes: >= 1 sample; modes_strict: >= ceil(N / 5M)
    return {"modes": m["modes"], "modes_strict": m["modes_strict"], "num_modes": m["num_modes"],
            "high_quality": m["high_quality"], "reverse_kl": m["reverse_kl"]}


class Serial:
    """The Pool interface, in this process."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    @staticmethod
    def imap_unordered(fn, tasks, chunksize=1):
        return map(fn, tasks)
