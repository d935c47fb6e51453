"""The ``gankit`` command: one sub-command per module of :mod:`gankit.commands`.

Building the parser imports no torch (each command imports what it needs when it runs), so
``gankit --help`` answers at once. Every failure ends in one line on stderr:

* bad input raises :class:`~gankit.errors.GankitError` (and argparse's usage errors): exit 2;
* Ctrl-C outside training's own graceful stop: ``interrupted``, exit 130;
* an operating-system error (disk full, permission denied, a read-only or virtual file system): the
  path and the reason, exit 2;
* anything else is a bug: one line with the path of a saved traceback, exit 1; ``--debug`` (or
  ``GANKIT_DEBUG=1``) shows the traceback instead.
"""
from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import tempfile
import time
import traceback

from .errors import GankitError, Interrupted

#: what torch's file writer says when a write fails (on a full disk it reports a short write this way)
_WRITE_FAILED = ("unexpected pos", "PytorchStreamWriter failed")
#: error lines are cut to this many characters (a value quoted in a message can be huge)
MAX_MESSAGE = 1000


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``gankit train: error: ...; see gankit train --help``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__, commands

    p = Parser(prog="gankit", description="Generative Adversarial Networks on PyTorch.")
    p.add_argument("--version", action="version", version=f"gankit {__version__}")
    p.add_argument("--debug", action="store_true",
                   help="show the full traceback of an unexpected error (also: GANKIT_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in commands.modules():
        module.register(sub)
    return p


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message`` on one line, at most ``limit`` characters."""
    text = " ".join(str(message).split())
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2  # the problem comes first and the fix last: keep both ends
    return text[:keep] + " ... " + text[-keep:]


def _os_error(e: OSError) -> str:
    where = f" {e.filename}" if e.filename else ""
    if e.errno == errno.ENOSPC:
        return f"no space left on the disk holding{where or ' the output'}; free some space or write elsewhere"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied:{where}; choose a path you can write to"
    if e.errno == errno.EROFS:
        return f"read-only file system:{where}; choose a writable path"
    return f"cannot use{where or ' a file'}: {e.strerror or e}; check the path"


def _save_traceback() -> str:
    """Write the current exception's traceback to a file and return its path."""
    folder = os.environ.get("GANKIT_CRASH_DIR") or tempfile.gettempdir()
    try:
        fd, path = tempfile.mkstemp(prefix=f"gankit-crash-{time.strftime('%Y%m%d-%H%M%S')}-",
                                    suffix=".txt", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write(f"gankit {' '.join(sys.argv[1:])}\n\n{traceback.format_exc()}")
        return path
    except OSError:
        return "(could not be saved)"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    debug = getattr(args, "debug", False) or os.environ.get("GANKIT_DEBUG", "") not in ("", "0")
    if getattr(args, "n", 1) is not None and getattr(args, "n", 1) < 1:
        print("gankit: error: -n must be >= 1", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except Interrupted as e:
        print(f"gankit: {e}", file=sys.stderr)
        return e.exit_code
    except GankitError as e:
        print(f"gankit: error: {one_line(e, MAX_MESSAGE - 15)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return Interrupted.exit_code
    except OSError as e:
        if debug:
            raise
        print(f"gankit: error: {one_line(_os_error(e))}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        if debug or not any(m in str(e) for m in _WRITE_FAILED):
            if debug:
                raise
            return _last_resort(e)
        print("gankit: error: writing a file failed: the disk is probably full (" + one_line(e, 120)
              + "); free some space or write elsewhere", file=sys.stderr)
        return 2
    except MemoryError:
        if debug:
            raise
        print("gankit: error: out of memory; use a smaller model, batch or -n", file=sys.stderr)
        return 2
    except Exception as e:
        if debug:
            raise
        return _last_resort(e)


def _last_resort(e: Exception) -> int:
    """A bug: one line naming the saved traceback; exit 1."""
    path = _save_traceback()
    print(f"gankit: error: unexpected {type(e).__name__}: {one_line(e, 200)} (a bug; the traceback is "
          f"in {path}; rerun with --debug to see it)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
