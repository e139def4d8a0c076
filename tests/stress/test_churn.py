"""The fleet check on an account that changes while it is read (issue 13).

The simulator's ``bench-fleet`` data set (100 applications x 3 environments, about 63,000 backups) with churn
on: backups created and deleted at random positions of the lists, 20 changes a second, while
``check_backups`` reads them. Ordinary churn must never produce an ``error`` record, and every environment
the churn did not touch must get exactly the answer of a still run (the churn names what it touched).

Page-number pagination shifts items across page boundaries both ways when items are inserted or deleted
in front of them; the paginator's consistent reads (plugins/module_utils/pagination.py) are what make
this pass.
"""

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups

import soak
from divio_simulator import generate_dataset, run_simulator
from divio_simulator.data import SIZES
from testlib import TOKEN, play

CHURN_RATE = 20  # changes per second, the figure


@pytest.fixture(scope="module")
def fleet():
    """The fleet data set served by its own simulator (churn settings are reset by each test)."""
    dataset = generate_dataset(seed=1, **SIZES["bench-fleet"])
    with run_simulator(dataset=dataset, token=TOKEN) as server:
        yield server


def _answers(records):
    return {(r["application_slug"], r["environment_slug"]): r for r in records}


def _run(server):
    with soak.make_client(server, TOKEN, timeout=30) as client, soak.settled():
        records, _summary = check_backups(client)
    return _answers(records)


def _environment_keys(dataset, env_uuids):
    apps = {a["uuid"]: a["slug"] for a in dataset.applications}
    envs = {e["uuid"]: e for e in dataset.environments}
    return {(apps[envs[uuid]["application"]], envs[uuid]["slug"]) for uuid in env_uuids}


@pytest.mark.parametrize("honoured, cap", [(True, 100), (False, 100), (False, 13)],
                         ids=["filter-honoured", "filter-ignored", "filter-ignored-pages-of-13"])
def test_fleet_check_under_churn(fleet, honoured, cap):
    """Pages of 13 (issue 23): windows of 13 down to 7 items still chain over every boundary of the list."""
    # The still answer does not hang on the page size: it is read in pages of 100 (pages of 13 take 7 times the
    # requests, and the churned read below is the one in pages of ``cap``).
    fleet.configure(churn_rate=0, churn_per_request=0, honour_backup_environment_filter=honoured, max_page_size=100)
    still = _run(fleet)
    assert len(still) == 300 and not [key for key, r in still.items() if r["status"] == "error"]

    fleet.reset_stats()
    fleet.configure(churn_rate=CHURN_RATE, churn_seed=7, max_page_size=cap)
    try:
        churned = _run(fleet)
    finally:
        fleet.configure(churn_rate=0, max_page_size=100)
    churn = fleet.stats()["churn"]
    requests = fleet.stats()["requests"]
    assert churn["created"] + churn["deleted"] >= 5, churn  # the read really ran under change

    errors = {key: r["error"] for key, r in churned.items() if r["status"] == "error"}
    assert not errors, "%d error records under churn, e.g. %s" % (len(errors), next(iter(errors.items())))
    assert set(churned) == set(still)
    touched = _environment_keys(fleet.dataset, churn["environments"])
    fields = ("status", "uuid", "taken_at", "age_seconds")
    differ = [key for key in set(still) - touched
              if [churned[key][f] for f in fields[:3]] != [still[key][f] for f in fields[:3]]]
    assert not differ, "untouched environments answered differently: %s" % [(k, still[k]["uuid"], churned[k]["uuid"]) for k in differ]
    print("churn %s, pages of %d: %d changes touching %d environments, %d requests, 0 error records"
          % ("honoured" if honoured else "ignored", cap, churn["created"] + churn["deleted"], len(touched), requests))


def test_backup_check_module_under_churn(fleet, run_playbook):
    """The module, run for real by ansible-playbook, while the account changes."""
    fleet.configure(churn_rate=CHURN_RATE, churn_seed=3, honour_backup_environment_filter=True)
    try:
        tasks = """
    - divio.cloud.backup_check:
        api_url: "{{ url }}"
        api_token: "{{ token }}"
        max_age: 30d
      register: out
"""
        run = run_playbook(play(tasks), extra_vars={"url": fleet.url, "token": TOKEN})
    finally:
        fleet.configure(churn_rate=0)
    assert run.rc == 0, run
    statuses = {r["status"] for r in run.result["checks"]}
    assert "error" not in statuses and len(run.result["checks"]) == 300
    assert TOKEN not in run.output


def test_a_candidate_deleted_after_it_was_listed_is_passed_over():
    """Listed, then deleted by the platform before its parts are read (they go with it): the next older backup
    is the answer, not an error record."""
    from ansible_collections.divio.cloud.plugins.module_utils.backups import BackupRule, newest_backups, scan_candidates

    data = generate_dataset(seed=1, **SIZES["tiny"])
    with run_simulator(dataset=data, token=TOKEN) as server, soak.make_client(server, TOKEN) as client:
        env = next(e for e in data.environments if len(data.lookup("backups", "environment", e["uuid"])) > 3)
        rule = BackupRule(services=["DATABASE"], min_retention=0)
        candidates = scan_candidates(client, [env["uuid"]], rule)[env["uuid"]]
        [first] = newest_backups(client, env["uuid"], candidates, rule, 1)
        data.remove_backup(data.by_uuid["backups"][first.backup["uuid"]])
        [second] = newest_backups(client, env["uuid"], candidates, rule, 1)
    assert second.backup["uuid"] != first.backup["uuid"] and second.taken_at <= first.taken_at
