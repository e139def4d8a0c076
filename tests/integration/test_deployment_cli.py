"""Fidelity: the official client, divio-cli 4.0.5, deploys against the simulator and gets success, failure and
attach right - so the simulator's deployments behave the way the client the platform ships expects.

divio-cli runs in its own virtualenv and an isolated HOME (the ``divio_runner`` fixture, conftest.py); where it
cannot be installed the tests are skipped, saying why.
"""

import json

import pytest

from testlib import private_simulator

DURATION = 2.0  # divio-cli looks every 3 s, after a first second


@pytest.fixture
def csim():
    with private_simulator(deployments={"duration_seconds": DURATION}) as server:
        yield server


@pytest.fixture
def cli(divio_runner, csim):
    """``cli(*args)`` runs ``divio -z <simulator> *args``; returns the CompletedProcess."""
    return divio_runner(csim)


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
