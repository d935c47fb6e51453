"""``gankit presets``: the bundled configs, usable with ``gankit train --config NAME``."""
from __future__ import annotations


def register(subparsers) -> None:
    pr = subparsers.add_parser("presets", help="list the bundled config presets")
    pr.set_defaults(func=run)


def run(args) -> int:
    from ..config import list_presets

    for name in list_presets():
        print(name)
    return 0
