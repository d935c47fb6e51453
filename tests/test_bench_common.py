"""bench/_common.py and bench/_speed.py: one path set-up, one machine line, one markdown table, and no benchmark
borrowing another's helpers."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _common, gpu_throughput, time_to_quality  # noqa: E402

BENCH = ROOT / "bench"
#: the modules of bench/ that are helpers, not benchmarks: any benchmark may import them
HELPERS = {"_common", "_quality", "_speed", "_toy", "_translation", "reference_loop"}


def bench_imports(path: Path) -> set[str]:
    """The ``bench`` modules that ``path`` imports (``bench.x``; ``from bench import x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "bench":
            found |= {f"bench.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bench."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("bench.")}
    return found


def code(path: Path) -> str:
    """The source of ``path`` without its comments and strings (docstrings included)."""
    with path.open("rb") as f:
        tokens = [t for t in tokenize.tokenize(f.readline) if t.type not in (tokenize.COMMENT, tokenize.STRING)]
    return " ".join(t.string for t in tokens)


def test_only_common_sets_up_sys_path():
    assert re.search(r"\bsys\s*\.\s*path\b", code(BENCH / "_common.py"))  # the check sees code
    offenders = [p.name for p in sorted(BENCH.glob("*.py"))
                 if p.name != "_common.py" and re.search(r"\bsys\s*\.\s*path\b|\bsys\s+import\s+path\b", code(p))]
    assert offenders == []
    # ... and every module but the package's own imports it (directly, or first thing through _quality/_speed)
    for p in sorted(BENCH.glob("*.py")):
        if p.name not in ("__init__.py", "__main__.py", "_common.py"):
            assert "bench._common" in bench_imports(p), p.name
    assert str(ROOT / "src") in sys.path and str(ROOT) in sys.path


def test_a_benchmark_runs_as_a_file_from_anywhere(tmp_path):
    """``python bench/<name>.py`` (only bench/ on sys.path) finds bench and this checkout's gankit."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, str(BENCH / "translation.py"), "--help"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--pix2pix-steps" in proc.stdout


def test_markdown_table():
    # the one-epoch quality table of bench/throughput.py: the first column text, the others right-aligned
    text = _common.table(["program", "seed", "images/s", "images/CPU-s", "FID"],
                         [["main.py", 100, "51.2", "40.1", "12.34"], ["gankit default", 100, "98.0", "75.5", "11.90"]],
                         right_from=1)
    assert text == ("| program | seed | images/s | images/CPU-s | FID |\n"
                    "| --- | ---: | ---: | ---: | ---: |\n"
                    "| main.py | 100 | 51.2 | 40.1 | 12.34 |\n"
                    "| gankit default | 100 | 98.0 | 75.5 | 11.90 |")
    assert _common.table(["a", "b"], []) == "| a | b |\n| --- | --- |"
    assert _common.table(["a", "b"], [[1, 2]], right_from=0).splitlines()[1] == "| ---: | ---: |"


def test_section_header_and_machine_line():
    lines = _common.header("python -m bench x --quick", "1 torch thread(s)", "load average 1.0, 1.0, 1.0")
    assert [line.split(":")[0] for line in lines] == ["Command", "Machine", "Date"]
    assert lines[0] == "Command: `python -m bench x --quick`  " and lines[1].endswith("  ")
    assert lines[2] == f"Date: {_common.today()}"  # the last line: no markdown line break
    machine = lines[1].removeprefix("Machine: ").rstrip()
    assert f"{os.cpu_count()} cores (shared with other work), torch {torch.__version__}, Python " in machine
    assert machine.endswith("; 1 torch thread(s); load average 1.0, 1.0, 1.0")
    more = _common.header("c", date_note="; wall time 1 min", more=("Time: 2 min",))
    assert more[2] == f"Date: {_common.today()}; wall time 1 min  " and more[3] == "Time: 2 min"
    assert "(shared" not in _common.machine(shared=False)


def test_bench_command_records_the_thread_count_and_quotes_arguments(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert (_common.bench_command("limited_data", ["--title", "A, b (c)", "--reuse", "--steps", "10"], drop=("--reuse",))
            == "OMP_NUM_THREADS=2 python -m bench limited_data --title 'A, b (c)' --steps 10")
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert _common.bench_command("ablation", None) == "OMP_NUM_THREADS=1 python -m bench ablation"


def test_speed_benchmarks_share_helpers_not_throughput():
    for module in (gpu_throughput, time_to_quality):
        imported = bench_imports(Path(module.__file__))
        assert "bench.throughput" not in imported and "bench._speed" in imported, module.__name__
    # no benchmark imports another benchmark; only the helper modules
    for p in sorted(BENCH.glob("*.py")):
        others = {m for m in bench_imports(p) if m.removeprefix("bench.") not in HELPERS}
        assert others == set(), (p.name, others)
