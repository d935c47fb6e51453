"""Training flags: one per :class:`~gankit.config.TrainConfig` field (``--n-critic`` for ``n_critic``),
shared by ``gankit train`` and the ``gankit analyze`` commands that train. Help text, choices and
section come from the field's metadata in ``config.py`` (the choices are the ones validation checks)."""
from __future__ import annotations

import argparse
import dataclasses
import typing

from ..config import SECTIONS, TrainConfig


class ConfigHelpFormatter(argparse.HelpFormatter):
    """Appends each config flag's choices and default to its help when ``--help`` is printed: choices
    held by a registry (models, objectives, datasets) are read then, so building the parser loads no torch."""

    def _get_help_string(self, action):
        name = getattr(action, "config_field", None)
        if name is None:
            return super()._get_help_string(action)
        from ..config import field_choices

        f = {f.name: f for f in dataclasses.fields(TrainConfig)}[name]
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        shown = _shown(default)
        choices = field_choices(name)
        text = f.metadata["help"] + (f"; choices: {', '.join(choices)}" if choices else "")
        preset = getattr(action, "config_preset", None)
        if preset:  # the value the command really starts from, where the preset sets one
            from ..config import read_config_file

            value = read_config_file(preset).get(name, default)
            if value != default:
                shown += f"; {preset}: {_shown(value)}"
        return f"{text} (default: {shown})".replace("%", "%%")


def _shown(value) -> str:
    if value is None:
        return "unset"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def add_config_flags(p: argparse.ArgumentParser, preset: str | None = None) -> None:
    """One flag per TrainConfig field, grouped by section; a flag that is not given changes nothing
    (it is absent from args). ``preset``: the help also shows that preset's value where it sets one."""
    p.formatter_class = ConfigHelpFormatter
    groups = {s: p.add_argument_group(f"{s} (config keys)") for s in SECTIONS}
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        t = hints[f.name]
        args = typing.get_args(t)
        base = next((a for a in args if a is not type(None)), t) if args and type(None) in args else t
        kw = dict(dest=f.name, default=argparse.SUPPRESS, help=f.metadata["help"])
        g = groups[f.metadata["section"]]
        if base is bool:
            action = g.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
        elif typing.get_origin(base) is list:
            action = g.add_argument(flag, type=int, nargs="+", metavar="N", **kw)
        else:
            action = g.add_argument(flag, type=base, metavar=f.name.upper(), **kw)
        action.config_field, action.config_preset = f.name, preset


def given_flags(args: argparse.Namespace, exclude: tuple[str, ...] = ()) -> dict:
    """The TrainConfig fields the user set on the command line."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
            if f.name not in exclude and hasattr(args, f.name)}


def config_from_flags(args: argparse.Namespace, preset: str | None, defaults: dict | None = None,
                      exclude: tuple[str, ...] = ()) -> TrainConfig:
    """``defaults``, then the preset or config file, then the flags given: the later wins."""
    return TrainConfig.from_preset(preset, defaults=defaults, source="flags", **given_flags(args, exclude))
