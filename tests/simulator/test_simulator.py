"""Tests of the Divio API simulator (tests/simulator), over real HTTP."""

import email.utils
import json
import os
import re
import signal
import socket
import threading
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

SIMULATOR_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(SIMULATOR_DIR))

from divio_simulator import SIZES, Dataset, SimulatorServer, generate_dataset, run_simulator
from divio_simulator.envvars import deployment_variables
from divio_simulator.faults import KINDS, LIST_KINDS, FaultPlan, parse_kinds

TOKEN = "test-token-5f2c"
FIXED_NOW = datetime(2024, 3, 1, 12, 0, 0)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")
# The shape of the ids Divio hands out (and the simulator by default): 26 lower-case base32 characters.
DIVIO_ID = re.compile(r"^[a-z2-7]{26}$")

LIST_PATHS = {
    "organisations": "/iam/v3/organisations/",
    "regions": "/apps/v3/regions/",
    "applications": "/apps/v3/applications/",
    "environments": "/apps/v3/environments/",
    "deployments": "/apps/v3/deployments/",
    "service_instances": "/apps/v3/service-instances/",
    "backups": "/apps/v3/backups/",
    "service_instance_backups": "/apps/v3/service-instance-backups/",
}
FIELDS = {
    "organisations": {"uuid", "name", "created_at"},
    "regions": {"uuid", "name"},
    "applications": {"uuid", "slug", "name", "organisation", "repository"},
    "environments": {"uuid", "slug", "application", "branch", "last_finished_deployment", "ssh_endpoint"},
    "deployments": {"uuid", "environment", "started_at", "ended_at", "status", "success", "percent"},
    "service_instances": {"uuid", "environment", "prefix", "type", "service_status", "region", "service"},
    "backups": {"uuid", "environment", "state", "success", "trigger", "notes", "service_instance_backups",
                "scheduled_for_deletion_at", "created_at", "started_at", "ended_at"},
    "service_instance_backups": {"uuid", "backup", "service_instance", "service_type", "queued_at", "started_at",
                                 "ended_at", "taken_at", "size", "errors"},
}


def as_detail(dataset, name, item):
    """What the detail endpoint answers for ``item``: the record, a deployment's with the names of its variables."""
    if name == "deployments":
        return dict(item, environment_variables=list(deployment_variables(dataset, item)))
    return item


@pytest.fixture(scope="module")
def dataset():
    return generate_dataset(seed=1, **SIZES["demo"])


@pytest.fixture(scope="module")
def module_server(dataset):
    with run_simulator(dataset, token=TOKEN) as server:
        yield server


@pytest.fixture
def server(module_server):
    """The shared demo server, with settings and counters restored after each test."""
    config = module_server.config()
    module_server.reset_stats()
    yield module_server
    module_server.configure(**config)


@pytest.fixture
def api():
    session = requests.Session()
    session.headers["Authorization"] = f"Token {TOKEN}"
    yield session
    session.close()


def get(session, server, path, **params):
    return session.get(server.url + path, params=params, timeout=10)


def walk(session, url):
    """Follow ``next`` links from ``url``; returns (all results, number of pages)."""
    results, pages = [], 0
    while url:
        response = session.get(url, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        results.extend(body["results"])
        pages += 1
        url = body["next"]
        assert pages < 10000
    return results, pages


def parse(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


# -- authentication ---------------------------------------------------------------------------------


def test_root_index_needs_no_token(server):
    response = requests.get(server.url + "/apps/v3/", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["backups"] == server.url + "/apps/v3/backups/"
    assert body["service-instances"] == server.url + "/apps/v3/service-instances/"


@pytest.mark.parametrize("path", ["/apps/v3/backups/", "/iam/v3/me/", "/iam/v3/organisations/"])
def test_missing_token_is_401(server, path):
    response = requests.get(server.url + path, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("header, detail", [
    ("Token wrong", "Invalid token."),
    (f"Token {TOKEN}x", "Invalid token."),
    ("Token", "Invalid token header. No credentials provided."),
    (f"Bearer {TOKEN}", "Authentication credentials were not provided."),
])
def test_bad_token_is_401(server, header, detail):
    response = requests.get(server.url + "/apps/v3/applications/", headers={"Authorization": header}, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["WWW-Authenticate"] == "Token"


def test_token_keyword_is_case_insensitive(server):
    response = requests.get(server.url + "/iam/v3/me/", headers={"Authorization": f"token {TOKEN}"}, timeout=10)
    assert response.status_code == 200


def test_me(server, api, dataset):
    body = get(api, server, "/iam/v3/me/").json()
    assert body == dataset.user
    assert set(body) >= {"uuid", "first_name", "last_name", "email"}


# -- pagination -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LIST_PATHS))
def test_walking_all_pages_returns_each_item_once(server, api, dataset, name):
    items, pages = walk(api, f"{server.url}{LIST_PATHS[name]}?page_size=7")
    expected = getattr(dataset, name)
    uuids = [item["uuid"] for item in items]
    assert len(uuids) == len(set(uuids))
    assert sorted(uuids) == sorted(item["uuid"] for item in expected)
    if name != "deployments":  # a running deployment's percent rises between two looks (deployments.py)
        assert items == [dataset.by_uuid[name][u] for u in uuids]
    assert pages == max(1, -(-len(expected) // 7))
    for item in items:
        assert set(item) == FIELDS[name]


def test_list_envelope_and_default_page_size(server, api, dataset):
    body = get(api, server, "/apps/v3/backups/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == len(dataset.backups)
    assert len(body["results"]) == server.default_page_size
    assert body["previous"] is None


def test_order_is_arbitrary_but_stable(server, api, dataset):
    first = get(api, server, "/apps/v3/backups/", page_size=100).json()["results"]
    again = get(api, server, "/apps/v3/backups/", page_size=100).json()["results"]
    assert first == again
    created = [b["created_at"] for b in first]
    assert created != sorted(created) and created != sorted(created, reverse=True)


def test_page_size_is_capped(server, api, dataset):
    body = get(api, server, "/apps/v3/backups/", page_size=1000).json()
    assert len(body["results"]) == 100
    # The link keeps the page_size as asked, like DRF.
    assert parse_qs(urlsplit(body["next"]).query)["page_size"] == ["1000"]
    server.configure(max_page_size=30)
    assert len(get(api, server, "/apps/v3/backups/", page_size=1000).json()["results"]) == 30
    assert len(get(api, server, "/apps/v3/backups/", page_size=25).json()["results"]) == 25


@pytest.mark.parametrize("page_size", ["abc", "0", "-3", ""])
def test_bad_page_size_falls_back_to_default(server, api, page_size):
    response = get(api, server, "/apps/v3/backups/", page_size=page_size)
    assert response.status_code == 200
    assert len(response.json()["results"]) == server.default_page_size


def test_next_and_previous_links_are_absolute_and_keep_filters(server, api, dataset):
    env = next(e for e in dataset.environments if len(dataset.lookup("backups", "environment", e["uuid"])) > 4)
    first = get(api, server, "/apps/v3/backups/", environment=env["uuid"], page_size=2, unknown="x").json()
    assert first["previous"] is None
    assert first["next"].startswith(server.url + "/apps/v3/backups/?")
    query = parse_qs(urlsplit(first["next"]).query)
    assert query == {"environment": [env["uuid"]], "page": ["2"], "page_size": ["2"], "unknown": ["x"]}

    second = api.get(first["next"], timeout=10).json()
    # DRF links to page 1 without a page parameter.
    assert parse_qs(urlsplit(second["previous"]).query) == {"environment": [env["uuid"]], "page_size": ["2"], "unknown": ["x"]}
    third = api.get(second["next"], timeout=10).json()
    assert parse_qs(urlsplit(third["previous"]).query)["page"] == ["2"]

    items = walk(api, f"{server.url}/apps/v3/backups/?environment={env['uuid']}&page_size=2")[0]
    assert {b["uuid"] for b in items} == {b["uuid"] for b in dataset.lookup("backups", "environment", env["uuid"])}


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.0", "99999"])
def test_invalid_page_is_404(server, api, page):
    response = get(api, server, "/apps/v3/backups/", page=page)
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_last_page_and_empty_first_page(server, api, dataset):
    body = get(api, server, "/apps/v3/applications/", page="last", page_size=4).json()
    assert body["next"] is None
    assert len(body["results"]) == len(dataset.applications) - 4
    empty = get(api, server, "/apps/v3/applications/", slug="no-such-app").json()
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}


# -- filters ----------------------------------------------------------------------------------------


def _all(api, server, path, **params):
    items = walk(api, requests.Request("GET", server.url + path, params=dict(params, page_size=100)).prepare().url)[0]
    return sorted(item["uuid"] for item in items)


def _uuids(items):
    return sorted(item["uuid"] for item in items)


def test_application_filters(server, api, dataset):
    shop = next(a for a in dataset.applications if a["slug"] == "shop")
    assert _all(api, server, "/apps/v3/applications/", slug="shop") == [shop["uuid"]]
    org = shop["organisation"]
    assert _all(api, server, "/apps/v3/applications/", organisation=org) == _uuids(a for a in dataset.applications if a["organisation"] == org)
    assert _all(api, server, "/apps/v3/applications/", organisation=org, slug="shop") == [shop["uuid"]]
    assert _all(api, server, "/apps/v3/applications/", organisation=str(uuid.uuid4())) == []


def test_environment_filters(server, api, dataset):
    app = next(a for a in dataset.applications if a["slug"] == "blog")
    expected = [e for e in dataset.environments if e["application"] == app["uuid"]]
    assert _all(api, server, "/apps/v3/environments/", application=app["uuid"]) == _uuids(expected)
    live = [e for e in expected if e["slug"] == "live"]
    assert len(live) == 1
    assert _all(api, server, "/apps/v3/environments/", application=app["uuid"], slug="live") == _uuids(live)
    assert _all(api, server, "/apps/v3/environments/", slug="live") == _uuids(e for e in dataset.environments if e["slug"] == "live")
    # Divio's ids are compared as they are (see test_uuid_filters_are_normalised for the UUID data sets).
    assert _all(api, server, "/apps/v3/environments/", application=app["uuid"].upper()) == []


def test_deployment_filters(server, api, dataset):
    app = dataset.applications[0]
    env_uuids = {e["uuid"] for e in dataset.environments if e["application"] == app["uuid"]}
    by_app = [d for d in dataset.deployments if d["environment"] in env_uuids]
    assert by_app
    assert _all(api, server, "/apps/v3/deployments/", application=app["uuid"]) == _uuids(by_app)
    env = sorted(env_uuids)[0]
    by_env = [d for d in dataset.deployments if d["environment"] == env]
    assert _all(api, server, "/apps/v3/deployments/", environment=env) == _uuids(by_env)
    assert _all(api, server, "/apps/v3/deployments/", environment=env, application=app["uuid"]) == _uuids(by_env)
    other_app = dataset.applications[1]["uuid"]
    assert _all(api, server, "/apps/v3/deployments/", environment=env, application=other_app) == []


def test_service_instance_filter(server, api, dataset):
    env = dataset.environments[3]["uuid"]
    expected = [si for si in dataset.service_instances if si["environment"] == env]
    assert len(expected) == 2
    assert _all(api, server, "/apps/v3/service-instances/", environment=env) == _uuids(expected)


def test_unknown_filters_are_ignored(server, api, dataset):
    body = get(api, server, "/apps/v3/service-instance-backups/", backup="not-a-uuid", foo="bar").json()
    assert body["count"] == len(dataset.service_instance_backups)
    assert get(api, server, "/apps/v3/applications/", slug="").json()["count"] == len(dataset.applications)


def test_backup_environment_filter_honoured_or_ignored(server, api, dataset):
    env = next(e["uuid"] for e in dataset.environments if dataset.lookup("backups", "environment", e["uuid"]))
    expected = _uuids(b for b in dataset.backups if b["environment"] == env)
    assert _all(api, server, "/apps/v3/backups/", environment=env) == expected

    server.configure(honour_backup_environment_filter=False)
    assert get(api, server, "/apps/v3/backups/", environment=env).json()["count"] == len(dataset.backups)
    # An ignored filter is not validated either.
    assert get(api, server, "/apps/v3/backups/", environment="nope").status_code == 200

    response = requests.post(server.url + "/_simulator/config", json={"honour_backup_environment_filter": True}, timeout=10)
    assert response.status_code == 200
    assert response.json()["honour_backup_environment_filter"] is True
    assert get(api, server, "/apps/v3/backups/", environment=env).json()["count"] == len(expected)

    response = requests.post(server.url + "/_simulator/config", json={"honour_backup_environment_filter": False}, timeout=10)
    assert response.json()["honour_backup_environment_filter"] is False
    assert server.honour_backup_environment_filter is False


@pytest.mark.parametrize("path, param", [
    ("/apps/v3/applications/", "organisation"),
    ("/apps/v3/environments/", "application"),
    ("/apps/v3/deployments/", "application"),
    ("/apps/v3/deployments/", "environment"),
    ("/apps/v3/service-instances/", "environment"),
    ("/apps/v3/backups/", "environment"),
])
def test_malformed_uuid_filter_is_400(uuid_server, api, path, param):
    """With RFC UUIDs (``--id-style uuid``) the server behaves like Django's UUIDField."""
    response = get(api, uuid_server, path, **{param: "not-a-uuid"})
    assert response.status_code == 400
    assert response.json() == {param: ["\u201cnot-a-uuid\u201d is not a valid UUID."]}


@pytest.fixture(scope="module")
def uuid_server():
    with run_simulator(generate_dataset(seed=1, id_style="uuid", **SIZES["tiny"]), token=TOKEN) as server:
        yield server


def test_uuid_filters_are_normalised(uuid_server, api):
    ds = uuid_server.dataset
    app = ds.applications[0]
    expected = _uuids(e for e in ds.environments if e["application"] == app["uuid"])
    assert _all(api, uuid_server, "/apps/v3/environments/", application=app["uuid"].upper()) == expected
    assert _all(api, uuid_server, "/apps/v3/environments/", application=app["uuid"].replace("-", "")) == expected


# -- details, unknown paths and methods -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LIST_PATHS))
def test_detail(server, api, dataset, name):
    item = getattr(dataset, name)[-1]
    response = get(api, server, f"{LIST_PATHS[name]}{item['uuid']}/")
    assert response.status_code == 200
    assert response.json() == as_detail(dataset, name, item)
    missing = get(api, server, f"{LIST_PATHS[name]}{uuid.uuid4()}/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found."}


@pytest.mark.parametrize("path", [
    "/apps/v3/backups",
    "/apps/v3/nothing/",
    "/",
    "/apps/v3/backups/not-a-uuid/",
    "/apps/v3/backups/a/b/",
])
def test_unknown_path_is_404(server, api, path):
    response = get(api, server, path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_detail_without_trailing_slash_is_404(server, api, dataset):
    response = get(api, server, f"/apps/v3/backups/{dataset.backups[0]['uuid']}")
    assert response.status_code == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405(server, api, dataset, method):
    response = api.request(method, server.url + "/apps/v3/applications/", json={}, timeout=10)
    assert response.status_code == 405
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}
    assert response.headers["Allow"] == "GET"
    detail = api.request(method, f"{server.url}/apps/v3/backups/{dataset.backups[0]['uuid']}/", timeout=10)
    assert detail.status_code == 405


def test_authentication_comes_before_method_check(server):
    response = requests.post(server.url + "/apps/v3/backups/", json={}, timeout=10)
    assert response.status_code == 401


def test_connection_is_kept_alive(server, api):
    first = get(api, server, "/iam/v3/me/")
    assert first.raw.version == 11
    assert first.headers["Content-Length"] == str(len(first.content))
    assert "close" not in first.headers.get("Connection", "").lower()


# -- control endpoints and counters -----------------------------------------------------------------


def test_stats_count_requests(server, api, dataset):
    get(api, server, "/apps/v3/backups/")
    get(api, server, "/apps/v3/backups/", page=2)
    get(api, server, f"/apps/v3/backups/{dataset.backups[0]['uuid']}/")
    requests.get(server.url + "/apps/v3/environments/", timeout=10)  # 401, still counted
    api.post(server.url + "/apps/v3/applications/", timeout=10)
    stats = requests.get(server.url + "/_simulator/stats", timeout=10).json()
    assert stats == server.stats()
    assert stats["requests"] == 5
    assert stats["by_path"] == {
        "/apps/v3/backups/": 2,
        f"/apps/v3/backups/{dataset.backups[0]['uuid']}/": 1,
        "/apps/v3/environments/": 1,
        "/apps/v3/applications/": 1,
    }
    assert stats["by_method"] == {"GET": 4, "POST": 1}
    assert server.requests == [
        ("GET", "/apps/v3/backups/", 200),
        ("GET", "/apps/v3/backups/?page=2", 200),
        ("GET", f"/apps/v3/backups/{dataset.backups[0]['uuid']}/", 200),
        ("GET", "/apps/v3/environments/", 401),
        ("POST", "/apps/v3/applications/", 405),
    ]

    response = requests.post(server.url + "/_simulator/reset", timeout=10)
    assert response.status_code == 200
    assert server.stats() == {"requests": 0, "by_path": {}, "by_method": {}, "faults": {}}
    assert server.requests == []


def test_an_answer_is_logged_before_the_client_has_it(server, api):
    # Logged after it was sent, an answer could reach the log after the client's next request's answer,
    # or after the next test's reset (and show up in its log).
    for page in range(1, 51):
        server.reset_stats()
        get(api, server, "/apps/v3/backups/", page=page % 3 + 1)
        assert server.requests == [("GET", "/apps/v3/backups/?page=%d" % (page % 3 + 1), 200)]


def test_reset_drops_answers_to_earlier_requests(server, api):
    _fault_once(server, "stall", stall_seconds=0.4)
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get(server.url + "/apps/v3/backups/", timeout=0.1)  # its answer comes after the reset
    server.reset_stats()
    get(api, server, "/apps/v3/regions/")
    time.sleep(0.8)
    assert server.requests == [("GET", "/apps/v3/regions/", 200)]
    assert server.stats()["requests"] == 1


def test_config_endpoint(server):
    response = requests.post(server.url + "/_simulator/config", json={"latency_ms": 5, "max_page_size": 50}, timeout=10)
    assert response.status_code == 200
    assert response.json() == server.config()
    assert server.latency_ms == 5 and server.max_page_size == 50
    assert requests.get(server.url + "/_simulator/config", timeout=10).json()["max_page_size"] == 50
    for bad in ({"nope": 1}, {"max_page_size": 0}, {"latency_ms": "x"}, {"honour_backup_environment_filter": "yes"}):
        response = requests.post(server.url + "/_simulator/config", json=bad, timeout=10)
        assert response.status_code == 400, bad
    response = requests.post(server.url + "/_simulator/config", data="{not json", timeout=10)
    assert response.status_code == 400
    assert server.max_page_size == 50
    assert requests.get(server.url + "/_simulator/nothing", timeout=10).status_code == 404
    assert requests.get(server.url + "/_simulator/reset", timeout=10).status_code == 405


def test_configure_rejects_unknown_settings(server):
    with pytest.raises(ValueError):
        server.configure(colour="red")
    with pytest.raises(ValueError):
        server.configure(max_page_size=-1)


def test_latency_is_injected(server, api):
    server.configure(latency_ms=60)
    started = time.monotonic()
    get(api, server, "/iam/v3/me/")
    # A lower bound only: sleeping guarantees it; an upper bound would make the test flaky.
    assert time.monotonic() - started >= 0.05


# -- fault injection --------------------------------------------------------------------------------

SIMULATED_500 = {"detail": "Internal server error (simulated)."}


def _app_records(ds, slug):
    """One record of each resource that belongs to application ``slug`` (the newest backup's part included)."""
    app = next(a for a in ds.applications if a["slug"] == slug)
    env = next(e for e in ds.environments if e["application"] == app["uuid"] and ds.lookup("backups", "environment", e["uuid"]))
    backup = ds.lookup("backups", "environment", env["uuid"])[0]
    return {
        "applications": app,
        "environments": env,
        "deployments": ds.lookup("deployments", "environment", env["uuid"])[0],
        "service_instances": ds.lookup("service_instances", "environment", env["uuid"])[0],
        "backups": backup,
        "service_instance_backups": ds.lookup("service_instance_backups", "backup", backup["uuid"])[0],
    }


def test_fail_applications_answers_500_for_everything_about_them(server, api, dataset):
    failing, healthy = _app_records(dataset, "crm"), _app_records(dataset, "wiki")
    assert server.configure(fail_applications=["crm"])["fail_applications"] == ["crm"]
    for name, item in failing.items():
        response = get(api, server, f"{LIST_PATHS[name]}{item['uuid']}/")
        assert response.status_code == 500, name
        assert response.json() == SIMULATED_500
        assert get(api, server, f"{LIST_PATHS[name]}{healthy[name]['uuid']}/").json() == as_detail(dataset, name, healthy[name])
    app, env = failing["applications"]["uuid"], failing["environments"]["uuid"]
    for path, params in [("/apps/v3/environments/", {"application": app}),
                         ("/apps/v3/deployments/", {"application": app}),
                         ("/apps/v3/deployments/", {"environment": env}),
                         ("/apps/v3/service-instances/", {"environment": env}),
                         ("/apps/v3/backups/", {"environment": env}),
                         ("/apps/v3/backups/", {"environment": env, "page": 2}),
                         ("/apps/v3/applications/", {"slug": "crm"})]:
        response = get(api, server, path, **params)
        assert response.status_code == 500, (path, params)
        assert response.json() == SIMULATED_500
    # Filters about other applications, and unfiltered lists, answer as usual.
    assert get(api, server, "/apps/v3/environments/", application=healthy["applications"]["uuid"]).json()["count"] == 2
    for name, path in LIST_PATHS.items():
        assert get(api, server, path).json()["count"] == len(getattr(dataset, name)), name
    assert get(api, server, "/iam/v3/me/").status_code == 200
    # Authentication still comes first, and malformed filters are still 400.
    assert requests.get(f"{server.url}/apps/v3/applications/{app}/", timeout=10).status_code == 401
    assert get(api, server, "/apps/v3/environments/", application="not-an-id").json()["count"] == 0
    assert ("GET", f"/apps/v3/applications/{app}/", 500) in server.requests


def test_fail_applications_with_the_backup_filter_ignored(server, api, dataset):
    env = _app_records(dataset, "crm")["environments"]["uuid"]
    server.configure(fail_applications=["crm"], honour_backup_environment_filter=False)
    # The ignored filter names nothing: the answer is the whole (unfiltered) list.
    assert get(api, server, "/apps/v3/backups/", environment=env).json()["count"] == len(dataset.backups)
    assert get(api, server, "/apps/v3/service-instances/", environment=env).status_code == 500


def test_fail_applications_config_endpoint_and_reset(server, api, dataset):
    app = _app_records(dataset, "blog")["applications"]["uuid"]
    assert server.config()["fail_applications"] == []
    response = requests.post(server.url + "/_simulator/config", json={"fail_applications": ["blog", "shop"]}, timeout=10)
    assert response.status_code == 200
    assert response.json()["fail_applications"] == ["blog", "shop"]
    assert get(api, server, f"/apps/v3/applications/{app}/").status_code == 500
    for bad in ("blog", [1], [""], None):
        response = requests.post(server.url + "/_simulator/config", json={"fail_applications": bad}, timeout=10)
        assert response.status_code == 400, bad
    with pytest.raises(ValueError):
        server.configure(fail_applications="blog")
    assert server.fail_applications == ["blog", "shop"]
    server.configure(fail_applications=[])
    assert get(api, server, f"/apps/v3/applications/{app}/").status_code == 200


def test_fail_applications_constructor_argument(dataset):
    app = _app_records(dataset, "shop")["applications"]["uuid"]
    with run_simulator(dataset, token=TOKEN, fail_applications=("shop",)) as server:
        assert server.config()["fail_applications"] == ["shop"]
        response = requests.get(f"{server.url}/apps/v3/applications/{app}/", headers={"Authorization": f"Token {TOKEN}"},
                                timeout=10)
        assert response.status_code == 500


def wait_for_url(proc, url_file):
    """The URL a simulator started from the command line wrote to its --url-file."""
    deadline = time.monotonic() + 30
    while not url_file.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "simulator did not write its URL file"
        time.sleep(0.05)
    return url_file.read_text().strip()


def test_fail_application_cli_flag(tmp_path):
    url_file = tmp_path / "url"
    ds = generate_dataset(seed=3, **SIZES["tiny"])
    apps = {a["slug"]: a["uuid"] for a in ds.applications}
    proc = subprocess.Popen([sys.executable, str(SIMULATOR_DIR / "simulator.py"), "--port", "0", "--size", "tiny", "--seed", "3",
                             "--token", TOKEN, "--url-file", str(url_file), "--fail-application", "shop",
                             "--fail-application", "blog"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = wait_for_url(proc, url_file)
        headers = {"Authorization": f"Token {TOKEN}"}
        assert requests.get(f"{url}/_simulator/config", timeout=10).json()["fail_applications"] == ["shop", "blog"]
        statuses = {slug: requests.get(f"{url}/apps/v3/applications/{uuid}/", headers=headers, timeout=10).status_code
                    for slug, uuid in apps.items()}
        assert statuses == {"shop": 500, "blog": 500, "intranet": 200}
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


# -- fault injection: fault plans (faults.py) -------------------------------------------------------


def test_no_faults_by_default(server, api):
    assert server.config()["faults"] is None
    assert server.faults is None
    for attempt in range(20):
        assert get(api, server, "/apps/v3/backups/").status_code == 200, attempt
    assert server.stats()["faults"] == {}


def test_fault_plan_is_seeded_and_keeps_its_rate():
    def decisions(seed):
        plan = FaultPlan(rate=0.1, seed=seed)
        return [plan.decide("/apps/v3/backups/", is_list=bool(n % 2)) for n in range(3000)]

    first = decisions(7)
    assert first == decisions(7)
    assert first != decisions(8)
    hits = [kind for kind in first if kind]
    assert 0.08 <= len(hits) / len(first) <= 0.12
    assert set(hits) == set(KINDS)  # every kind is drawn
    # List-only kinds only for list requests (the odd ones).
    assert not any(kind in LIST_KINDS for n, kind in enumerate(first) if n % 2 == 0)


def test_fault_plan_on_requests_and_only_paths():
    plan = FaultPlan(rate=0.0, kinds=["503"], on_requests=[2, 4], only_paths=["/apps/v3/backups/"])
    asked = [("/apps/v3/backups/", True), ("/iam/v3/me/", False), ("/apps/v3/backups/", True), ("/apps/v3/regions/", True),
             ("/apps/v3/backups/", True), ("/apps/v3/backups/", True), ("/apps/v3/backups/", True)]
    # Numbered among the backups requests only: the 2nd and 4th of them.
    assert [plan.decide(path, is_list) for path, is_list in asked] == [None, None, "503", None, None, "503", None]
    # on_requests beats rate; a list-only kind on a detail request is no fault at all.
    plan = FaultPlan(rate=1.0, kinds=["loop-next"], on_requests=[1, 2])
    assert [plan.decide("/apps/v3/backups/x/", False), plan.decide("/apps/v3/backups/", True),
            plan.decide("/apps/v3/backups/", True)] == [None, "loop-next", None]


def test_fault_plan_settings_round_trip_and_validation():
    plan = FaultPlan.from_config({"rate": 0.25, "kinds": "500, reset,500", "seed": 3, "stall_seconds": 0.5})
    assert plan.config() == {"rate": 0.25, "kinds": ["500", "reset"], "seed": 3, "only_paths": None, "on_requests": None,
                             "stall_seconds": 0.5, "retry_after": 1}
    assert FaultPlan.from_config(plan.config()).config() == plan.config()
    assert FaultPlan.from_config(None) is None and FaultPlan.from_config({}) is None
    assert parse_kinds("all") == list(KINDS)
    for bad in ({"rate": 1.5}, {"rate": "0.1"}, {"rate": True}, {"kinds": []}, {"kinds": ["418"]}, {"kinds": "500,nope"},
                {"seed": "1"}, {"on_requests": [0]}, {"on_requests": 3}, {"only_paths": ["backups"]},
                {"stall_seconds": -1}, {"retry_after": 1.5}, {"retry_after": -1}, {"colour": "red"}):
        with pytest.raises(ValueError):
            FaultPlan.from_config(bad)
    with pytest.raises(ValueError):
        FaultPlan.from_config(["500"])


# -- fault injection: on the wire -------------------------------------------------------------------


def _fault_once(server, kind, path="/apps/v3/backups/", **settings):
    """Fault the next request to ``path`` with ``kind``."""
    server.configure(faults=dict({"kinds": [kind], "on_requests": [1], "only_paths": [path]}, **settings))


@pytest.mark.parametrize("kind", ["500", "502", "503", "504"])
def test_status_faults(server, api, kind):
    _fault_once(server, kind)
    response = get(api, server, "/apps/v3/backups/")
    assert response.status_code == int(kind)
    assert response.headers["Content-Type"] == "application/json"
    assert "simulated" in response.json()["detail"].lower()
    assert get(api, server, "/apps/v3/backups/").status_code == 200
    assert server.stats()["faults"] == {kind: 1}
    # (the answer leaves before it is recorded: only an earlier request's record is sure to be there)
    assert ("GET", "/apps/v3/backups/", int(kind)) in server.requests


def test_429_with_retry_after_seconds(server, api):
    _fault_once(server, "429-seconds", retry_after=7)
    response = get(api, server, "/apps/v3/backups/")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {"detail": "Request was throttled. Expected available in 7 seconds."}


def test_429_with_retry_after_http_date(server, api):
    _fault_once(server, "429-date", retry_after=7)
    before = time.time()
    response = get(api, server, "/apps/v3/backups/")
    assert response.status_code == 429
    header = response.headers["Retry-After"]
    assert header.endswith(" GMT")
    when = email.utils.parsedate_to_datetime(header).timestamp()
    # Whole seconds, rounded up: never earlier than now + 7 s.
    assert before + 7 <= when + 1 and when <= time.time() + 9
    assert server.stats()["faults"] == {"429-date": 1}


def test_stall_delays_the_answer(server, api):
    _fault_once(server, "stall", stall_seconds=0.3)
    started = time.monotonic()
    response = get(api, server, "/apps/v3/backups/")
    assert response.status_code == 200 and response.json()["results"]
    assert time.monotonic() - started >= 0.3
    _fault_once(server, "stall", stall_seconds=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get(server.url + "/apps/v3/backups/", timeout=0.2)
    assert server.stats()["faults"] == {"stall": 2}


def test_stop_ends_a_stall(dataset):
    with run_simulator(dataset, token=TOKEN, faults={"kinds": ["stall"], "rate": 1.0, "stall_seconds": 60}) as server:
        thread = threading.Thread(target=lambda: _get_quietly(server.url + "/iam/v3/me/"), daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.stats()["faults"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.stats()["faults"] == {"stall": 1}
        started = time.monotonic()
    assert time.monotonic() - started < 5
    thread.join(10)
    assert not thread.is_alive()


def _get_quietly(url):
    try:
        requests.get(url, headers={"Authorization": f"Token {TOKEN}"}, timeout=30)
    except requests.RequestException:
        pass


def test_reset_closes_the_connection_without_an_answer(server, api):
    _fault_once(server, "reset")
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        get(api, server, "/apps/v3/backups/")
    assert "reset" in str(caught.value).lower()  # an RST, not a polite close
    assert get(api, server, "/apps/v3/backups/").status_code == 200  # a new connection is fine
    assert server.stats()["faults"] == {"reset": 1}
    assert ("GET", "/apps/v3/backups/", 0) in server.requests  # 0: no answer


def test_truncated_answer_promises_more_than_it_sends(server):
    _fault_once(server, "truncated")
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(f"GET /apps/v3/backups/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token {TOKEN}\r\n\r\n".encode())
        raw = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break  # the server closed the connection
            raw += chunk
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    assert 0 < len(body) < length
    assert server.stats()["faults"] == {"truncated": 1}


def test_truncated_answer_seen_by_requests(server, api):
    _fault_once(server, "truncated")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(api, server, "/apps/v3/backups/")
    assert get(api, server, "/apps/v3/backups/").status_code == 200


def test_partial_json_is_a_complete_answer_with_half_a_document(server, api):
    whole = get(api, server, "/apps/v3/backups/").content
    _fault_once(server, "partial-json")
    response = get(api, server, "/apps/v3/backups/")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content) == len(whole) // 2
    assert whole.startswith(response.content)
    with pytest.raises(ValueError):
        response.json()


@pytest.mark.parametrize("kind, status, marker", [("html", 502, "502 Bad Gateway"), ("html-200", 200, "maintenance")])
def test_html_pages(server, api, kind, status, marker):
    _fault_once(server, kind)
    response = get(api, server, "/apps/v3/backups/")
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert marker in response.text and response.text.lstrip().startswith("<")
    assert server.stats()["faults"] == {kind: 1}


def test_loop_next_links_to_the_page_itself(server, api):
    _fault_once(server, "loop-next")
    first = get(api, server, "/apps/v3/backups/", page_size=10).json()
    assert first["next"] == server.url + "/apps/v3/backups/?page_size=10"
    _fault_once(server, "loop-next")
    last = get(api, server, "/apps/v3/backups/", page_size=10, page="last").json()
    assert last["next"] == server.url + f"/apps/v3/backups/?page={-(-last['count'] // 10)}&page_size=10"


def test_count_mismatch(server, api, dataset):
    normal = get(api, server, "/apps/v3/backups/", page_size=10).json()
    counts = set()
    for seed in range(8):
        server.configure(faults={"kinds": ["count-mismatch"], "on_requests": [1], "seed": seed})
        body = get(api, server, "/apps/v3/backups/", page_size=10).json()
        assert body["results"] == normal["results"] and body["next"] == normal["next"]
        counts.add(body["count"] - len(dataset.backups))
    assert 0 not in counts and counts <= {-2, -1, 1, 2} and len(counts) > 1


@pytest.mark.parametrize("page", ["1", "last"])
def test_empty_results_with_a_next_link(server, api, page):
    _fault_once(server, "empty-next")
    body = get(api, server, "/apps/v3/backups/", page_size=10, page=page).json()
    assert body["results"] == [] and body["next"]
    assert body["count"] == len(server.dataset.backups)


def test_list_faults_leave_detail_requests_alone(server, api, dataset):
    server.configure(faults={"kinds": list(LIST_KINDS), "rate": 1.0})
    item = dataset.backups[0]
    assert get(api, server, f"/apps/v3/backups/{item['uuid']}/").json() == item
    assert get(api, server, "/iam/v3/me/").status_code == 200
    assert server.stats()["faults"] == {}


def test_faults_never_touch_control_endpoints_or_refusals(server, api):
    server.configure(faults={"kinds": ["all"], "rate": 1.0, "stall_seconds": 0})
    for _attempt in range(5):
        assert requests.get(server.url + "/_simulator/stats", timeout=10).status_code == 200
        assert requests.get(server.url + "/_simulator/config", timeout=10).json()["faults"]["rate"] == 1.0
    assert requests.post(server.url + "/_simulator/reset", timeout=10).status_code == 200
    # Refusals come before faults: no token, unknown path, wrong method.
    assert requests.get(server.url + "/apps/v3/backups/", timeout=10).status_code == 401
    assert get(api, server, "/apps/v3/nothing/").status_code == 404
    assert api.post(server.url + "/apps/v3/applications/", timeout=10).status_code == 405
    assert server.stats()["faults"] == {}


def test_faults_at_a_rate_are_counted_by_kind(server, api):
    server.configure(faults={"rate": 0.5, "kinds": ["502", "503", "html"], "seed": 11})
    statuses = [get(api, server, "/apps/v3/regions/").status_code for attempt in range(60)]
    faults = server.stats()["faults"]
    assert set(faults) <= {"502", "503", "html"}
    assert sum(faults.values()) == sum(status != 200 for status in statuses)
    assert 15 <= sum(faults.values()) <= 45
    server.reset_stats()
    assert server.stats()["faults"] == {}


def test_faults_config_endpoint(server, api):
    settings = {"rate": 0.2, "kinds": ["503", "reset"], "seed": 5, "only_paths": ["/apps/v3/backups/"], "stall_seconds": 1}
    response = requests.post(server.url + "/_simulator/config", json={"faults": settings}, timeout=10)
    assert response.status_code == 200
    assert response.json()["faults"] == dict(settings, on_requests=None, retry_after=1, stall_seconds=1.0)
    assert server.config() == response.json()
    for bad in ({"rate": 2}, {"kinds": ["teapot"]}, "503", [1], {"on_requests": ["1"]}):
        response = requests.post(server.url + "/_simulator/config", json={"faults": bad}, timeout=10)
        assert response.status_code == 400, bad
        assert "fault" in response.json()["detail"]
    assert server.config()["faults"]["kinds"] == ["503", "reset"]  # a bad request changes nothing
    response = requests.post(server.url + "/_simulator/config", json={"faults": {"on_requests": [1], "kinds": ["503"]}},
                             timeout=10)
    assert response.status_code == 200
    assert get(api, server, "/apps/v3/backups/").status_code == 503
    assert requests.post(server.url + "/_simulator/config", json={"faults": None}, timeout=10).json()["faults"] is None
    assert server.faults is None


def test_faults_constructor_argument(dataset):
    with run_simulator(dataset, token=TOKEN, faults={"kinds": ["504"], "on_requests": [2]}) as server:
        headers = {"Authorization": f"Token {TOKEN}"}
        statuses = [requests.get(server.url + "/iam/v3/me/", headers=headers, timeout=10).status_code for attempt in range(3)]
        assert statuses == [200, 504, 200]
        assert server.stats()["faults"] == {"504": 1}


def test_fault_cli_flags_parse():
    from divio_simulator.cli import build_parser, fault_settings

    parser = build_parser()
    assert fault_settings(parser.parse_args([])) is None
    settings = fault_settings(parser.parse_args(["--fault-rate", "0.1", "--faults", "500,503,429-seconds", "--fault-seed", "9",
                                                 "--stall-seconds", "1.5", "--retry-after", "3"]))
    assert FaultPlan.from_config(settings).config() == {
        "rate": 0.1, "kinds": ["500", "503", "429-seconds"], "seed": 9, "only_paths": None, "on_requests": None,
        "stall_seconds": 1.5, "retry_after": 3}
    settings = fault_settings(parser.parse_args(["--fault-on-request", "3", "--fault-on-request", "1",
                                                 "--fault-path", "/apps/v3/backups/"]))
    assert FaultPlan.from_config(settings).config()["on_requests"] == [1, 3]
    assert FaultPlan.from_config(settings).config()["kinds"] == list(KINDS)


def test_fault_cli_flags(tmp_path):
    url_file = tmp_path / "url"
    proc = subprocess.Popen([sys.executable, str(SIMULATOR_DIR / "simulator.py"), "--port", "0", "--size", "tiny",
                             "--token", TOKEN, "--url-file", str(url_file), "--faults", "503", "--fault-on-request", "2",
                             "--fault-path", "/apps/v3/backups/", "--fault-seed", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = wait_for_url(proc, url_file)
        headers = {"Authorization": f"Token {TOKEN}"}
        assert requests.get(f"{url}/_simulator/config", timeout=10).json()["faults"]["on_requests"] == [2]
        statuses = [requests.get(f"{url}{path}", headers=headers, timeout=10).status_code
                    for path in ("/iam/v3/me/", "/apps/v3/backups/", "/apps/v3/backups/", "/apps/v3/backups/")]
        assert statuses == [200, 200, 503, 200]
        assert requests.get(f"{url}/_simulator/stats", timeout=10).json()["faults"] == {"503": 1}
    finally:
        proc.terminate()
        stderr = proc.communicate(timeout=15)[1]
    assert "Traceback" not in stderr
    bad = subprocess.run([sys.executable, str(SIMULATOR_DIR / "simulator.py"), "--size", "tiny", "--port", "0",
                          "--fault-rate", "0.1", "--faults", "500,teapot"], capture_output=True, text=True, timeout=60,
                         check=False)
    assert bad.returncode == 2 and "unknown fault kind 'teapot'" in bad.stderr


def test_stop_closes_listener_and_kept_alive_connections(dataset):
    server = SimulatorServer(dataset, token=TOKEN).start()
    url = server.url
    session = requests.Session()
    session.headers["Authorization"] = f"Token {TOKEN}"
    assert session.get(url + "/iam/v3/me/", timeout=10).status_code == 200
    server.stop()
    with pytest.raises(requests.ConnectionError):
        session.get(url + "/iam/v3/me/", timeout=5)
    server.stop()  # idempotent


# -- data -------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_data():
    first = generate_dataset(seed=7, now=FIXED_NOW, **SIZES["demo"])
    second = generate_dataset(seed=7, now=FIXED_NOW, **SIZES["demo"])
    assert first.to_json() == second.to_json()
    other = generate_dataset(seed=8, now=FIXED_NOW, **SIZES["demo"])
    assert other.to_json() != first.to_json()
    assert {b["uuid"] for b in other.backups}.isdisjoint(b["uuid"] for b in first.backups)


def test_same_seed_gives_identical_answers():
    bodies = []
    for _run in range(2):
        with run_simulator(generate_dataset(seed=3, now=FIXED_NOW, **SIZES["tiny"]), token=TOKEN) as server:
            headers = {"Authorization": f"Token {TOKEN}"}
            response = requests.get(server.url + "/apps/v3/backups/?page_size=100", headers=headers, timeout=10)
            bodies.append(response.json()["results"])
    assert bodies[0] == bodies[1]


def test_data_uses_no_global_random():
    import random

    random.seed(1)
    expected = random.random()
    random.seed(1)
    generate_dataset(seed=2, **SIZES["tiny"])
    assert random.random() == expected


def test_size_knobs():
    ds = generate_dataset(seed=1, organisations=3, applications=14, environments=3, days=4, interval_hours=6, now=FIXED_NOW)
    assert len(ds.organisations) == 3
    assert len(ds.applications) == 14
    slugs = [a["slug"] for a in ds.applications]
    assert len(set(slugs)) == 14 and "shop-2" in slugs
    assert len(ds.environments) == 42
    assert {e["slug"] for e in ds.environments} == {"test", "live", "stage"}
    scheduled = [b for b in ds.backups if b["trigger"] == "SCHEDULED"]
    # One environment is never backed up.
    assert len(scheduled) == 41 * 4


def test_timestamps_and_ids(dataset):
    forms = set()
    for name in Dataset.RESOURCES:
        for item in getattr(dataset, name):
            assert DIVIO_ID.match(item["uuid"]), item["uuid"]
            for key, value in item.items():
                if key.endswith("_at") and value is not None:
                    assert TIMESTAMP.match(value), (name, key, value)
                    forms.add("." in value)
    assert forms == {True, False}


@pytest.fixture(scope="module", params=[("tiny", 5), ("demo", 1), ("demo", 2)], ids=lambda p: f"{p[0]}-seed{p[1]}")
def trouble_data(request):
    """The documented trouble holds for any seed: checked on a few, against the real clock."""
    size, seed = request.param
    return generate_dataset(seed=seed, **SIZES[size])


def _env(ds, app_slug, env_slug):
    app = next(a for a in ds.applications if a["slug"] == app_slug)
    return next(e for e in ds.environments if e["application"] == app["uuid"] and e["slug"] == env_slug)


def _backups(ds, env):
    return sorted(ds.lookup("backups", "environment", env["uuid"]), key=lambda b: b["created_at"][:19], reverse=True)


def _parts(ds, backup):
    return [ds.by_uuid["service_instance_backups"][u] for u in backup["service_instance_backups"]]


def _usable(part):
    return part["ended_at"] is not None and not part["errors"]


def test_demo_troubles_are_where_documented(trouble_data):
    ds = trouble_data
    documented = {
        "failed_and_late_queue": ("shop", "test"),
        "running": ("shop", "live"),
        "never_backed_up": ("blog", "test"),
        "stale": ("blog", "live"),
        "storage_new": ("intranet", "test"),
        "partial_latest": ("intranet", "live"),
    }
    for kind, (app, env) in documented.items():
        [entry] = ds.troubles[kind]
        assert (entry["application"], entry["environment"]) == (app, env)
        assert entry["uuid"] == _env(ds, app, env)["uuid"]


def test_trouble_failed_backups(trouble_data):
    ds = trouble_data
    failed = [b for b in _backups(ds, _env(ds, "shop", "test")) if b["success"] == "FAILURE"]
    assert len(failed) >= 2
    for backup in failed:
        assert backup["state"] == "COMPLETED"
        assert all(part["errors"] and part["size"] is None and part["taken_at"] is None for part in _parts(ds, backup))


def test_trouble_partial_backups(trouble_data):
    ds = trouble_data
    partial = [b for b in ds.backups if b["success"] == "PARTIAL"]
    assert partial
    for backup in partial:
        parts = {p["service_type"]: p for p in _parts(ds, backup)}
        assert _usable(parts["DATABASE"]) and parts["DATABASE"]["taken_at"]
        assert parts["STORAGE"]["errors"] and parts["STORAGE"]["ended_at"]


def test_trouble_running_backup_is_newest(trouble_data):
    ds = trouble_data
    backups = _backups(ds, _env(ds, "shop", "live"))
    newest = backups[0]
    assert (newest["state"], newest["success"], newest["ended_at"]) == ("WORKING", None, None)
    parts = {p["service_type"]: p for p in _parts(ds, newest)}
    assert _usable(parts["DATABASE"]) and parts["STORAGE"]["ended_at"] is None
    assert backups[1]["success"] == "SUCCESS"
    assert ds.now - parse(backups[1]["ended_at"]) < timedelta(hours=24)
    assert [b for b in ds.backups if b["state"] == "WORKING"] == [newest]


def test_trouble_never_backed_up(trouble_data):
    ds = trouble_data
    assert _backups(ds, _env(ds, "blog", "test")) == []


def test_trouble_storage_not_provisioned(trouble_data):
    ds = trouble_data
    env = _env(ds, "intranet", "test")
    types = {si["type"]: si["service_status"] for si in ds.lookup("service_instances", "environment", env["uuid"])}
    assert types == {"DATABASE": "READY", "STORAGE": "NEW"}
    backups = _backups(ds, env)
    assert backups
    for backup in backups:
        assert [p["service_type"] for p in _parts(ds, backup)] == ["DATABASE"]


def test_trouble_stale_and_fresh(trouble_data):
    ds = trouble_data
    stale = _env(ds, "blog", "live")
    never = _env(ds, "blog", "test")
    partial = _env(ds, "intranet", "live")  # its newest full SUCCESS is the one before a PARTIAL: 1-2 days old

    def latest_good_age(env):
        good = [b for b in _backups(ds, env) if b["success"] == "SUCCESS"]
        return ds.now - parse(good[0]["ended_at"])

    assert timedelta(days=3) < latest_good_age(stale) < timedelta(days=5)
    for env in ds.environments:
        if env["uuid"] not in (stale["uuid"], never["uuid"], partial["uuid"]):
            assert latest_good_age(env) < timedelta(hours=24), env


def test_trouble_latest_depends_on_services(trouble_data):
    ds = trouble_data
    backups = [b for b in _backups(ds, _env(ds, "intranet", "live")) if b["state"] == "COMPLETED"]
    newest = backups[0]
    assert newest["success"] == "PARTIAL"
    with_database = next(b for b in backups if any(_usable(p) and p["service_type"] == "DATABASE" for p in _parts(ds, b)))
    with_everything = next(b for b in backups if len(_parts(ds, b)) == 2 and all(_usable(p) for p in _parts(ds, b)))
    assert with_database is newest
    assert with_everything is not newest and with_everything["success"] == "SUCCESS"


def test_trouble_taken_at_order_differs_from_created_order(trouble_data):
    ds = trouble_data
    [entry] = ds.troubles["failed_and_late_queue"]
    scheduled = ds.by_uuid["backups"][entry["scheduled_backup"]]
    manual = ds.by_uuid["backups"][entry["manual_backup"]]
    assert (scheduled["trigger"], manual["trigger"]) == ("SCHEDULED", "MANUAL")
    assert scheduled["environment"] == manual["environment"]
    assert parse(manual["created_at"]) > parse(scheduled["created_at"])
    taken = {b["uuid"]: max(parse(p["taken_at"]) for p in _parts(ds, b)) for b in (scheduled, manual)}
    assert taken[manual["uuid"]] < taken[scheduled["uuid"]]


def test_parts_of_a_backup_have_different_taken_at(trouble_data):
    ds = trouble_data
    full = [b for b in ds.backups if b["success"] == "SUCCESS" and len(b["service_instance_backups"]) == 2]
    assert full
    for backup in full:
        parts = _parts(ds, backup)
        assert parts[0]["taken_at"] != parts[1]["taken_at"]
        for part in parts:
            assert part["backup"] == backup["uuid"]
            assert part["service_type"] == ds.by_uuid["service_instances"][part["service_instance"]]["type"]
            assert parse(part["queued_at"]) <= parse(part["started_at"]) <= parse(part["taken_at"]) <= parse(part["ended_at"])


def test_environment_fields(dataset):
    env = dataset.environments[0]
    assert set(env["ssh_endpoint"]) == {"host", "port", "user"}
    deployment = dataset.by_uuid["deployments"][env["last_finished_deployment"]["uuid"]]
    assert deployment["environment"] == env["uuid"] and deployment["ended_at"]


# -- churn, temporary backups, part shapes, ids -------------------------------------------------------


def _list_all(api, url, path, **params):
    query = "&".join(f"{k}={v}" for k, v in dict(params, page_size=100).items())
    return walk(api, f"{url}{path}?{query}")[0]


def _churned(seed, requests_made=12, changes=3):
    """A fresh demo server with ``changes`` churn changes before each request; the backups list after
    ``requests_made`` requests, the churn stats and the data set."""
    ds = generate_dataset(seed=1, now=FIXED_NOW, **SIZES["demo"])
    original = list(ds.backups)
    with run_simulator(ds, token=TOKEN, churn_per_request=changes, churn_seed=seed) as server:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {TOKEN}"
        for _unused in range(requests_made):
            assert session.get(server.url + "/iam/v3/me/", timeout=10).status_code == 200
        stats = server.stats()["churn"]
        server.configure(churn_per_request=0)
        listed = _list_all(session, server.url, "/apps/v3/backups/")
    return original, listed, stats, ds


def test_churn_per_request_is_deterministic_and_reports_what_it_touched():
    original, listed, stats, ds = _churned(seed=5)
    again = _churned(seed=5)
    assert [b["uuid"] for b in listed] == [b["uuid"] for b in again[1]] and stats == again[2]
    assert stats["created"] + stats["deleted"] == 36
    assert stats["created"] > 0 and stats["deleted"] > 0
    assert _churned(seed=6)[2] != stats
    # What the stats say is what happened: every environment whose backups changed is named, no other.
    before = {b["uuid"]: b for b in original}
    after = {b["uuid"]: b for b in listed}
    changed = {before[u]["environment"] for u in set(before) - set(after)} | {after[u]["environment"] for u in set(after) - set(before)}
    assert set(stats["environments"]) == changed
    assert len(after) == len(before) + stats["created"] - stats["deleted"]


def test_churn_changes_random_positions_and_keeps_the_others_in_order():
    original, listed, stats, ds = _churned(seed=2, requests_made=30)
    kept = set(b["uuid"] for b in listed)
    survivors = [b["uuid"] for b in original if b["uuid"] in kept]
    assert [b["uuid"] for b in listed if b["uuid"] in set(survivors)] == survivors
    new_positions = [i for i, b in enumerate(listed) if b["uuid"] not in {o["uuid"] for o in original}]
    assert stats["created"] >= len(new_positions) > 5  # some of those created were deleted again
    assert min(new_positions) < len(listed) // 2 < max(new_positions)  # not all at one end
    # A filtered list is the full list filtered, new records included; deleted ones leave no part behind.
    for env_uuid in stats["environments"]:
        assert [b["uuid"] for b in ds.lookup("backups", "environment", env_uuid)] == \
            [b["uuid"] for b in listed if b["environment"] == env_uuid]
    parts = {p["uuid"] for p in ds.service_instance_backups}
    assert parts == {u for b in listed for u in b["service_instance_backups"]}


def test_churn_creates_pull_and_scheduled_backups():
    ds = generate_dataset(seed=1, **SIZES["demo"])
    with run_simulator(ds, token=TOKEN) as server:
        server.configure(churn_per_request=1, churn_seed=3)
        made = [server.churn.change() for _unused in range(200)]
    # Those still there (churn deletes what it created too).
    created = [backup for kind, backup in made if kind == "created" and backup["uuid"] in ds.by_uuid["backups"]]
    pulls = [b for b in created if b["notes"] == "Divio CLI pull"]
    assert pulls and len(pulls) < len(created)
    now = ds.clock()
    for backup in created:
        parts = [ds.by_uuid["service_instance_backups"][u] for u in backup["service_instance_backups"]]
        assert (backup["state"], backup["success"]) == ("COMPLETED", "SUCCESS")
        assert parse(backup["ended_at"]) <= now and all(parse(p["taken_at"]) <= now for p in parts)
        lifetime = parse(backup["scheduled_for_deletion_at"]) - parse(backup["created_at"])
        if backup in pulls:
            assert lifetime == timedelta(hours=1) and backup["trigger"] == "MANUAL"
            [part] = parts
            instance = ds.by_uuid["service_instances"][part["service_instance"]]
            assert (instance["type"], instance["prefix"]) == ("DATABASE", "DEFAULT")
        else:
            assert lifetime > timedelta(days=7) and backup["trigger"] == "SCHEDULED"


def test_churn_at_a_rate_runs_while_serving(dataset):
    ds = generate_dataset(seed=1, **SIZES["tiny"])
    server = SimulatorServer(ds, token=TOKEN, churn_rate=50, churn_seed=1)
    assert server.churn.stats()["created"] == 0  # nothing before it serves
    server.start()
    try:
        time.sleep(0.5)
        stats = server.stats()["churn"]
        assert 10 <= stats["created"] + stats["deleted"] <= 40
        server.configure(churn_rate=0)
        frozen = server.churn.stats()
        time.sleep(0.2)
        assert server.churn.stats() == frozen == server.stats()["churn"]
        response = requests.post(server.url + "/_simulator/config", json={"churn_rate": 100, "churn_seed": 2}, timeout=10)
        assert response.json()["churn_rate"] == 100
    finally:
        server.stop()
    frozen = server.churn.stats()
    time.sleep(0.1)
    assert server.churn.stats() == frozen  # the thread ended with the server


@pytest.mark.parametrize("bad", [{"churn_rate": -1}, {"churn_rate": "fast"}, {"churn_rate": True}, {"churn_seed": 1.5},
                                 {"churn_per_request": -1}, {"churn_per_request": 10001}])
def test_churn_settings_are_checked(server, bad):
    with pytest.raises(ValueError):
        server.configure(**bad)
    assert server.churn_rate == 0 and server.churn_per_request == 0


def test_pull_backup_trouble(trouble_data):
    ds = trouble_data
    [entry] = ds.troubles.get("pull_newest", [None])
    if entry is None:
        assert len(ds.environments) < 9  # tiny: only the first six trouble slots
        return
    env = _env(ds, entry["application"], entry["environment"])
    newest, before = _backups(ds, env)[:2]
    assert newest["uuid"] == entry["pull_backup"]
    assert (newest["trigger"], newest["notes"], newest["success"]) == ("MANUAL", "Divio CLI pull", "SUCCESS")
    assert parse(newest["scheduled_for_deletion_at"]) - parse(newest["created_at"]) == timedelta(hours=1)
    assert parse(newest["scheduled_for_deletion_at"]) > ds.now > parse(newest["ended_at"])
    [part] = _parts(ds, newest)
    assert ds.by_uuid["service_instances"][part["service_instance"]]["prefix"] == "DEFAULT"
    assert before["trigger"] == "SCHEDULED" and len(_parts(ds, before)) == 2
    assert ds.now - parse(before["ended_at"]) < timedelta(hours=24)
    # No other pull backup anywhere: the platform deletes them within the hour.
    assert [b["uuid"] for b in ds.backups if b["notes"] == "Divio CLI pull"] == [newest["uuid"]]


def test_two_databases_trouble(trouble_data):
    ds = trouble_data
    if "two_databases" not in ds.troubles:
        return
    [entry] = ds.troubles["two_databases"]
    env = _env(ds, entry["application"], entry["environment"])
    instances = ds.lookup("service_instances", "environment", env["uuid"])
    databases = sorted((si["prefix"], si["service_status"]) for si in instances if si["type"] == "DATABASE")
    assert databases == [("DEFAULT", "READY"), ("REPORTING", "READY")]
    newest, before = _backups(ds, env)[:2]
    assert (newest["uuid"], before["uuid"]) == (entry["newest_backup"], entry["full_backup"])

    def prefixes(backup):
        return sorted(ds.by_uuid["service_instances"][p["service_instance"]]["prefix"] for p in _parts(ds, backup))

    assert newest["success"] == "SUCCESS" and prefixes(newest) == ["DEFAULT", "DEFAULT"]
    assert before["success"] == "SUCCESS" and prefixes(before) == ["DEFAULT", "DEFAULT", "REPORTING"]
    assert entry["second_database"] in {si["uuid"] for si in instances if si["prefix"] == "REPORTING"}

    [entry] = ds.troubles["second_database_new"]
    env = _env(ds, entry["application"], entry["environment"])
    second = ds.by_uuid["service_instances"][entry["second_database"]]
    assert (second["type"], second["prefix"], second["service_status"]) == ("DATABASE", "REPORTING", "NEW")
    assert all(p["service_instance"] != second["uuid"] for b in _backups(ds, env) for p in _parts(ds, b))


def test_expired_backups_are_deleted_when_due():
    # Made two hours ago: the pull backup of crm/test was due about an hour later.
    ds = generate_dataset(seed=1, now=datetime.now(timezone.utc) - timedelta(hours=2), **SIZES["demo"])
    [entry] = ds.troubles["pull_newest"]
    pull = ds.by_uuid["backups"][entry["pull_backup"]]
    parts = list(pull["service_instance_backups"])
    assert ds.clock() - ds.now < timedelta(seconds=5)  # its clock starts in its own "now", two hours ago
    with run_simulator(ds, token=TOKEN) as server:
        headers = {"Authorization": f"Token {TOKEN}"}
        assert requests.get(f"{server.url}/apps/v3/backups/{pull['uuid']}/", headers=headers, timeout=10).status_code == 200
        ds.advance_clock(2 * 3600)
        assert requests.get(f"{server.url}/apps/v3/backups/{pull['uuid']}/", headers=headers, timeout=10).status_code == 404
        assert pull not in ds.backups and pull not in ds.lookup("backups", "environment", entry["uuid"])
        assert not any(u in ds.by_uuid["service_instance_backups"] for u in parts)
        # Nothing else was due.
        assert len(ds.backups) == len(generate_dataset(seed=1, now=FIXED_NOW, **SIZES["demo"]).backups) - 1


def test_a_backup_created_with_a_deletion_time_is_deleted_then(dataset):
    ds = generate_dataset(seed=1, **SIZES["tiny"])
    env = ds.environments[0]
    database = next(si for si in ds.lookup("service_instances", "environment", env["uuid"]) if si["type"] == "DATABASE")
    with run_simulator(ds, token=TOKEN, backup_duration_seconds=0.1) as server:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {TOKEN}"
        body = {"environment": env["uuid"], "services": [database["uuid"]], "trigger": "MANUAL", "notes": "Divio CLI pull",
                "scheduled_for_deletion_at": "not a date"}
        response = session.post(server.url + "/apps/v3/backups/", json=body, timeout=10)
        assert response.status_code == 400 and "scheduled_for_deletion_at" in response.json()
        due = datetime.now(timezone.utc) + timedelta(seconds=0.6)
        body["scheduled_for_deletion_at"] = due.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        created = session.post(server.url + "/apps/v3/backups/", json=body, timeout=10).json()
        assert parse(created["scheduled_for_deletion_at"]) == due
        detail = f"{server.url}/apps/v3/backups/{created['uuid']}/"
        assert session.get(detail, timeout=10).status_code == 200
        time.sleep(0.8)
        assert session.get(detail, timeout=10).status_code == 404
        assert created["uuid"] not in {b["uuid"] for b in _list_all(session, server.url, "/apps/v3/backups/")}


@pytest.mark.parametrize("shape, missing, null", [
    ("full", set(), set()),
    ("documented", {"service_type"}, set()),
    ("bare", {"service_type", "taken_at", "size"}, set()),
    ("null", set(), {"service_type", "taken_at", "size"}),
])
def test_part_shapes(shape, missing, null):
    ds = generate_dataset(seed=1, now=FIXED_NOW, part_shape=shape, **SIZES["tiny"])
    full = generate_dataset(seed=1, now=FIXED_NOW, **SIZES["tiny"])
    assert len(ds.service_instance_backups) == len(full.service_instance_backups)
    for part, whole in zip(ds.service_instance_backups, full.service_instance_backups):
        assert set(part) == FIELDS["service_instance_backups"] - missing
        assert all(part[key] is None for key in null)
        assert {k: v for k, v in part.items() if k not in null} == {k: v for k, v in whole.items() if k in part and k not in null}
    assert [b["uuid"] for b in ds.backups] == [b["uuid"] for b in full.backups]


def test_documented_part_shape_matches_the_api_page():
    # The one service-instance backup Divio's API page shows, field for field (../shared/divio-api.md).
    page = {"uuid", "backup", "service_instance", "queued_at", "started_at", "ended_at", "taken_at", "size", "errors"}
    ds = generate_dataset(seed=1, part_shape="documented", **SIZES["tiny"])
    assert {frozenset(part) for part in ds.service_instance_backups} == {frozenset(page)}


def test_mixed_part_shape_and_parts_made_later_follow_it():
    ds = generate_dataset(seed=1, part_shape="mixed", **SIZES["demo"])
    kinds = {("service_type" in p, "taken_at" in p, p.get("service_type") is None) for p in ds.service_instance_backups}
    assert len(kinds) >= 3
    bare = generate_dataset(seed=1, part_shape="bare", **SIZES["tiny"])
    with run_simulator(bare, token=TOKEN, churn_per_request=1) as server:
        made = [server.churn.change() for _unused in range(40)]
    for kind, backup in made:
        if kind == "created" and backup["uuid"] in bare.by_uuid["backups"]:
            for part_uuid in backup["service_instance_backups"]:
                assert "taken_at" not in bare.by_uuid["service_instance_backups"][part_uuid]


def test_divio_ids_and_uuids():
    divio = generate_dataset(seed=1, id_style="divio", **SIZES["tiny"])
    rfc = generate_dataset(seed=1, id_style="uuid", **SIZES["tiny"])
    for name in Dataset.RESOURCES:
        for item in getattr(divio, name):
            assert DIVIO_ID.match(item["uuid"]), item["uuid"]
            # 128 bits, like the ids on Divio's page: the last character carries 3 bits and 2 zero bits.
            assert item["uuid"][-1] in "aeimquy4"
        for item in getattr(rfc, name):
            assert uuid.UUID(item["uuid"]).version == 4
    assert len({b["uuid"] for b in divio.backups}) == len(divio.backups)
    with pytest.raises(ValueError, match="id_style"):
        generate_dataset(seed=1, id_style="numeric", **SIZES["tiny"])


def test_filters_with_divio_ids_are_opaque():
    ds = generate_dataset(seed=1, id_style="divio", **SIZES["tiny"])
    env = next(e for e in ds.environments if ds.lookup("backups", "environment", e["uuid"]))
    with run_simulator(ds, token=TOKEN) as server:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {TOKEN}"
        found = _list_all(session, server.url, "/apps/v3/backups/", environment=env["uuid"])
        assert {b["uuid"] for b in found} == {b["uuid"] for b in ds.lookup("backups", "environment", env["uuid"])}
        # Not a UUID, and no 400: an id that names nothing matches nothing; ids are compared as they are.
        for value in ("not-an-id", env["uuid"].upper(), str(uuid.uuid4())):
            response = get(session, server, "/apps/v3/backups/", environment=value)
            assert response.status_code == 200 and response.json()["count"] == 0, value
        assert get(session, server, f"/apps/v3/environments/{env['uuid']}/").json() == env
        server.configure(fail_applications=[next(a["slug"] for a in ds.applications if a["uuid"] == env["application"])])
        assert get(session, server, "/apps/v3/backups/", environment=env["uuid"]).status_code == 500


def test_new_simulator_cli_flags_parse():
    from divio_simulator.cli import build_parser

    args = build_parser().parse_args(["--churn", "20", "--churn-seed", "4", "--id-style", "uuid", "--part-shape", "bare"])
    assert (args.churn_rate, args.churn_seed, args.id_style, args.part_shape) == (20.0, 4, "uuid", "bare")
    defaults = build_parser().parse_args([])
    assert (defaults.churn_rate, defaults.part_shape) == (0.0, "full")


def test_churn_cli_flag(tmp_path):
    url_file = tmp_path / "url"
    proc = subprocess.Popen([sys.executable, str(SIMULATOR_DIR / "simulator.py"), "--port", "0", "--size", "tiny",
                             "--token", TOKEN, "--url-file", str(url_file), "--churn", "40", "--churn-seed", "3",
                             "--part-shape", "documented"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = wait_for_url(proc, url_file)
        time.sleep(0.3)
        stats = requests.get(f"{url}/_simulator/stats", timeout=10).json()["churn"]
        assert stats["created"] + stats["deleted"] > 0
        config = requests.get(f"{url}/_simulator/config", timeout=10).json()
        assert (config["churn_rate"], config["churn_seed"]) == (40, 3)
        part = requests.get(f"{url}/apps/v3/service-instance-backups/", headers={"Authorization": f"Token {TOKEN}"},
                            timeout=10).json()["results"][0]
        assert "service_type" not in part
    finally:
        proc.terminate()
        stderr = proc.communicate(timeout=15)[1]
    assert proc.returncode == 0 and "Traceback" not in stderr


# -- command line -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stop_signal, token_from_env", [(signal.SIGTERM, False), (signal.SIGINT, True)])
def test_cli_starts_answers_and_stops(tmp_path, stop_signal, token_from_env):
    url_file = tmp_path / "url"
    token = "cli-secret-token-91"
    args = [sys.executable, str(SIMULATOR_DIR / "simulator.py"), "--port", "0", "--size", "tiny", "--seed", "3",
            "--url-file", str(url_file), "--verbose", "--max-page-size", "5"]
    env = dict(os.environ)
    if token_from_env:
        env["DIVIO_SIMULATOR_TOKEN"] = token
    else:
        args += ["--token", token]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = wait_for_url(proc, url_file)
        assert re.match(r"^http://127\.0\.0\.1:\d+$", url)
        headers = {"Authorization": f"Token {token}"}
        response = requests.get(url + "/apps/v3/backups/?page_size=50", headers=headers, timeout=10)
        assert response.status_code == 200
        assert len(response.json()["results"]) == 5
        assert requests.get(url + "/iam/v3/me/", timeout=10).status_code == 401
    finally:
        proc.send_signal(stop_signal)
        stdout, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    assert stdout.splitlines() == [f"Divio API simulator listening on {url}"]
    assert "Traceback" not in stderr
    assert "GET /apps/v3/backups/?page_size=50 200" in stderr
    assert token not in stdout + stderr
    assert not url_file.exists()


def test_default_token_and_busy_port():
    with run_simulator(size="tiny") as server:
        response = requests.get(server.url + "/iam/v3/me/", headers={"Authorization": "Token simulator-token"}, timeout=10)
        assert response.status_code == 200
        proc = subprocess.run([sys.executable, str(SIMULATOR_DIR / "simulator.py"), "--size", "tiny", "--port", str(server.port)],
                              capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert "cannot listen" in proc.stderr and "Traceback" not in proc.stderr


def test_package_exports():
    import divio_simulator

    assert set(divio_simulator.__all__) >= {"Dataset", "generate_dataset", "SimulatorServer", "run_simulator"}
    assert json.loads(generate_dataset(seed=1, **SIZES["tiny"]).to_json())["troubles"]


def test_renamed_slugs_duplicate_template_and_restore(api):
    """``renamed_slugs``: names a client must survive, over the control endpoint too; ``{}`` restores the data set."""
    with run_simulator(dataset=generate_dataset(seed=1, **SIZES["tiny"]), token=TOKEN) as server:
        template = "{{ lookup('pipe', 'id') }}"
        response = requests.post(server.url + "/_simulator/config", timeout=10,
                                 json={"renamed_slugs": {"blog": "shop", "intranet/live": template}})
        assert response.status_code == 200 and response.json()["renamed_slugs"]["blog"] == "shop"
        shops = get(api, server, "/apps/v3/applications/", slug="shop").json()["results"]
        assert len(shops) == 2 and len({app["organisation"] for app in shops}) == 1  # tiny has one organisation
        [intranet] = get(api, server, "/apps/v3/applications/", slug="intranet").json()["results"]
        envs = get(api, server, "/apps/v3/environments/", application=intranet["uuid"], slug=template).json()["results"]
        assert [env["slug"] for env in envs] == [template]
        for bad in ({"nope": "x"}, {"blog": ""}, ["blog"]):
            assert requests.post(server.url + "/_simulator/config", json={"renamed_slugs": bad}, timeout=10).status_code == 400
        assert len(get(api, server, "/apps/v3/applications/", slug="shop").json()["results"]) == 2  # unchanged
        server.configure(renamed_slugs={})
        assert len(get(api, server, "/apps/v3/applications/", slug="shop").json()["results"]) == 1
        assert get(api, server, "/apps/v3/applications/", slug="blog").json()["count"] == 1
        with pytest.raises(ValueError, match="encoded_secrets"):
            server.configure(deployments={"encoded_secrets": "SECRET_KEY"})
