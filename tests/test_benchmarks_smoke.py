"""The benchmark scripts still run (tiny sizes, no timing asserted).

Numbers in docs/BENCHMARKS.md are only as good as the scripts that produce them; this keeps
`dev/bench_*.py` from rotting as the APIs they drive change. Timings are never asserted here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("argv", [
    ["dev/bench_core.py", "--quick"],
    ["dev/bench_metrics.py", "--quick"],
    ["dev/bench_attention.py", "--T", "64", "--batch", "1", "--heads", "2", "--dim", "16",
     "--repeat", "1"],
    ["dev/bench_eval_step.py", "--positions", "17", "--steps", "2", "--repeats", "1"],
    ["dev/bench_tui.py", "--sizes", "64", "--edits", "3", "--bursts", "1"],
    ["dev/bench_first_key.py", "--rounds", "1", "--delay", "0"],
], ids=lambda argv: Path(argv[0]).stem)
def test_benchmark_script_runs(argv):
    result = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout.strip(), "a benchmark should print its numbers"
