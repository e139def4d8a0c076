"""Fleet backup checks (plugins/module_utils/checks.py) over real HTTP against the simulator."""

from datetime import datetime, timezone

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError
from ansible_collections.divio.cloud.plugins.module_utils.values import format_duration

import ground_truth
from testlib import TOKEN

DAY = 86400


@pytest.fixture
def client(sim):
    with DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


def expected_status(dataset, env_uuid, services, limit):
    statuses = []
    for service in services:
        uuid, taken = ground_truth.latest(dataset, env_uuid, [service])
        if uuid is None:
            statuses.append("missing")
        else:
            statuses.append("fresh" if (dataset.now - taken).total_seconds() <= limit + 60 else "stale")
    return min(statuses, key=["missing", "stale", "fresh"].index)


@pytest.mark.parametrize("honoured", [True, False], ids=["filter-honoured", "filter-ignored"])
@pytest.mark.parametrize("services", [["DATABASE"], ["DATABASE", "STORAGE"]], ids=["db", "db+storage"])
def test_fleet_statuses_match_ground_truth(client, sim, dataset, honoured, services):
    sim.configure(honour_backup_environment_filter=honoured)
    records, summary = check_backups(client, services=services, max_age="24h")
    assert len(records) == len(dataset.environments) == summary["total"]
    for app_slug, env_slug, env_uuid in ground_truth.environments(dataset):
        [record] = [r for r in records if r["environment"] == env_uuid]
        assert (record["application_slug"], record["environment_slug"]) == (app_slug, env_slug)
        assert record["status"] == expected_status(dataset, env_uuid, services, DAY), (app_slug, env_slug)
        assert [c["service"] for c in record["services"]] == services
    order = ["error", "missing", "stale", "fresh"]
    assert [order.index(r["status"]) for r in records] == sorted(order.index(r["status"]) for r in records)
    assert summary["ok"] is False
    assert summary["fresh"] + summary["stale"] + summary["missing"] == summary["total"]


def test_problem_lines(client, dataset):
    records, _unused = check_backups(client, applications=["blog"], services=["DATABASE"], max_age="24h")
    lines = [line for r in records for line in r["problems"]]
    [live_uuid] = [uuid for app, env, uuid in ground_truth.environments(dataset) if (app, env) == ("blog", "live")]
    _unused, taken = ground_truth.latest(dataset, live_uuid, ["DATABASE"])
    age = (datetime.now(timezone.utc) - taken).total_seconds()
    assert lines == ["blog/test: no successful DATABASE backup",
                     "blog/live: newest DATABASE backup is %s old (limit 24h)" % format_duration(age)]


def test_missing_environment_and_unknown_application(client):
    records, summary = check_backups(client, applications=["wiki", "no-such-app"], environments=["live", "stage"])
    by_name = {(r["application_slug"], r["environment_slug"]): r for r in records}
    assert by_name[("no-such-app", None)]["status"] == "error"
    assert "application 'no-such-app' not found" in by_name[("no-such-app", None)]["error"]
    assert by_name[("wiki", "stage")]["problems"] == ["wiki/stage: no such environment"]
    assert by_name[("wiki", "live")]["status"] == "fresh"
    assert summary == {"error": 1, "missing": 1, "stale": 0, "fresh": 1, "total": 3, "ok": False}


def test_an_application_named_twice_is_checked_once(client, dataset):
    wiki = next(app for app in dataset.applications if app["slug"] == "wiki")
    records, summary = check_backups(client, applications=["wiki", wiki["uuid"], "wiki"], environments=["live", "live"])
    assert [(r["application_slug"], r["environment_slug"]) for r in records] == [("wiki", "live")]
    assert summary["total"] == 1


def test_one_pass_over_backups_for_the_whole_fleet(client, sim, dataset):
    sim.configure(honour_backup_environment_filter=False)
    sim.reset_stats()
    check_backups(client)
    pages = -(-len(dataset.backups) // sim.max_page_size)
    assert sim.stats()["by_path"]["/apps/v3/backups/"] == pages


@pytest.mark.parametrize("kwargs, message", [
    ({"max_age": "soon"}, "max_age 'soon' is not valid"),
    ({"services": ["MEDIA"]}, "'MEDIA' is not a known service type"),
    ({"environments": "live"}, "environments 'live' is not valid: expected a non-empty list"),
    ({"applications": "shop"}, "applications 'shop' is not valid: expected a list"),
    ({"organisation": " "}, "organisation ' ' is not valid: expected a non-empty string"),
    ({"applications": ["shop", ""]}, "applications item '' is not valid: expected a non-empty string"),
])
def test_bad_input(client, sim, kwargs, message):
    with pytest.raises(InputError, match=message):
        check_backups(client, **kwargs)
    assert sim.stats()["requests"] == 0


def test_honoured_filter_still_takes_one_pass_when_that_is_cheaper(client, sim, dataset):
    """12 small environments: one filtered pass, one probe, then the unfiltered list (2 pages at 100)
    costs fewer requests than 11 more filtered passes."""
    sim.reset_stats()
    records, _unused = check_backups(client)
    backup_requests = [path for method, path, status in sim.requests if path.startswith("/apps/v3/backups/?")]
    filtered = [path for path in backup_requests if "environment=" in path]
    pages = -(-len(dataset.backups) // sim.max_page_size)
    assert len(filtered) == 1
    assert len(backup_requests) == 1 + 1 + pages
    for record in records:
        assert record["status"] == expected_status(dataset, record["environment"], ["DATABASE"], DAY)


def test_named_application_outside_the_organisation_is_an_error_not_skipped(client, dataset):
    portal = next(a for a in dataset.applications if a["slug"] == "portal")
    other = next(a for a in dataset.applications if a["organisation"] != portal["organisation"])
    records, summary = check_backups(client, applications=["portal", other["slug"]], organisation=portal["organisation"],
                                     max_age="100d")
    [outside] = [r for r in records if r["application_slug"] == other["slug"]]
    assert outside["status"] == "error" and "is not in organisation" in outside["error"]
    assert summary["ok"] is False


def test_ids_are_opaque_and_a_slug_costs_one_request(client, sim, dataset):
    """Ids are taken as the API wrote them, whatever their shape; a reference is asked as a slug first
    (one request) and read by id only when no application has that slug."""
    from ansible_collections.divio.cloud.plugins.module_utils.errors import NotFoundError
    from ansible_collections.divio.cloud.plugins.module_utils.resources import get_application, list_applications
    app = dataset.applications[0]
    assert {a["uuid"] for a in list_applications(client, organisation=app["organisation"])} == \
        {a["uuid"] for a in dataset.applications if a["organisation"] == app["organisation"]}
    sim.reset_stats()
    assert get_application(client, app["slug"])["uuid"] == app["uuid"]
    assert sim.stats()["requests"] == 1
    sim.reset_stats()
    assert get_application(client, app["uuid"])["slug"] == app["slug"]
    by_slug, by_id = [path for _unused, path, _unused in sim.requests]
    assert by_slug.startswith("/apps/v3/applications/?") and "slug=%s" % app["uuid"] in by_slug
    assert by_id == "/apps/v3/applications/%s/" % app["uuid"]
    with pytest.raises(NotFoundError) as info:
        get_application(client, "bagztldeadfdhlilnmpzx3twly")
    assert str(info.value) == ("application 'bagztldeadfdhlilnmpzx3twly' not found: no application with this slug "
                               "(/apps/v3/applications/?slug=) or this id (/apps/v3/applications/<id>/) is visible to the token.")
    # The id of the organisation, as handed out, selects the fleet; nothing re-formats it.
    records, _unused = check_backups(client, organisation=app["organisation"], max_age="100d")
    assert {r["application"] for r in records} == {a["uuid"] for a in dataset.applications if a["organisation"] == app["organisation"]}


def test_fleet_isolates_each_application_and_names_missing_environments(client, dataset):
    from ansible_collections.divio.cloud.plugins.module_utils.errors import NotFoundError
    from ansible_collections.divio.cloud.plugins.module_utils.resources import fleet
    entries = fleet(client, applications=["wiki", "no-such-app"], environments=["stage", "live"])
    assert [e["reference"] for e in entries] == ["wiki", "no-such-app"]
    wiki, unknown = entries
    assert wiki["error"] is None and wiki["application"]["slug"] == "wiki"
    assert [env["slug"] for env in wiki["environments"]] == ["live"] and wiki["missing"] == ["stage"]
    assert wiki["environments"][0]["application_slug"] == "wiki"
    assert isinstance(unknown["error"], NotFoundError) and unknown["application"] is None
    assert (unknown["environments"], unknown["missing"]) == ([], [])
    everything = fleet(client)
    assert [e["reference"] for e in everything] == sorted(a["slug"] for a in dataset.applications)
    assert sum(len(e["environments"]) for e in everything) == len(dataset.environments)


def test_get_environment_always_names_the_environments_there_are(client, dataset):
    from ansible_collections.divio.cloud.plugins.module_utils.errors import NotFoundError
    from ansible_collections.divio.cloud.plugins.module_utils.resources import get_application, get_environment
    assert get_environment(client, "wiki", "live")["slug"] == "live"
    for application in ("wiki", get_application(client, "wiki")):
        with pytest.raises(NotFoundError, match="environment 'prod' not found in application 'wiki'; it has: live, test"):
            get_environment(client, application, "prod")
