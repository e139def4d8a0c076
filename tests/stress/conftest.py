"""The stress tests (soak and churn under injected faults) share soak.py here and the ground truth of
tests/integration; the simulator and testlib come from tests/conftest.py's path."""

import sys
from pathlib import Path

for _path in (Path(__file__).resolve().parent, Path(__file__).resolve().parents[1] / "integration"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
