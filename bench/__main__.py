"""``python -m bench <name> [args]``: run bench/<name>.py's ``main(argv)``; no name lists them."""
from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path


def available() -> list[str]:
    return sorted(p.stem for p in Path(__file__).parent.glob("*.py") if not p.stem.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m bench <name> [args]\nbenchmarks: " + ", ".join(names))
        return 0 if argv else 2
    name = argv[0].removesuffix(".py")
    if name not in names:
        print(f"python -m bench: unknown benchmark {name!r}; choose one of: {', '.join(names)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{name}")
    if not hasattr(module, "main"):
        print(f"python -m bench: bench/{name}.py has no main(); run it as python bench/{name}.py", file=sys.stderr)
        return 2
    sys.argv = [f"bench/{name}.py", *argv[1:]]  # for mains that parse sys.argv themselves
    takes_args = bool(inspect.signature(module.main).parameters)
    status = module.main(argv[1:]) if takes_args else module.main()
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
