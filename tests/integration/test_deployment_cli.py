"""Fidelity: the official client, divio-cli 4.0.5, deploys against the simulator and gets success, failure and
attach right - so the simulator's deployments behave the way the client the platform ships expects.

divio-cli is a test-only dependency with its own virtualenv, cached in ``.venv-divio-cli`` (git-ignored) and
installed from the package index on first use; where that is impossible the tests are skipped, saying why.
Each run gets an isolated HOME whose divio config turns off the update check (a fresh
``update_check_timestamp``: divio-cli's ``disable_update_check`` makes 4.0.5 crash) and error reporting (an empty
``sentry-dsn``); HTTPS_PROXY points at a closed loopback port, so an https request it might still try fails
here instead of leaving the machine. The token reaches it the way ``divio login`` leaves it: a netrc entry for
the server's host (``machine 127.0.0.1``) in the file NETRC_PATH names.
"""

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testlib import TOKEN, private_simulator

REPO = Path(__file__).resolve().parents[2]
CLI_VERSION = "4.0.5"
CLI_VENV = REPO / ".venv-divio-cli"
DURATION = 2.0  # divio-cli looks every 3 s, after a first second


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
def csim():
    with private_simulator(deployments={"duration_seconds": DURATION}) as server:
        yield server


@pytest.fixture
def cli(divio_cli, csim, tmp_path):
    """``cli(*args)`` runs ``divio -z <simulator> *args`` in an isolated HOME; returns the CompletedProcess."""
    home = tmp_path / "home"
    (home / ".config" / "divio").mkdir(parents=True)
    (home / ".config" / "divio" / "config.json").write_text(
        json.dumps({"update_check_timestamp": int(time.time()), "sentry-dsn": ""}))
    netrc = home / ".netrc"
    netrc.write_text("machine 127.0.0.1\n\tlogin ada@example.com\n\tpassword %s\n" % TOKEN)
    netrc.chmod(0o600)
    env = {"HOME": str(home), "NETRC_PATH": str(netrc), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HTTPS_PROXY": "http://127.0.0.1:9", "LANG": "C.UTF-8", "TERM": "dumb"}

    def run(*args):
        proc = subprocess.run([divio_cli, "-z", csim.url] + list(args), env=env, cwd=str(home), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120, check=False)
        assert TOKEN not in proc.stdout + proc.stderr
        assert "divio_cli/" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr  # no traceback of its own
        return proc

    return run


def app_uuid(sim, slug):
    return next(a["uuid"] for a in sim.dataset.applications if a["slug"] == slug)


def deployments_of(sim, app_slug, env_slug):
    app = app_uuid(sim, app_slug)
    env = next(e for e in sim.dataset.environments if e["application"] == app and e["slug"] == env_slug)
    return env, list(sim.dataset.lookup("deployments", "environment", env["uuid"]))


def posts(sim):
    return [path for method, path, _status in sim.requests if method == "POST"]


def test_divio_cli_deploys_and_lists(cli, csim):
    env, before = deployments_of(csim, "wiki", "live")
    proc = cli("app", "deploy", "live", "--remote-id", app_uuid(csim, "wiki"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Deploying live environment" in proc.stdout and "Deployment failed" not in proc.stdout
    assert posts(csim) == ["/apps/v3/deployments/"]
    _env, after = deployments_of(csim, "wiki", "live")
    [new] = [d for d in after if d not in before]
    assert (new["status"], new["success"], new["percent"]) == ("COMPLETED", True, 100)
    assert env["last_finished_deployment"] == {"uuid": new["uuid"]}
    # ... and lists it first, as the newest, with the others of wiki/live.
    proc = cli("app", "deployments", "--json", "list", "--remote-id", app_uuid(csim, "wiki"), "-e", "live")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [group] = json.loads(proc.stdout)
    assert (group["environment"], group["environment_uuid"]) == ("live", env["uuid"])
    listed = group["deployments"]
    assert [d["uuid"] for d in listed][0] == new["uuid"] and len(listed) == len(after)
    assert listed[0]["success"] is True and all(d["ended_at"] for d in listed)
    table = cli("app", "deployments", "list", "--remote-id", app_uuid(csim, "wiki"), "-e", "live", "--limit", "1")
    assert table.returncode == 0 and new["uuid"] in table.stdout and "There were %d results available" % len(after) in table.stdout


def test_divio_cli_sees_a_failed_deployment(cli, csim):
    proc = cli("app", "deploy", "live", "--remote-id", app_uuid(csim, "portal"))
    assert proc.returncode != 0
    assert "Deployment failed. Please run 'divio app deploy-log live'" in proc.stdout + proc.stderr
    env, deployments = deployments_of(csim, "portal", "live")
    newest = max(deployments, key=lambda d: d["ended_at"] or "")
    assert newest["success"] is False and env["last_finished_deployment"] == {"uuid": newest["uuid"]}
    log = cli("app", "deploy-log", "live", "--remote-id", app_uuid(csim, "portal"))
    assert log.returncode == 0, log.stdout + log.stderr
    assert "Deployment ID: %s" % newest["uuid"] in log.stdout and log.stdout.rstrip().endswith("Deployment failed")


def test_divio_cli_attaches_to_a_running_deployment(cli, csim):
    _env, before = deployments_of(csim, "shop", "live")
    [running] = [d for d in before if d["ended_at"] is None]
    proc = cli("app", "deploy", "live", "--remote-id", app_uuid(csim, "shop"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Already deploying live environment, attaching to running deployment" in proc.stdout
    assert posts(csim) == []  # attached, started nothing
    assert running["ended_at"] and running["success"] is True and running["percent"] == 100
