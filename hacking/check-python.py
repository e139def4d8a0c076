"""make's first step: one clear line, before anything is installed, when the Python that would create .venv
cannot run this collection's tools. Kept to syntax that Python 2.7 still parses, so even that gets the line."""
import importlib
import sys

MINIMUM = (3, 10)  # ansible-core 2.16 and 2.17 on the controller; 2.18 and 2.19 need 3.11, 2.20 and 2.21 3.12

if sys.version_info < MINIMUM:
    found = (sys.executable,) + tuple(sys.version_info[:2])
    sys.exit("%s is Python %d.%d: divio.cloud needs Python 3.10 or newer (3.11 or newer for ansible-core 2.18 "
             "and 2.19, 3.12 for 2.20 and 2.21). Run make PYTHON=python3.11 (or another newer Python)." % found)
try:
    # python3 -m venv needs both (Debian and Ubuntu ship them separately); importing them is the test.
    importlib.import_module("ensurepip")
    importlib.import_module("venv")
except ImportError:
    sys.exit("%s cannot create virtual environments: install its venv module (Debian, Ubuntu: apt install "
             "python3-venv)." % sys.executable)
