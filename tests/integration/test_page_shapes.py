"""Every page shape the simulator serves (issue 23), over real HTTP, with the change a naive page-number
reader misses: before a page after the first is answered, an application in front of it is deleted and one
is added at the end, so ``count`` never moves while every later application slides back one page boundary.

The shapes: ``page_size`` honoured up to a cap of 5 or 7 (or 50), ignored (fixed pages of 10 and 25, as
Django REST framework cuts them without ``page_size_query_param``), ``count`` null, and opaque cursor links.
Every application that existed for the whole read comes back exactly once - or the read fails, naming the
list. A server that serves one item twice and another never fails the task, whatever it counts.
"""

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.errors import PaginationError
from ansible_collections.divio.cloud.plugins.module_utils.resources import list_applications

from divio_simulator import generate_dataset, run_simulator
from testlib import TOKEN, play

SHAPES = {
    "cap-5": {"max_page_size": 5},
    "cap-7": {"max_page_size": 7},
    "cap-50": {"max_page_size": 50},
    "fixed-10": {"page_size_ignored": True, "default_page_size": 10},
    "fixed-25": {"page_size_ignored": True, "default_page_size": 25},
    "fixed-25-null-count": {"page_size_ignored": True, "default_page_size": 25, "null_count": True},
    "cursor-7-null-count": {"max_page_size": 7, "cursor_links": True, "null_count": True},
}


@pytest.fixture
def shaped():
    """``shaped(**settings)``: a simulator of its own (its applications change) over 120 applications of 2
    environments, a few pages at every shape."""
    servers = []

    def start(**settings):
        dataset = generate_dataset(seed=5, organisations=2, applications=120, environments=2, days=2)
        servers.append(run_simulator(dataset=dataset, token=TOKEN))
        server = servers[-1].__enter__()
        server.configure(**settings)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def client_of(server):
    return DivioClient.from_options({"api_url": server.url, "api_token": TOKEN}, environ={})


def read_applications(server):
    before = [app["uuid"] for app in server.dataset.applications]
    with client_of(server) as client:
        got = [app["uuid"] for app in list_applications(client)]
    after = set(app["uuid"] for app in server.dataset.applications)
    return got, set(before) & after


@pytest.mark.parametrize("shape", SHAPES)
def test_one_change_hidden_from_count_is_never_a_silent_miss(shaped, shape):
    server = shaped(shift_lists=["applications"], shift_limit=1, **SHAPES[shape])
    got, throughout = read_applications(server)
    assert server.stats().get("churn", {}).get("created") == 1  # the change really happened during the read
    assert len(got) == len(set(got)) and throughout <= set(got)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_change_before_every_page_is_read_right_or_refused(shaped, shape):
    server = shaped(shift_lists=["applications"], **SHAPES[shape])
    try:
        got, throughout = read_applications(server)
    except PaginationError as exc:
        assert "/apps/v3/applications/" in str(exc) and ("kept changing" in str(exc) or "inconsistent" in str(exc))
        return
    assert len(got) == len(set(got)) and throughout <= set(got)


@pytest.mark.parametrize("shape", ["fixed-10", "cap-7"])
def test_the_fleet_check_holds_every_environment_of_every_application_that_stayed(shaped, shape):
    server = shaped(shift_lists=["applications"], shift_limit=1, **SHAPES[shape])
    stayed = set(app["uuid"] for app in server.dataset.applications)
    with client_of(server) as client:
        records, summary = check_backups(client)
    stayed &= set(app["uuid"] for app in server.dataset.applications)
    envs = {(r["application_slug"], r["environment_slug"]) for r in records}
    expected = {(app["slug"], env["slug"]) for app in server.dataset.applications if app["uuid"] in stayed
                for env in server.dataset.lookup("environments", "application", app["uuid"])}
    assert expected and expected <= envs
    assert not [r for r in records if r["status"] == "error"]


def test_an_item_twice_and_another_never_fails_the_task(shaped, run_playbook):
    """An environment listing with count 3 that holds one environment twice and another never."""
    server = shaped(faults={"kinds": ["duplicate-item"], "rate": 1.0, "only_paths": ["/apps/v3/environments/"]})
    app = server.dataset.applications[0]["slug"]
    run = run_playbook(play("""
    - divio.cloud.environment_info:
        application: "%s"
      register: out
      ignore_errors: true
""" % app), extra_vars={}, env={"DIVIO_API_URL": server.url, "DIVIO_API_TOKEN": TOKEN})
    assert run.result["failed"] and "environments" in run.result["msg"]
    assert "arrived twice" in run.result["msg"] and "also when it was read again" in run.result["msg"]
    assert TOKEN not in run.output


def test_application_info_on_fixed_pages_of_25_with_the_change_lists_every_application(shaped, run_playbook):
    server = shaped(shift_lists=["applications"], shift_limit=1, **SHAPES["fixed-25"])
    before = set(app["slug"] for app in server.dataset.applications)
    run = run_playbook(play("""
    - divio.cloud.application_info:
      register: out
"""), env={"DIVIO_API_URL": server.url, "DIVIO_API_TOKEN": TOKEN})
    assert run.rc == 0, run
    after = set(app["slug"] for app in server.dataset.applications)
    got = [app["slug"] for app in run.result["applications"]]
    assert len(got) == len(set(got)) and before & after <= set(got)
