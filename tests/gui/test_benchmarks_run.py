"""The benchmarks run (small sizes) and print the figures they promise; no time limits here."""

from __future__ import annotations

import json
import subprocess
import sys


def test_streaming_benchmark_prints_its_figures():
    out = subprocess.run([sys.executable, "-m", "benchmarks", "streaming", "--quick", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    for key in ("growth", "naive_growth", "max_stall_ms_2k", "p99_stall_ms_max"):
        assert isinstance(figures[key], int | float) and figures[key] >= 0
