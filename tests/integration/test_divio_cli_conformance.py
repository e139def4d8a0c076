"""Conformance: every API-backed command of the official client, divio-cli 4.0.5, that reads the account (and
needs no backup upload or download) runs against the simulator; each checks its exit code and what it printed
against the simulator's data, and that every request it made was answered without an error.

This is how we know the simulator tells the truth about the platform, as far as the official client can tell:
keep it growing with every endpoint the collection uses. The deploy commands (success, failure, attach, and
``deploy-log``) are in test_deployment_cli.py, ``push db`` / ``push media`` in test_push_cli.py, ``pull db`` /
``pull media`` in test_pull_cli.py; ``docs/docsite/rst/divio_cli_conformance.rst`` lists every
command and where it is tested. divio-cli runs through the ``divio_runner`` fixture (conftest.py): its own
virtualenv, an isolated HOME, no update check, no error reporting; skipped, saying why, where it cannot be
installed.
"""

import json
import re
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from divio_simulator.envvars import LOG_STEP, LOG_WINDOW, _log_entry


@pytest.fixture
def cli(divio_runner, sim):
    return divio_runner(sim)


def app_of(ds, slug):
    return next(a for a in ds.applications if a["slug"] == slug)


def env_of(ds, app_slug, env_slug):
    app = app_of(ds, app_slug)
    return next(e for e in ds.environments if e["application"] == app["uuid"] and e["slug"] == env_slug)


def answered_well(sim):
    """The paths (without query) divio-cli asked for; fails if any was answered with an error."""
    errors = [(method, path, status) for method, path, status in sim.requests if status >= 400]
    assert not errors, errors
    return [urlsplit(path).path for _method, path, _status in sim.requests]


def ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def without_environment(items):
    return [{key: value for key, value in item.items() if key != "environment"} for item in items]


# -- account-wide lists --------------------------------------------------------------------------------


def test_app_list(cli, sim, dataset):
    table = ok(cli("app", "list"))
    orgs = {org["uuid"]: org["name"] for org in dataset.organisations}
    rows = [line.split(None, 3) for line in table.splitlines()[2:]]
    assert sorted(rows) == sorted([app["uuid"], app["slug"], app["name"], orgs[app["organisation"]]]
                                  for app in dataset.applications)
    paths = answered_well(sim)
    assert paths[0] == "/apps/v3/applications/" and set(paths[1:]) == {"/iam/v3/organisations/%s/" % o for o in orgs}
    listed = json.loads(ok(cli("app", "list", "--json")))
    assert listed["count"] == len(dataset.applications) and listed["results"] == dataset.applications


def test_organisations_and_regions_list(cli, sim, dataset):
    assert json.loads(ok(cli("organisations", "list", "--json"))) == dataset.organisations
    table = ok(cli("organisations", "list"))
    assert all(org["uuid"] in table and org["name"] in table and org["created_at"] in table for org in dataset.organisations)
    assert json.loads(ok(cli("regions", "list", "--json"))) == dataset.regions
    table = ok(cli("regions", "list"))
    assert all(region["uuid"] in table and region["name"] in table for region in dataset.regions)
    limited = cli("regions", "list", "--limit", "1")
    assert "There were %d results available, but the limit is currently set at 1" % len(dataset.regions) in ok(limited)
    assert set(answered_well(sim)) == {"/iam/v3/organisations/", "/apps/v3/regions/"}


def test_service_instances_list(cli, sim, dataset):
    env = env_of(dataset, "crm", "live")  # three instances: two databases and a storage
    listed = json.loads(ok(cli("app", "service-instances", "list", "live", "--remote-id", env["application"], "--json")))
    expected = dataset.lookup("service_instances", "environment", env["uuid"])
    assert listed == expected and len(listed) == 3
    table = ok(cli("app", "service-instances", "list", "live", "--remote-id", env["application"]))
    assert all(item["uuid"] in table and item["prefix"] in table for item in expected)
    assert "/apps/v3/environments/%s/" % env["uuid"] in answered_well(sim)


# -- deployments --------------------------------------------------------------------------------------


def test_deployments_list_all_environments(cli, sim, dataset):
    app = app_of(dataset, "shop")
    groups = json.loads(ok(cli("app", "deployments", "--json", "list", "--all-envs", "--remote-id", app["uuid"])))
    assert {g["environment"] for g in groups} == {"test", "live"}
    for group in groups:
        env = env_of(dataset, "shop", group["environment"])
        assert group["environment_uuid"] == env["uuid"]
        expected = sim.deployment_jobs.newest_first(dataset.lookup("deployments", "environment", env["uuid"]))
        assert group["deployments"] == expected
    answered_well(sim)


def test_deployments_get(cli, sim, dataset):
    env = env_of(dataset, "shop", "live")
    record = dataset.lookup("deployments", "environment", env["uuid"])[0]
    names = list(sim.deployment_jobs.environment_variables(record))
    [got] = json.loads(ok(cli("app", "deployments", "--json", "get", record["uuid"], "--remote-id", env["application"])))
    assert (got["environment"], got["environment_uuid"]) == ("live", env["uuid"])
    assert got["deployment"] == dict({k: v for k, v in record.items() if k != "environment"}, environment_variables=names)
    table = ok(cli("app", "deployments", "get", record["uuid"], "--remote-id", env["application"]))
    assert table.startswith("Environment: live (%s)" % env["uuid"]) and record["uuid"] in table
    assert all(name in table.replace("\n", " ").replace("|", " ") for name in names)
    assert "/apps/v3/deployments/%s/" % record["uuid"] in answered_well(sim)


def test_deployments_get_var(cli, sim, dataset):
    env = env_of(dataset, "shop", "live")
    record = dataset.lookup("deployments", "environment", env["uuid"])[0]
    ran_with = sim.deployment_jobs.environment_variables(record)
    for name in ("SECRET_KEY", "DEFAULT_DATABASE_DSN", "DEBUG"):
        [got] = json.loads(ok(cli("app", "deployments", "--json", "get-var", record["uuid"], name, "--remote-id", env["application"])))
        assert got == {"name": name, "value": ran_with[name], "environment": "live", "environment_uuid": env["uuid"]}
    missing = cli("app", "deployments", "get-var", record["uuid"], "NO_SUCH_VARIABLE", "--remote-id", env["application"])
    assert "There is no environment variable named 'NO_SUCH_VARIABLE' for this deployment." in ok(missing) + missing.stderr
    # the path divio-cli asks for has no trailing slash
    assert "/apps/v3/deployments/%s/environment-variables" % record["uuid"] in answered_well(sim)


# -- environment variables ------------------------------------------------------------------------------


def test_env_vars_list_reads_every_page(cli, sim, dataset):
    env = env_of(dataset, "shop", "live")
    expected = dataset.lookup("environment_variables", "environment", env["uuid"])
    assert len(expected) > sim.default_page_size  # divio-cli must follow next
    [group] = json.loads(ok(cli("app", "env-vars", "--json", "list", "-e", "live", "--remote-id", env["application"])))
    assert (group["environment"], group["environment_uuid"]) == ("live", env["uuid"])
    assert group["environment_variables"] == without_environment(expected)
    pages = [p for p in answered_well(sim) if p == "/apps/v3/environment-variables/"]
    assert len(pages) == 2
    table = ok(cli("app", "env-vars", "list", "-e", "live", "--remote-id", env["application"]))
    assert table.startswith("Environment: live (%s)" % env["uuid"]) and all(item["name"] in table for item in expected)
    limited = ok(cli("app", "env-vars", "list", "-e", "live", "--limit", "5", "--remote-id", env["application"]))
    assert "There were %d results available, but the limit is currently set at 5" % len(expected) in limited


def test_env_vars_list_all_environments_and_none(cli, sim, dataset):
    app = app_of(dataset, "intranet")
    groups = json.loads(ok(cli("app", "env-vars", "--json", "list", "--all-envs", "--remote-id", app["uuid"])))
    assert {g["environment"] for g in groups} == {"test", "live"}
    for group in groups:
        env = env_of(dataset, "intranet", group["environment"])
        assert group["environment_variables"] == without_environment(dataset.lookup("environment_variables", "environment", env["uuid"]))
    empty = cli("app", "env-vars", "list", "-e", "test", "--remote-id", app_of(dataset, "blog")["uuid"])
    assert "No environment variables found for 'test' environment." in ok(empty) + empty.stderr
    answered_well(sim)


def test_env_vars_txt_leaves_sensitive_rows_out(cli, sim, dataset):
    env = env_of(dataset, "shop", "live")
    items = dataset.lookup("environment_variables", "environment", env["uuid"])
    text = ok(cli("app", "env-vars", "--txt", "list", "-e", "live", "--remote-id", env["application"]))
    lines = [line for line in text.splitlines() if "=" in line]
    assert lines == ["%s=%s" % (i["name"], i["value"]) for i in items if not i["is_sensitive"]]
    assert not [i["name"] for i in items if i["is_sensitive"] and (i["value"] in text or i["name"] + "=" in text)]
    assert "Sensitive environment variables are not included in this view." in text
    answered_well(sim)


def test_env_vars_get(cli, sim, dataset):
    env = env_of(dataset, "shop", "live")
    by_name = {i["name"]: i for i in dataset.lookup("environment_variables", "environment", env["uuid"])}
    [group] = json.loads(ok(cli("app", "env-vars", "--json", "get", "SECRET_KEY", "-e", "live", "--remote-id", env["application"])))
    assert group["environment_uuid"] == env["uuid"] and group["environment_variables"] == [by_name["SECRET_KEY"]]
    table = ok(cli("app", "env-vars", "get", "STRIPE_SECRET_KEY", "-e", "live", "--remote-id", env["application"]))
    assert by_name["STRIPE_SECRET_KEY"]["value"] in table  # the table shows sensitive values; only --txt hides them
    assert ok(cli("app", "env-vars", "--txt", "get", "DEBUG", "-e", "live", "--remote-id", env["application"])).startswith(
        "Environment: live (%s)" % env["uuid"])
    hidden = cli("app", "env-vars", "--txt", "get", "SECRET_KEY", "-e", "live", "--remote-id", env["application"])
    assert by_name["SECRET_KEY"]["value"] not in ok(hidden) + hidden.stderr
    assert "No environment variable named 'SECRET_KEY' found for 'live' environment." in hidden.stdout + hidden.stderr
    missing = cli("app", "env-vars", "get", "NO_SUCH_VARIABLE", "-e", "live", "--remote-id", env["application"])
    assert "No environment variable named 'NO_SUCH_VARIABLE' found for 'live' environment." in ok(missing) + missing.stderr
    every = json.loads(ok(cli("app", "env-vars", "--json", "get", "DEBUG", "--all-envs", "--remote-id", env["application"])))
    assert sorted((g["environment"], g["environment_variables"][0]["value"]) for g in every) == [("live", "False"), ("test", "True")]
    answered_well(sim)


# -- runtime logs -----------------------------------------------------------------------------------------

LOG_LINE = re.compile(r"^(\S+ \S+) \u2502 +(\S+) +\u2502 (.*)$")


def test_logs(cli, sim, dataset):
    env = env_of(dataset, "shop", "live")
    app = app_of(dataset, "shop")
    out = ok(cli("app", "logs", "live", "--utc", "--remote-id", app["uuid"]))
    lines = out.splitlines()
    assert abs(len(lines) - LOG_WINDOW // LOG_STEP) <= 1, out
    for line in lines:
        when, service, message = LOG_LINE.match(line).groups()
        step = int(datetime.fromisoformat(when).timestamp()) // LOG_STEP
        want_service, want_message = _log_entry(app, env, step)
        # divio-cli strips CR and the terminal escapes it knows of
        assert (service, message) == (want_service, want_message.replace("\r", "").replace("\x1b[J", "").replace("\x1b[H", ""))
    assert "/apps/v3/environments/%s/logs/" % env["uuid"] in answered_well(sim)
