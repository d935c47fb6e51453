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


@dataclass
class TrainConfig:
    # --- what to train
    model: str = "dcgan"              # mlp | dcgan | cgan | acgan | pix2pix | cyclegan
    loss: str = "nonsaturating"       # minimax | nonsaturating | wasserstein | wgan-gp | lsgan | hinge
    data: str = "digits"              # digits | mnist | fashion-mnist | cifar10 | folder | ring | grid | spiral
    data_root: str | None = None
    split: str = "train"              # train | test | all (torchvision datasets)
    image_size: int | None = None     # resize images to this size (default: the dataset's own)
    channels: int | None = None       # folder: 1 (grayscale) or 3 (RGB, default)
    download: bool = True             # torchvision datasets: download when files are absent
    strict: bool = False              # folder: refuse unreadable images instead of skipping them
    num_points: int = 100_000         # synthetic sets (2-D points, Stacked MNIST triples): how many to draw
    train_subset: int | None = None   # train on a seeded subset of this many samples (class-balanced if labelled)
    train_subset_seed: int = 0        #   the subset's seed (independent of --seed: seeds vary training, not data)
    # --- architecture
    z_dim: int = 100
    g_width: int = 64                 # DCGAN ngf
    d_width: int = 64                 # DCGAN ndf
    g_hidden: list[int] = field(default_factory=lambda: [256, 512, 1024])  # MLP G
    d_hidden: list[int] = field(default_factory=lambda: [512, 256])        # MLP D
    dropout: float = 0.3              # MLP D dropout
    backbone: str = "dcgan"           # cgan / acgan: mlp | dcgan | r3gan (cgan: projection only)
    conditioning: str = "concat"      # cgan: concat | projection
    embed_dim: int = 0                # label embedding size (0 = automatic)
    g_norm: str = "batch"             # batch | layer | none
    d_norm: str = "auto"              # auto (batch; layer with a gradient penalty; none with SN)
    spectral_norm: bool = False       # spectral normalisation on D's layers
    r3gan_widths: list[int] | None = None  # r3gan: channels per resolution, low to high (None: g_width/d_width)
    r3gan_blocks: list[int] | None = None  # r3gan: residual blocks per resolution (None: 2 each)
    group_width: int = 16             # r3gan: channels per group of the grouped 3x3 convolution
    expansion: int = 2                # r3gan: the bottleneck's inverted expansion factor
    pack: int = 1                     # PacGAN: D sees this many samples at once (1 = off)
    # --- objective and regularisers
    gp_weight: float | None = None    # gradient penalty lambda (None: the objective's default)
    r1_gamma: float = 0.0             # R1 penalty gamma (0 = off)
    r2_gamma: float = 0.0             # R2 penalty gamma, on generated samples (0 = off); R1 + R2: R3GAN
    reg_interval: int = 1             # lazy regularisation: R1/R2 every this many D steps, scaled by it
    clip_value: float = 0.01          # WGAN weight clipping
    aux_weight: float = 1.0           # AC-GAN class loss weight
    aux_fake: bool = True             # AC-GAN: D's class loss on generated samples too (Odena); False: real only
    l1_weight: float = 100.0          # pix2pix: lambda of the L1 term (Isola et al. 2017, Eq. 4)
    cycle_weight: float = 10.0        # CycleGAN: lambda of the cycle-consistency loss (Zhu et al. 2017, Eq. 3)
    identity_weight: float = 0.5      # CycleGAN: identity loss weight, as a fraction of cycle_weight
    pool_size: int = 50               # CycleGAN: image history buffer (Shrivastava et al. 2017)
    # --- limited data: augmentation of D's input (gankit.augment)
    augment: str = "none"             # none | diffaug (Zhao et al. 2020) | ada (Karras et al. 2020)
    augment_policy: str | None = None # comma-separated ops (None: diffaug color,translation,cutout; ada: all)
    ada_p: float = 0.0                # ADA: initial augmentation probability p
    ada_target: float | None = 0.6    # ADA: target of r_t = E[sign(D(x_real))] (None: p stays at ada_p)
    ada_interval: int = 4             # ADA: adjust p every this many D steps
    ada_kimg: float = 100.0           # ADA: thousands of real images for p to move by 1 (paper: 500)
    # --- optimisation
    epochs: int | None = None         # passes over the data (1 when neither epochs nor steps is set)
    steps: int | None = None          # generator steps (overrides epochs)
    batch_size: int = 64
    n_critic: int = 1                 # k: discriminator steps per generator step
    reuse_fake: bool = False          # G's step reuses the D step's fakes (pytorch/examples dcgan), not fresh z
    optimizer: str = "adam"           # adam | sgd | rmsprop
    lr: float = 2e-4
    lr_g: float | None = None
    lr_d: float | None = None
    beta1: float = 0.5
    beta2: float = 0.999
    momentum: float = 0.9             # sgd
    lr_decay: str = "none"            # none | linear: both lrs decay linearly to 0 at the last step
    lr_decay_start: float = 0.0       #   from this fraction of the run on (0.5: constant for half, as in pix2pix)
    ema_decay: float = 0.0            # EMA of G's weights (0 = off), e.g. 0.999
    # --- run
    seed: int = 0
    device: str = "auto"              # auto | cpu | cuda | cuda:N | mps
    deterministic: bool = False
    amp: str = "none"                 # none | bf16 (autocast) | fp16 (autocast + GradScaler)
    compile: bool = False             # torch.compile G and D for the updates
    channels_last: bool = False       # NHWC memory format for conv models
    sync_bn: bool = False             # distributed runs: SyncBatchNorm across ranks
    out: str | None = None
    log_every: int = 50               # steps between host syncs for logs/progress
    sample_every: int = 0             # steps between sample grids (0 = every epoch)
    checkpoint_every: int = 0         # steps between checkpoints (0 = every epoch)
    keep_checkpoints: int = 3
    checkpoint_minutes: float = 0.0   # also checkpoint every this many minutes of wall time (0 = off)
    on_divergence: str = "stop"       # stop | rollback: on non-finite losses, reload the last good
    rollback_lr_factor: float = 0.5   #   checkpoint and multiply both learning rates by this factor
    max_rollbacks: int = 3
    n_samples: int = 64               # images in each sample grid
    tensorboard: bool = True
    progress: bool = True

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

    def replace(self, **changes) -> "TrainConfig":
        check_keys(changes, "overrides")
        return dataclasses.replace(self, **changes).validate()

    def validate(self) -> "TrainConfig":
        from .data import DATASETS
        from .losses import OBJECTIVES, effective_gp_weight
        from .models import MODELS

        _check_types(self)
        for reg, value in ((MODELS, self.model), (OBJECTIVES, self.loss), (DATASETS, self.data)):
            try:
                reg.get(value)
            except ValueError as e:
                raise ConfigError(str(e)) from None
        _choice("optimizer", self.optimizer, ("adam", "sgd", "rmsprop"))
        _choice("backbone", self.backbone, ("mlp", "dcgan", "r3gan"))
        _choice("conditioning", self.conditioning, ("concat", "projection"))
        _choice("g_norm", self.g_norm, ("batch", "layer", "none"))
        _choice("d_norm", self.d_norm, ("auto", "batch", "layer", "none"))
        _choice("split", self.split, ("train", "test", "all"))
        _choice("amp", self.amp, ("none", "bf16", "fp16"))
        _choice("lr_decay", self.lr_decay, ("none", "linear"))
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
            from .training.games import GAMES

            if self.n_critic != 1 or self.model in GAMES:
                raise ConfigError(f"--reuse-fake needs one D step per G step and a noise GAN (got n_critic="
                                  f"{self.n_critic}, model {self.model}); drop --reuse-fake or use --n-critic 1")
        _choice("on_divergence", self.on_divergence, ("stop", "rollback"))
        if not 0 < self.rollback_lr_factor < 1:
            raise ConfigError(f"rollback_lr_factor must be in (0, 1) (got {self.rollback_lr_factor}); e.g. 0.5")
        if self.checkpoint_minutes < 0 or self.max_rollbacks < 0:
            raise ConfigError("checkpoint_minutes and max_rollbacks must be >= 0")
        for name in ("lr", "lr_g", "lr_d"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ConfigError(f"{name} must be > 0 (got {v}); e.g. --{name.replace('_', '-')} 2e-4")
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


def _check_limited_data(cfg: TrainConfig) -> None:
    """--augment and --train-subset: known names, values in range, image GANs only."""
    from .augment import check_augment

    if cfg.train_subset is not None and cfg.train_subset < 1:
        raise ConfigError(f"train_subset must be >= 1 (got {cfg.train_subset}); e.g. --train-subset 1000")
    if cfg.augment == "none":
        return
    if cfg.model in ("pix2pix", "cyclegan") or cfg.data in ("ring", "grid", "spiral"):
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
                          f"({', '.join(list_presets())})")
    try:
        text = p.read_text()
        d = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot parse config file {str(p)!r}: {str(e).splitlines()[0]}") from None
    d = d or {}
    if not isinstance(d, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping of keys to values")
    check_keys(d, str(p))
    return d


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
