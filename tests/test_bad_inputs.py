"""The bad-input catalogue (docs/reliability.md): every case ends in exit 2 and ONE line on stderr,
``gankit: error: ...`` naming the problem (the expected text below), no traceback, and nothing left
behind (no run folder for ``train``, no output file for ``sample``).

Each case is ``(id, argv, expected)``; in argv ``{tmp}`` is the case's temporary folder, ``{run}`` a
copy of a tiny trained DCGAN run, ``{cgan}`` of a tiny cGAN run, ``{out}`` a path that must not exist
afterwards, and ``@name`` a file made by ``SETUP[name]`` (a bad config, corrupt data, a broken run).
"""
from __future__ import annotations

import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from gankit.cli import main

TINY = ["--image-size", "8", "--z-dim", "8", "--g-width", "8", "--d-width", "8", "--batch-size", "16",
        "--no-progress", "--no-tensorboard", "--device", "cpu", "--log-every", "1"]
TRAIN = ["train", "--steps", "1", "--out", "{out}", *TINY]


def _idx(path: Path, array: np.ndarray, code: int = 0x08, gz: bool = True) -> None:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)


def _mnist(tmp: Path, images: np.ndarray | None = None, labels: np.ndarray | None = None,
           image_code: int = 0x08, raw_images: bytes | None = None) -> Path:
    raw = tmp / "mnist" / "MNIST" / "raw"
    images = np.zeros((64, 28, 28), np.uint8) if images is None else images
    labels = (np.arange(len(images)) % 10).astype(np.uint8) if labels is None else labels
    _idx(raw / "t10k-images-idx3-ubyte.gz", images, image_code)
    _idx(raw / "t10k-labels-idx1-ubyte.gz", labels)
    if raw_images is not None:
        (raw / "t10k-images-idx3-ubyte.gz").write_bytes(raw_images)
    return tmp / "mnist"


def _flipped_gzip(tmp: Path) -> Path:
    root = _mnist(tmp, np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8))
    f = root / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    b = bytearray(f.read_bytes())
    for i in range(40, len(b) - 40, 97):
        b[i] ^= 0xFF
    f.write_bytes(bytes(b))
    return root


def _text(name: str, text: str):
    def make(tmp: Path) -> Path:
        p = tmp / name
        p.write_text(text)
        return p
    return make


def _bytes(name: str, data: bytes):
    def make(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(data)
        return p
    return make


def _alias_bomb(tmp: Path) -> Path:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i, name in enumerate("bcdefgh"):
        prev = "a" if i == 0 else "bcdefgh"[i - 1]
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append("model: *h")
    p = tmp / "bomb.yaml"
    p.write_text("\n".join(lines) + "\n")
    return p


def _broken_run(change):
    """A copy of the tiny DCGAN run with ``change(run_path)`` applied."""
    def make(tmp: Path, runs: dict) -> Path:
        p = tmp / "broken"
        shutil.copytree(runs["run"], p)
        change(p)
        return p
    make.needs_runs = True
    return make


def _edit_config(fn):
    def change(p: Path) -> None:
        meta = json.loads((p / "config.json").read_text())
        fn(meta)
        (p / "config.json").write_text(json.dumps(meta))
    return change


def _nan_weights(p: Path) -> None:
    from safetensors.torch import load_file, save_file

    for name in ("generator.safetensors", "generator_ema.safetensors"):
        if (p / name).exists():
            t = load_file(p / name)
            k = next(k for k, v in t.items() if v.is_floating_point())
            t[k][...] = float("nan")
            save_file(t, p / name)


def _state_missing_key(p: Path) -> None:
    """Every checkpoint's state.pt without opt_g, in a run of before manifests (gankit <= 0.2)."""
    import torch

    for ck in (p / "checkpoints").glob("step-*"):
        state = torch.load(ck / "state.pt", weights_only=True)
        state.pop("opt_g", None)
        torch.save(state, ck / "state.pt")
        (ck / "manifest.json").unlink(missing_ok=True)


def _state_junk(p: Path) -> None:
    for ck in (p / "checkpoints").glob("step-*"):
        (ck / "state.pt").write_bytes(b"junk")


def _folder_with_text(tmp: Path) -> Path:
    (tmp / "imgs").mkdir()
    (tmp / "imgs" / "a.txt").write_text("not an image")
    return tmp / "imgs"


SETUP = {
    "flipped": _flipped_gzip,
    "truncated": lambda t: _mnist(t, raw_images=gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 64, 28, 28)
                                                              + bytes(1000))),
    "notidx": lambda t: _mnist(t, raw_images=gzip.compress(b"hello world" * 100)),
    "int32": lambda t: _mnist(t, np.zeros((64, 28, 28), np.int32), image_code=0x0C),
    "labels200": lambda t: _mnist(t, labels=np.full(64, 200, np.uint8)),
    "labelcount": lambda t: _mnist(t, labels=np.zeros(10, np.uint8)),
    "emptydir": lambda t: (t / "empty").mkdir() or t / "empty",
    "textfolder": _folder_with_text,
    "badtype": _text("bad.yaml", "lr: fast\n"),
    "unknownkey": _text("c.json", '{"modle": "mlp"}'),
    "yamlsyntax": _text("s.yaml", "model: [dcgan\n"),
    "yamllist": _text("l.yaml", "- model\n- dcgan\n"),
    "yamlintkey": _text("k.yaml", "1: dcgan\n"),
    "bomb": _alias_bomb,
    "garbage": _bytes("g.yaml", bytes(range(256)) * 4),
    "jsonbad": _text("b.json", '{"model": '),
    "bign": _text("z.yaml", "n_critic: 1000000000000\n"),
    "packstring": _text("zs.yaml", "pack: '2'\n"),
    "emabool": _text("sb.yaml", "ema_decay: true\n"),
    "lrnull": _text("ln.yaml", "lr: null\n"),
    "afile": _text("file", "x"),
    "notrun": lambda t: (t / "d").mkdir() or (t / "d" / "x").write_text("x") and t / "d",
    "badconfig": _broken_run(lambda p: (p / "config.json").write_text("{not json")),
    "noconfigkey": _broken_run(_edit_config(lambda m: m.pop("config"))),
    "nodataspec": _broken_run(_edit_config(lambda m: m.pop("data_spec"))),
    "baddataspec": _broken_run(_edit_config(lambda m: m.update(data_spec={"shape": "x"}))),
    "badcfgvalue": _broken_run(_edit_config(lambda m: m["config"].update(z_dim=-3))),
    "bigcfgz": _broken_run(_edit_config(lambda m: m["config"].update(z_dim=10 ** 12))),
    "nanweights": _broken_run(_nan_weights),
    "corruptweights": _broken_run(lambda p: [(p / n).write_bytes(b"\0" * 100)
                                             for n in ("generator.safetensors", "generator_ema.safetensors")
                                             if (p / n).exists()]),
    "noweights": _broken_run(lambda p: [(p / n).unlink() for n in ("generator.safetensors",
                                                                   "generator_ema.safetensors")
                                        if (p / n).exists()]),
    "statekey": _broken_run(_state_missing_key),
    "statejunk": _broken_run(_state_junk),
}

CASES = [
    # --- train: names and choices
    ("model", [*TRAIN, "--model", "stylegan"], "unknown model 'stylegan'"),
    ("loss", [*TRAIN, "--loss", "foo"], "unknown loss 'foo'"),
    ("data", [*TRAIN, "--data", "imagenet"], "unknown dataset 'imagenet'"),
    ("optimizer", [*TRAIN, "--optimizer", "lbfgs"], "unknown optimizer 'lbfgs'"),
    ("backbone", [*TRAIN, "--backbone", "resnet"], "unknown backbone 'resnet'"),
    ("conditioning", [*TRAIN, "--conditioning", "film"], "unknown conditioning 'film'"),
    ("g-norm", [*TRAIN, "--g-norm", "instance"], "unknown g_norm 'instance'"),
    ("d-norm", [*TRAIN, "--d-norm", "group"], "unknown d_norm 'group'"),
    ("split", [*TRAIN, "--split", "val"], "unknown split 'val'"),
    ("amp", [*TRAIN, "--amp", "fp8"], "unknown amp 'fp8'"),
    ("lr-decay", [*TRAIN, "--lr-decay", "cosine"], "unknown lr_decay 'cosine'"),
    ("on-divergence", [*TRAIN, "--on-divergence", "ignore"], "unknown on_divergence 'ignore'"),
    ("device-name", [*TRAIN, "--device", "tpu"], "device"),
    ("device-cuda", [*TRAIN, "--device", "cuda:7"], "cuda"),
    # --- train: numbers out of range
    ("lr-negative", [*TRAIN, "--lr", "-0.1"], "lr must be > 0"),
    ("lr-zero", [*TRAIN, "--lr", "0"], "lr must be > 0"),
    ("lr-nan", [*TRAIN, "--lr", "nan"], "lr must be a finite number"),
    ("lr-inf", [*TRAIN, "--lr", "inf"], "lr must be a finite number"),
    ("lr-huge", [*TRAIN, "--lr", "1e30"], "lr must be <="),
    ("lr-g", [*TRAIN, "--lr-g", "-1"], "lr_g must be > 0"),
    ("lr-d", [*TRAIN, "--lr-d", "-1"], "lr_d must be > 0"),
    ("lr-text", [*TRAIN, "--lr", "fast"], "argument --lr: invalid float value"),
    ("batch-zero", [*TRAIN, "--batch-size", "0"], "batch_size must be >= 1"),
    ("batch-big", [*TRAIN, "--batch-size", "5000"], "larger than the dataset"),
    ("batch-huge", [*TRAIN, "--batch-size", str(10 ** 9)], "batch_size must be <="),
    ("n-critic", [*TRAIN, "--n-critic", "0"], "n_critic must be >= 1"),
    ("n-critic-huge", [*TRAIN, "--n-critic", str(10 ** 9)], "n_critic must be <="),
    ("z-zero", [*TRAIN, "--z-dim", "0"], "z_dim must be >= 1"),
    ("z-huge", [*TRAIN, "--z-dim", str(10 ** 9)], "z_dim must be <="),
    ("z-float", [*TRAIN, "--z-dim", "1e9"], "argument --z-dim: invalid int value: '1e9'"),
    ("g-width-zero", [*TRAIN, "--g-width", "0"], "g_width must be >= 1"),
    ("g-width-huge", [*TRAIN, "--g-width", str(10 ** 9)], "g_width must be <="),
    ("d-width-huge", [*TRAIN, "--d-width", str(10 ** 9)], "d_width must be <="),
    ("g-hidden-zero", [*TRAIN, "--model", "mlp", "--g-hidden", "0"], "g_hidden"),
    ("d-hidden-negative", [*TRAIN, "--model", "mlp", "--d-hidden", "-3"], "d_hidden"),
    ("g-hidden-huge", [*TRAIN, "--model", "mlp", "--g-hidden", str(10 ** 9)], "g_hidden"),
    ("r3gan-widths", [*TRAIN, "--model", "r3gan", "--r3gan-widths", "0"], "r3gan_widths"),
    ("r3gan-blocks", [*TRAIN, "--model", "r3gan", "--r3gan-blocks", "-1"], "r3gan_blocks"),
    ("r3gan-widths-huge", [*TRAIN, "--model", "r3gan", "--r3gan-widths", "65536", "1", "1"],
     "r3gan_widths must be a non-empty list of integers in [1, 4096]"),
    ("r3gan-widths-count", [*TRAIN, "--model", "r3gan", "--r3gan-widths", "8"],
     "--r3gan-widths needs 2 values at 8 px, one per resolution (4, 8), got 1 (8): pass 2 values"),
    ("r3gan-blocks-count", [*TRAIN, "--model", "r3gan", "--r3gan-widths", "8", "8", "--r3gan-blocks", "1", "2", "1"],
     "--r3gan-blocks needs 2 values at 8 px, one per resolution (4, 8), got 3 (1 2 1): pass 2 values, or "
     "--image-size 16 for 3"),
    ("r3gan-group-width", [*TRAIN, "--model", "r3gan", "--group-width", "5"],
     "pick a --group-width that divides 16,"),
    ("r3gan-spectral-norm", [*TRAIN, "--model", "r3gan", "--spectral-norm"],
     "backbone: its residual branches start at zero weight (fix-up)"),
    ("train-subset-seed-huge", [*TRAIN, "--train-subset", "100", "--train-subset-seed", str(10 ** 20)],
     "train_subset_seed must be an integer in [0, "),
    ("train-subset-seed-negative", [*TRAIN, "--train-subset", "100", "--train-subset-seed", "-1"],
     "train_subset_seed must be an integer"),
    ("image-size-17", [*TRAIN, "--image-size", "17"], "image size 17 is not"),
    ("image-size-zero", [*TRAIN, "--image-size", "0"], "image_size must be >= 1"),
    ("image-size-huge", [*TRAIN, "--image-size", "100000"], "image_size must be <="),
    ("image-size-4", [*TRAIN, "--image-size", "4"], "image size 4 is not"),
    ("seed-huge", [*TRAIN, "--seed", str(10 ** 25)], "seed must be"),
    ("seed-negative", [*TRAIN, "--seed", "-1"], "seed must be"),
    ("seed-float", [*TRAIN, "--seed", "1e25"], "argument --seed: invalid int value"),
    ("steps-zero", [*TRAIN, "--steps", "0"], "steps must be >= 1"),
    ("steps-negative", [*TRAIN, "--steps", "-5"], "steps must be >= 1"),
    ("steps-huge", [*TRAIN, "--steps", str(10 ** 15)], "steps must be <="),
    ("epochs-zero", [*TRAIN, "--epochs", "0"], "epochs must be >= 1"),
    ("lr-decay-start", [*TRAIN, "--lr-decay-start", "1.5"], "lr_decay_start must be in [0, 1)"),
    ("fp16-r1", [*TRAIN, "--amp", "fp16", "--r1-gamma", "1"], "--amp fp16 cannot be combined"),
    ("compile-r1", [*TRAIN, "--compile", "--r1-gamma", "1"], "--compile cannot be combined with R1/R2"),
    ("reuse-fake", [*TRAIN, "--reuse-fake", "--n-critic", "2"], "--reuse-fake needs one D step"),
    ("rollback-factor", [*TRAIN, "--rollback-lr-factor", "2"], "rollback_lr_factor must be in (0, 1)"),
    ("checkpoint-minutes", [*TRAIN, "--checkpoint-minutes", "-1"], "checkpoint_minutes"),
    ("max-rollbacks", [*TRAIN, "--max-rollbacks", "-1"], "max_rollbacks must be >= 0"),
    ("pack-divides", [*TRAIN, "--pack", "3"], "pack must be >= 1 and divide batch_size"),
    ("pack-zero", [*TRAIN, "--pack", "0"], "pack must be >= 1"),
    ("log-every", [*TRAIN, "--log-every", "0"], "log_every must be >= 1"),
    ("n-samples", [*TRAIN, "--n-samples", "0"], "n_samples must be >= 1"),
    ("n-samples-huge", [*TRAIN, "--n-samples", str(10 ** 9)], "n_samples must be <="),
    ("num-points", [*TRAIN, "--num-points", "0"], "num_points must be >= 1"),
    ("num-points-huge", [*TRAIN, "--num-points", str(10 ** 12)], "num_points must be <="),
    ("keep-checkpoints", [*TRAIN, "--keep-checkpoints", "0"], "keep_checkpoints must be >= 1"),
    ("reg-interval", [*TRAIN, "--reg-interval", "0"], "reg_interval must be >= 1"),
    ("group-width", [*TRAIN, "--group-width", "0"], "group_width must be >= 1"),
    ("expansion", [*TRAIN, "--expansion", "0"], "expansion must be >= 1"),
    ("embed-dim", [*TRAIN, "--embed-dim", "-1"], "embed_dim must be >= 0"),
    ("sample-every", [*TRAIN, "--sample-every", "-1"], "sample_every must be >= 0"),
    ("checkpoint-every", [*TRAIN, "--checkpoint-every", "-1"], "checkpoint_every must be >= 0"),
    ("r1", [*TRAIN, "--r1-gamma", "-1"], "r1_gamma must be >= 0"),
    ("r2", [*TRAIN, "--r2-gamma", "-1"], "r2_gamma must be >= 0"),
    ("clip", [*TRAIN, "--clip-value", "-1"], "clip_value must be >= 0"),
    ("aux", [*TRAIN, "--aux-weight", "-1"], "aux_weight must be >= 0"),
    ("l1", [*TRAIN, "--l1-weight", "-1"], "l1_weight must be >= 0"),
    ("cycle", [*TRAIN, "--cycle-weight", "-1"], "cycle_weight must be >= 0"),
    ("identity", [*TRAIN, "--identity-weight", "-1"], "identity_weight must be >= 0"),
    ("pool", [*TRAIN, "--pool-size", "-1"], "pool_size must be >= 0"),
    ("gp", [*TRAIN, "--gp-weight", "-1"], "gp_weight must be >= 0"),
    ("dropout", [*TRAIN, "--dropout", "1"], "dropout must be in [0, 1)"),
    ("ema", [*TRAIN, "--ema-decay", "1"], "ema_decay must be in [0, 1)"),
    ("beta1", [*TRAIN, "--beta1", "1"], "beta1 and beta2 must be in [0, 1)"),
    ("beta2", [*TRAIN, "--beta2", "-0.1"], "beta1 and beta2 must be in [0, 1)"),
    ("channels", [*TRAIN, "--channels", "2"], "channels must be 1 or 3"),
    ("momentum", [*TRAIN, "--momentum", "-1"], "momentum must be in [0, 1)"),
    ("unknown-flag", [*TRAIN, "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ("flag-no-value", [*TRAIN, "--lr"], "argument --lr: expected one argument"),
    # --- train: model and data that do not fit
    ("dcgan-points", [*TRAIN, "--model", "dcgan", "--data", "ring"], "use --model mlp for 2-D point data"),
    ("cgan-points", [*TRAIN, "--model", "cgan", "--data", "ring"], "needs labelled data"),
    ("acgan-points", [*TRAIN, "--model", "acgan", "--data", "ring"], "needs labelled data"),
    ("r3gan-points", [*TRAIN, "--model", "r3gan", "--data", "ring"], "2-D point data"),
    ("pix2pix-unpaired", [*TRAIN, "--model", "pix2pix", "--data", "digits"], "pix2pix"),
    ("cyclegan-unpaired", [*TRAIN, "--model", "cyclegan", "--data", "digits"], "cyclegan"),
    ("latent-code-on-cyclegan", [*TRAIN, "--model", "cyclegan", "--data", "digits2inverted",
                                 "--latent-categories", "4"], "drop --latent-categories"),
    ("pairs-missing", [*TRAIN, "--model", "pix2pix", "--data", "edges2mnist", "--data-root", "{tmp}/none",
                       "--no-download"], "not found"),
    ("folder-missing", [*TRAIN, "--data", "folder", "--data-root", "/nonexistent/imgs"], "does not exist"),
    ("folder-empty", [*TRAIN, "--data", "folder", "--data-root", "@emptydir"], "no usable images"),
    ("folder-text-only", [*TRAIN, "--data", "folder", "--data-root", "@textfolder"], "no usable images"),
    ("folder-is-file", [*TRAIN, "--data", "folder", "--data-root", "@afile"], "not a folder"),
    ("mnist-missing", [*TRAIN, "--data", "mnist", "--data-root", "/nonexistent", "--no-download"],
     "mnist train split not found"),
    ("mnist-flipped", [*TRAIN, "--data", "mnist", "--data-root", "@flipped", "--split", "test"], "corrupt"),
    ("mnist-truncated", [*TRAIN, "--data", "mnist", "--data-root", "@truncated", "--split", "test"], "truncated"),
    ("mnist-not-idx", [*TRAIN, "--data", "mnist", "--data-root", "@notidx", "--split", "test"], "not an IDX file"),
    ("mnist-int32", [*TRAIN, "--data", "mnist", "--data-root", "@int32", "--split", "test"], "unsigned bytes"),
    ("mnist-labels-200", [*TRAIN, "--model", "cgan", "--data", "mnist", "--data-root", "@labels200", "--split",
                          "test"], "label"),
    ("mnist-label-count", [*TRAIN, "--data", "mnist", "--data-root", "@labelcount", "--split", "test"], "labels"),
    # --- train: config files
    ("config-missing", [*TRAIN, "--config", "{tmp}/nope.yaml"], "config file"),
    ("config-type", [*TRAIN, "--config", "@badtype"], "lr must be a finite number (got 'fast')"),
    ("config-key", [*TRAIN, "--config", "@unknownkey"], "did you mean 'model'?"),
    ("config-syntax", [*TRAIN, "--config", "@yamlsyntax"], "cannot parse config file"),
    ("config-list", [*TRAIN, "--config", "@yamllist"], "must hold a mapping"),
    ("config-int-key", [*TRAIN, "--config", "@yamlintkey"], "config keys must be strings"),
    ("config-alias-bomb", [*TRAIN, "--config", "@bomb"], "alias"),
    ("config-garbage", [*TRAIN, "--config", "@garbage"], "cannot parse config file"),
    ("config-json", [*TRAIN, "--config", "@jsonbad"], "cannot parse config file"),
    ("config-huge-n-critic", [*TRAIN, "--config", "@bign"], "n_critic must be <="),
    ("config-string-pack", [*TRAIN, "--config", "@packstring"], "pack must be an integer"),
    ("config-bool-ema", [*TRAIN, "--config", "@emabool"], "ema_decay must be a finite number"),
    ("config-null-lr", [*TRAIN, "--config", "@lrnull"], "lr must be a finite number"),
    ("config-dir", [*TRAIN, "--config", "{tmp}"], "config file"),
    # --- train: the run folder
    ("out-file", ["train", "--steps", "1", *TINY, "--out", "@afile"], "is a file"),
    ("out-run-exists", ["train", "--steps", "1", *TINY, "--out", "{run}"], "already exists"),
    ("out-overwrite-non-run", ["train", "--steps", "1", *TINY, "--out", "@notrun", "--overwrite"],
     "not a gankit run directory"),
    ("out-proc", ["train", "--steps", "1", *TINY, "--out", "/proc/gankit-run"], "/proc/gankit-run"),
    ("out-sys", ["train", "--steps", "1", *TINY, "--out", "/sys/gankit-run"], "/sys/gankit-run"),
    ("out-under-file", ["train", "--steps", "1", *TINY, "--out", "@afile/run"], "run"),
    ("resume-no-dir", ["train", "--resume"], "--resume needs the run directory"),
    ("resume-missing", ["train", "--resume", "{tmp}/none"], "not a gankit run"),
    ("resume-bad-config", ["train", "--resume", "@badconfig"], "is corrupt"),
    ("resume-no-config-key", ["train", "--resume", "@noconfigkey"], "is corrupt"),
    ("resume-bad-value", ["train", "--resume", "@badcfgvalue"], "z_dim must be >= 1"),
    ("resume-state-key", ["train", "--resume", "@statekey", "--steps", "3"], "opt_g"),
    ("resume-state-junk", ["train", "--resume", "@statejunk", "--steps", "3"], "no complete checkpoint"),
    ("resume-change-z", ["train", "--resume", "{run}", "--z-dim", "16"], "z_dim cannot change on resume"),
    ("resume-change-model", ["train", "--resume", "{run}", "--model", "mlp"], "model cannot change on resume"),
    ("resume-change-data", ["train", "--resume", "{run}", "--data", "ring"], "data cannot change on resume"),
    ("resume-bad-steps", ["train", "--resume", "{run}", "--steps", "0"], "steps must be >= 1"),
    # --- sample
    ("sample-missing", ["sample", "{tmp}/none", "--out", "{out}.png"], "not a gankit run directory"),
    ("sample-not-run", ["sample", "@notrun", "--out", "{out}.png"], "not a gankit run directory"),
    ("sample-n-zero", ["sample", "{run}", "-n", "0", "--out", "{out}.png"], "-n must be >= 1"),
    ("sample-n-huge", ["sample", "{run}", "-n", str(10 ** 12), "--out", "{out}.png"], "-n must be <= 10000"),
    ("sample-n-float", ["sample", "{run}", "-n", "1e12", "--out", "{out}.png"], "invalid int value"),
    ("sample-out-txt", ["sample", "{run}", "--out", "{out}.txt"], ".txt"),
    ("sample-out-proc", ["sample", "{run}", "--out", "/proc/gankit-x.png"], "/proc/gankit-x.png"),
    ("sample-nan", ["sample", "@nanweights", "--out", "{out}.png"], "non-finite"),
    ("sample-corrupt", ["sample", "@corruptweights", "--out", "{out}.png"], "corrupt"),
    ("sample-no-weights", ["sample", "@noweights", "--out", "{out}.png"], "no generator weights"),
    ("sample-no-data-spec", ["sample", "@nodataspec", "--out", "{out}.png"], "data_spec"),
    ("sample-bad-data-spec", ["sample", "@baddataspec", "--out", "{out}.png"], "data_spec"),
    ("sample-bad-config", ["sample", "@badconfig", "--out", "{out}.png"], "is corrupt"),
    ("sample-huge-z", ["sample", "@bigcfgz", "--out", "{out}.png"], "z_dim must be <="),
    ("sample-label-uncond", ["sample", "{run}", "--label", "3", "--out", "{out}.png"], "unconditional"),
    ("sample-label-range", ["sample", "{cgan}", "--label", "99", "--out", "{out}.png"], "label"),
    ("sample-drs-cgan", ["sample", "{cgan}", "--drs", "--out", "{out}.png"], "--drs needs an unconditional run"),
    ("sample-seed", ["sample", "{run}", "--seed", str(10 ** 25), "--out", "{out}.png"], "seed must be"),
    ("sample-device", ["sample", "{run}", "--device", "tpu", "--out", "{out}.png"], "device"),
    ("sample-drs-percentile", ["sample", "{run}", "--drs", "--drs-percentile", "2", "--out", "{out}.png"],
     "percentile"),
    # --- info, evaluate, analyze, serve, lab, translate, train-evaluator
    ("info-missing", ["info", "{tmp}/none"], "not a gankit run directory"),
    ("info-bad-config", ["info", "@badconfig"], "is corrupt"),
    ("evaluate-missing", ["evaluate", "{tmp}/none"], "not a gankit run directory"),
    ("evaluate-n", ["evaluate", "{run}", "--n", "0"], "-n must be >= 1"),
    ("evaluate-metric", ["evaluate", "{run}", "--metrics", "fid,nope"], "nope"),
    ("evaluate-evaluator", ["evaluate", "{run}", "--evaluator", "{tmp}/none"], "evaluator"),
    ("analyze-missing", ["analyze", "interpolate", "{tmp}/none"], "not a gankit run directory"),
    ("analyze-what", ["analyze", "nonsense"], "invalid choice: 'nonsense'"),
    ("serve-port", ["serve", "{run}", "--port", "99999"], "port"),
    ("serve-missing", ["serve", "{tmp}/none", "--port", "0"], "not a gankit run"),
    ("lab-port", ["lab", "--port", "-1"], "port"),
    ("translate-noise-run", ["translate", "{run}", "{tmp}", "--out", "{out}"], "translat"),
    ("train-evaluator-data", ["train-evaluator", "--data", "ring", "--out", "{out}"], "ring"),
    ("command", ["nosuchcommand"], "invalid choice: 'nosuchcommand'"),
    ("no-command", [], "the following arguments are required: command"),
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    made = {}
    for name, extra in (("run", ["--ema-decay", "0.9"]), ("cgan", ["--model", "cgan"])):
        path = base / name
        assert main(["train", "--steps", "2", "--checkpoint-every", "1", "--out", str(path), *TINY, *extra]) == 0
        made[name] = path
    return made


def test_the_catalogue_has_at_least_120_cases():
    assert len(CASES) >= 120 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANKIT_CRASH_DIR", str(tmp_path))
    _, argv, expected = case
    subs = {"{tmp}": str(tmp_path), "{out}": str(tmp_path / "out")}
    for key in ("run", "cgan"):
        if any(f"{{{key}}}" in a for a in argv):
            shutil.copytree(runs[key], tmp_path / key)
            subs[f"{{{key}}}"] = str(tmp_path / key)
    made = {}
    args = []
    for a in argv:
        if a.startswith("@"):
            name, _, rest = a[1:].partition("/")
            if name not in made:
                make = SETUP[name]
                made[name] = make(tmp_path, runs) if getattr(make, "needs_runs", False) else make(tmp_path)
            a = str(made[name]) + (f"/{rest}" if rest else "")
        for k, v in subs.items():
            a = a.replace(k, v)
        args.append(a)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) if case[0] in ARGPARSE else _nothing() as exc:
        rc = main(args)
    if case[0] in ARGPARSE:
        rc = exc.value.code
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2, (rc, err)
    assert len(err) == 1, err
    assert "error: " in err[0] and expected in err[0], err
    assert "Traceback" not in err[0] and len(err[0]) <= 1000
    assert not list(tmp_path.glob("out*")), "bad input left an output behind"
    assert not list(tmp_path.glob("gankit-crash-*")), "the last-resort handler caught it: a missing check"
    after = sorted(str(p) for p in tmp_path.rglob("*"))
    assert after == before, "bad input changed files"


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


#: cases argparse rejects itself (SystemExit(2) from the parser, before main's handlers)
ARGPARSE = {"lr-text", "z-float", "seed-float", "unknown-flag", "flag-no-value", "sample-n-float",
            "analyze-what", "command", "no-command"}


# ---------------------------------------------------------------------------------------------------------
# Resume keeps what the user asked (issue 21, item 1); thread count recorded (item 3); divergence before the
# first checkpoint leaves nothing behind (item 5); the last-resort handler and --debug (item 4).

def _tiny_run(path: Path, steps: int = 2, *extra: str) -> None:
    assert main(["train", "--steps", str(steps), "--checkpoint-every", "1", "--out", str(path), *TINY, *extra]) == 0


def test_resume_records_the_changed_flags_and_a_later_plain_resume_keeps_them(tmp_path, capsys):
    import torch

    from gankit.runs import Run
    from gankit.training.trainer import Trainer

    run = tmp_path / "r"
    _tiny_run(run, 2)
    cfg = Run(run).config().replace(steps=6, lr=1e-3)
    trainer = Trainer(cfg, run, resume=True)

    def stop_at_4(t):
        t.stop_requested = t.step >= 4
    trainer.callbacks.append(stop_at_4)
    assert trainer.train()["stopped_early"] and trainer.step == 4
    meta = json.loads((run / "config.json").read_text())
    assert meta["config"]["steps"] == 6 and meta["config"]["lr"] == 1e-3
    assert meta["resumed"][0]["step"] == 2
    assert meta["resumed"][0]["changed"] == {"steps": [2, 6], "lr": [2e-4, 1e-3]}
    assert meta["resumed"][0]["torch_threads"] == torch.get_num_threads() == meta["torch_threads"]
    # the command gankit prints on a stop, with no flags, finishes what was asked (6 steps, lr 1e-3)
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    assert "done: 6 steps" in capsys.readouterr().out
    meta = json.loads((run / "config.json").read_text())
    # (the CLI resolves --threads anew on each start: a count that differs is a recorded change too)
    assert [r["step"] for r in meta["resumed"]] == [2, 4]
    assert {k: v for k, v in meta["resumed"][1]["changed"].items() if k != "threads"} == {}
    assert max(r["step"] for r in Run(run).metrics()) == 6


def test_resume_refuses_a_change_of_architecture_and_leaves_the_run_as_it_was(tmp_path, capsys):
    run = tmp_path / "r"
    _tiny_run(run, 2)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--z-dim", "16", "--loss", "hinge"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gankit: error: loss and z_dim cannot change on resume (loss 'nonsaturating' -> 'hinge', "
                          "z_dim 8 -> 16); drop --loss --z-dim or start a new run with --out")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_a_resume_with_another_thread_count_warns(tmp_path, caplog):
    import torch

    from gankit.runs import Run
    from gankit.training.trainer import Trainer

    run = tmp_path / "r"
    _tiny_run(run, 2)
    threads = torch.get_num_threads()
    try:
        with caplog.at_level("WARNING"):  # the Trainer sets torch's thread count from the config
            Trainer(Run(run).config().replace(steps=3, threads=threads + 1), run, resume=True).close()
    finally:
        torch.set_num_threads(threads)
    assert f"trained with {threads} torch thread(s) and resumes with {threads + 1}" in caplog.text
    assert json.loads((run / "config.json").read_text())["resumed"][0]["torch_threads"] == threads + 1


def test_divergence_before_the_first_checkpoint_removes_the_new_run(tmp_path):
    import torch

    from gankit import TrainConfig
    from gankit.errors import GankitError
    from gankit.training.trainer import Trainer

    cfg = TrainConfig(data="digits", image_size=8, z_dim=8, g_width=8, d_width=8, batch_size=16, steps=5,
                      log_every=1, tensorboard=False, progress=False, device="cpu", checkpoint_every=100)
    trainer = Trainer(cfg, tmp_path / "r")

    def poison(t):
        if t.step == 2:
            with torch.no_grad():
                next(t.G.parameters()).fill_(float("nan"))
    trainer.callbacks.append(poison)
    with pytest.raises(GankitError, match="before its first checkpoint, so nothing was saved and the run folder "
                                          "was removed; start again with a lower --lr"):
        trainer.train()
    assert not (tmp_path / "r").exists()


def test_an_unexpected_error_is_one_line_with_a_saved_traceback(tmp_path, capsys, monkeypatch):
    import gankit.commands.presets as presets

    def broken(args):
        raise RuntimeError("something internal went wrong\nsecond line")
    monkeypatch.setattr(presets, "run", broken)
    monkeypatch.setenv("GANKIT_CRASH_DIR", str(tmp_path))
    monkeypatch.delenv("GANKIT_DEBUG", raising=False)
    assert main(["presets"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gankit: error: unexpected RuntimeError: something internal went "
                                               "wrong second line (a bug; the traceback is in ")
    saved = list(tmp_path.glob("gankit-crash-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in err[0]
    text = saved[0].read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: something internal" in text
    with pytest.raises(RuntimeError, match="something internal"):
        main(["--debug", "presets"])
    monkeypatch.setenv("GANKIT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["presets"])


@pytest.mark.parametrize("exc, expected", [
    (OSError(28, "No space left on device", "/data/run/x.safetensors"),
     "no space left on the disk holding /data/run/x.safetensors; free some space or write elsewhere"),
    (OSError(13, "Permission denied", "/root/run"), "permission denied: /root/run; choose a path you can write to"),
    (OSError(30, "Read-only file system", "/ro/run"), "read-only file system: /ro/run; choose a writable path"),
    (RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 4096 vs 3962"),
     "writing a file failed: the disk is probably full"),
    (MemoryError(), "out of memory; use a smaller model, batch or -n"),
    (KeyboardInterrupt(), "interrupted"),
])
def test_system_errors_are_one_line(exc, expected, capsys, monkeypatch, tmp_path):
    import gankit.commands.presets as presets

    def broken(args):
        raise exc
    monkeypatch.setattr(presets, "run", broken)
    monkeypatch.setenv("GANKIT_CRASH_DIR", str(tmp_path))
    rc = main(["presets"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == (130 if isinstance(exc, KeyboardInterrupt) else 2)
    assert len(err) == 1 and expected in err[0], err
    assert not list(tmp_path.glob("gankit-crash-*"))


def test_error_lines_are_capped(capsys, monkeypatch):
    import gankit.commands.presets as presets
    from gankit.errors import GankitError

    def broken(args):
        raise GankitError("y" * 50_000 + "x" * 50_000)
    monkeypatch.setattr(presets, "run", broken)
    assert main(["presets"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and len(err[0]) <= 1000 and " ... " in err[0] and err[0].endswith("x" * 100)
