"""Each benchmark still runs, in its smallest form: a benchmark is how performance is measured here, and one that
broke (copy_cost.py did, unnoticed, when verification started to refuse a part of no known type) measures nothing.
The figures are not asserted (they are numbers for people); that the script ends well and printed its table is.
``verify_hostile.py`` is left out: it takes about 40 s, and tests/integration/test_verify_read_hostile.py runs
the same reads."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmark"
RUNS = {
    "benchmark": (["benchmark.py", "--quick", "--latency-ms", "0"], "| our requests |"),
    "verify_cost": (["verify_cost.py", "--latency-ms", "0", "--runs", "1"], "verify: read, warm"),
    "download_memory": (["download_memory.py", "--sizes", "1"], "1 MiB"),
    "copy_cost": (["copy_cost.py", "--mib", "1"], "az-sas-v1"),
    "fleet_scale": (["fleet_scale.py", "--rows", "scale", "--applications", "10", "--latency-ms", "1", "--runs", "1"],
                    "| fleet 10x3x60"),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_benchmark_runs(name, tmp_path):
    command, table_line = RUNS[name]
    done = subprocess.run([sys.executable] + [str(BENCHMARKS / command[0])] + command[1:], cwd=str(tmp_path), check=False,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    shown = done.stdout + done.stderr
    assert done.returncode == 0, shown[-3000:]
    assert "Traceback" not in shown and table_line in done.stdout, shown[-3000:]
    assert "WRONG" not in done.stdout, shown[-3000:]  # how fleet_scale.py says an answer differed
