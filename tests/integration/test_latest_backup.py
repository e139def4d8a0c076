"""The latest-backup resolution (plugins/module_utils/backups.py) over real HTTP against the simulator,
compared with the brute-force ground truth for every environment of a multi-application data set."""

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.backups import BackupRule, find_backups, newest_backups, scan_candidates
from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError, NotFoundError

import ground_truth
from accounts import Account, id_styles
from divio_simulator import generate_dataset, run_simulator
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
    rule = BackupRule(services=services, min_retention=ground_truth.DAY)
    env_uuids = [uuid for _unused, _unused, uuid in ground_truth.environments(dataset)]
    candidates = scan_candidates(client, env_uuids, rule, keep=1)
    assert all(len(candidates[uuid]) <= 1 + 1 for uuid in env_uuids)  # one finished + at most one running
    for uuid in env_uuids:
        picks = newest_backups(client, uuid, candidates[uuid], rule, 1)
        assert (picks[0].backup["uuid"] if picks else None) == ground_truth.latest(dataset, uuid, services)[0]


# -- small hand-made accounts: one rule at a time, over real HTTP ---------------------------------

@pytest.fixture(params=id_styles())
def account(request):
    return Account(request.param)


def latest_uuid(client, **kwargs):
    [entry] = find_backups(client, "app", environment="live", **kwargs)
    return entry["uuid"]


def test_two_databases_where_only_one_is_in_the_newest_backup(account):
    default, reporting = account.instance("DATABASE"), account.instance("DATABASE", "REPORTING")
    account.instance("DATABASE", "SPARE", status="NEW")  # not provisioned: nothing to back up, not required
    media = account.instance("STORAGE")
    both = account.backup(31, [default, reporting, media])
    newest = account.backup(2, [default, media])
    with account.serve() as client:
        assert latest_uuid(client, services=["DATABASE"]) == both["uuid"]
        assert latest_uuid(client, services=["DATABASE:DEFAULT"]) == newest["uuid"]
        assert latest_uuid(client, services=["database:reporting"]) == both["uuid"]
        assert latest_uuid(client) == newest["uuid"]  # no services rule: every part of it is good
        [record], _unused = check_backups(client, services=["DATABASE", "DATABASE:DEFAULT"], max_age="24h")
        assert [(c["service"], c["status"], c["uuid"]) for c in record["services"]] == [
            ("DATABASE", "stale", both["uuid"]), ("DATABASE:DEFAULT", "fresh", newest["uuid"])]
        assert record["problems"] == ["app/live: newest DATABASE backup is 30h old (limit 24h)"]
        [entry] = find_backups(client, "app", environment="live", services=["DATABASE:ANALYTICS"])
        assert entry["uuid"] is None
        assert entry["warnings"] == ["app/live: no DATABASE:ANALYTICS service instance, so no backup can hold it; the "
                                     "environment has: DATABASE:DEFAULT, DATABASE:REPORTING, DATABASE:SPARE, STORAGE:DEFAULT."]


def test_no_backup_holds_every_database(account):
    default, reporting = account.instance("DATABASE"), account.instance("DATABASE", "REPORTING")
    account.backup(2, [default])
    account.backup(5, [reporting])
    with account.serve() as client:
        [record], _unused = check_backups(client, max_age="24h")
        assert record["status"] == "missing"
        assert record["problems"] == ["app/live: no successful backup holding every DATABASE instance (DEFAULT, REPORTING)"]
        [record], _unused = check_backups(client, services=["DATABASE:ANALYTICS"])
        assert record["problems"] == ["app/live: no DATABASE:ANALYTICS service instance (it has: DATABASE:DEFAULT, "
                                      "DATABASE:REPORTING)"]


def test_parts_shaped_like_the_api_page_example(account):
    """No service_type on the parts (the one object Divio's API page shows): the type comes from the
    service instance each part names; then no taken_at or size either, as divio-cli never reads them."""
    database = account.instance("DATABASE")
    documented = account.backup(3, [database], drop=("service_type",))
    with account.serve() as client:
        [entry] = find_backups(client, "app", environment="live", services=["DATABASE"])
        assert (entry["uuid"], entry["dated_by"], entry["taken_at"]) == (documented["uuid"], "taken_at", account.at(3, 3))
        assert entry["service_instance_backups"][0]["service_type"] == "DATABASE"
        assert entry["services"] == ["DATABASE"] and entry["size"] == 1000

    bare = account.backup(1, [database], drop=("service_type", "taken_at", "size"))
    with account.serve() as client:
        [entry] = find_backups(client, "app", environment="live", services=["DATABASE"])
        assert (entry["uuid"], entry["dated_by"], entry["taken_at"]) == (bare["uuid"], "started_at", account.at(1, 2))
        assert entry["size"] is None and entry["warnings"] == []


def test_parts_without_any_time_are_dated_by_the_backup(account):
    database = account.instance("DATABASE")
    account.backup(30, [database])
    timeless = account.backup(2, [database], part_fields={"taken_at": None, "started_at": None, "ended_at": None})
    undatable = account.backup(1, [database], part_fields={"taken_at": None, "started_at": None, "ended_at": None},
                               started_at=None, ended_at=None)
    with account.serve() as client:
        [entry] = find_backups(client, "app", environment="live", services=["DATABASE"], max_age="24h")
        assert (entry["uuid"], entry["dated_by"], entry["taken_at"]) == (timeless["uuid"], "backup.started_at", account.at(2, 1))
        assert entry["fresh"] is True
        [warning] = entry["warnings"]
        assert warning.startswith("app/live: skipped backup %s: it cannot be dated" % undatable["uuid"])


def test_temporary_backups_are_no_restore_point(account):
    database, media = account.instance("DATABASE"), account.instance("STORAGE")
    scheduled = account.backup(20, [database, media])
    pull = account.backup(0.2, [database], trigger="MANUAL", notes="Divio CLI pull",
                          scheduled_for_deletion_at=account.at(-0.8))  # gone in 48 minutes
    with account.serve() as client:
        assert latest_uuid(client, services=["DATABASE"]) == scheduled["uuid"]
        assert latest_uuid(client, services=["DATABASE"], min_retention="30m") == pull["uuid"]
        [entry] = find_backups(client, "app", environment="live", services=["DATABASE"], min_retention=0)
        assert (entry["uuid"], entry["scheduled_for_deletion_at"]) == (pull["uuid"], account.at(-0.8))
        [record], _unused = check_backups(client, max_age="1h")
        assert (record["status"], record["uuid"]) == ("stale", scheduled["uuid"])
        [record], _unused = check_backups(client, max_age="1h", min_retention="0")
        assert (record["status"], record["uuid"]) == ("fresh", pull["uuid"])


def test_backups_dated_in_the_future_are_skipped_never_fresh_with_a_negative_age(account):
    database = account.instance("DATABASE")
    good = account.backup(30, [database])
    future = account.backup(-24 * 365 * 70, [database])  # 2090-something
    skewed_part = account.backup(1, [database], part_fields={"taken_at": account.at(-0.5)})  # its snapshot: in 30 min
    within_skew = account.backup(0, [database], created_at=account.at(0, 2), started_at=account.at(0, 2),
                                 ended_at=account.at(0, 3), part_fields={"taken_at": account.at(0, 3),
                                                                         "started_at": account.at(0, 2),
                                                                         "queued_at": account.at(0, 2),
                                                                         "ended_at": account.at(0, 3)})
    with account.serve() as client:
        [entry] = find_backups(client, "app", environment="live", max_age="24h")
        assert entry["uuid"] == within_skew["uuid"] and entry["age_seconds"] == 0 and entry["fresh"] is True
        assert sorted(entry["warnings"]) == sorted([
            "app/live: skipped backup %s: created_at %r of backup %s is in the future (more than the 5 min clock-skew "
            "allowance); the next older backup was judged." % (future["uuid"], future["created_at"], future["uuid"]),
            "app/live: skipped backup %s: taken_at %r of service-instance backup %s is in the future (more than the 5 min "
            "clock-skew allowance); the next older backup was judged." % (skewed_part["uuid"], account.at(-0.5),
                                                                          skewed_part["service_instance_backups"][0])])
        history = find_backups(client, "app", environment="live", latest=False)
        assert [e["uuid"] for e in history] == [within_skew["uuid"], good["uuid"]]
        [record], _unused = check_backups(client, max_age="24h")
        assert record["status"] == "fresh" and record["age_seconds"] == 0 and len(record["warnings"]) == 2


def test_a_date_that_is_no_date_skips_the_backup_naming_object_and_field(account):
    database = account.instance("DATABASE")
    good = account.backup(30, [database])
    broken = account.backup(2, [database], started_at="2021-02-30T00:00:00Z")
    with account.serve() as client:
        [entry] = find_backups(client, "app", environment="live")
        assert entry["uuid"] == good["uuid"]
        assert entry["warnings"] == ["app/live: skipped backup %s: the API sent started_at of backup %s "
                                     "'2021-02-30T00:00:00Z', which is not a valid date; the next older backup was judged."
                                     % (broken["uuid"], broken["uuid"])]


def test_an_application_by_its_opaque_id(account):
    database = account.instance("DATABASE")
    newest = account.backup(1, [database])
    with account.serve() as client:
        [entry] = find_backups(client, account.app["uuid"], environment="live")
        assert entry["uuid"] == newest["uuid"] and entry["application"] == account.app["uuid"]
        records, _unused = check_backups(client, organisation=account.org["uuid"])
        assert [(r["application"], r["environment"], r["uuid"]) for r in records] == [
            (account.app["uuid"], account.env["uuid"], newest["uuid"])]


@pytest.mark.parametrize("part_shape", ["documented", "bare", "null", "mixed"])
def test_parts_without_type_time_or_size_match_ground_truth(part_shape):
    """The whole demo account with parts that lack service_type (Divio's API page), or also taken_at and
    size (divio-cli never reads them): every environment's answer, for every rule, equals the ground truth."""
    dataset = generate_dataset(seed=3, organisations=1, applications=6, environments=2, days=6, part_shape=part_shape)
    with run_simulator(dataset=dataset, token=TOKEN) as server:
        with DivioClient.from_options({"api_url": server.url, "api_token": TOKEN}, environ={}) as client:
            for services in RULES:
                for app_slug, env_slug, env_uuid in ground_truth.environments(dataset):
                    [entry] = find_backups(client, app_slug, environment=env_slug, services=services)
                    expected_uuid, expected_taken = ground_truth.latest(dataset, env_uuid, services)
                    assert entry["uuid"] == expected_uuid, (app_slug, env_slug, services)
                    if expected_uuid is not None:
                        assert ground_truth.ts(entry["taken_at"]) == expected_taken
                        assert entry["dated_by"] in ("taken_at", "started_at")
                    assert entry["warnings"] == []
