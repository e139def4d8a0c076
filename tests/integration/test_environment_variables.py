"""Environment variables: ``environment_variable_info``, the lookup's ``environment_variables`` term and
``deployment_info variables=true`` - in process over real HTTP and through ansible-playbook (at -vvvv, with
every sensitive value of the account searched for in all output) - against the simulator's data."""

import json

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.deployments import deployment_info
from ansible_collections.divio.cloud.plugins.module_utils.errors import InputError, NotFoundError
from ansible_collections.divio.cloud.plugins.module_utils.variables import environment_variables

from divio_simulator.envvars import PLATFORM, RETIRED
from testlib import TOKEN, play, private_simulator


def env_of(ds, app_slug, env_slug):
    app = next(a for a in ds.applications if a["slug"] == app_slug)
    return next(e for e in ds.environments if e["application"] == app["uuid"] and e["slug"] == env_slug)


def listed(ds, app_slug, env_slug):
    """``{name: record}`` of an environment's list, as the simulator holds it."""
    return {item["name"]: item for item in ds.lookup("environment_variables", "environment", env_of(ds, app_slug, env_slug)["uuid"])}


def sensitive_values(ds, sim):
    """Every value a client must not show unasked: sensitive listed values, and every value of a deployment's
    variables that its environment's list does not mark as not sensitive (platform DSNs, retired keys)."""
    found = set(item["value"] for item in ds.environment_variables if item["is_sensitive"])
    for record in ds.deployments:
        env_list = {item["name"]: item for item in ds.lookup("environment_variables", "environment", record["environment"])}
        for name, value in sim.deployment_jobs.environment_variables(record).items():
            if name not in env_list or env_list[name]["is_sensitive"]:
                found.add(value)
    # A held-back value may still be part of one that is shown (DOMAIN is in DEFAULT_FROM_EMAIL): not a secret.
    shown = [item["value"] for item in ds.environment_variables if not item["is_sensitive"]]
    return sorted(value for value in found if len(value) >= 6 and not any(value in text for text in shown))


def expected_entries(ds, app_slug, env_slug, reveal=False):
    return [{"name": name, "value": item["value"] if reveal or not item["is_sensitive"] else None,
             "is_sensitive": item["is_sensitive"]}
            for name, item in sorted(listed(ds, app_slug, env_slug).items())]


@pytest.fixture
def client(sim):
    with DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


# -- in process, over real HTTP ------------------------------------------------------------------------


def test_sensitive_values_are_held_back_unless_revealed(client, sim, dataset):
    found = environment_variables(client, "shop", "live")
    assert found == expected_entries(dataset, "shop", "live")
    assert len(found) > 20  # more than one default page of the API
    assert {item["is_sensitive"] for item in found} == {True, False}
    assert all(item["value"] is None for item in found if item["is_sensitive"])
    assert environment_variables(client, "shop", "live", reveal_sensitive=True) == expected_entries(dataset, "shop", "live", True)
    # by id as well as by slug; the multi-line and non-ASCII values come back as they are
    intranet = next(a for a in dataset.applications if a["slug"] == "intranet")
    revealed = {item["name"]: item["value"] for item in environment_variables(client, intranet["uuid"], "test", reveal_sensitive=True)}
    assert revealed["JWT_PRIVATE_KEY"].count("\n") == 3 and revealed["SITE_NAME"] == "Intranet \u2014 Z\u00fcrich"


def test_one_name_none_and_an_empty_environment(client, sim, dataset):
    [debug] = environment_variables(client, "shop", "test", name="DEBUG")
    assert debug == {"name": "DEBUG", "value": listed(dataset, "shop", "test")["DEBUG"]["value"], "is_sensitive": False}
    assert environment_variables(client, "shop", "test", name="SECRET_KEY") == [
        {"name": "SECRET_KEY", "value": None, "is_sensitive": True}]
    assert environment_variables(client, "shop", "test", name="NO_SUCH_VARIABLE") == []
    assert environment_variables(client, "blog", "test") == []
    assert ("GET", "/apps/v3/environment-variables/?environment=%s&name=DEBUG&page_size=1000"
            % env_of(dataset, "shop", "test")["uuid"], 200) in sim.requests


def test_unknown_sensitivity_is_held_back():
    """An item without ``is_sensitive`` (not seen, but nothing promises the field) shows no value."""
    with private_simulator() as server:
        item = listed(server.dataset, "wiki", "live")["DEBUG"]
        del item["is_sensitive"]
        with DivioClient.from_options({"api_url": server.url, "api_token": TOKEN}, environ={}) as client:
            [found] = environment_variables(client, "wiki", "live", name="DEBUG")
    assert found == {"name": "DEBUG", "value": None, "is_sensitive": None}


def test_bad_input_names_the_value(client, sim):
    with pytest.raises(InputError, match="reveal_sensitive 'yes' is not valid: expected true or false"):
        environment_variables(client, "shop", "live", reveal_sensitive="yes")
    with pytest.raises(InputError, match="environment None is not valid"):
        environment_variables(client, "shop", None)
    with pytest.raises(NotFoundError, match="environment 'stage' not found in application 'shop'; it has: live, test"):
        environment_variables(client, "shop", "stage")
    with pytest.raises(NotFoundError, match="application 'nope' not found"):
        environment_variables(client, "nope", "live")


def test_deployment_variables_show_values_only_where_the_list_says_not_sensitive(client, sim, dataset):
    env = env_of(dataset, "shop", "live")
    env_list = listed(dataset, "shop", "live")
    entries = deployment_info(client, "shop", environment="live", variables=True)
    assert [item["uuid"] for item in entries] == [d["uuid"] for d in sim.deployment_jobs.newest_first(
        dataset.lookup("deployments", "environment", env["uuid"]))]
    retired_seen = False
    for item in entries:
        ran_with = sim.deployment_jobs.environment_variables(dataset.by_uuid["deployments"][item["uuid"]])
        assert [v["name"] for v in item["variables"]] == sorted(ran_with)
        for variable in item["variables"]:
            listed_item = env_list.get(variable["name"])
            if listed_item is None:  # provided by the platform, or removed since: sensitivity unknown
                assert variable["is_sensitive"] is None and variable["value"] is None, variable
            elif listed_item["is_sensitive"]:
                assert variable == {"name": variable["name"], "value": None, "is_sensitive": True}
            else:
                assert variable == {"name": variable["name"], "value": ran_with[variable["name"]], "is_sensitive": False}
        assert set(PLATFORM) <= set(ran_with)
        retired_seen = retired_seen or RETIRED in ran_with
    assert retired_seen  # the data hold a deployment with a variable since removed from the list

    revealed = deployment_info(client, "shop", deployment=entries[-1]["uuid"], variables=True, reveal_sensitive=True)
    ran_with = sim.deployment_jobs.environment_variables(dataset.by_uuid["deployments"][entries[-1]["uuid"]])
    assert {v["name"]: v["value"] for v in revealed[0]["variables"]} == ran_with
    assert "variables" not in deployment_info(client, "shop", environment="live", limit=1)[0]


def test_deployment_variables_cost_one_list_per_environment(client, sim, dataset):
    sim.reset_stats()
    entries = deployment_info(client, "shop", limit=6, variables=True)
    paths = [path for _method, path, _status in sim.requests]
    assert len(entries) == 6
    assert sum(path.endswith("/environment-variables") for path in paths) == 6
    assert sum(path.startswith("/apps/v3/environment-variables/") for path in paths) == len({e["environment"] for e in entries})


# -- through ansible-playbook -----------------------------------------------------------------------------

MODULE_AND_LOOKUP = """
    - name: the module, without reveal
      divio.cloud.environment_variable_info: {application: shop, environment: live}
      register: plain
    - name: one variable
      divio.cloud.environment_variable_info: {application: intranet, environment: test, name: JWT_PRIVATE_KEY}
      register: one
    - name: the lookup, in a message
      ansible.builtin.debug:
        msg: "{{ query('divio.cloud.divio', 'environment_variables', application='shop', environment='live') }}"
    - name: a deployment's variables
      divio.cloud.deployment_info: {application: shop, environment: live, variables: true}
      register: deployments
    - name: a failed deployment's log, scrubbed as before
      divio.cloud.deployment_info: {application: portal, environment: live, limit: 1, logs: true, variables: true}
      register: failed
    - name: revealed, under no_log
      divio.cloud.environment_variable_info: {application: shop, environment: live, reveal_sensitive: true}
      no_log: true
      register: revealed
    - name: revealed through the lookup, under no_log
      ansible.builtin.set_fact:
        looked_up: >-
          {{ lookup('divio.cloud.divio', 'environment_variables', application='shop', environment='live',
                    name='STRIPE_SECRET_KEY', reveal_sensitive=true) }}
      no_log: true
    - ansible.builtin.set_fact:
        out:
          plain: "{{ plain.environment_variables }}"
          one: "{{ one.environment_variables }}"
          deployments: "{{ deployments.deployments }}"
          revealed: "{{ revealed.environment_variables }}"
          looked_up: "{{ looked_up }}"
      no_log: true
"""


def test_no_sensitive_value_anywhere_at_vvvv(run_playbook, sim, sim_env, dataset):
    run = run_playbook(play(MODULE_AND_LOOKUP), env=sim_env, args=["-vvvv"])
    assert run.rc == 0, run
    secrets = sensitive_values(dataset, sim)
    assert len(secrets) > 50
    # the result file holds what reveal_sensitive asked for; everything ansible-playbook printed holds none of it
    leaked = [value for value in secrets + [TOKEN] if value in run.output]
    assert not leaked, leaked
    result = run.result
    assert result["plain"] == expected_entries(dataset, "shop", "live")
    assert result["one"] == [{"name": "JWT_PRIVATE_KEY", "value": None, "is_sensitive": True}]
    assert result["revealed"] == expected_entries(dataset, "shop", "live", reveal=True)
    assert result["looked_up"] == {"name": "STRIPE_SECRET_KEY", "is_sensitive": True,
                                   "value": listed(dataset, "shop", "live")["STRIPE_SECRET_KEY"]["value"]}
    for item in result["deployments"]:
        assert all(v["value"] is None for v in item["variables"] if v["is_sensitive"] is not False)
        assert any(v["value"] is not None for v in item["variables"])
    # what the lookup printed (debug msg) is the module's answer
    assert json.dumps(expected_entries(dataset, "shop", "live")[0]["name"]) in run.output


def test_lookup_term_options_and_no_cache(run_playbook, sim, sim_env, tmp_path):
    probe = play("""
    - ansible.builtin.set_fact:
        first: "{{ query('divio.cloud.divio', 'environment_variables', application='wiki', environment='live') }}"
    - ansible.builtin.set_fact:
        second: "{{ query('divio.cloud.divio', 'environment_variables', application='wiki', environment='live') }}"
    - ansible.builtin.find:
        paths: "{{ local_tmp }}"
        recurse: true
        file_type: any
      register: cache_files
    - ansible.builtin.set_fact:
        out: {same: "{{ first == second }}", files: "{{ cache_files.files | map(attribute='path') | list }}"}
""")
    sim.reset_stats()
    run = run_playbook(probe, env=sim_env, extra_vars={"local_tmp": str(tmp_path / "ansible-tmp")})
    assert run.rc == 0, run
    assert run.result["same"] is True
    assert not [path for path in run.result["files"] if "divio.cloud-lookup-cache" in path]
    lists = [p for _m, p, _s in sim.requests if p.startswith("/apps/v3/environment-variables/")]
    assert len(lists) == 2  # asked twice: never answered from the cache

    bad = run_playbook(play("""
    - ansible.builtin.debug:
        msg: "{{ query('divio.cloud.divio', 'environment_variables', application='wiki') }}"
"""), env=sim_env)
    assert bad.rc != 0 and "term 'environment_variables' needs the option environment" in bad.output, bad
    misplaced = run_playbook(play("""
    - ansible.builtin.debug:
        msg: "{{ query('divio.cloud.divio', 'environments', application='wiki', reveal_sensitive=true) }}"
"""), env=sim_env)
    assert misplaced.rc != 0 and "option reveal_sensitive does not apply to term 'environments'" in misplaced.output, misplaced


def test_module_bad_input_fails_clearly(run_playbook, sim_env):
    run = run_playbook(play("""
    - divio.cloud.environment_variable_info: {application: shop, environment: stage}
      register: out
      ignore_errors: true
"""), env=sim_env)
    assert run.rc == 0, run
    assert run.result["failed"] is True
    assert run.result["msg"] == "environment 'stage' not found in application 'shop'; it has: live, test."
    assert "Traceback" not in run.output
