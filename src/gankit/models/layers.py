"""Building blocks shared by the architectures: normalisation choice, init, spectral norm, and
:class:`ConfigMixin` — a network's constructor arguments are its config."""
from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ..registry import Registry

#: network classes by name, for rebuilding one from its recorded arguments (:func:`build_network`)
NETWORKS: Registry[type] = Registry("network")


class ConfigMixin:
    """A network whose constructor arguments are its config (diffusers' ``register_to_config``,
    nanoGPT's ``model_args``): every subclass is registered by class name in :data:`NETWORKS`,
    and constructing one records the arguments it was called with in ``self.model_args``.
    ``network_config()`` is the JSON a run's config.json keeps per network, from which
    :func:`build_network` makes the same architecture again — without the training config."""

    model_args: dict[str, Any]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__name__ not in NETWORKS:
            NETWORKS.register(cls.__name__)(cls)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self, *args, **kw):
            outermost = "_recording_args" not in self.__dict__  # a subclass's __init__ calls its parent's
            if outermost:
                object.__setattr__(self, "_recording_args", True)
            try:
                init(self, *args, **kw)
            finally:
                if outermost:
                    del self.__dict__["_recording_args"]
            if outermost:
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                self.model_args = {k: _to_json(v) for k, v in list(bound.arguments.items())[1:]}

        cls.__init__ = recording_init

    def network_config(self) -> dict[str, Any]:
        """``{"class", "args", "spectral_norm"}``: what :func:`build_network` needs."""
        sn = any(parametrize.is_parametrized(m) for m in self.modules())
        return {"class": type(self).__name__, "args": self.model_args, "spectral_norm": sn}


def _to_json(value):
    if isinstance(value, ConfigMixin):  # a sub-network argument (CycleGAN's pair of generators)
        return {"class": type(value).__name__, "args": value.model_args}
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"network argument {value!r} is not JSON-serialisable; record plain values")


def _from_json(value):
    if isinstance(value, dict) and set(value) == {"class", "args"}:
        return build_network(value)
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def build_network(config: dict[str, Any]) -> nn.Module:
    """The network a ``network_config()`` describes, freshly initialised (load its weights next)."""
    cls = NETWORKS.get(config["class"])
    module = cls(**{k: _from_json(v) for k, v in config["args"].items()})
    return add_spectral_norm(module) if config.get("spectral_norm") else module


def norm2d(kind: str, channels: int) -> nn.Module:
    """'batch' (DCGAN), 'layer' (for gradient penalties, Gulrajani et al. 2017 Sec. 4) or 'none'."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose one of: batch, layer, none")


def dcgan_init(module: nn.Module) -> None:
    """Radford et al. 2016, Sec. 4: weights ~ N(0, 0.02); batchnorm scale ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every conv/linear weight of ``module``."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.utils.parametrizations.spectral_norm(m)
    return module


@contextlib.contextmanager
def evaluating(*modules: nn.Module) -> Iterator[None]:
    """Run a block with ``modules`` in eval mode (batchnorm statistics frozen, dropout off) and
    without gradients; each module's previous mode is restored afterwards, even on error."""
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        with torch.no_grad():
            yield
    finally:
        for m, mode in zip(modules, modes):
            m.train(mode)


class GeneratorBase(ConfigMixin, nn.Module):
    """A generator maps noise z ~ N(0, I) (and, if conditional, a label y) to a sample.

    A folder is a generator: ``G.save_pretrained(dir)``, ``GeneratorBase.from_pretrained(dir or
    "user/name")``, ``G.push_to_hub("user/name")`` (:mod:`gankit.models.pretrained`)."""

    z_dim: int
    num_classes: int  # 0 = unconditional

    def save_pretrained(self, folder, extra: dict | None = None):
        """Write config.json (this network's arguments) + model.safetensors + a model card into ``folder``."""
        from .pretrained import save_pretrained

        return save_pretrained(self, folder, extra)

    @classmethod
    def from_pretrained(cls, name_or_path, device="cpu", revision: str | None = None, cache_dir=None):
        """The generator saved in folder ``name_or_path`` (or hub id ``user/name``), in eval mode."""
        from ..errors import GankitError
        from .pretrained import from_pretrained

        model = from_pretrained(name_or_path, device, revision, cache_dir)
        if not isinstance(model, cls):
            raise GankitError(f"{name_or_path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    def push_to_hub(self, repo_id: str, **kwargs) -> str:
        """Upload :meth:`save_pretrained`'s folder to the Hugging Face Hub (``pip install 'gankit[hub]'``)."""
        from .pretrained import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)

    def sample_z(self, n: int, device=None, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(n, self.z_dim, device=device, generator=generator)

    def sample_labels(self, n: int, device=None, generator: torch.Generator | None = None) -> Tensor | None:
        if not self.num_classes:
            return None
        return torch.randint(0, self.num_classes, (n,), device=device, generator=generator)


def source_logits(out) -> Tensor:
    """A discriminator returns source logits, or ``(source, class_logits)`` for AC-GAN."""
    return out[0] if isinstance(out, tuple) else out


def sample(generator: GeneratorBase, n: int, labels=None, seed: int | None = None,
           device=None) -> Tensor:
    """n samples in the data range ([-1, 1] for images), in eval mode, without gradients.

    ``labels``: an int (all the same class), a sequence/tensor of n labels, or None (random
    labels for conditional generators). ``seed`` makes the noise reproducible.
    """
    device = device or next(generator.parameters()).device
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    z = torch.randn(n, generator.z_dim, generator=g).to(device)
    y = None
    if generator.num_classes:
        if labels is None:
            y = torch.randint(0, generator.num_classes, (n,), generator=g).to(device)
        else:
            y = torch.as_tensor(labels, dtype=torch.long, device=device).expand(n).clone() \
                if torch.as_tensor(labels).dim() == 0 else torch.as_tensor(labels, dtype=torch.long, device=device)
            if y.min() < 0 or y.max() >= generator.num_classes:
                raise ValueError(f"label out of range: this generator has classes 0..{generator.num_classes - 1}")
    elif labels is not None:
        raise ValueError("this generator is unconditional; drop the label")
    with evaluating(generator):
        return generator(z, y)


GeneratorBase.sample = sample
