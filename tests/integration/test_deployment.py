"""Deployments: the simulator's life cycle, ``deploy`` / ``deployment_info`` in process over real HTTP, and the
``deployment`` / ``deployment_info`` modules through ansible-playbook - each against a private simulator, since
deployments change its data."""

import math
import time
from datetime import datetime

import pytest
import requests

from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.deadline import Deadline
from ansible_collections.divio.cloud.plugins.module_utils.deployments import (
    DeploymentError,
    DeploymentFailed,
    DeploymentTimeout,
    deploy,
    deployment_info,
    hide,
    secrets_in,
    tail,
)
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError, NotFoundError, WaitTimeout
from ansible_collections.divio.cloud.plugins.module_utils.waiting import poll_until

from testlib import TOKEN, play, private_simulator

DEPLOYMENTS = "/apps/v3/deployments/"
DURATION = 0.6  # seconds a simulated deployment runs here


@pytest.fixture
def dsim():
    with private_simulator(deployments={"duration_seconds": DURATION}) as server:
        yield server


@pytest.fixture
def client(dsim):
    with DivioClient.from_options({"api_url": dsim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


def api(sim, path, **params):
    response = requests.get(sim.url + path, params=params, headers={"Authorization": "Token " + TOKEN}, timeout=10)
    response.raise_for_status()
    return response.json()


def env_of(sim, app_slug, env_slug):
    ds = sim.dataset
    app = next(a for a in ds.applications if a["slug"] == app_slug)
    return app, next(e for e in ds.environments if e["application"] == app["uuid"] and e["slug"] == env_slug)


def running_of(sim, app_slug, env_slug):
    _app, env = env_of(sim, app_slug, env_slug)
    return [d for d in sim.dataset.lookup("deployments", "environment", env["uuid"]) if d["ended_at"] is None]


def posts(sim):
    return [path for method, path, _status in sim.requests if method == "POST"]


def parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the simulator ----------------------------------------------------------------------------------


def test_simulated_life_cycle_and_newest_first(dsim):
    """queued -> running with rising percent -> ended; lists newest first; logs grow; variables per environment."""
    app, env = env_of(dsim, "wiki", "live")
    headers = {"Authorization": "Token " + TOKEN}
    created = requests.post(dsim.url + DEPLOYMENTS, json={"environment": env["uuid"], "build_mode": "ADOPT"},
                            headers=headers, timeout=10)
    assert created.status_code == 201
    record = created.json()
    assert (record["status"], record["percent"], record["started_at"], record["ended_at"], record["success"]) == ("NEW", 0, None, None, None)
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        item = api(dsim, DEPLOYMENTS + record["uuid"] + "/")
        seen.append((item["status"], item["percent"]))
        if item["ended_at"]:
            break
        time.sleep(0.04)
    statuses = [status for status, _percent in seen]
    assert statuses[-1] == "COMPLETED" and "WORKING" in statuses
    assert statuses == sorted(statuses, key=["NEW", "WORKING", "COMPLETED"].index)
    percents = [percent for _status, percent in seen]
    assert percents == sorted(percents) and percents[-1] == 100 and len(set(percents)) > 2
    assert item["success"] is True and parse(item["started_at"]) < parse(item["ended_at"])
    listed = api(dsim, DEPLOYMENTS, application=app["uuid"], environment=env["uuid"])["results"]
    assert listed[0]["uuid"] == record["uuid"]
    starts = [parse(d["started_at"]) for d in listed]
    assert starts == sorted(starts, reverse=True)
    log = api(dsim, DEPLOYMENTS + record["uuid"] + "/logs")
    assert log["uuid"] == record["uuid"] and "(build mode ADOPT)" in log["logs"] and log["logs"].endswith("Deployment succeeded\n")
    variables = api(dsim, DEPLOYMENTS + record["uuid"] + "/environment-variables")
    assert variables["environment"] == env["uuid"] and variables["environment_variables"]["STAGE"] == "live"


def test_simulator_rejects_bad_deployment_requests(dsim):
    headers = {"Authorization": "Token " + TOKEN}
    _app, env = env_of(dsim, "wiki", "live")
    _app, busy = env_of(dsim, "shop", "live")  # its newest deployment is running
    before = len(dsim.dataset.deployments)
    for body, field in [({}, "environment"), ({"environment": "nope"}, "environment"),
                        ({"environment": env["uuid"], "build_mode": "FAST"}, "build_mode"),
                        ({"environment": busy["uuid"]}, "non_field_errors")]:
        response = requests.post(dsim.url + DEPLOYMENTS, json=body, headers=headers, timeout=10)
        assert response.status_code == 400 and field in response.json(), body
    assert requests.post(dsim.url + DEPLOYMENTS, json={"environment": env["uuid"]}, timeout=10).status_code == 401
    assert len(dsim.dataset.deployments) == before
    for tail_path in ("logs", "environment-variables"):
        assert requests.get(dsim.url + DEPLOYMENTS + "unknown/" + tail_path, headers=headers, timeout=10).status_code == 404


# -- poll_until ---------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_until_looks_last_at_the_deadline_and_names_the_object():
    clock = FakeClock()
    states = iter([{"uuid": "u1", "n": n} for n in range(100)])
    with pytest.raises(WaitTimeout, match=r"^thing u1 did not finish within 10 s \(n=4\)$") as caught:
        poll_until(lambda: next(states), lambda obj: False, 10, 3, "thing u1", sleep=clock.sleep, clock=clock,
                   describe=lambda obj: "n=%d" % obj["n"])
    assert clock.sleeps == [3, 3, 3, 1]  # the last sleep is cut to the deadline, then one more look
    assert caught.value.details["uuid"] == "u1" and caught.value.details["last"]["n"] == 4
    clock = FakeClock()
    states = iter([{"uuid": "u2", "done": n == 2} for n in range(5)])
    assert poll_until(lambda: next(states), lambda obj: obj["done"], 10, 1, "x", sleep=clock.sleep, clock=clock)["done"]


def test_poll_until_waits_only_what_is_left_of_a_shared_deadline():
    clock = FakeClock()
    deadline = Deadline(10, clock)
    clock.now = 6.0  # an earlier wait took 6 s of the 10
    looks = []
    with pytest.raises(WaitTimeout, match=r"^thing u3 did not finish within 10 s$"):
        poll_until(lambda: looks.append(clock.now) or {"uuid": "u3"}, lambda obj: False, deadline, 3, "thing u3",
                   sleep=clock.sleep)
    assert clock.sleeps == [3, 1] and looks == [6.0, 9.0, 10.0]
    clock.now = 12.0  # already passed: one look, then the timeout
    with pytest.raises(WaitTimeout):
        poll_until(lambda: looks.append(clock.now) or {}, lambda obj: False, deadline, 3, "x", sleep=clock.sleep)
    assert looks[3:] == [12.0] and clock.sleeps == [3, 1]


@pytest.mark.parametrize("value", [0, -1, math.inf, math.nan, True, "5"])
def test_poll_until_rejects_waits_that_cannot_end(value):
    with pytest.raises(InputError, match="expected a finite number of seconds greater than 0"):
        poll_until(lambda: {}, lambda obj: True, value, 1, "x")
    with pytest.raises(InputError, match="interval"):
        poll_until(lambda: {}, lambda obj: True, 1, value, "x")


# -- scrubbing -----------------------------------------------------------------------------------------


def test_secrets_and_scrub():
    variables = {"SECRET_KEY": "abc", "STAGE": "live", "DEBUG": "True", "PORT": 8000, "FLAG": True,
                 "DSN": "postgres://app:pw1234@db:5432/app", "PEM": "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90\n-----END KEY-----",
                 "DOMAIN": "example.org"}
    secrets = secrets_in(variables)
    # Secret-named values from 3 characters, others from 6; URL passwords and lines of multi-line values too.
    assert {"abc", "postgres://app:pw1234@db:5432/app", "pw1234", "MIIBOgIBAAJBAKj34GkxFhD90", "example.org"} <= secrets
    assert not {"live", "True", "8000"} & secrets
    text = "connect postgres://app:pw1234@db:5432/app as app/pw1234 on example.org, stage live, key abc"
    assert hide(text, secrets) == "connect ******** as app/******** on ********, stage live, key ********"
    assert tail("a\nb\nc\n", 2) == ["b", "c"] and tail("a\nb", 0) == [] and tail("a\nb", None) == ["a", "b"]
    assert tail("\x1b[32mok\x1b[0m\tdone\x07", 1) == ["ok\tdone "]  # colours dropped, control characters made spaces
    assert tail("x" * 5000, 1)[0].endswith(" [...]") and len(tail("x" * 5000, 1)[0]) < 2100


# -- deploy() in process, over HTTP ---------------------------------------------------------------------


def test_deploy_starts_one_and_waits_for_success(client, dsim):
    started = time.monotonic()
    changed, result = deploy(client, "wiki", "live", poll_interval=0.1)
    elapsed = time.monotonic() - started
    deployment = result["deployment"]
    assert changed is True and result["attached"] is None and result["log_tail"] == []
    assert (deployment["status"], deployment["success"], deployment["percent"], deployment["running"]) == ("COMPLETED", True, 100, False)
    assert (deployment["application_slug"], deployment["environment_slug"], deployment["build_mode"]) == ("wiki", "live", "AUTO")
    assert posts(dsim) == [DEPLOYMENTS]
    assert DURATION * 0.9 <= elapsed < DURATION + 5
    # It is now the newest deployment of wiki/live, as deployment_info lists them.
    [newest] = deployment_info(client, "wiki", "live", limit=1)
    assert newest["uuid"] == deployment["uuid"]


def test_build_mode_reaches_the_api(client, dsim):
    _changed, result = deploy(client, "wiki", "test", build_mode="force", poll_interval=0.1)
    [entry] = deployment_info(client, "wiki", deployment=result["deployment"]["uuid"], logs=True)
    assert result["deployment"]["build_mode"] == "FORCE" and "(build mode FORCE)" in entry["logs"]


def test_running_deployment_is_waited_for_then_a_new_one_starts(client, dsim):
    [running] = running_of(dsim, "shop", "live")
    changed, result = deploy(client, "shop", "live", poll_interval=0.1)
    attached, deployment = result["attached"], result["deployment"]
    assert changed is True and attached["uuid"] == running["uuid"] and deployment["uuid"] != running["uuid"]
    assert attached["running"] is False and attached["success"] is True and deployment["success"] is True
    assert parse(deployment["started_at"]) >= parse(attached["ended_at"])
    assert posts(dsim) == [DEPLOYMENTS]


def test_attach_only_waits_without_starting(client, dsim):
    [running] = running_of(dsim, "shop", "live")
    changed, result = deploy(client, "shop", "live", attach_only=True, poll_interval=0.1)
    assert changed is False and result["deployment"]["uuid"] == running["uuid"] == result["attached"]["uuid"]
    assert result["deployment"]["success"] is True and result["deployment"]["ended_at"]
    # Nothing running: the newest deployment is reported as it is, without waiting.
    changed, again = deploy(client, "shop", "live", attach_only=True, poll_interval=0.1)
    assert changed is False and again["attached"] is None and again["deployment"]["uuid"] == running["uuid"]
    assert posts(dsim) == []


def test_check_mode_posts_nothing_and_does_not_wait(client, dsim):
    [running] = running_of(dsim, "shop", "live")
    started = time.monotonic()
    changed, result = deploy(client, "shop", "live", check_mode=True)
    assert changed is True and result["deployment"] is None and result["attached"]["uuid"] == running["uuid"]
    assert result["attached"]["running"] is True
    assert deploy(client, "shop", "live", attach_only=True, check_mode=True)[0] is False
    assert time.monotonic() - started < DURATION
    assert posts(dsim) == []


def test_failure_fails_with_a_scrubbed_log_tail(client, dsim):
    """portal/live's deployments fail; the log quotes its DSN and secret key, and (here) the token."""
    dsim.configure(deployments={"duration_seconds": DURATION, "log_extra": [
        "Using API token " + TOKEN, "token prefix " + TOKEN[:8], "TOKEN " + TOKEN.upper()]})
    with pytest.raises(DeploymentFailed) as caught:
        deploy(client, "portal", "live", poll_interval=0.1, log_lines=8)
    exc = caught.value
    uuid = exc.details["uuid"]
    assert str(exc).startswith("deployment %s of portal/live failed (status COMPLETED, " % uuid)
    assert str(exc).endswith("the last 8 lines of its log are in log_tail") and "\n" not in str(exc)
    result = exc.details["result"]
    assert exc.details["changed"] is True and result["deployment"]["uuid"] == uuid and result["deployment"]["success"] is False
    log_tail = result["log_tail"]
    assert len(log_tail) == 8 and log_tail[-1] == "Deployment failed"
    assert "  DATABASE_URL=********" in log_tail and "  SECRET_KEY='********'" in log_tail
    variables = api(dsim, DEPLOYMENTS + uuid + "/environment-variables")["environment_variables"]
    raw = api(dsim, DEPLOYMENTS + uuid + "/logs")["logs"]
    assert variables["DEFAULT_DATABASE_DSN"] in raw and TOKEN in raw  # the log really holds them
    [full] = deployment_info(client, "portal", deployment=uuid, logs=True)
    for text in ["\n".join(log_tail), full["logs"]]:
        assert not [form for form in (TOKEN, TOKEN[:8], TOKEN.upper()) if form in text]
        assert "Using API token ********" in full["logs"] and "token prefix ********" in full["logs"]
        for name in ("DEFAULT_DATABASE_DSN", "SECRET_KEY"):
            assert variables[name] not in text
        assert variables["DEFAULT_DATABASE_DSN"].split(":")[2].split("@")[0] not in text  # the password alone


def test_timeout_fails_with_the_uuid_and_the_deployment_goes_on(client, dsim):
    dsim.configure(deployments={"duration_seconds": 30})
    with pytest.raises(DeploymentTimeout) as caught:
        deploy(client, "wiki", "live", wait_timeout=0.5, poll_interval=0.1)
    uuid = caught.value.details["uuid"]
    assert "deployment %s of wiki/live did not end within wait_timeout=0.5 s (status " % uuid in str(caught.value)
    assert "deployment_info deployment=%s" % uuid in str(caught.value)
    assert caught.value.details["result"]["deployment"]["uuid"] == uuid and caught.value.details["changed"] is True
    [entry] = deployment_info(client, "wiki", deployment=uuid)
    assert entry["running"] is True
    # Waiting for someone else's running deployment that outlasts the budget starts nothing.
    with pytest.raises(DeploymentTimeout, match="nothing was started") as caught:
        deploy(client, "wiki", "live", wait_timeout=0.3, poll_interval=0.1)
    assert caught.value.details["changed"] is False and caught.value.details["result"]["attached"]["uuid"] == uuid
    assert posts(dsim) == [DEPLOYMENTS]


def test_error_after_the_post_names_the_deployment(client, dsim):
    def failing_sleep(seconds):
        dsim.configure(fail_applications=["wiki"])  # every later request about wiki answers 500
        time.sleep(seconds)

    with pytest.raises(DeploymentError) as caught:
        deploy(client, "wiki", "live", poll_interval=0.1, sleep=failing_sleep)
    uuid = caught.value.details["uuid"]
    assert "HTTP 500" in str(caught.value) and "deployment %s of wiki/live was started and goes on" % uuid in str(caught.value)
    assert caught.value.details["cause"] == "ApiError" and caught.value.details["changed"] is True


@pytest.mark.parametrize("kwargs, message", [
    ({"wait_timeout": math.inf}, "wait_timeout inf is not valid"),
    ({"wait_timeout": math.nan}, "wait_timeout nan is not valid"),
    ({"wait_timeout": 0}, "wait_timeout 0 is not valid"),
    ({"wait_timeout": 100000}, "at most 86400"),
    ({"poll_interval": -1}, "poll_interval -1 is not valid"),
    ({"poll_interval": math.inf}, "poll_interval inf is not valid"),
    ({"build_mode": "FAST"}, "build_mode 'FAST' is not valid: expected one of AUTO, ADOPT, FORCE"),
    ({"log_lines": -1}, "log_lines -1 is not valid"),
    ({"environment": ""}, "environment '' is not valid"),
    ({"wait": "yes"}, "wait 'yes' is not valid"),
])
def test_bad_options_are_refused_before_any_request(client, dsim, kwargs, message):
    arguments = dict({"application": "wiki", "environment": "live"}, **kwargs)
    with pytest.raises(InputError, match=message):
        deploy(client, **arguments)
    assert dsim.requests == []


def test_unknown_environment_names_the_existing_ones(client, dsim):
    with pytest.raises(NotFoundError, match="environment 'stage' not found in application 'wiki'; it has: live, test"):
        deploy(client, "wiki", "stage")
    assert posts(dsim) == []


def test_wait_false_returns_the_queued_deployment(client, dsim):
    changed, result = deploy(client, "wiki", "live", wait=False)
    assert changed is True and result["deployment"]["running"] is True and result["deployment"]["status"] == "NEW"


# -- deployment_info --------------------------------------------------------------------------------------


def test_deployment_info_lists_newest_first_with_limit(client, dsim):
    app, live = env_of(dsim, "crm", "live")
    everything = deployment_info(client, "crm")
    expected = sorted((d for d in dsim.dataset.deployments
                       if dsim.dataset.by_uuid["environments"][d["environment"]]["application"] == app["uuid"]),
                      key=lambda d: parse(d["started_at"]), reverse=True)
    assert [d["uuid"] for d in everything] == [d["uuid"] for d in expected]
    assert {d["environment_slug"] for d in everything} == {"test", "live"}
    two = deployment_info(client, "crm", "live", limit=2)
    assert [d["uuid"] for d in two] == [d["uuid"] for d in expected if d["environment"] == live["uuid"]][:2]
    lists = [path for _method, path, _status in dsim.requests if path.startswith(DEPLOYMENTS + "?") and live["uuid"] in path]
    assert len(lists) == 1 and "page_size=2" in lists[0]  # one page, no more than asked
    [one] = deployment_info(client, "crm", deployment=two[1]["uuid"])
    assert one == two[1]


def test_deployment_info_refuses_a_deployment_of_another_application(client, dsim):
    [other] = deployment_info(client, "wiki", "live", limit=1)
    with pytest.raises(NotFoundError, match="is not a deployment of crm"):
        deployment_info(client, "crm", deployment=other["uuid"])
    with pytest.raises(NotFoundError, match="is not a deployment of wiki/test"):
        deployment_info(client, "wiki", "test", deployment=other["uuid"])
    with pytest.raises(InputError, match="limit 0 is not valid"):
        deployment_info(client, "wiki", limit=0)


# -- the modules, through ansible-playbook ----------------------------------------------------------------


MODULE_DEFAULTS = """
  module_defaults:
    group/divio.cloud.divio:
      api_url: "{{ api_url }}"
"""


def test_modules_in_a_playbook(run_playbook, dsim):
    """Check mode, a deployment, a failure read from the failed result, and deployment_info, with the connection
    set once for the action group."""
    dsim.configure(deployments={"duration_seconds": DURATION, "log_extra": ["token " + TOKEN]})
    tasks = """
    - divio.cloud.deployment: {application: wiki, environment: live, poll_interval: 0.1}
      check_mode: true
      register: checked
    - divio.cloud.deployment: {application: wiki, environment: live, build_mode: ADOPT, poll_interval: 0.1}
      register: deployed
    - block:
        - divio.cloud.deployment: {application: portal, environment: live, log_lines: 5, poll_interval: 0.1}
      rescue:
        - ansible.builtin.set_fact: {failed_result: "{{ ansible_failed_result }}"}
    - divio.cloud.deployment_info: {application: wiki, environment: live, limit: 2, logs: true, log_lines: 3}
      register: listed
    - ansible.builtin.set_fact:
        out: {checked: "{{ checked }}", deployed: "{{ deployed }}", failed: "{{ failed_result }}", listed: "{{ listed }}"}
"""
    run = run_playbook(play(tasks, header=MODULE_DEFAULTS), extra_vars={"api_url": dsim.url},
                       env={"DIVIO_API_TOKEN": TOKEN}, args=["-v"])
    assert run.rc == 0, run
    out = run.result
    assert out["checked"]["changed"] is True and out["checked"]["deployment"] is None
    assert out["deployed"]["changed"] is True and out["deployed"]["deployment"]["success"] is True
    assert out["deployed"]["deployment"]["build_mode"] == "ADOPT"
    failed = out["failed"]
    uuid = failed["deployment"]["uuid"]
    assert failed["msg"].startswith("deployment %s of portal/live failed" % uuid) and failed["error"] == "DeploymentFailed"
    assert failed["changed"] is True and failed["log_tail"][-1] == "Deployment failed" and len(failed["log_tail"]) == 5
    assert "  SECRET_KEY='********'" in failed["log_tail"]
    listed = out["listed"]["deployments"]
    assert [d["uuid"] for d in listed][:1] == [out["deployed"]["deployment"]["uuid"]] and len(listed) == 2
    assert listed[0]["logs"].splitlines()[-1] == "Deployment succeeded" and len(listed[0]["logs"].splitlines()) == 3
    assert posts(dsim) == [DEPLOYMENTS, DEPLOYMENTS]  # none in check mode
    assert TOKEN not in run.output and TOKEN not in str(out)


def test_module_timeout_and_bad_options_in_a_playbook(run_playbook, dsim):
    dsim.configure(deployments={"duration_seconds": 30})
    tasks = """
    - block:
        - divio.cloud.deployment: {application: wiki, environment: live, wait_timeout: 0.5, poll_interval: 0.1}
      rescue:
        - ansible.builtin.set_fact: {timed_out: "{{ ansible_failed_result }}"}
    - block:
        - divio.cloud.deployment: {application: wiki, environment: test, wait_timeout: .inf}
      rescue:
        # Only the message: ansible-core 2.16 turns a result that holds a float inf (wait_timeout, echoed in
        # the module's invocation) into its Python repr, a string.
        - ansible.builtin.set_fact: {bad: "{{ ansible_failed_result.msg }}"}
    - divio.cloud.deployment: {application: wiki, environment: live, attach_only: true, wait: false}
      register: attached
    - ansible.builtin.set_fact:
        out: {timed_out: "{{ timed_out }}", bad: "{{ bad }}", attached: "{{ attached }}"}
"""
    run = run_playbook(play(tasks), env={"DIVIO_API_URL": dsim.url, "DIVIO_API_TOKEN": TOKEN})
    assert run.rc == 0, run
    out = run.result
    uuid = out["timed_out"]["deployment"]["uuid"]
    assert "deployment %s of wiki/live did not end within wait_timeout=0.5 s" % uuid in out["timed_out"]["msg"]
    assert out["timed_out"]["deployment"]["running"] is True and out["timed_out"]["error"] == "DeploymentTimeout"
    assert out["bad"].startswith("wait_timeout inf is not valid")
    # A later task picks the deployment up by attaching to it.
    assert out["attached"]["changed"] is False and out["attached"]["deployment"]["uuid"] == uuid
    assert posts(dsim) == [DEPLOYMENTS]
