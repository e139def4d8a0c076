"""Taking backups: the simulator's POST /backups/, ``take_backup`` in process, the ``backup`` module and the
gate's refresh, all against a private simulator (created backups must not change other tests' data)."""

import datetime

import pytest
import requests

from ansible_collections.divio.cloud.plugins.module_utils.backups import find_backups
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.errors import DivioError, InputError
from ansible_collections.divio.cloud.plugins.module_utils.taking import BackupFailed, BackupTimeout, take_backup

import ground_truth
from accounts import Account, id_styles
from divio_simulator import generate_dataset, run_simulator
from testlib import TOKEN


@pytest.fixture
def private_sim():
    dataset = generate_dataset(seed=1, organisations=2, applications=6, environments=2, days=14)
    with run_simulator(dataset=dataset, token=TOKEN, backup_duration_seconds=0.3) as server:
        yield server


@pytest.fixture
def client(private_sim):
    with DivioClient.from_options({"api_url": private_sim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


def posts(sim):
    return [path for method, path, _unused in sim.requests if method == "POST"]


def test_create_and_wait(client, private_sim):
    changed, entry = take_backup(client, "wiki", "live", notes="before deploy", poll_interval=0.1)
    assert changed is True
    assert (entry["state"], entry["success"], entry["trigger"], entry["notes"]) == ("COMPLETED", "SUCCESS", "MANUAL", "before deploy")
    assert sorted(p["service_type"] for p in entry["service_instance_backups"]) == ["DATABASE", "STORAGE"]
    assert entry["taken_at"] and 0 <= entry["age_seconds"] < 60 and entry["size"] > 0
    assert posts(private_sim) == ["/apps/v3/backups/"]
    # It is now the latest backup, as backup_info sees it.
    [latest] = find_backups(client, "wiki", environment="live")
    assert latest["uuid"] == entry["uuid"]


def test_services_choose_instances_and_new_storage_is_skipped(client, private_sim):
    _unused, entry = take_backup(client, "wiki", "test", services=["DATABASE"], poll_interval=0.1)
    assert [p["service_type"] for p in entry["service_instance_backups"]] == ["DATABASE"]
    # intranet/test's storage is NEW: a full backup holds only the database.
    _unused, entry = take_backup(client, "intranet", "test", poll_interval=0.1)
    assert [p["service_type"] for p in entry["service_instance_backups"]] == ["DATABASE"]


def test_failure_and_partial_fail_with_the_parts_errors(client, private_sim):
    private_sim.configure(backup_outcome="FAILURE")
    with pytest.raises(BackupFailed, match=r"ended FAILURE: DATABASE: database backup failed"):
        take_backup(client, "wiki", "live", poll_interval=0.1)
    private_sim.configure(backup_outcome="PARTIAL")
    with pytest.raises(BackupFailed, match=r"ended PARTIAL: STORAGE: storage backup failed"):
        take_backup(client, "wiki", "live", poll_interval=0.1)


def test_wait_timeout_names_the_backup(client, private_sim):
    private_sim.configure(backup_outcome="NEVER")
    with pytest.raises(BackupTimeout, match=r"backup \S+ did not finish within 0.5 s \(state WORKING\)"):
        take_backup(client, "wiki", "live", wait_timeout=0.5, poll_interval=0.1)


def test_no_wait_returns_the_queued_backup(client, private_sim):
    changed, entry = take_backup(client, "wiki", "live", wait=False)
    assert changed and entry["state"] == "NEW" and entry["taken_at"] is None


def test_only_if_older_than_is_idempotent(client, private_sim):
    changed, entry = take_backup(client, "wiki", "live", only_if_older_than="24h")
    assert changed is False and entry["uuid"] and entry["fresh"] is True
    assert posts(private_sim) == []
    changed, entry = take_backup(client, "blog", "live", only_if_older_than="1d", poll_interval=0.1)  # 4 days old
    assert changed is True and entry["age_seconds"] < 60
    changed, again = take_backup(client, "blog", "live", only_if_older_than="1d", poll_interval=0.1)
    assert changed is False and again["uuid"] == entry["uuid"]
    assert len(posts(private_sim)) == 1


def test_check_mode_creates_nothing(client, private_sim):
    assert take_backup(client, "blog", "test", check_mode=True) == (True, None)
    assert take_backup(client, "wiki", "live", only_if_older_than="24h", check_mode=True)[0] is False
    assert posts(private_sim) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"services": ["REDIS"]}, "'REDIS' is not a known service type"),
    ({"services": ["DATABASE:"]}, "'DATABASE:' names no prefix"),
    ({"wait_timeout": 0}, "wait_timeout 0 is not valid"),
    ({"wait_timeout": float("inf")}, "wait_timeout inf is not valid: expected a finite number of seconds"),
    ({"poll_interval": -1}, "poll_interval -1 is not valid"),
    ({"poll_interval": float("nan")}, "poll_interval nan is not valid: expected a finite number of seconds"),
    ({"only_if_older_than": "soon"}, "only_if_older_than 'soon' is not valid"),
    ({"retention": "soon"}, "retention 'soon' is not valid"),
    ({"retention": 0}, "retention 0 is not valid: it must be longer than 0 seconds"),
    ({"retention": "200000w"}, "retention '200000w' is not valid: it must be at most 100 years"),
    ({"min_retention": "-1h"}, "min_retention '-1h' is not valid"),
    ({"notes": ["a"]}, "notes \\['a'\\] is not valid: expected a string"),
])
def test_bad_input_sends_nothing(client, private_sim, kwargs, message):
    with pytest.raises(InputError, match=message):
        take_backup(client, "wiki", "live", **kwargs)
    assert private_sim.stats()["requests"] == 0


def test_unknown_environment_is_not_found_naming_the_ones_there_are(client, private_sim):
    from ansible_collections.divio.cloud.plugins.module_utils.errors import NotFoundError
    with pytest.raises(NotFoundError, match="environment 'prod' not found in application 'wiki'; it has: live, test"):
        take_backup(client, "wiki", "prod")
    assert posts(private_sim) == []


def test_a_failure_after_the_post_names_the_created_backup(client, private_sim):
    """The wait's second look hits a server error: the task fails, and says which backup it left behind."""
    before = {b["uuid"] for b in private_sim.dataset.backups}
    private_sim.configure(backup_duration_seconds=30)

    def sleep(seconds):
        private_sim.configure(fail_applications=["wiki"])  # every request about wiki answers 500 from now on

    with pytest.raises(DivioError) as info:
        take_backup(client, "wiki", "live", poll_interval=0.1, sleep=sleep)
    [created] = [b["uuid"] for b in private_sim.dataset.backups if b["uuid"] not in before]
    assert str(info.value).startswith("backup %s was created, but then: " % created)
    assert info.value.details["uuid"] == created


def test_retention_and_notes_are_sent(client, private_sim):
    started = datetime.datetime.now(datetime.timezone.utc)
    _unused, entry = take_backup(client, "wiki", "live", services=["DATABASE"], notes="migration rehearsal",
                                 retention="2d", poll_interval=0.1)
    assert entry["notes"] == "migration rehearsal"
    deletion = ground_truth.ts(entry["scheduled_for_deletion_at"])
    assert started + datetime.timedelta(days=2, seconds=-2) <= deletion <= started + datetime.timedelta(days=2, seconds=60)
    # Without retention the platform decides: nothing is sent.
    _unused, entry = take_backup(client, "wiki", "test", poll_interval=0.1)
    assert entry["scheduled_for_deletion_at"] is None


def test_a_short_lived_backup_does_not_make_a_new_one_unnecessary(client, private_sim):
    _unused, temporary = take_backup(client, "blog", "live", services=["DATABASE"], retention="1h", poll_interval=0.1)
    changed, entry = take_backup(client, "blog", "live", services=["DATABASE"], only_if_older_than="1d", poll_interval=0.1)
    assert changed is True and entry["uuid"] != temporary["uuid"]  # the 1 h backup is no restore point
    _unused, temporary = take_backup(client, "wiki", "test", services=["DATABASE"], retention="1h", poll_interval=0.1)
    changed, entry = take_backup(client, "wiki", "test", services=["DATABASE"], only_if_older_than="1h", min_retention=0)
    assert changed is False and entry["uuid"] == temporary["uuid"]


@pytest.mark.parametrize("id_style", id_styles())
def test_services_take_every_provisioned_instance_of_a_type_or_the_one_named(id_style):
    account = Account(id_style)
    default, reporting = account.instance("DATABASE"), account.instance("DATABASE", "REPORTING")
    account.instance("DATABASE", "SPARE", status="NEW")
    account.instance("STORAGE")
    with account.serve(backup_duration_seconds=0.2) as client:
        _unused, entry = take_backup(client, "app", "live", services=["DATABASE"], poll_interval=0.1)
        assert sorted(p["service_instance"] for p in entry["service_instance_backups"]) == sorted([default["uuid"], reporting["uuid"]])
        [found] = find_backups(client, "app", environment="live", services=["DATABASE"])
        assert found["uuid"] == entry["uuid"]
        _unused, entry = take_backup(client, "app", "live", services=["database:reporting"], poll_interval=0.1)
        assert [p["service_instance"] for p in entry["service_instance_backups"]] == [reporting["uuid"]]
        with pytest.raises(InputError, match="app/live has no DATABASE:ANALYTICS service instance to back up; it has: "
                                             "DATABASE:DEFAULT, DATABASE:REPORTING, DATABASE:SPARE, STORAGE:DEFAULT"):
            take_backup(client, "app", "live", services=["DATABASE:ANALYTICS"])


def test_storage_only(client, private_sim):
    _unused, entry = take_backup(client, "wiki", "live", services=["STORAGE"], poll_interval=0.1)
    assert [p["service_type"] for p in entry["service_instance_backups"]] == ["STORAGE"]


def test_module_and_gate_refresh_in_playbooks(run_playbook, private_sim):
    env = {"DIVIO_API_URL": private_sim.url, "DIVIO_API_TOKEN": TOKEN}
    run = run_playbook("""
- hosts: localhost
  gather_facts: false
  tasks:
    - divio.cloud.backup: {application: blog, environment: test, poll_interval: 0.1}
      check_mode: true
      register: checked
    - divio.cloud.backup: {application: blog, environment: test, services: [DATABASE], only_if_older_than: 1h, poll_interval: 0.1}
      register: first
    - divio.cloud.backup: {application: blog, environment: test, services: [DATABASE], only_if_older_than: 1h, poll_interval: 0.1}
      register: second
    - ansible.builtin.include_role: {name: divio.cloud.backup_gate}
      vars:
        backup_gate_application: blog
        backup_gate_environments: [live]
        backup_gate_take_backup_if_stale: true
        backup_gate_backup_poll_interval: 0.1
    - ansible.builtin.copy:
        content: "{{ {'checked': checked, 'first': first, 'second': second, 'gate': backup_gate_result} | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
""", env=env)
    assert run.rc == 0, run
    result = run.result
    assert result["checked"]["changed"] is True and result["checked"]["backup"] is None
    assert result["first"]["changed"] is True and result["first"]["backup"]["success"] == "SUCCESS"
    assert result["second"]["changed"] is False and result["second"]["backup"]["uuid"] == result["first"]["backup"]["uuid"]
    assert result["gate"]["summary"]["ok"] is True
    assert len(posts(private_sim)) == 2  # blog/test once, blog/live by the gate; none in check mode


def test_simulator_rejects_bad_backup_requests(private_sim):
    headers = {"Authorization": "Token " + TOKEN}
    url = private_sim.url + "/apps/v3/backups/"
    env = private_sim.dataset.environments[0]
    other = next(si for si in private_sim.dataset.service_instances if si["environment"] != env["uuid"])
    before = len(private_sim.dataset.backups)
    cases = [
        ({"services": []}, "environment"),
        ({"environment": env["uuid"], "services": []}, "services"),
        ({"environment": env["uuid"], "services": [other["uuid"]]}, "services"),
    ]
    for body, field in cases:
        response = requests.post(url, json=body, headers=headers, timeout=10)
        assert response.status_code == 400 and field in response.json()
    assert requests.post(url, json={}, timeout=10).status_code == 401
    assert len(private_sim.dataset.backups) == before  # nothing was added
