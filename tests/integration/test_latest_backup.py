"""The latest-backup resolution (plugins/module_utils/backups.py) over real HTTP against the simulator,
compared with the brute-force ground truth for every environment of a multi-application data set."""

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.backups import BackupRule, find_backups, newest_backups, scan_candidates
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError, NotFoundError

import ground_truth
from testlib import TOKEN

RULES = [None, ["DATABASE"], ["STORAGE"], ["DATABASE", "STORAGE"]]


@pytest.fixture
def client(sim):
    with DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


@pytest.fixture(params=[True, False], ids=["filter-honoured", "filter-ignored"])
def honoured(request, sim):
    sim.configure(honour_backup_environment_filter=request.param)
    return request.param


@pytest.mark.parametrize("services", RULES, ids=lambda s: "+".join(s) if s else "any")
def test_latest_per_environment_matches_ground_truth(client, dataset, honoured, services):
    checked = 0
    for app_slug, env_slug, env_uuid in ground_truth.environments(dataset):
        [entry] = find_backups(client, app_slug, environment=env_slug, services=services)
        expected_uuid, expected_taken = ground_truth.latest(dataset, env_uuid, services)
        assert (entry["application_slug"], entry["environment_slug"], entry["environment"]) == (app_slug, env_slug, env_uuid)
        assert entry["uuid"] == expected_uuid, (app_slug, env_slug)
        if expected_uuid is None:
            assert entry["age_seconds"] is None and entry["fresh"] is False and entry["service_instance_backups"] == []
        else:
            assert ground_truth.ts(entry["taken_at"]) == expected_taken
        checked += 1
    assert checked == len(dataset.environments)


def test_whole_application_equals_per_environment_answers(client, dataset, honoured):
    for app in dataset.applications:
        entries = find_backups(client, app["slug"], services=["DATABASE"])
        envs = [e for e in dataset.environments if e["application"] == app["uuid"]]
        assert sorted(e["environment"] for e in entries) == sorted(e["uuid"] for e in envs)
        for entry in entries:
            assert entry["uuid"] == ground_truth.latest(dataset, entry["environment"], ["DATABASE"])[0]


def test_filter_ignored_costs_one_pass_for_all_environments(client, dataset, sim):
    sim.configure(honour_backup_environment_filter=False)
    app = next(a for a in dataset.applications
               if sum(e["application"] == a["uuid"] for e in dataset.environments) >= 2)
    sim.reset_stats()
    find_backups(client, app["slug"])
    pages = -(-len(dataset.backups) // sim.max_page_size)
    assert sim.stats()["by_path"]["/apps/v3/backups/"] == pages


def test_history_newest_first_matches_ground_truth(client, dataset, honoured):
    for app_slug, env_slug, env_uuid in ground_truth.environments(dataset)[:4]:
        expected = ground_truth.qualifying(dataset, env_uuid)[:5]
        entries = find_backups(client, app_slug, environment=env_slug, latest=False, limit=5)
        assert [e["uuid"] for e in entries] == [b["uuid"] for _unused, b, _unused in expected]


def test_unsuccessful_backups_included_on_request(client, dataset):
    running = next(b for b in dataset.backups if b["state"] != "COMPLETED")
    env = next(e for e in dataset.environments if e["uuid"] == running["environment"])
    app = next(a for a in dataset.applications if a["uuid"] == env["application"])
    entries = find_backups(client, app["slug"], environment=env["slug"], latest=False, successful_only=False, limit=500)
    assert running["uuid"] in [e["uuid"] for e in entries]
    good = find_backups(client, app["slug"], environment=env["slug"], latest=False, limit=500)
    assert running["uuid"] not in [e["uuid"] for e in good]


def test_entry_fields(client, dataset):
    app_slug, env_slug, env_uuid = next(t for t in ground_truth.environments(dataset) if ground_truth.latest(dataset, t[2])[0])
    [entry] = find_backups(client, app_slug, environment=env_slug, max_age="1w")
    _unused, backup, counted = ground_truth.qualifying(dataset, env_uuid)[0]
    assert entry["state"] == "COMPLETED" and entry["success"] == "SUCCESS"
    assert entry["size"] == sum(p["size"] for p in counted)
    assert {p["uuid"] for p in entry["service_instance_backups"]} == set(backup["service_instance_backups"])
    assert all(p["prefix"] == "DEFAULT" for p in entry["service_instance_backups"])
    assert isinstance(entry["age_seconds"], int) and entry["age_seconds"] >= 0
    assert entry["fresh"] is (entry["age_seconds"] <= 7 * 86400)


def test_unknown_application_and_environment(client, dataset):
    with pytest.raises(NotFoundError, match="application 'no-such-app' not found"):
        find_backups(client, "no-such-app")
    app = dataset.applications[0]["slug"]
    with pytest.raises(NotFoundError, match="environment 'prod' not found in application '%s'; it has: " % app):
        find_backups(client, app, environment="prod")


@pytest.mark.parametrize("kwargs, message", [
    ({"max_age": "yesterday"}, "max_age 'yesterday' is not valid"),
    ({"services": ["DATABSE"]}, "'DATABSE' is not a known service type; known types are DATABASE, STORAGE"),
    ({"limit": 0}, "limit 0 is not valid"),
])
def test_bad_input_fails_before_any_request(client, sim, dataset, kwargs, message):
    with pytest.raises(InputError, match=message):
        find_backups(client, dataset.applications[0]["slug"], **kwargs)
    assert sim.stats()["requests"] == 0


@pytest.mark.parametrize("services", [None, ["DATABASE"], ["STORAGE"]], ids=lambda s: "+".join(s) if s else "any")
def test_tiny_candidate_budget_still_gives_the_right_answer(client, dataset, services):
    """Keeping a single candidate per environment forces a full re-read whenever it fails the rule; the
    answer must not change, only cost more."""
    rule = BackupRule(services=services)
    env_uuids = [uuid for _unused, _unused, uuid in ground_truth.environments(dataset)]
    candidates = scan_candidates(client, env_uuids, rule, keep=1)
    assert all(len(candidates[uuid]) <= 1 + 1 for uuid in env_uuids)  # one finished + at most one running
    for uuid in env_uuids:
        picks = newest_backups(client, uuid, candidates[uuid], rule, 1)
        assert (picks[0].backup["uuid"] if picks else None) == ground_truth.latest(dataset, uuid, services)[0]
