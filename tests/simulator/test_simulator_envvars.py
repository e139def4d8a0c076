"""Tests of the simulator's environment variables, deployment variables and runtime logs (envvars.py), over
real HTTP."""

import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from divio_simulator import SIZES, generate_dataset, run_simulator
from divio_simulator.envvars import LOG_STEP, LOG_WINDOW, PLATFORM, RETIRED, deployment_variables

TOKEN = "test-token-envvars"
VARIABLES = "/apps/v3/environment-variables/"
HEADERS = {"Authorization": "Token " + TOKEN}


@pytest.fixture(scope="module")
def server():
    with run_simulator(dataset=generate_dataset(seed=1, **SIZES["demo"]), token=TOKEN) as server:
        yield server


def get(server, path, **params):
    return requests.get(server.url + path if path.startswith("/") else path, params=params, headers=HEADERS, timeout=10)


def env_of(ds, app_slug, env_slug):
    app = next(a for a in ds.applications if a["slug"] == app_slug)
    return next(e for e in ds.environments if e["application"] == app["uuid"] and e["slug"] == env_slug)


def every(server, **params):
    items = []
    response = get(server, VARIABLES, **params)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["results"]
        url = body["next"]
        if not url:
            return items, body["count"]
        response = get(server, url)


def test_demo_data_has_realistic_sensitive_variables(server):
    ds = server.dataset
    assert len({item["uuid"] for item in ds.environment_variables}) == len(ds.environment_variables)
    assert all(set(item) == {"uuid", "environment", "name", "value", "is_sensitive"} for item in ds.environment_variables)
    shop_live = {i["name"]: i for i in ds.lookup("environment_variables", "environment", env_of(ds, "shop", "live")["uuid"])}
    assert shop_live["SECRET_KEY"]["is_sensitive"] and shop_live["STRIPE_SECRET_KEY"]["value"].startswith("sk_live_")
    assert shop_live["STRIPE_PUBLISHABLE_KEY"]["is_sensitive"] is False and shop_live["DEBUG"]["value"] == "False"
    assert shop_live["MAINTENANCE_MODE"]["value"] == ""
    assert ds.lookup("environment_variables", "environment", env_of(ds, "blog", "test")["uuid"]) == []
    # the same data for the same seed; other lists unchanged by the variables (their own generator)
    again = generate_dataset(seed=1, now=ds.now, **SIZES["demo"])  # the same anchor: a second may have passed
    assert again.environment_variables == ds.environment_variables and again.backups == ds.backups


def test_list_filters(server):
    ds = server.dataset
    env = env_of(ds, "shop", "live")
    items, count = every(server, environment=env["uuid"])
    assert items == ds.lookup("environment_variables", "environment", env["uuid"]) and count == len(items) > 20
    by_app = every(server, application=env["application"])[0]
    assert {i["environment"] for i in by_app} == {env["uuid"], env_of(ds, "shop", "test")["uuid"]}
    [one] = every(server, environment=env["uuid"], name="SECRET_KEY")[0]
    assert one["name"] == "SECRET_KEY" and one["environment"] == env["uuid"]
    assert [i["environment"] for i in every(server, application=env["application"], name="DEBUG")[0]] != []
    assert every(server, environment=env["uuid"], name="NOPE") == ([], 0)
    big = get(server, VARIABLES, environment=env["uuid"], page_size=100).json()
    assert big["next"] is None and len(big["results"]) == count


def test_list_needs_an_environment_or_application(server):
    for params in ({}, {"name": "DEBUG"}, {"environment": ""}):
        response = get(server, VARIABLES, **params)
        assert response.status_code == 400
        assert "environment or the application" in response.json()["non_field_errors"][0]


def test_detail_and_fault_injection(server):
    ds = server.dataset
    item = ds.lookup("environment_variables", "environment", env_of(ds, "crm", "live")["uuid"])[0]
    assert get(server, VARIABLES + item["uuid"] + "/").json() == item
    assert get(server, VARIABLES + "nosuchvariable/").status_code == 404
    server.configure(fail_applications=["crm"])
    try:
        assert get(server, VARIABLES + item["uuid"] + "/").status_code == 500
        assert get(server, VARIABLES, environment=item["environment"]).status_code == 500
        assert get(server, VARIABLES, environment=env_of(ds, "wiki", "live")["uuid"]).status_code == 200
    finally:
        server.configure(fail_applications=[])


def test_deployment_detail_lists_names_and_variables_hold_platform_and_retired_ones(server):
    ds = server.dataset
    env = env_of(ds, "shop", "live")
    listed = {i["name"] for i in ds.lookup("environment_variables", "environment", env["uuid"])}
    retired = 0
    for record in ds.lookup("deployments", "environment", env["uuid"]):
        detail = get(server, "/apps/v3/deployments/%s/" % record["uuid"]).json()
        variables = get(server, "/apps/v3/deployments/%s/environment-variables" % record["uuid"]).json()
        assert variables["environment"] == env["uuid"]
        assert detail["environment_variables"] == list(variables["environment_variables"])
        assert set(detail["environment_variables"]) - listed - set(PLATFORM) <= {RETIRED}
        assert listed | set(PLATFORM) <= set(detail["environment_variables"])
        retired += RETIRED in detail["environment_variables"]
        assert variables["environment_variables"] == deployment_variables(ds, record)
    assert retired
    listing = get(server, "/apps/v3/deployments/", environment=env["uuid"]).json()["results"]
    assert listing and all("environment_variables" not in item for item in listing)  # only the detail has them


def test_environment_logs(server):
    ds = server.dataset
    env = env_of(ds, "wiki", "live")
    path = "/apps/v3/environments/%s/logs/" % env["uuid"]
    body = get(server, path).json()
    assert body["previous"] is None and abs(len(body["results"]) - LOG_WINDOW // LOG_STEP) <= 1
    assert all(set(entry) == {"timestamp", "service", "message"} for entry in body["results"])
    assert {entry["service"] for entry in body["results"]} <= {"web", "worker", "cronjob"}
    stamps = [entry["timestamp"] for entry in body["results"]]
    assert stamps == sorted(stamps)
    # next asks for what comes after the last entry: nothing yet, and a next link again (divio-cli --tail polls it)
    later = get(server, body["next"]).json()
    assert later["results"] == [] or later["results"][0]["timestamp"] > stamps[-1]
    assert later["next"].startswith(server.url + path + "?after=")
    assert get(server, path, after="soon").status_code == 400
    assert get(server, "/apps/v3/environments/nosuchenvironment/logs/").status_code == 404
    assert get(server, "/apps/v3/environments/%s/logs" % env["uuid"]).status_code == 404  # divio-cli adds the slash


def test_an_environment_never_deployed_has_no_logs(server):
    ds = generate_dataset(seed=1, **SIZES["tiny"])
    env = ds.environments[0]
    env["last_finished_deployment"] = None
    with run_simulator(dataset=ds, token=TOKEN) as other:
        body = get(other, "/apps/v3/environments/%s/logs/" % env["uuid"]).json()
    assert body["results"] == [] and body["next"]
