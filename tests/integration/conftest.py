"""The official client, divio-cli 4.0.5, as a fixture: the fidelity tests (test_deployment_cli.py) and the
conformance suite (test_divio_cli_conformance.py) run it against the simulator.

divio-cli is a test-only dependency with its own virtualenv, cached in ``.venv-divio-cli`` (git-ignored) and
installed from the package index on first use; where that is impossible the tests are skipped, saying why.
Each run gets an isolated HOME whose divio config turns off the update check (a fresh
``update_check_timestamp``: divio-cli's ``disable_update_check`` makes 4.0.5 crash) and error reporting (an empty
``sentry-dsn``); HTTPS_PROXY points at a closed loopback port, so an https request it might still try fails
here instead of leaving the machine. The token reaches it the way ``divio login`` leaves it: a netrc entry for
the server's host (``machine 127.0.0.1``) in the file NETRC_PATH names, which is also the ``~/.netrc`` of its
bare ``requests`` calls outside its API session (the upload's PUT, the ``finish_url`` POST): requests picks a netrc
entry by host name alone. The simulator's object storage listens on another loopback address (127.0.0.2), as on
the platform the storage's host is not the API's, so that entry does not reach it.
"""

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testlib import TOKEN

REPO = Path(__file__).resolve().parents[2]
CLI_VERSION = "4.0.5"
CLI_VENV = REPO / ".venv-divio-cli"


def _cli_version(python):
    if not python.exists():
        return None
    proc = subprocess.run([str(python), "-c", "import divio_cli; print(divio_cli.__version__)"],
                          capture_output=True, text=True, timeout=60, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


@pytest.fixture(scope="session")
def divio_cli():
    """Path of the ``divio`` command of divio-cli 4.0.5, installed once (under a lock: xdist workers share it)."""
    python, divio = CLI_VENV / "bin" / "python", CLI_VENV / "bin" / "divio"
    CLI_VENV.mkdir(exist_ok=True)
    with open(CLI_VENV / ".install-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _cli_version(python) != CLI_VERSION or not divio.exists():
            steps = [[sys.executable, "-m", "venv", str(CLI_VENV)],
                     [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                      "divio-cli==%s" % CLI_VERSION]]
            for step in steps:
                try:
                    proc = subprocess.run(step, capture_output=True, text=True, timeout=900, check=False)
                except subprocess.TimeoutExpired:
                    pytest.skip("divio-cli %s could not be installed into %s: `%s` took longer than 15 minutes"
                                % (CLI_VERSION, CLI_VENV, " ".join(step[-3:])))
                if proc.returncode != 0:
                    said = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                    pytest.skip("divio-cli %s could not be installed into %s (it comes from the package index): %s"
                                % (CLI_VERSION, CLI_VENV, said))
        if _cli_version(python) != CLI_VERSION:
            pytest.skip("%s does not hold divio-cli %s" % (CLI_VENV, CLI_VERSION))
    return str(divio)


@pytest.fixture
def divio_home(tmp_path):
    """An isolated HOME for divio-cli: update check and error reporting off, a netrc entry with the token for
    127.0.0.1 (``divio_home / ".netrc"``)."""
    home = tmp_path / "divio-home"
    (home / ".config" / "divio").mkdir(parents=True)
    (home / ".config" / "divio" / "config.json").write_text(
        json.dumps({"update_check_timestamp": int(time.time()), "sentry-dsn": ""}))
    netrc = home / ".netrc"
    netrc.write_text("machine 127.0.0.1\n\tlogin ada@example.com\n\tpassword %s\n" % TOKEN)
    netrc.chmod(0o600)
    return home


@pytest.fixture
def divio_runner(divio_cli, divio_home):
    """``divio_runner(server, **env)`` -> ``run(*args)``, which runs ``divio -z <server> *args`` in an isolated HOME
    (``env``: more environment variables, e.g. AWS_ENDPOINT_URL_S3) and returns the CompletedProcess; it fails the
    test if the output holds the token or (unless ``run(..., traceback_ok=True)``) a divio-cli traceback."""
    home, netrc = divio_home, divio_home / ".netrc"
    env = {"HOME": str(home), "NETRC_PATH": str(netrc), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HTTPS_PROXY": "http://127.0.0.1:9", "LANG": "C.UTF-8", "TERM": "dumb"}

    def for_server(server, **more_env):
        def run(*args, traceback_ok=False):
            proc = subprocess.run([divio_cli, "-z", server.url] + list(args), env=dict(env, **more_env), cwd=str(home),
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
            assert TOKEN not in proc.stdout + proc.stderr
            if not traceback_ok:  # divio-cli shows a storage's refusal of an upload only as a traceback
                assert "divio_cli/" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr  # none of its own
            return proc

        return run

    return for_server
