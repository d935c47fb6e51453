"""Sub-commands of ``gankit``, one module each.

A module here defines ``register(subparsers)``, which adds its parser and sets ``func`` (a
callable taking the parsed args and returning an exit status). ``gankit.cli`` finds the modules
itself: adding a command is adding a file. Import heavy dependencies (torch) inside ``func``, so that
``gankit --help`` stays fast. ``FIRST`` orders the everyday commands ahead of the rest.
"""
from __future__ import annotations

import importlib
import pkgutil

FIRST = ("train", "sample", "info", "presets")


def modules():
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    for name in sorted(names, key=lambda n: (FIRST.index(n) if n in FIRST else len(FIRST), n)):
        yield importlib.import_module(f"{__name__}.{name}")
