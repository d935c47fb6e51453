"""bench/startup.py: start-up times of ``import gankit`` / ``gankit --help``, and whether torch loads."""
from __future__ import annotations

from bench import startup


def test_startup_table_reports_no_torch_for_this_checkout(capsys):
    assert startup.main(["--rounds", "1", "--no-write"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert [r.split(" | ")[0] for r in rows] == ["| `import gankit`", "| `gankit --help`", "| `gankit train --help`"]
    assert all(r.rstrip(" |").endswith("no") for r in rows)  # this checkout: torch is not imported
