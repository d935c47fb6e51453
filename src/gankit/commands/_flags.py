"""Training flags: one per :class:`~gankit.config.TrainConfig` field (``--n-critic`` for ``n_critic``),
shared by ``gankit train`` and the ``gankit analyze`` commands that train."""
from __future__ import annotations

import argparse
import dataclasses
import typing

from ..config import TrainConfig


def add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field; a flag that is not given changes nothing (it is absent from args)."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        t = hints[f.name]
        args = typing.get_args(t)
        base = next((a for a in args if a is not type(None)), t) if args and type(None) in args else t
        kw = dict(dest=f.name, default=argparse.SUPPRESS)
        if base is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif typing.get_origin(base) is list:
            p.add_argument(flag, type=int, nargs="+", metavar="N", **kw)
        else:
            p.add_argument(flag, type=base, metavar=f.name.upper(), **kw)


def given_flags(args: argparse.Namespace, exclude: tuple[str, ...] = ()) -> dict:
    """The TrainConfig fields the user set on the command line."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
            if f.name not in exclude and hasattr(args, f.name)}


def config_from_flags(args: argparse.Namespace, preset: str | None, defaults: dict | None = None,
                      exclude: tuple[str, ...] = ()) -> TrainConfig:
    """``defaults``, then the preset or config file, then the flags given: the later wins."""
    return TrainConfig.from_preset(preset, defaults=defaults, source="flags", **given_flags(args, exclude))
