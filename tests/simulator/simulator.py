"""Start the Divio API simulator: ``python tests/simulator/simulator.py --port 0 --size demo``."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from divio_simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
