"""The ``gankit`` command: one sub-command per module of :mod:`gankit.commands`.

Building the parser imports no torch (each command imports what it needs when it runs), so
``gankit --help`` answers at once. Bad input raises :class:`~gankit.errors.GankitError`, printed as
one line with exit status 2.
"""
from __future__ import annotations

import argparse
import logging
import sys

from .errors import GankitError, Interrupted


def build_parser() -> argparse.ArgumentParser:
    from . import __version__, commands

    p = argparse.ArgumentParser(prog="gankit", description="Generative Adversarial Networks on PyTorch.")
    p.add_argument("--version", action="version", version=f"gankit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for module in commands.modules():
        module.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    if getattr(args, "n", 1) is not None and getattr(args, "n", 1) < 1:
        print("gankit: error: -n must be >= 1", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except Interrupted as e:
        print(f"gankit: {e}", file=sys.stderr)
        return e.exit_code
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C in a command that has nothing to save
        print("gankit: interrupted", file=sys.stderr)
        return Interrupted.exit_code


if __name__ == "__main__":
    sys.exit(main())
