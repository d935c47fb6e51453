"""bench/default_job.py: the default job's wall and CPU time, with the thread count it picks."""
from __future__ import annotations

import re

from bench import default_job


def test_default_job_rows_report_threads_and_times(tmp_path, capsys):
    image = tmp_path / "samples.png"
    assert default_job.main(["--full-steps", "3", "--compare-steps", "2", "--image", str(image), "--no-write"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| `gankit train")]
    assert len(rows) == 3 and image.stat().st_size > 100
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert [c[3] for c in cells] == ["3", "2", "2"]  # steps
    assert all(re.fullmatch(r"\d+ s", c[4]) and re.fullmatch(r"\d+ s", c[5]) for c in cells)
    assert all(int(c[2]) >= 1 for c in cells)  # threads the run recorded
    assert "--threads" in rows[2] and "Every core / automatic, 2 steps" in out
