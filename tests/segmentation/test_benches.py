"""The benchmark scripts run (tiny settings) and print their markdown tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _rows(output: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split("|")]
        for line in output.splitlines()
        if line.startswith("| ") and "---" not in line
    ][1:]


def test_gpu_bench_smoke_runs_on_cpu():
    rows = _rows(_run("bench/gpu_embedding.py", "--smoke"))
    assert [(r[0], r[1], r[2]) for r in rows] == [("tiny", "1", "fp32"), ("tiny", "2", "fp32")]
    assert all(float(r[3]) > 0 and float(r[4]) > 0 for r in rows)


def test_cpu_throughput_bench_quick():
    rows = _rows(_run("bench/embedding_throughput.py", "--quick"))
    assert len(rows) == 1 and rows[0][0] == "default" and rows[0][1] == "512"
    assert float(rows[0][3]) > 0 and float(rows[0][4]) > 0 and float(rows[0][6]) > 0
