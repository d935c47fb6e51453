"""Sub-commands beyond train/sample/info/presets, one module each.

A module here defines ``register(subparsers)``, which adds its parser and sets ``func`` (a
callable taking the parsed args and returning an exit status). ``gankit.cli`` finds the modules
itself: adding a command is adding a file. Import heavy dependencies inside ``func``.
"""
from __future__ import annotations

import importlib
import pkgutil


def modules():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{__name__}.{info.name}")
