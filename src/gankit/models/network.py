"""A network's constructor arguments are its config (diffusers' ``register_to_config``, nanoGPT's
``model_args``): :class:`ConfigMixin` records them, :func:`build_network` rebuilds the network from them."""
from __future__ import annotations

import functools
import inspect
from typing import Any

from torch import nn
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
                try:
                    self.model_args = {k: _to_json(v) for k, v in list(bound.arguments.items())[1:]}
                except TypeError as e:  # e.g. a plain nn.Module argument: usable, but not rebuildable by name
                    self.model_args, self._unrecorded = None, str(e)

        cls.__init__ = recording_init

    def network_config(self) -> dict[str, Any]:
        """``{"class", "args", "spectral_norm"}``: what :func:`build_network` needs."""
        if self.model_args is None:
            raise TypeError(self._unrecorded)
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


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalisation (Miyato et al. 2018) on every conv/linear weight of ``module``."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.utils.parametrizations.spectral_norm(m)
    return module
