"""bench/export_scale.py runs (tiny size) and prints its markdown table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def test_export_bench_smoke():
    result = subprocess.run(
        [sys.executable, "bench/export_scale.py", "--images", "12", "--objects", "3"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    row = [line for line in result.stdout.splitlines() if line.startswith("| 12 |")]
    assert len(row) == 1
    cells = [c.strip() for c in row[0].strip("|").split("|")]
    assert cells[1] == "36" and float(cells[3].split()[0]) > 0
