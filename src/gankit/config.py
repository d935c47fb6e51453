"""The training configuration: one flat dataclass, read from JSON/YAML files and CLI flags."""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

PRESET_DIR = Path(__file__).parent / "presets"
#: the preset of the default job (`gankit train` with neither --config nor --data)
DEFAULT_PRESET = "dcgan-digits"
#: the preset a config without --config starts from, by (model, data) or data: ``gankit train --data mnist``
#: gets dcgan-mnist's settings with the flags on top (:meth:`TrainConfig.recommended`)
RECOMMENDED: dict = {
    "digits": "dcgan-digits", "mnist": "dcgan-mnist", "fashion-mnist": "dcgan-mnist",
    "stacked-mnist": "stacked-mnist", "ring": "mlp-ring", "grid": "mlp-grid", "spiral": "mlp-ring",
    "edges2mnist": "pix2pix-edges2mnist", "digits2inverted": "cyclegan-digits2inverted",
    ("mlp", "mnist"): "mlp-mnist", ("cgan", "mnist"): "cgan-mnist", ("acgan", "mnist"): "acgan-mnist",
    ("r3gan", "mnist"): "r3gan-mnist", ("r3gan", "stacked-mnist"): "r3gan-stacked-mnist",
}
#: the values of fields added after a run was recorded: a config.json without the key trained with
#: these (so an old run resumes with the arithmetic it started with)
ABSENT_MEANS = {"fused_adam": False, "amp": "none", "channels_last": False}
#: the image-to-image models: games of their own (gankit.translation), not a noise GAN's
TRANSLATION_MODELS = ("pix2pix", "cyclegan")
#: what describes a preset's own data: dropped when the default preset stands in for other data
DATA_KEYS = ("data", "image_size", "channels", "num_points", "epochs", "steps", "sample_every", "checkpoint_every")


#: the sections of ``gankit train --help``, in order (each field's metadata names its section)
SECTIONS = ("data", "model", "objective", "regularisers", "optimisation", "logging and run", "scale-out")


def _in(section: str):
    """A ``field`` maker for one section: ``help`` (one line), ``choices`` (a tuple, or the name of the
    registry that holds them: ``models``, ``objectives``, ``datasets``) and the default."""
    def make(default=dataclasses.MISSING, help: str = "", choices=None, factory=None):
        md = {"section": section, "help": help, **({"choices": choices} if choices else {})}
        if factory is not None:
            return field(default_factory=factory, metadata=md)
        return field(default=default, metadata=md)
    return make


_data, _model, _objective, _reg, _optim, _run, _scale = (_in(s) for s in SECTIONS)


#: upper bounds of sizes and counts: far above any sensible run, low enough that a typo
#: (``--z-dim 1000000000``) is refused in one line instead of exhausting memory; ``LIST_UPPER``: each
#: entry of a list (r3gan_widths like g_width)
UPPER = {"z_dim": 65536, "g_width": 4096, "d_width": 4096, "image_size": 2048,
         "batch_size": 65536, "n_critic": 1000, "n_samples": 4096, "num_points": 100_000_000,
         "steps": 1_000_000_000, "epochs": 1_000_000, "embed_dim": 65536, "pack": 64, "group_width": 4096,
         "expansion": 64, "pool_size": 100_000, "reg_interval": 100_000, "log_every": 1_000_000_000,
         "train_subset": 100_000_000, "ada_interval": 100_000,
         "latent_categories": 65536}
LIST_UPPER = {"g_hidden": 65536, "d_hidden": 65536, "r3gan_widths": 4096, "r3gan_blocks": 65536}
#: seeds: torch.manual_seed takes 64-bit values and the trainer also seeds with seed + 1
MAX_SEED = 2**63 - 2
#: the largest learning rate accepted (no optimiser here trains a GAN at lr > 10)
MAX_LR = 10.0


@dataclass
class TrainConfig:
    """Every training setting, flat; ``gankit train --help`` shows each with its meaning.

    ``TrainConfig()`` holds the plain field defaults (one epoch, no EMA): use
    :meth:`TrainConfig.recommended` for the settings ``gankit train`` uses (the preset for the data and
    model, with your changes on top).
    """
    # --- what to train
    model: str = _model("dcgan", "the GAN: generator and discriminator family", "models")
    loss: str = _objective("nonsaturating", "the adversarial objective", "objectives")
    data: str = _data("digits", "the dataset (digits is bundled; mnist/fashion-mnist/cifar10 download into "
                                "the data root)", "datasets")
    data_root: str | None = _data(None, "folder holding (or receiving) the dataset files; unset: $GANKIT_DATA, "
                                        "else ~/.cache/gankit/data")
    split: str = _data("train", "which split of a torchvision dataset to train on", ("train", "test", "all"))
    image_size: int | None = _data(None, "resize images to this size (unset: the dataset's own)")
    channels: int | None = _data(None, "folder data: 1 (grayscale) or 3 (RGB, unset)")
    download: bool = _data(True, "torchvision datasets: download when the files are absent")
    strict: bool = _data(False, "folder data: refuse unreadable images instead of skipping them")
    num_points: int = _data(100_000, "synthetic sets (2-D points, Stacked MNIST triples): how many to draw")
    train_subset: int | None = _data(None, "train on a seeded subset of this many samples (class-balanced where "
                                           "labelled; unset: all)")
    train_subset_seed: int = _data(0, "the subset's seed (apart from --seed: seeds vary training, not data)")
    # --- architecture
    z_dim: int = _model(100, "size of the noise vector z")
    g_width: int = _model(64, "generator width (DCGAN ngf)")
    d_width: int = _model(64, "discriminator width (DCGAN ndf)")
    g_hidden: list[int] = _model(help="MLP generator: hidden layer sizes", factory=lambda: [256, 512, 1024])
    d_hidden: list[int] = _model(help="MLP discriminator: hidden layer sizes", factory=lambda: [512, 256])
    dropout: float = _model(0.3, "MLP discriminator: dropout probability")
    backbone: str = _model("dcgan", "cgan / acgan: the network family (cgan r3gan: projection only)",
                           ("mlp", "dcgan", "r3gan"))
    conditioning: str = _model("concat", "cgan: how the label enters (concatenated or projection D)",
                               ("concat", "projection"))
    embed_dim: int = _model(0, "label embedding size (0: automatic)")
    latent_categories: int = _model(0, "MLP / DCGAN G: z's first coordinate becomes a categorical code of this many "
                                    "categories, uniform, one-hot (InfoGAN's, Chen et al. 2016, without its "
                                    "information loss); lets G leave no samples between modes (0: off)")
    g_norm: str = _model("batch", "the generator's normalisation", ("batch", "layer", "none"))
    d_norm: str = _model("auto", "the discriminator's normalisation (auto: batch; layer with a gradient penalty; "
                                 "none with spectral norm)", ("auto", "batch", "layer", "none"))
    spectral_norm: bool = _reg(False, "spectral normalisation on D's layers (Miyato et al. 2018)")
    r3gan_widths: list[int] | None = _model(None, "r3gan: channels per resolution, low to high (unset: "
                                                  "g_width/d_width)")
    r3gan_blocks: list[int] | None = _model(None, "r3gan: residual blocks per resolution (unset: 2 each)")
    group_width: int = _model(16, "r3gan: channels per group of the grouped 3x3 convolution")
    expansion: int = _model(2, "r3gan: the bottleneck's inverted expansion factor")
    pack: int = _model(1, "PacGAN: D sees this many samples at once (1: off)")
    # --- objective and regularisers
    gp_weight: float | None = _reg(None, "gradient penalty lambda (unset: the objective's default; wgan-gp 10)")
    r1_gamma: float = _reg(0.0, "R1 penalty gamma on real data (0: off)")
    r2_gamma: float = _reg(0.0, "R2 penalty gamma on generated samples (0: off); R1 + R2: R3GAN")
    reg_interval: int = _reg(1, "lazy regularisation: R1/R2 every this many D steps, scaled by it")
    clip_value: float = _objective(0.01, "wasserstein: D's weights are clipped to [-c, c]")
    aux_weight: float = _objective(1.0, "AC-GAN: weight of the class loss")
    aux_fake: bool = _objective(True, "AC-GAN: D's class loss on generated samples too (Odena et al.); "
                                      "off: real only")
    l1_weight: float = _objective(100.0, "pix2pix: lambda of the L1 term (Isola et al. 2017, Eq. 4)")
    cycle_weight: float = _objective(10.0, "CycleGAN: lambda of the cycle-consistency loss (Zhu et al. 2017, "
                                           "Eq. 3)")
    identity_weight: float = _objective(0.5, "CycleGAN: identity loss weight, as a fraction of cycle_weight")
    pool_size: int = _objective(50, "CycleGAN: image history buffer size (Shrivastava et al. 2017)")
    # --- limited data: augmentation of D's input (gankit.augment)
    augment: str = _reg("none", "augment every image D sees: diffaug (Zhao et al. 2020) or ada (Karras et al. "
                                "2020); measured on 1,000 MNIST digits: ada helped a cgan, diffaug collapsed it within "
                                "each class (docs/benchmarks.md, Limited data)", ("none", "diffaug", "ada"))
    augment_policy: str | None = _reg(None, "comma-separated ops (unset: diffaug color,translation,cutout; "
                                            "ada: all)")
    ada_p: float = _reg(0.0, "ADA: initial augmentation probability p")
    ada_target: float | None = _reg(0.6, "ADA: target of r_t = E[sign(D(x_real))] (null: p stays at ada_p)")
    ada_interval: int = _reg(4, "ADA: adjust p every this many D steps")
    ada_kimg: float = _reg(100.0, "ADA: thousands of real images for p to move by 1 (paper: 500)")
    # --- optimisation
    epochs: int | None = _optim(None, "passes over the data (1 when neither epochs nor steps is set)")
    steps: int | None = _optim(None, "generator steps (overrides epochs)")
    batch_size: int = _optim(64, "real images per discriminator step")
    n_critic: int = _optim(1, "k: discriminator steps per generator step")
    reuse_fake: bool = _optim(False, "G's step reuses the D step's fakes (pytorch/examples dcgan), not fresh z")
    optimizer: str = _optim("adam", "the optimiser of both networks", ("adam", "sgd", "rmsprop"))
    lr: float = _optim(2e-4, "learning rate of both networks")
    lr_g: float | None = _optim(None, "generator learning rate (unset: lr)")
    lr_d: float | None = _optim(None, "discriminator learning rate (unset: lr; higher: TTUR)")
    beta1: float = _optim(0.5, "Adam beta1, the first-moment decay (DCGAN: 0.5)")
    beta2: float = _optim(0.999, "Adam beta2, the second-moment decay (R3GAN: 0.99)")
    momentum: float = _optim(0.9, "momentum of the sgd optimiser")
    fused_adam: bool = _optim(True, "adam: one fused kernel per step (3-4x faster on the CPU); off: the per-parameter "
                                    "loop of gankit 0.1, bit-identical to it")
    lr_decay: str = _optim("none", "learning-rate schedule: linear decays both to 0 at the last step",
                           ("none", "linear"))
    lr_decay_start: float = _optim(0.0, "linear decay starts at this fraction of the run (0.5: as in pix2pix)")
    ema_decay: float = _optim(0.0, "EMA of G's weights, sampled from (0: off), e.g. 0.999")
    # --- run
    seed: int = _run(0, "seed of every random draw (same seed, same thread count: bit-identical on CPU)")
    device: str = _scale("auto", "auto, cpu, cuda, cuda:N or mps")
    threads: int = _scale(0, "CPU threads for training (0: auto, physical cores minus the current load, "
                             "at least 1; $OMP_NUM_THREADS when set; recorded, so a resume uses as many)")
    deterministic: bool = _run(False, "torch deterministic algorithms (errors on ops without one)")
    amp: str = _scale("auto", "mixed precision: bf16 autocast, or fp16 autocast + GradScaler; auto: bf16 + "
                              "channels-last for image models where the hardware has bf16 natively (CPUs with AMX "
                              "or AVX512-BF16, CUDA GPUs with bf16; on CPUs not cyclegan, which it does not "
                              "speed up there), none (fp32) elsewhere, the choice written into the run's config; none: fp32",
                      ("none", "auto", "bf16", "fp16"))
    compile: bool = _scale(False, "torch.compile G and D for the updates")
    channels_last: bool = _scale(False, "NHWC memory format for convolutional models")
    sync_bn: bool = _scale(False, "distributed runs (CUDA): SyncBatchNorm across ranks")
    out: str | None = _run(None, "the run directory (unset: runs/MODEL-DATA-TIME)")
    log_every: int = _run(50, "steps between host syncs: losses to metrics.jsonl, progress lines off a terminal")
    sample_every: int = _run(0, "steps between sample grids (0: every epoch)")
    checkpoint_every: int = _run(0, "steps between checkpoints (0: every epoch)")
    keep_checkpoints: int = _run(3, "checkpoints kept (older ones are deleted)")
    checkpoint_minutes: float = _run(0.0, "also checkpoint every this many minutes of wall time (0: off)")
    on_divergence: str = _run("stop", "on non-finite losses: stop, or reload the last good checkpoint with "
                                      "lower learning rates", ("stop", "rollback"))
    rollback_lr_factor: float = _run(0.5, "rollback: both learning rates are multiplied by this factor")
    max_rollbacks: int = _run(3, "rollback: at most this many times")
    n_samples: int = _run(64, "images in each sample grid")
    tensorboard: bool = _run(True, "TensorBoard logs (pip install 'gankit[tensorboard]')")
    progress: bool = _run(True, "progress: a bar on a terminal, one line every log_every steps otherwise")

    # ------------------------------------------------------------------ helpers
    @property
    def lr_generator(self) -> float:
        return self.lr if self.lr_g is None else self.lr_g

    @property
    def lr_discriminator(self) -> float:
        return self.lr if self.lr_d is None else self.lr_d

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> "TrainConfig":
        check_keys(d, source)
        return cls(**d).validate()

    @classmethod
    def from_preset(cls, name: str | Path | None, *, defaults: dict[str, Any] | None = None,
                    source: str | None = None, **overrides) -> "TrainConfig":
        """A bundled preset (``gankit presets``) or a YAML/JSON config file, over ``defaults`` and
        under ``overrides``; ``name=None``: the field defaults. ``source`` names the overrides in errors."""
        base = read_config_file(name) if name else {}
        return cls.from_dict({**(defaults or {}), **base, **overrides},
                             source or (f"preset {name}" if name else "config"))

    @classmethod
    def recommended(cls, *, source: str = "config", **changes) -> "TrainConfig":
        """The good settings for the model and data in ``changes`` (what ``gankit train`` with flags and no
        --config uses): the preset of that (model, data) or data (:data:`RECOMMENDED`), else the default
        preset's settings without its data keys; ``changes`` on top. ``recommended()``: the default job."""
        data, model = changes.get("data", cls.data), changes.get("model")
        name = RECOMMENDED.get((model, data)) or RECOMMENDED.get(data)
        base = read_config_file(name or DEFAULT_PRESET)
        if name is None:
            base = {k: v for k, v in base.items() if k not in DATA_KEYS}
        return cls.from_dict({**base, **changes}, source)

    def replace(self, **changes) -> "TrainConfig":
        check_keys(changes, "overrides")
        return dataclasses.replace(self, **changes).validate()

    def validate(self) -> "TrainConfig":
        _check_types(self)
        for f in fields(self):  # the choices of the help text (field metadata) are the ones checked
            kind = f.metadata.get("choices")
            if isinstance(kind, str):  # a registry: its error names what is registered
                try:
                    registry(kind).get(getattr(self, f.name))
                except ValueError as e:
                    raise ConfigError(str(e)) from None
            elif kind:
                _choice(f.name, getattr(self, f.name), kind)
        from .losses import effective_gp_weight

        if not 0 <= self.lr_decay_start < 1:
            raise ConfigError(f"lr_decay_start must be in [0, 1) (got {self.lr_decay_start}); e.g. 0.5")
        if self.amp == "fp16" and (self.r1_gamma > 0 or self.r2_gamma > 0
                                   or effective_gp_weight(self.loss, self.gp_weight) > 0):
            raise ConfigError("--amp fp16 cannot be combined with a gradient penalty, R1 or R2 (their gradients "
                              "would be unscaled); use --amp bf16")
        if self.compile and (self.r1_gamma > 0 or self.r2_gamma > 0):
            raise ConfigError("--compile cannot be combined with R1/R2 (double backward through a compiled D); "
                              "drop one of them")
        if self.reuse_fake:
            if self.n_critic != 1 or self.model in TRANSLATION_MODELS:
                raise ConfigError(f"--reuse-fake needs one D step per G step and a noise GAN (got n_critic="
                                  f"{self.n_critic}, model {self.model}); drop --reuse-fake or use --n-critic 1")
        if not 0 < self.rollback_lr_factor < 1:
            raise ConfigError(f"rollback_lr_factor must be in (0, 1) (got {self.rollback_lr_factor}); e.g. 0.5")
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0 (got {self.threads}); 0 picks them automatically")
        if self.checkpoint_minutes < 0 or self.max_rollbacks < 0:
            raise ConfigError("checkpoint_minutes and max_rollbacks must be >= 0")
        for name in ("lr", "lr_g", "lr_d"):
            v = getattr(self, name)
            if v is not None and not 0 < v <= MAX_LR:
                bound = "> 0" if v is None or v <= 0 else f"<= {MAX_LR:g}"
                raise ConfigError(f"{name} must be {bound} (got {v}); e.g. --{name.replace('_', '-')} 2e-4")
        if self.pack < 1 or self.batch_size % self.pack:
            raise ConfigError(f"pack must be >= 1 and divide batch_size (got pack={self.pack}, "
                              f"batch_size={self.batch_size})")
        for name, low in (("batch_size", 1), ("n_critic", 1), ("z_dim", 1), ("g_width", 1), ("d_width", 1),
                          ("log_every", 1), ("n_samples", 1), ("num_points", 1), ("keep_checkpoints", 1),
                          ("reg_interval", 1), ("group_width", 1), ("expansion", 1)):
            if getattr(self, name) < low:
                raise ConfigError(f"{name} must be >= {low} (got {getattr(self, name)})")
        for name in ("epochs", "steps", "image_size"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"{name} must be >= 1 (got {v})")
        if self.embed_dim < 0:
            raise ConfigError(f"embed_dim must be >= 0 (got {self.embed_dim}; 0 = automatic)")
        if self.latent_categories and (self.latent_categories < 2 or self.z_dim < 2):
            raise ConfigError(f"latent_categories must be 0 (off) or >= 2 with z_dim >= 2, the code taking z's first "
                              f"coordinate (got latent_categories={self.latent_categories}, z_dim={self.z_dim}); "
                              f"e.g. --latent-categories 50 --z-dim 3")
        if self.latent_categories and self.model in TRANSLATION_MODELS:
            raise ConfigError(f"--latent-categories codes the noise of a noise GAN's generator; --model {self.model} "
                              f"maps images to images: drop --latent-categories")
        for name, high in LIST_UPPER.items():
            values = getattr(self, name)
            if values is not None and (not values or min(values) < 1 or max(values) > high):
                raise ConfigError(f"{name} must be a non-empty list of integers in [1, {high}] (got {values}); "
                                  f"this limit keeps a typo from allocating the machine's whole memory")
        for name, high in UPPER.items():
            v = getattr(self, name, None)
            if v is not None and v > high:
                raise ConfigError(f"{name} must be <= {high:,} (got {v:,}); this limit keeps a typo from "
                                  f"allocating the machine's whole memory")
        for name in ("seed", "train_subset_seed"):
            if not 0 <= getattr(self, name) <= MAX_SEED:
                raise ConfigError(f"{name} must be an integer in [0, {MAX_SEED}] (got {getattr(self, name)})")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1) (got {self.momentum}); e.g. 0.9")
        for name in ("sample_every", "checkpoint_every", "r1_gamma", "r2_gamma", "clip_value", "aux_weight",
                     "l1_weight",
                     "cycle_weight", "identity_weight", "pool_size"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0 (got {getattr(self, name)})")
        if self.gp_weight is not None and self.gp_weight < 0:
            raise ConfigError(f"gp_weight must be >= 0 (got {self.gp_weight})")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1) (got {self.dropout})")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"ema_decay must be in [0, 1) (got {self.ema_decay}); e.g. 0.999")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ConfigError(f"beta1 and beta2 must be in [0, 1) (got {self.beta1}, {self.beta2})")
        _check_limited_data(self)
        if self.channels not in (None, 1, 3):
            raise ConfigError(f"channels must be 1 or 3 (got {self.channels})")
        return self


def _check_types(cfg: TrainConfig) -> None:
    """Every value has its field's type (ints for counts, numbers for rates, ...)."""
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        value, t = getattr(cfg, f.name), hints[f.name]
        args = typing.get_args(t)
        optional = type(None) in args
        base = next((a for a in args if a is not type(None)), t) if optional else t
        if value is None and optional:
            continue
        if typing.get_origin(base) is list:
            ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            want = "a list of integers"
        elif base is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            want = "a finite number"
        elif base is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
            want = "an integer"
        else:
            ok, want = isinstance(value, base), base.__name__
        if not ok:
            raise ConfigError(f"{f.name} must be {want}{' or null' if optional else ''} (got {value!r})")


_REGISTRIES = {"models": ("gankit.models", "MODELS"), "objectives": ("gankit.losses", "OBJECTIVES"),
               "datasets": ("gankit.data", "DATASETS")}


def registry(kind: str):
    """The registry named by a field's ``choices`` metadata (imported on use: it loads torch)."""
    import importlib

    module, name = _REGISTRIES[kind]
    return getattr(importlib.import_module(module), name)


def field_choices(name: str) -> list[str] | None:
    """The values field ``name`` accepts (its metadata's tuple, or its registry's names), or None."""
    kind = {f.name: f for f in fields(TrainConfig)}[name].metadata.get("choices")
    if isinstance(kind, str):
        return registry(kind).names()
    return list(kind) if kind else None


def _check_limited_data(cfg: TrainConfig) -> None:
    """--augment and --train-subset: known names, values in range, image GANs only."""
    from .augment import check_augment

    if cfg.train_subset is not None and cfg.train_subset < 1:
        raise ConfigError(f"train_subset must be >= 1 (got {cfg.train_subset}); e.g. --train-subset 1000")
    if cfg.augment == "none":
        return
    if cfg.model in TRANSLATION_MODELS or cfg.data in ("ring", "grid", "spiral"):
        raise ConfigError(f"--augment {cfg.augment} augments the images a noise GAN's discriminator sees; "
                          f"--model {cfg.model} on --data {cfg.data} cannot use it: drop --augment")
    check_augment(cfg)
    if not 0 <= cfg.ada_p <= 1 or (cfg.ada_target is not None and not 0 < cfg.ada_target < 1):
        raise ConfigError(f"ada_p must be in [0, 1] and ada_target in (0, 1) (got {cfg.ada_p}, {cfg.ada_target})")
    if cfg.ada_interval < 1 or not cfg.ada_kimg > 0:
        raise ConfigError(f"ada_interval must be >= 1 and ada_kimg > 0 (got {cfg.ada_interval}, {cfg.ada_kimg})")


def _choice(name: str, value: str, options) -> None:
    if value not in options:
        raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(options)}")


def check_keys(d: dict[str, Any], source: str) -> None:
    valid = [f.name for f in fields(TrainConfig)]
    for key in d:
        if not isinstance(key, str):
            raise ConfigError(f"config keys must be strings (got {key!r} in {source})")
        if key not in valid:
            near = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; valid keys: {', '.join(valid)}"
            raise ConfigError(f"unknown key {key!r} in {source}{hint}")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML config file, or a preset by name (see ``gankit presets``)."""
    p = Path(path)
    if not p.exists() and (PRESET_DIR / f"{path}.yaml").exists():
        p = PRESET_DIR / f"{path}.yaml"
    if not p.exists():
        raise ConfigError(f"config file {str(path)!r} not found; give a .yaml/.json path or a preset name "
                          f"(`gankit presets` lists them)")
    if not p.is_file():
        raise ConfigError(f"config file {str(path)!r} is not a file; give a .yaml/.json path or a preset name")
    try:
        text = p.read_text()
        d = json.loads(text) if p.suffix == ".json" else _safe_yaml(text, p)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot parse config file {str(p)!r}: {str(e).splitlines()[0]}") from None
    d = d or {}
    if not isinstance(d, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping of keys to values")
    if not isinstance(d.pop("description", ""), str):
        raise ConfigError(f"description in {str(p)!r} must be one line of text")
    check_keys(d, str(p))
    return d


#: the most values a YAML config may expand to through aliases (``*a``): a config has ~70 keys; a
#: few hundred bytes of nested aliases would otherwise expand to gigabytes ("billion laughs")
MAX_YAML_VALUES = 10_000


def _safe_yaml(text: str, path: Path):
    """``yaml.safe_load``, refusing documents whose aliases expand to more than MAX_YAML_VALUES values."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    sizes: dict[int, int] = {}

    def size(n) -> int:  # expanded size, each shared (aliased) node counted once per use
        if id(n) in sizes:
            return sizes[id(n)]
        sizes[id(n)] = 1  # a recursive alias counts once
        children = [c for pair in n.value for c in pair] if isinstance(n, yaml.MappingNode) else (
            n.value if isinstance(n, yaml.SequenceNode) else [])
        total = 1
        for c in children:
            total += size(c)
            if total > MAX_YAML_VALUES:
                break
        sizes[id(n)] = total
        return total

    if node is not None and size(node) > MAX_YAML_VALUES:
        raise ConfigError(f"config file {str(path)!r} expands to more than {MAX_YAML_VALUES:,} values through YAML "
                          f"aliases (*name); write the values out instead of nesting aliases")
    return yaml.safe_load(text)


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_description(name: str) -> str:
    """The one-line ``description:`` of a bundled preset."""
    return str(yaml.safe_load((PRESET_DIR / f"{name}.yaml").read_text()).get("description", ""))
