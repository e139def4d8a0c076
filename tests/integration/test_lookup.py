"""The divio.cloud.divio lookup, run for real by ansible-playbook against the simulator."""

import hashlib
import json

import pytest

import ground_truth
from divio_simulator import generate_dataset, run_simulator
from testlib import ANSIBLE_CORE, TOKEN, play

VALID_TERMS = "applications, environment_variables, environments, latest_backup"
BAD_TOKEN = "bad-Tok3n-LOOKUP-9q8w7e6r5t"


def app_with_two_envs_and_live_backup(dataset):
    """(application, live environment) of an application with >= 2 environments and a database backup on live."""
    for app in dataset.applications:
        envs = [e for e in dataset.environments if e["application"] == app["uuid"]]
        live = [e for e in envs if e["slug"] == "live"]
        if len(envs) >= 2 and live and ground_truth.latest(dataset, live[0]["uuid"], ["DATABASE"])[0]:
            return app, live[0]
    raise AssertionError("the data set has no such application")


def test_every_term_with_lookup_and_query(run_playbook, sim_env, dataset):
    """Options from the controller's environment; a task's ``environment:`` (bogus here) does not reach lookups."""
    app, live = app_with_two_envs_and_live_backup(dataset)
    org = app["organisation"]
    run = run_playbook(play("""
    - name: The same question through the module, for comparison
      divio.cloud.backup_info:
        application: "{{ app }}"
        environment: live
        services: [DATABASE]
        max_age: 24h
      register: module_answer
    - ansible.builtin.set_fact:
        out:
          apps: "{{ query('divio.cloud.divio', 'applications') | map(attribute='slug') | sort }}"
          apps_of_org: "{{ query('divio.cloud.divio', 'applications', organisation=org) | map(attribute='slug') | sort }}"
          one_app: "{{ lookup('divio.cloud.divio', 'applications', slug=app) }}"
          no_app: "{{ query('divio.cloud.divio', 'applications', slug='no-such-app') }}"
          envs: "{{ query('divio.cloud.divio', 'environments', application=app) }}"
          one_env: "{{ lookup('divio.cloud.divio', 'environments', application=app, slug='live') }}"
          backups: "{{ query('divio.cloud.divio', 'latest_backup', application=app, services=['DATABASE']) }}"
          backups_lookup_type: "{{ lookup('divio.cloud.divio', 'latest_backup', application=app) | type_debug }}"
          live: "{{ lookup('divio.cloud.divio', 'latest_backup', application=app, environment='live', services=['DATABASE'],
                           max_age='24h', successful_only=true) }}"
          live_query: "{{ query('divio.cloud.divio', 'latest_backup', application=app, environment='live', services=['DATABASE'],
                                max_age='24h') }}"
          history: "{{ query('divio.cloud.divio', 'latest_backup', application=app, environment='live', latest=false, limit=2)
                       | map(attribute='uuid') }}"
          module: "{{ module_answer.backups }}"
      environment:
        DIVIO_API_TOKEN: "{{ bad_token }}"
        DIVIO_API_URL: http://127.0.0.1:9
"""), extra_vars={"app": app["slug"], "org": org, "bad_token": BAD_TOKEN}, env=sim_env)
    assert run.rc == 0, run
    out = run.result
    assert out["apps"] == sorted(a["slug"] for a in dataset.applications)
    assert out["apps_of_org"] == sorted(a["slug"] for a in dataset.applications if a["organisation"] == org)
    # lookup() hands back the only element itself, not a one-element list
    assert isinstance(out["one_app"], dict) and out["one_app"]["uuid"] == app["uuid"]
    assert out["no_app"] == []
    envs = [e for e in dataset.environments if e["application"] == app["uuid"]]
    assert sorted(e["uuid"] for e in out["envs"]) == sorted(e["uuid"] for e in envs)
    assert {e["application_slug"] for e in out["envs"]} == {app["slug"]}
    assert out["one_env"]["uuid"] == live["uuid"]

    # latest_backup: one entry per environment, each equal to the brute-force answer
    assert sorted(e["environment"] for e in out["backups"]) == sorted(e["uuid"] for e in envs)
    for entry in out["backups"]:
        uuid, taken = ground_truth.latest(dataset, entry["environment"], ["DATABASE"])
        assert entry["uuid"] == uuid
        assert ground_truth.ts(entry["taken_at"]) == taken
    # several entries stay a list with lookup(); a single one is unwrapped to the dict
    assert out["backups_lookup_type"] == "list"
    assert isinstance(out["live"], dict)
    assert out["live_query"] == [out["live"]] or _same_entry(out["live_query"][0], out["live"])
    uuid, taken = ground_truth.latest(dataset, live["uuid"], ["DATABASE"])
    assert (out["live"]["uuid"], ground_truth.ts(out["live"]["taken_at"])) == (uuid, taken)
    assert out["live"]["fresh"] is (out["live"]["age_seconds"] <= 86400)
    assert out["history"] == [backup["uuid"] for _taken, backup, _parts in ground_truth.qualifying(dataset, live["uuid"])[:2]]
    # the same dict as one backup_info entry (age_seconds moves on between the two calls)
    [module_entry] = out["module"]
    assert _same_entry(module_entry, out["live"])
    assert BAD_TOKEN not in run.output and TOKEN not in run.output


def _same_entry(a, b):
    strip = ("age_seconds", "fresh")
    return ({k: v for k, v in a.items() if k not in strip} == {k: v for k, v in b.items() if k not in strip}
            and abs(a["age_seconds"] - b["age_seconds"]) <= 5 and set(a) == set(b))


def test_assert_gate_on_age_seconds(run_playbook, sim_env, dataset):
    app, live = app_with_two_envs_and_live_backup(dataset)
    taken = ground_truth.latest(dataset, live["uuid"], ["DATABASE"])[1]
    run = run_playbook(play("""
    - name: A gate that passes
      ansible.builtin.assert:
        that:
          - backup.uuid is not none
          - backup.age_seconds <= 14 * 86400
        fail_msg: "{{ app }}/live: latest database backup is {{ backup.age_seconds }} s old"
      vars:
        backup: "{{ lookup('divio.cloud.divio', 'latest_backup', application=app, environment='live', services=['DATABASE']) }}"
    - name: A gate that fails
      ansible.builtin.assert:
        that: lookup('divio.cloud.divio', 'latest_backup', application=app, environment='live').age_seconds < 1
        fail_msg: "too old: {{ lookup('divio.cloud.divio', 'latest_backup', application=app, environment='live').age_seconds }} s"
      register: failed_gate
      ignore_errors: true
    - name: Runs only when fresh
      ansible.builtin.set_fact:
        fresh_ran: true
      when: lookup('divio.cloud.divio', 'latest_backup', application=app, environment='live', max_age='14d').fresh
    - name: Never runs
      ansible.builtin.set_fact:
        stale_ran: true
      when: lookup('divio.cloud.divio', 'latest_backup', application=app, environment='live', max_age=1).fresh
    - ansible.builtin.set_fact:
        out:
          failed: "{{ failed_gate is failed }}"
          msg: "{{ failed_gate.msg }}"
          fresh_ran: "{{ fresh_ran | default(false) }}"
          stale_ran: "{{ stale_ran | default(false) }}"
"""), extra_vars={"app": app["slug"]}, env=sim_env)
    assert run.rc == 0, run
    assert taken is not None
    assert run.result["failed"] is True
    assert run.result["msg"].startswith("too old: ") and int(run.result["msg"].split()[2]) >= 1
    assert run.result["fresh_ran"] is True
    assert run.result["stale_ran"] is False


def test_options_from_kwargs_and_vars_beat_the_environment(run_playbook, sim, dataset, tmp_path):
    """The controller's environment holds a bad token; kwargs and variables override it, and without them it is used."""
    vars_file = tmp_path / "connection.json"
    vars_file.write_text(json.dumps({"good_token": TOKEN, "sim_url": sim.url}))
    run = run_playbook(play("""
    - name: Connection from keyword arguments
      ansible.builtin.set_fact:
        from_kwargs: "{{ query('divio.cloud.divio', 'applications', api_url=sim_url, api_token=good_token) | length }}"
    - name: Connection from variables
      ansible.builtin.set_fact:
        from_vars: "{{ query('divio.cloud.divio', 'applications') | length }}"
      vars:
        divio_api_url: "{{ sim_url }}"
        divio_api_token: "{{ good_token }}"
    - name: Nothing overrides the environment
      ansible.builtin.set_fact:
        from_env: "{{ query('divio.cloud.divio', 'applications', api_url=sim_url) | length }}"
      register: env_attempt
      ignore_errors: true
    - ansible.builtin.set_fact:
        out:
          from_kwargs: "{{ from_kwargs }}"
          from_vars: "{{ from_vars }}"
          env_failed: "{{ env_attempt is failed }}"
          env_msg: "{{ env_attempt.msg }}"
"""), env={"DIVIO_API_TOKEN": BAD_TOKEN}, args=["-e", "@%s" % vars_file])
    assert run.rc == 0, run
    assert int(run.result["from_kwargs"]) == len(dataset.applications)
    assert int(run.result["from_vars"]) == len(dataset.applications)
    assert run.result["env_failed"] is True
    assert "rejected the token from the DIVIO_API_TOKEN environment variable (401)" in run.result["env_msg"]


def test_options_from_ansible_cfg(run_playbook, sim, dataset, tmp_path):
    config = tmp_path / "divio-ansible.cfg"
    config.write_text("[divio]\napi_url = %s\napi_token = %s\nlookup_cache_ttl = 60\n" % (sim.url, TOKEN))
    run = run_playbook(play("""
    - ansible.builtin.set_fact:
        out: "{{ query('divio.cloud.divio', 'environments', application=app) | map(attribute='uuid') | sort }}"
"""), extra_vars={"app": dataset.applications[0]["slug"]}, env={"ANSIBLE_CONFIG": str(config)})
    assert run.rc == 0, run
    assert run.result == sorted(e["uuid"] for e in dataset.environments if e["application"] == dataset.applications[0]["uuid"])


def test_bad_terms_and_options(run_playbook, sim_env, dataset):
    cases = {
        "no_term": "lookup('divio.cloud.divio')",
        "two_terms": "lookup('divio.cloud.divio', 'applications', 'environments')",
        "unknown_term": "lookup('divio.cloud.divio', 'backups')",
        "misplaced_option": "lookup('divio.cloud.divio', 'applications', environment='live')",
        "unknown_option": "lookup('divio.cloud.divio', 'environments', application='x', enviroment='live')",
        "missing_application": "query('divio.cloud.divio', 'latest_backup', environment='live')",
        "bad_max_age": "query('divio.cloud.divio', 'latest_backup', application=app, max_age='24 hours')",
        "bad_min_retention": "query('divio.cloud.divio', 'latest_backup', application=app, min_retention='soon')",
        "misplaced_min_retention": "query('divio.cloud.divio', 'environments', application=app, min_retention=0)",
        "unknown_application": "query('divio.cloud.divio', 'environments', application='no-such-app')",
    }
    tasks = "".join("""
    - ansible.builtin.debug:
        msg: "{{ %s }}"
      register: %s
      ignore_errors: true
""" % (expression, name) for name, expression in cases.items())
    run = run_playbook(play(tasks + """
    - ansible.builtin.set_fact:
        out: %s
""" % json.dumps(dict((name, "{{ %s.msg }}" % name) for name in cases))), extra_vars={"app": dataset.applications[0]["slug"]},
        env=sim_env)
    assert run.rc == 0, run
    msgs = run.result
    for name in ("no_term", "two_terms", "unknown_term"):
        assert "takes exactly one term, the kind of answer: %s" % VALID_TERMS in msgs[name], name
    assert "(got no term)" in msgs["no_term"]
    assert "(got 2 terms)" in msgs["two_terms"]
    assert "(got 'backups')" in msgs["unknown_term"]
    assert "option environment does not apply to term 'applications', which takes organisation, slug, uuid, name" \
        in msgs["misplaced_option"]
    assert "unknown option enviroment; term 'environments' takes application, slug, uuid" in msgs["unknown_option"]
    assert "term 'latest_backup' needs the option application" in msgs["missing_application"]
    assert "max_age '24 hours' is not valid: expected a number of seconds" in msgs["bad_max_age"]
    assert "min_retention 'soon' is not valid" in msgs["bad_min_retention"]
    assert "option min_retention does not apply to term 'environments'" in msgs["misplaced_min_retention"]
    assert "application 'no-such-app' not found" in msgs["unknown_application"]
    for name, msg in msgs.items():
        if ANSIBLE_CORE >= (2, 19):
            assert "The lookup plugin 'divio.cloud.divio' failed" in msg, name
        else:
            # ansible-core 2.16 shows a lookup's AnsibleLookupError as it is, without naming the plugin; anything
            # else the lookup raised would read "An unhandled exception occurred while running the lookup plugin".
            assert "unhandled exception" not in msg, name
    assert "Traceback" not in run.output


def test_401_and_tokens_never_shown_at_vvvv(run_playbook, sim, tmp_path):
    """A rejected token gives the modules' 401 message; neither it nor the good token shows up at -vvvv."""
    vars_file = tmp_path / "secrets.json"
    vars_file.write_text(json.dumps({"bad_token": BAD_TOKEN}))
    run = run_playbook(play("""
    - name: Good token from the environment
      ansible.builtin.debug:
        msg: "{{ query('divio.cloud.divio', 'applications') | length }}"
    - name: Bad token as a keyword argument
      ansible.builtin.debug:
        msg: "{{ query('divio.cloud.divio', 'applications', api_token=bad_token) }}"
      register: by_kwarg
      ignore_errors: true
    - name: Bad token from a variable
      ansible.builtin.debug:
        msg: "{{ lookup('divio.cloud.divio', 'latest_backup', application='shop') }}"
      vars:
        divio_api_token: "{{ bad_token }}"
      register: by_var
      ignore_errors: true
    - ansible.builtin.set_fact:
        out: ["{{ by_kwarg.msg }}", "{{ by_var.msg }}"]
"""), env={"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}, args=["-vvvv", "-e", "@%s" % vars_file])
    assert run.rc == 0, run
    by_kwarg, by_var = run.result
    assert "GET /apps/v3/applications/?page_size=1000: the Divio API rejected the token from the api_token option (401)" \
        in by_kwarg
    assert "rejected the token from the divio_api_token variable (401)" in by_var
    assert "Check that it is current" in by_var
    assert sim.stats()["by_path"].get("/apps/v3/applications/", 0) >= 3  # the bad tokens were really sent
    assert BAD_TOKEN not in run.output
    assert TOKEN not in run.output
    assert "Traceback" not in run.output


CACHE_PROBE = """
    - name: Where the run keeps its cache
      ansible.builtin.find:
        paths: "{{ local_tmp }}"
        recurse: true
        file_type: any
        hidden: true
      register: cache_files
    - name: What the cache holds
      ansible.builtin.shell: cat "{{ local_tmp }}"/*/divio.cloud-lookup-cache/*.json
      register: cache_content
      changed_when: false
"""


def _latest(extra=""):
    return "lookup('divio.cloud.divio', 'latest_backup', application=app, environment='live', services=['DATABASE']%s)" % extra


def test_cache_serves_repeated_lookups_within_a_run(run_playbook, sim, sim_env, dataset, tmp_path):
    """The same lookup in three tasks plus a ``when:`` and a ``msg:`` costs the requests of a single lookup."""
    app = app_with_two_envs_and_live_backup(dataset)[0]
    local_tmp = tmp_path / "ansible-tmp"
    extra = {"app": app["slug"], "local_tmp": str(local_tmp)}

    sim.reset_stats()
    single = run_playbook(play("""
    - ansible.builtin.set_fact:
        out: "{{ %s }}"
""" % _latest()), extra_vars=extra, env=sim_env)
    assert single.rc == 0, single
    one_lookup = sim.stats()["requests"]
    assert one_lookup >= 4  # application, environments, backups, parts: a real question

    repeated = """
    - ansible.builtin.debug:
        msg: "{{ %(q)s.uuid }}"
    - ansible.builtin.debug:
        msg: "{{ %(q)s.age_seconds }}"
    - ansible.builtin.debug:
        msg: "{{ %(q)s.taken_at }}"
    - ansible.builtin.debug:
        msg: "{{ %(q)s.taken_at }}"
      when: %(q)s.uuid is not none
"""
    sim.reset_stats()
    cached = run_playbook(play(repeated % {"q": _latest()} + CACHE_PROBE + """
    - ansible.builtin.set_fact:
        out:
          entry: "{{ %s }}"
          files: "{{ cache_files.files | map(attribute='path') | list }}"
          modes: "{{ cache_files.files | items2dict(key_name='path', value_name='mode') }}"
          content: "{{ cache_content.stdout }}"
""" % _latest()), extra_vars=extra, env=sim_env)
    assert cached.rc == 0, cached
    with_cache = sim.stats()["requests"]

    sim.reset_stats()
    uncached = run_playbook(play(repeated % {"q": _latest(", cache_ttl=0")} + """
    - ansible.builtin.set_fact:
        out: done
"""), extra_vars=extra, env=sim_env)
    assert uncached.rc == 0, uncached
    without_cache = sim.stats()["requests"]

    # 6 evaluations (3 msgs, 1 when + 1 msg, 1 set_fact) with the cache cost what one lookup costs
    assert with_cache == one_lookup, (one_lookup, with_cache, without_cache)
    assert without_cache == 5 * one_lookup, (one_lookup, with_cache, without_cache)
    assert cached.result["entry"]["uuid"] == single.result["uuid"]

    # inside the run: a private directory of 0600 files, which hold neither the token nor its hash
    cache_dirs = [p for p in cached.result["files"] if p.endswith("/divio.cloud-lookup-cache")]
    assert len(cache_dirs) == 1
    assert cached.result["modes"][cache_dirs[0]] == "0700"
    entries = [p for p in cached.result["files"] if p.startswith(cache_dirs[0] + "/")]
    assert len(entries) == one_lookup
    assert all(cached.result["modes"][p] == "0600" and p.endswith(".json") for p in entries)
    assert TOKEN not in cached.result["content"] and app["uuid"] in cached.result["content"]
    assert hashlib.sha256(TOKEN.encode()).hexdigest() not in cached.result["content"]
    # after the run: gone with the run's local temp directory
    assert not list(local_tmp.rglob("divio.cloud-lookup-cache"))


def test_cache_is_per_token(run_playbook, sim, sim_env, dataset):
    """An answer read with one token is never served to a lookup with another token."""
    app = app_with_two_envs_and_live_backup(dataset)[0]
    run = run_playbook(play("""
    - ansible.builtin.debug:
        msg: "{{ %s.uuid }}"
    - ansible.builtin.debug:
        msg: "{{ lookup('divio.cloud.divio', 'latest_backup', application=app, environment='live', services=['DATABASE'],
                        api_token=bad_token) }}"
      register: other_token
      ignore_errors: true
    - ansible.builtin.set_fact:
        out: "{{ other_token is failed }}"
""" % _latest()), extra_vars={"app": app["slug"], "bad_token": BAD_TOKEN}, env=sim_env)
    assert run.rc == 0, run
    assert run.result is True


@pytest.mark.parametrize("variable, value, module_says, lookup_says", [
    ("DIVIO_TIMEOUT", "-1", "timeout '-1'", "timeout -1.0"),
    ("DIVIO_DEADLINE", "0", "deadline '0'", "deadline 0.0"),
    ("DIVIO_MAX_PAGES", "0", "max_pages '0'", "max_pages 0"),
])
def test_modules_and_the_lookup_read_the_same_environment(run_playbook, sim, sim_env, variable, value, module_says,
                                                          lookup_says):
    """One option table: every connection variable reaches modules and the lookup alike, and a bad value is
    named with its source before any request is sent."""
    run = run_playbook(play("""
    - divio.cloud.application_info:
      register: module_attempt
      ignore_errors: true
    - ansible.builtin.debug:
        msg: "{{ query('divio.cloud.divio', 'applications') }}"
      register: lookup_attempt
      ignore_errors: true
    - ansible.builtin.set_fact:
        out: ["{{ module_attempt.msg }}", "{{ lookup_attempt.msg }}"]
"""), env=dict(sim_env, **{variable: value}))
    assert run.rc == 0, run
    module_msg, lookup_msg = run.result
    assert "%s from the %s environment variable is not valid: expected" % (module_says, variable) in module_msg
    assert "%s from the %s environment variable is not valid: expected" % (lookup_says, variable) in lookup_msg
    assert sim.stats()["requests"] == 0


def test_min_retention_reaches_the_rule_from_the_lookup_and_the_role(run_playbook):
    """crm/test's newest backup is a temporary "divio app pull db" backup, deleted an hour after it was made:
    by default (24h) it is no restore point; a shorter min_retention or 0 lets it count again - through the
    lookup's term option and the backup_gate role's variable alike. A fresh data set, so the temporary backup is
    minutes old whenever this runs."""
    dataset = generate_dataset(seed=1, organisations=2, applications=6, environments=2, days=14)
    [pull] = dataset.troubles["pull_newest"]
    latest = "lookup('divio.cloud.divio', 'latest_backup', application=app, environment=env%s).uuid"
    gate = """
    - ansible.builtin.include_role:
        name: divio.cloud.backup_gate
      vars:
        backup_gate_application: "{{ app }}"
        backup_gate_environments: ["{{ env }}"]
        backup_gate_services: [DATABASE]
        %s
    - ansible.builtin.set_fact:
        %s: "{{ backup_gate_result.checks[0].uuid }}"
"""
    with run_simulator(dataset=dataset, token=TOKEN) as private_sim:
        run = run_playbook(play(gate % ("", "gate_default") + gate % ("backup_gate_min_retention: 0", "gate_zero") + """
    - ansible.builtin.set_fact:
        out:
          default: "{{ %s }}"
          short: "{{ %s }}"
          zero: "{{ %s }}"
          gate_default: "{{ gate_default }}"
          gate_zero: "{{ gate_zero }}"
""" % (latest % "", latest % ", min_retention='5m'", latest % ", min_retention=0")),
            extra_vars={"app": pull["application"], "env": pull["environment"]},
            env={"DIVIO_API_URL": private_sim.url, "DIVIO_API_TOKEN": TOKEN})
    assert run.rc == 0, run
    out = run.result
    assert out["zero"] == out["short"] == out["gate_zero"] == pull["pull_backup"]
    assert out["default"] == out["gate_default"]
    assert out["default"] not in (None, "", pull["pull_backup"])
