"""The info modules, run for real by ansible-playbook against the simulator."""

import re

import pytest

import ground_truth
from accounts import Account, id_styles
from testlib import TOKEN, play


def test_live_database_backup_age_of_every_application(run_playbook, sim_env, dataset):
    """The issue's "done when": a play that prints the age of the latest successful database backup of
    live for every application, and it is right."""
    run = run_playbook(play("""
    - divio.cloud.application_info:
      register: apps
    - divio.cloud.backup_info:
        application: "{{ item.slug }}"
        environment: live
        services: [DATABASE]
      loop: "{{ apps.applications }}"
      register: live
    - ansible.builtin.debug:
        msg: "{{ item.backups[0].application_slug }}: {{ item.backups[0].age_seconds }}"
      loop: "{{ live.results }}"
      loop_control:
        label: "{{ item.item.slug }}"
    - ansible.builtin.set_fact:
        out: "{{ live.results | map(attribute='backups') | flatten }}"
"""), env=sim_env)
    assert run.rc == 0, run
    got = {e["application_slug"]: (e["uuid"], e["taken_at"]) for e in run.result}
    expected = {}
    for app_slug, env_slug, env_uuid in ground_truth.environments(dataset):
        if env_slug == "live":
            uuid, taken = ground_truth.latest(dataset, env_uuid, ["DATABASE"])
            expected[app_slug] = (uuid, taken)
    assert set(got) == set(expected)
    for slug, (uuid, taken) in expected.items():
        assert got[slug][0] == uuid, slug
        assert ground_truth.ts(got[slug][1]) == taken
    printed = dict(re.findall(r'"msg": "([a-z0-9-]+): (\d+|None)"', run.output))
    for entry in run.result:
        assert printed[entry["application_slug"]] == str(entry["age_seconds"])


def test_application_info_filters(run_playbook, sim_env, dataset):
    org = dataset.applications[0]["organisation"]
    first = dataset.applications[0]
    run = run_playbook(play("""
    - divio.cloud.application_info:
      register: everything
    - divio.cloud.application_info:
        organisation: "%s"
      register: by_org
    - divio.cloud.application_info:
        slug: "%s"
      register: by_slug
    - divio.cloud.application_info:
        uuid: "%s"
      register: by_uuid
    - divio.cloud.application_info:
        name: "%s"
      register: by_name
    - divio.cloud.application_info:
        slug: no-such-app
      register: nothing
    - ansible.builtin.set_fact:
        out:
          everything: "{{ everything.applications | map(attribute='slug') | sort }}"
          by_org: "{{ by_org.applications | map(attribute='slug') | sort }}"
          by_slug: "{{ by_slug.applications | map(attribute='uuid') }}"
          by_uuid: "{{ by_uuid.applications | map(attribute='slug') }}"
          by_name: "{{ by_name.applications | map(attribute='slug') }}"
          nothing: "{{ nothing.applications }}"
          changed: "{{ [everything, by_org, by_slug, nothing] | map(attribute='changed') | unique }}"
""" % (org, first["slug"], first["uuid"], first["name"])), env=sim_env)
    assert run.rc == 0, run
    out = run.result
    assert out["everything"] == sorted(a["slug"] for a in dataset.applications)
    assert out["by_org"] == sorted(a["slug"] for a in dataset.applications if a["organisation"] == org)
    assert out["by_slug"] == [first["uuid"]]
    assert out["by_uuid"] == [first["slug"]]
    assert out["by_name"] == [first["slug"]]
    assert out["nothing"] == []
    assert out["changed"] == [False]


def test_environment_info(run_playbook, sim_env, dataset):
    app = dataset.applications[0]
    run = run_playbook(play("""
    - divio.cloud.environment_info:
        application: "%s"
      register: by_slug
    - divio.cloud.environment_info:
        application: "%s"
        slug: live
      register: live
    - divio.cloud.environment_info:
        application: "%s"
        slug: no-such-env
      register: nothing
    - ansible.builtin.set_fact:
        out:
          all: "{{ by_slug.environments | map(attribute='uuid') | sort }}"
          app_slugs: "{{ by_slug.environments | map(attribute='application_slug') | unique }}"
          live: "{{ live.environments | map(attribute='slug') }}"
          nothing: "{{ nothing.environments }}"
""" % (app["slug"], app["uuid"], app["slug"])), env=sim_env)
    assert run.rc == 0, run
    envs = [e for e in dataset.environments if e["application"] == app["uuid"]]
    assert run.result["all"] == sorted(e["uuid"] for e in envs)
    assert run.result["app_slugs"] == [app["slug"]]
    assert run.result["live"] == ["live"]
    assert run.result["nothing"] == []


def test_unknown_application_fails_clearly(run_playbook, sim_env):
    run = run_playbook(play("""
    - divio.cloud.environment_info:
        application: no-such-app
"""), env=sim_env)
    assert run.rc == 2
    assert "application 'no-such-app' not found" in run.output
    assert "Traceback" not in run.output


def test_module_defaults_group_and_check_mode(run_playbook, sim, dataset):
    """Connection set once through the action group; check mode reads just the same."""
    app = dataset.applications[1]
    run = run_playbook(play("""
    - module_defaults:
        group/divio.cloud.divio:
          api_url: "%s"
          api_token: "%s"
      block:
        - divio.cloud.backup_info:
            application: "%s"
            max_age: 36h
          check_mode: true
          register: checked
    - ansible.builtin.set_fact:
        out: "{{ checked }}"
""" % (sim.url, TOKEN, app["slug"])))
    assert run.rc == 0, run
    assert run.result["changed"] is False
    envs = {e["uuid"] for e in dataset.environments if e["application"] == app["uuid"]}
    assert {e["environment"] for e in run.result["backups"]} == envs
    for entry in run.result["backups"]:
        assert entry["uuid"] == ground_truth.latest(dataset, entry["environment"])[0]
        assert entry["fresh"] is (entry["age_seconds"] is not None and entry["age_seconds"] <= 36 * 3600)


@pytest.mark.parametrize("max_age, seconds", [(86400, 86400), ("86400", 86400), ("90m", 5400), ("36h", 129600),
                                              ("2d", 172800), ("1w", 604800)])
def test_max_age_forms(run_playbook, sim_env, dataset, max_age, seconds):
    app_slug, env_slug, _unused = next(t for t in ground_truth.environments(dataset) if ground_truth.latest(dataset, t[2])[0])
    run = run_playbook(play("""
    - divio.cloud.backup_info:
        application: "%s"
        environment: "%s"
        max_age: %s
      register: out
""" % (app_slug, env_slug, max_age if isinstance(max_age, int) else '"%s"' % max_age)), env=sim_env)
    assert run.rc == 0, run
    [entry] = run.result["backups"]
    assert entry["fresh"] is (entry["age_seconds"] <= seconds)


@pytest.mark.parametrize("args, message", [
    ('max_age: "24 hours"', "max_age '24 hours' is not valid: expected a number of seconds"),
    ("services: [DATABASE, REDIS]", "'REDIS' is not a known service type; known types are DATABASE, STORAGE"),
    ("environment: prod", "environment 'prod' not found in application"),
])
def test_backup_info_bad_input(run_playbook, sim_env, dataset, args, message):
    run = run_playbook(play("""
    - divio.cloud.backup_info:
        application: "%s"
        %s
""" % (dataset.applications[0]["slug"], args)), env=sim_env)
    assert run.rc == 2
    assert message in run.output
    assert "Traceback" not in run.output


def test_rejected_token_is_clear_and_never_printed(run_playbook, sim):
    bad_token = "wrong-Secr3t-token-4c7d2e"
    run = run_playbook(play("""
    - divio.cloud.backup_info:
        application: shop
        api_url: "%s"
        api_token: "%s"
""" % (sim.url, bad_token)), args=["-vvvv"])
    assert run.rc == 2
    assert "rejected the token from the api_token option (401)" in run.output
    assert bad_token not in run.output


def test_token_from_environment_never_printed(run_playbook, sim_env, dataset):
    run = run_playbook(play("""
    - divio.cloud.backup_info:
        application: "%s"
      register: out
""" % dataset.applications[0]["slug"]), env=sim_env, args=["-vvvv"])
    assert run.rc == 0, run
    assert TOKEN not in run.output


def test_skipped_backups_are_task_warnings_and_min_retention_is_an_option(run_playbook):
    """A backup dated in 2099 and a temporary pull backup, through both modules: the first is skipped with
    a warning in the task result, the second counts only with min_retention 0."""
    account = Account("divio" if "divio" in id_styles() else "uuid")
    database = account.instance("DATABASE")
    scheduled = account.backup(20, [database])
    future = account.backup(20, [database], ended_at="2099-01-01T00:00:00Z")
    pull = account.backup(0.2, [database], trigger="MANUAL", notes="Divio CLI pull", scheduled_for_deletion_at=account.at(-0.8))
    with account.serve():
        run = run_playbook(play("""
    - divio.cloud.backup_info: {application: app, environment: live, services: [DATABASE]}
      register: info
    - divio.cloud.backup_info: {application: app, environment: live, services: ["DATABASE:DEFAULT"], min_retention: 0}
      register: info_all
    - divio.cloud.backup_check: {applications: [app], max_age: 1h}
      register: check
    - divio.cloud.backup_check: {applications: ["%s"], max_age: 1h, min_retention: "0"}
      register: check_all
    - ansible.builtin.set_fact:
        out: {info: "{{ info }}", info_all: "{{ info_all }}", check: "{{ check }}", check_all: "{{ check_all }}"}
""" % account.app["uuid"]), env={"DIVIO_API_URL": account.server.url, "DIVIO_API_TOKEN": TOKEN})
    assert run.rc == 0, run
    out = run.result
    warning = ("app/live: skipped backup %s: ended_at '2099-01-01T00:00:00Z' of backup %s is in the future (more than "
               "the 5 min clock-skew allowance); the next older backup was judged." % (future["uuid"], future["uuid"]))
    assert out["info"]["backups"][0]["uuid"] == scheduled["uuid"]
    assert out["info"]["warnings"] == [warning] and out["info"]["backups"][0]["warnings"] == [warning]
    assert out["info_all"]["backups"][0]["uuid"] == pull["uuid"]
    assert out["check"]["checks"][0]["status"] == "stale" and out["check"]["warnings"] == [warning]
    assert out["check"]["rules"]["min_retention_seconds"] == 86400
    assert (out["check_all"]["checks"][0]["status"], out["check_all"]["checks"][0]["uuid"]) == ("fresh", pull["uuid"])
    assert "[WARNING]: app/live: skipped backup %s" % future["uuid"] in run.output


@pytest.mark.parametrize("args, message", [
    ("min_retention: soon", "min_retention 'soon' is not valid: expected a number of seconds"),
    ("min_retention: -5", "min_retention -5 is not valid: it must be longer than 0 seconds"),
    ('services: ["DATABASE:"]', "services: 'DATABASE:' names no prefix; expected TYPE:PREFIX such as DATABASE:DEFAULT"),
])
def test_new_options_bad_input(run_playbook, sim_env, args, message):
    run = run_playbook(play("""
    - divio.cloud.backup_info: {application: shop, %s}
      ignore_errors: true
      register: info
    - divio.cloud.backup_check: {%s}
      ignore_errors: true
      register: check
    - ansible.builtin.set_fact:
        out: ["{{ info }}", "{{ check }}"]
""" % (args, args)), env=sim_env)
    assert run.rc == 0, run
    for result in run.result:
        assert result["failed"] is True and message in result["msg"]
    assert "Traceback" not in run.output


@pytest.mark.parametrize("environment", ["live", None], ids=["one-environment", "every-environment"])
def test_latest_false_keeps_the_warnings_of_an_environment_left_without_entries(run_playbook, environment):
    """Every backup of live skipped as unusable - one dated in 2099, one that cannot be dated: with latest: false
    live has no entry to carry the warnings, and the task must still show them, as it does with latest: true."""
    account = Account("divio" if "divio" in id_styles() else "uuid")
    database = account.instance("DATABASE")
    future = account.backup(20, [database], ended_at="2099-01-01T00:00:00Z")
    undatable = account.backup(1, [database], part_fields={"taken_at": None, "started_at": None, "ended_at": None},
                               started_at=None, ended_at=None)
    target = "" if environment is None else ", environment: %s" % environment
    with account.serve():
        run = run_playbook(play("""
    - divio.cloud.backup_info: {application: app%s, latest: true}
      register: latest
    - divio.cloud.backup_info: {application: app%s, latest: false}
      register: history
    - ansible.builtin.set_fact:
        out: {latest: "{{ latest }}", history: "{{ history }}"}
""" % (target, target)), env={"DIVIO_API_URL": account.server.url, "DIVIO_API_TOKEN": TOKEN})
    assert run.rc == 0, run
    latest, history = run.result["latest"], run.result["history"]
    [entry] = latest["backups"]
    assert entry["uuid"] is None and len(entry["warnings"]) == 2
    assert history["backups"] == []
    assert sorted(history["warnings"]) == sorted(latest["warnings"]) == sorted(entry["warnings"])
    skipped = ["app/live: skipped backup %s: " % backup["uuid"] for backup in (future, undatable)]
    for prefix in skipped:
        assert sum(warning.startswith(prefix) for warning in history["warnings"]) == 1, (prefix, history["warnings"])


@pytest.mark.parametrize("latest", [True, False])
def test_the_lookup_shows_skipped_backups_as_warnings(run_playbook, latest):
    """The lookup's latest_backup term warns about backups skipped as unusable, like backup_info - also with
    latest=false, where the environment has no entry to carry them."""
    account = Account("divio" if "divio" in id_styles() else "uuid")
    database = account.instance("DATABASE")
    future = account.backup(20, [database], ended_at="2099-01-01T00:00:00Z")
    with account.serve():
        run = run_playbook(play("""
    - ansible.builtin.set_fact:
        out: "{{ query('divio.cloud.divio', 'latest_backup', application='app', environment='live', latest=%s) }}"
""" % latest), env={"DIVIO_API_URL": account.server.url, "DIVIO_API_TOKEN": TOKEN})
    assert run.rc == 0, run
    assert [entry["uuid"] for entry in run.result] == ([None] if latest else [])
    said = re.sub(r"\s+", " ", run.output)
    assert "[WARNING]: app/live: skipped backup %s: ended_at '2099-01-01T00:00:00Z'" % future["uuid"] in said, run.output
