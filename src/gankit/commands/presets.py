"""``gankit presets``: the bundled configs, usable with ``gankit train --config NAME``."""
from __future__ import annotations


def register(subparsers) -> None:
    pr = subparsers.add_parser("presets", help="list the bundled config presets, one line each")
    pr.set_defaults(func=run)


def run(args) -> int:
    from ..config import list_presets, preset_description

    names = list_presets()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {preset_description(name)}")
    return 0
