"""Loaded by every Python process of a playbook run the hostile tests start (PYTHONPATH): the loopback guard."""

import os
import sys

sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import loopback_guard

loopback_guard.install_from_environment()
