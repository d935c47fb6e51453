"""Building blocks shared by the architectures: normalisation choice, init, eval mode, and the
generator base class (a network's config and spectral norm: :mod:`gankit.models.network`)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from .network import ConfigMixin
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
