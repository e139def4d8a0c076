"""Offline stand-in for ansible-test's pip bootstrap script (``get-pip-<version>.py``).

``ansible-test ... --requirements`` bootstraps pip into each fresh virtual environment it creates with a
``get-pip.py`` that it downloads from a host that is not always reachable (behind a proxy, or on machines
that only reach the package index). It first looks for that script in its cache,
``~/.ansible/test/cache/get_pip_<version>.py``; ``hacking/ansible-test.sh`` copies this file there.

ansible-test runs the script in the new virtual environment's Python with the arguments it would give
``get-pip.py`` (for example ``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``). This
stand-in does what ``get-pip.py`` does with them, from the package index instead of a bundled wheel: it
puts the interpreter's own bundled pip in place with ``ensurepip``, then has that pip install the pinned
packages (pip itself) from the index.
"""

import subprocess
import sys

# get-pip.py's own options, which ``pip install`` does not know.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main(argv):
    args = [arg for arg in argv if arg not in GET_PIP_ONLY]
    python = sys.executable
    subprocess.check_call([python, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
    subprocess.check_call([python, "-m", "pip", "install", "--quiet"] + args)


if __name__ == "__main__":
    main(sys.argv[1:])
