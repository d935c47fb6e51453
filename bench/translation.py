"""Image-to-image benchmark: pix2pix on edges -> digit, CycleGAN on digits <-> inverted digits.

    OMP_NUM_THREADS=1 python -m bench translation            # ~10 min on one shared CPU core; writes docs/
    OMP_NUM_THREADS=1 python -m bench translation --quick    # a smoke run; prints, writes nothing

pix2pix (Isola et al. 2017) learns MNIST digits from their Sobel edge maps (gankit's
``edges2mnist``). Offline only the MNIST *test* split exists, so the model trains on 8,000 of its
digits and is measured on the other 2,000 — the same seeded split the lenet evaluator
(``/work/evaluators/lenet-mnist-28``) held out, so its accuracy on the ground truth is the honest
reference. Reported after a fixed budget of generator steps: L1 and SSIM of the translations to the
true digits, and the evaluator's accuracy on them (does the digit's identity survive?).

CycleGAN (Zhu et al. 2017) learns scikit-learn digits <-> inverted digits from unpaired halves
(``digits2inverted``); the true mapping x -> 255 - x is known, so its translations are scored
against it, and the cycle-consistency loss is followed over training.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

if not __package__:  # python bench/translation.py: bench/_common.py makes the repository root importable
    import runpy
    runpy.run_path(str(Path(__file__).with_name("_common.py")))
from bench._common import DOCS, EVALUATORS, FP32, ROOT, header, replace_section, table  # noqa: E402
from bench._translation import QUIET, apply, bench_pix2pix, grid, scores  # noqa: E402

import gankit  # noqa: E402
from gankit import TrainConfig  # noqa: E402
from gankit.data import load_dataset  # noqa: E402
from gankit.metrics.lenet import accuracy, load_evaluator  # noqa: E402

EVAL_DIGITS = EVALUATORS / "lenet-digits-16"
IMAGES = ROOT / "docs" / "images"
SECTION = "## Image-to-image: pix2pix edges→digit, CycleGAN"


# ---------------------------------------------------------------------- CycleGAN
def bench_cyclegan(steps: int, identity_weight: float, workdir: Path, figure: Path | None) -> dict:
    cfg = TrainConfig(model="cyclegan", loss="lsgan", data="digits2inverted", image_size=16, g_width=16, d_width=16,
                      batch_size=16, steps=steps, log_every=50, checkpoint_every=steps, **QUIET, **FP32)
    cfg = cfg.replace(identity_weight=identity_weight)
    t = gankit.Trainer(cfg, workdir / f"cyclegan-{identity_weight}")
    terms: list[dict] = []
    t.callbacks.append(lambda tr: terms.append({k: float(v) for k, v in tr.game.last.items()}))
    t0 = time.perf_counter()
    t.train()
    wall = time.perf_counter() - t0
    data = t.data
    a, b = data.a.float() / 127.5 - 1, data.b.float() / 127.5 - 1  # digits, inverted (other) digits
    G = t.G.eval()
    fake_b, fake_a = apply(G["g_ab"], a), apply(G["g_ba"], b)
    labels = load_dataset(TrainConfig(data="digits", image_size=16)).y
    y_a, y_b = labels[0::2], labels[1::2]
    ev = load_evaluator(EVAL_DIGITS)
    cycle = [r["cycle"] for r in terms]
    windows = sorted({len(cycle) * i // 4 // 20 * 20 for i in range(4)} | {max(0, len(cycle) - 20)})  # of 20 steps
    result = {
        "steps": steps, "identity_weight": identity_weight, "wall_s": round(wall, 1), "domain_a": len(a),
        "domain_b": len(b),
        # the true maps are x -> -x in [-1, 1]
        "g_ab": {**scores(fake_b, -a), "accuracy_of_inverse": accuracy(ev, -fake_b, y_a)},
        "g_ba": {**scores(fake_a, -b), "accuracy": accuracy(ev, fake_a, y_b)},
        "reference": {"accuracy_real_b_digits": accuracy(ev, -b, y_b), "accuracy_inverted_input": accuracy(ev, b, y_b)},
        "cycle_loss": [{"steps": f"{w + 1}-{min(w + 20, len(cycle))}", "cycle": float(np.mean(cycle[w:w + 20]))}
                       for w in windows],
        "cycle_curve": cycle,
    }
    if figure is not None:
        k = torch.arange(8)
        rows = [a[k], fake_b[k], apply(G["g_ba"], fake_b[k]), b[k], fake_a[k], apply(G["g_ab"], fake_a[k])]
        grid(torch.stack(rows, 1).flatten(0, 1), figure, nrow=6, scale=6)
    return result


def plot_cycle(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    for r in runs:
        cycle = np.array(r["cycle_curve"])
        line, = ax.plot(np.arange(1, len(cycle) + 1), cycle, lw=0.6, alpha=0.35)
        smooth = np.convolve(cycle, np.ones(20) / 20, mode="valid")
        ax.plot(np.arange(20, len(cycle) + 1), smooth, lw=1.5, color=line.get_color(),
                label=f"identity weight {r['identity_weight']:g} (mean of 20)")
    ax.set(xlabel="generator step", ylabel="|F(G(a)) - a|₁ + |G(F(b)) - b|₁",
           title="CycleGAN digits ↔ inverted: cycle-consistency loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------- report
def pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def falls(c: dict) -> str:
    return f"{c['cycle_loss'][0]['cycle']:.2f} → {c['cycle_loss'][-1]['cycle']:.2f}"


def section(p: dict, cyc: list[dict], command: str) -> str:
    tr, gt, ed = p["translated"], p["ground_truth"], p["edges_as_output"]
    c0, c1 = cyc  # identity weight 0, then the paper's 0.5
    lines = [
        SECTION, "",
        *header(command, "1 torch thread"), "",
        "**pix2pix, edges → digit** (`--model pix2pix --data edges2mnist`; U-Net G and 16x16 PatchGAN D, "
        "width 32, Adam 2e-4 / β1 0.5, batch 64, non-saturating GAN loss + 100·L1). Only the MNIST *test* "
        f"split exists offline: trained on {p['train']:,} of its digits for {p['steps']} generator steps "
        f"({p['epochs']} epochs, {p['wall_s'] / 60:.1f} min), measured on the other {p['test']:,} — the digits the "
        "lenet evaluator (`/work/evaluators/lenet-mnist-28`) held out. L1 is in intensity units of [0, 1]; SSIM "
        "uses the 11x11 Gaussian window of Wang et al. 2004.", "",
        table(["images scored against the true digit", "L1 ↓", "SSIM ↑", "lenet accuracy ↑"],
              [["pix2pix translations G(edges)", f"{tr['l1']:.4f}", f"{tr['ssim']:.3f}", pct(tr["accuracy"])],
               ["the ground-truth digits (reference)", 0, 1, pct(gt["accuracy"])],
               ["the edge maps themselves (no model)", f"{ed['l1']:.4f}", f"{ed['ssim']:.3f}", pct(ed["accuracy"])]],
              right_from=1), "",
        f"The classifier reads {pct(tr['accuracy'])} of the translated digits correctly, against "
        f"{pct(gt['accuracy'])} of the real ones and {pct(ed['accuracy'])} of the edge maps it was given. "
        "Input | output | target, held-out digits:",
        "", "![pix2pix edges to digits](images/pix2pix-edges.png)", "",
        "**CycleGAN, digits ↔ inverted digits** (`--model cyclegan --loss lsgan --data digits2inverted`; ResNet G "
        "with 6 blocks and PatchGAN D, width 16, 16x16, batch 16, λ_cycle 10, history of 50). "
        f"Domain A = {c0['domain_a']} scikit-learn digits, B = the other {c0['domain_b']} inverted: no pairs, but "
        f"the true map is known (x → 255 − x). {c0['steps']} generator steps ({c0['wall_s'] / 60:.1f} min), "
        "without and with the identity loss (weight 0.5, the paper's setting for photo ↔ painting).", "",
        table(["steps", "cycle loss, identity 0", "cycle loss, identity 0.5"],
              [[w0["steps"], f"{w0['cycle']:.3f}", f"{w1['cycle']:.3f}"]
               for w0, w1 in zip(c0["cycle_loss"], c1["cycle_loss"])], right_from=1), "",
        table(["translation, scored against the true map", "identity", "L1 ↓", "SSIM ↑",
               "lenet-digits-16 accuracy ↑"],
              [*[row for c in cyc for row in (
                  ["F: inverted → digit", f"{c['identity_weight']:g}", f"{c['g_ba']['l1']:.4f}",
                   f"{c['g_ba']['ssim']:.3f}", pct(c["g_ba"]["accuracy"])],
                  ["G: digit → inverted (accuracy on 255 − G(a))", f"{c['identity_weight']:g}",
                   f"{c['g_ab']['l1']:.4f}", f"{c['g_ab']['ssim']:.3f}", pct(c["g_ab"]["accuracy_of_inverse"])])],
               ["reference: the real digits of B / B as given", "", "", "",
                f"{pct(c0['reference']['accuracy_real_b_digits'])} / "
                f"{pct(c0['reference']['accuracy_inverted_input'])}"]], right_from=1), "",
        f"The cycle loss falls in both runs ({falls(c0)} and {falls(c1)}). The digit survives F in "
        f"{pct(c0['g_ba']['accuracy'])} of the images without the identity loss and {pct(c1['g_ba']['accuracy'])} "
        "with it: the identity loss asks G to leave inverted digits unchanged, while the true map inverts every "
        "image, and cycle consistency alone does not decide which invertible map is learnt — one that swaps "
        "digits satisfies it too. Use `identity_weight 0` for tasks that change intensities.", "",
        "Rows a | G(a) | F(G(a)) | b | F(b) | G(F(b)), identity weight 0, then 0.5:", "",
        "![CycleGAN digits and inverted digits](images/cyclegan-digits.png)", "",
        "![CycleGAN with the identity loss](images/cyclegan-digits-identity.png)", "",
        "![CycleGAN cycle loss](images/cyclegan-cycle-loss.png)", "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few steps of each; print only")
    ap.add_argument("--pix2pix-steps", type=int, default=None, help="generator steps (default 600; 20 quick)")
    ap.add_argument("--cyclegan-steps", type=int, default=None, help="generator steps (default 600; 40 quick)")
    ap.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    p_steps = args.pix2pix_steps or (20 if args.quick else 600)
    c_steps = args.cyclegan_steps or (40 if args.quick else 600)
    write = not (args.quick or args.no_write)
    figure = (lambda name: IMAGES / name if write else None)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="gankit-bench-translation-") as tmp:
        p = bench_pix2pix(p_steps, Path(tmp), figure("pix2pix-edges.png"))
        print(json.dumps({"pix2pix": p}, indent=2), flush=True)
        cyc = [bench_cyclegan(c_steps, w, Path(tmp), figure(name))
               for w, name in ((0.0, "cyclegan-digits.png"), (0.5, "cyclegan-digits-identity.png"))]
        print(json.dumps({"cyclegan": [{k: v for k, v in c.items() if k != "cycle_curve"} for c in cyc]}, indent=2))
    if write:
        plot_cycle(cyc, IMAGES / "cyclegan-cycle-loss.png")
        extra = "".join(f" --{k}-steps {v}" for k, v in (("pix2pix", p_steps), ("cyclegan", c_steps)) if v != 600)
        replace_section(DOCS, SECTION, section(p, cyc, f"OMP_NUM_THREADS=1 python -m bench translation{extra}"))
        print(f"wrote {DOCS} and {IMAGES}/{{pix2pix-edges,cyclegan-digits,cyclegan-digits-identity,"
              f"cyclegan-cycle-loss}}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
