"""A slug that names two applications (blog renamed ``shop``: a second shop, in the other organisation) or two
environments of one application (wiki's ``test`` renamed ``live``), through the simulator's ``renamed_slugs``:
read-only modules and the lookup warn, naming every match, and go on with the first the API listed; the tasks that
change something (``backup``, ``deployment``, ``backup_restore``, ``backup_copy``) refuse before sending anything and ask for the id,
and do their work once given it. Run for real by ansible-playbook."""

import pytest
import requests

from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.resources import AmbiguousNameError, get_application, get_environment
from ansible_collections.divio.cloud.plugins.module_utils.session import name_warnings, refuse_ambiguous_names

from testlib import TOKEN, play, private_simulator

APPS = "/apps/v3/"

TASKS = """
    - divio.cloud.environment_info: {application: shop}
      register: environments
    - divio.cloud.backup_info: {application: shop, environment: live}
      register: backups
    - divio.cloud.deployment_info: {application: wiki, environment: live, limit: 1}
      register: deployments
    - ansible.builtin.set_fact:
        looked_up: "{{ lookup('divio.cloud.divio', 'environments', application='shop') }}"
    - block:
        - divio.cloud.backup: {application: shop, environment: live, wait: false}
      rescue:
        - ansible.builtin.set_fact: {backup_refused: "{{ ansible_failed_result }}"}
    - block:
        - divio.cloud.deployment: {application: wiki, environment: live, wait: false}
      rescue:
        - ansible.builtin.set_fact: {deployment_refused: "{{ ansible_failed_result }}"}
    - block:
        - divio.cloud.backup_restore: {application: shop, environment: live, backup: latest, confirm: shop/live}
      rescue:
        - ansible.builtin.set_fact: {restore_refused: "{{ ansible_failed_result }}"}
    - block:
        - divio.cloud.backup_copy: {application: shop, environment: live, target_environment: test, confirm: shop/test}
      rescue:
        - ansible.builtin.set_fact: {copy_refused: "{{ ansible_failed_result }}"}
    - divio.cloud.backup: {application: "{{ shop_id }}", environment: live, wait: false}
      register: backup_by_id
    - divio.cloud.deployment: {application: wiki, environment: "{{ wiki_live_id }}", wait: false}
      register: deployment_by_id
    - ansible.builtin.set_fact:
        out:
          environments: "{{ environments }}"
          backups: "{{ backups }}"
          deployments: "{{ deployments }}"
          looked_up: "{{ looked_up }}"
          refused: ["{{ backup_refused }}", "{{ deployment_refused }}", "{{ restore_refused }}", "{{ copy_refused }}"]
          backup_by_id: "{{ backup_by_id }}"
          deployment_by_id: "{{ deployment_by_id }}"
"""


def listed(sim, path, **params):
    response = requests.get(sim.url + APPS + path, params=params, headers={"Authorization": "Token " + TOKEN}, timeout=10)
    response.raise_for_status()
    return response.json()["results"]


def test_ambiguous_slugs_warn_in_reads_and_stop_writes(run_playbook):
    with private_simulator(renamed_slugs={"blog": "shop", "wiki/test": "live"}, backup_duration_seconds=0.2,
                           deployments={"duration_seconds": 0.2}) as sim:
        shops = listed(sim, "applications/", slug="shop")
        [wiki] = listed(sim, "applications/", slug="wiki")
        wiki_lives = [env for env in listed(sim, "environments/", application=wiki["uuid"]) if env["slug"] == "live"]
        assert len(shops) == 2 and shops[0]["organisation"] != shops[1]["organisation"] and len(wiki_lives) == 2
        run = run_playbook(play(TASKS), env={"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN},
                           extra_vars={"shop_id": shops[1]["uuid"], "wiki_live_id": wiki_lives[1]["uuid"]})
        posts = [path for method, path, _status in sim.requests if method == "POST"]
    assert run.rc == 0, run
    out, text = run.result, " ".join(run.output.split())  # ansible-core 2.16 wraps warning lines
    app_ids, env_ids = [app["uuid"] for app in shops], [env["uuid"] for env in wiki_lives]
    # Reads: a warning naming every match (and each application's organisation), the first one used.
    assert "application 'shop' names 2 applications: %s (organisation %s), %s (organisation %s); using %s" % (
        app_ids[0], shops[0]["organisation"], app_ids[1], shops[1]["organisation"], app_ids[0]) in text
    assert "environment 'live' of application 'wiki' names 2 environments: %s, %s; using %s" % (
        env_ids[0], env_ids[1], env_ids[0]) in text
    assert any("name the application by its id" in warning for warning in out["environments"]["warnings"])
    assert {env["application"] for env in out["environments"]["environments"]} == {app_ids[0]}
    assert {entry["application"] for entry in out["backups"]["backups"]} <= {app_ids[0]}
    assert {entry["environment"] for entry in out["deployments"]["deployments"]} == {env_ids[0]}
    assert {env["application"] for env in out["looked_up"]} == {app_ids[0]}
    # Writes: refused, naming the matches, nothing sent.
    backup, deployment, restore, copy = out["refused"]
    for refused, ids in ((backup, app_ids), (deployment, env_ids), (restore, app_ids), (copy, app_ids)):
        assert refused["error"] == "AmbiguousNameError", refused
        assert "this task changes something, so nothing was done: name the" in refused["msg"]
        assert all(uuid in refused["msg"] for uuid in ids)
    # Named by id, the same tasks do their work.
    assert out["backup_by_id"]["changed"] is True and out["deployment_by_id"]["changed"] is True
    assert out["deployment_by_id"]["deployment"]["environment"] == env_ids[1]
    assert posts == [APPS + "backups/", APPS + "deployments/"]
    assert TOKEN not in run.output


def test_the_client_layer_notes_or_raises_with_every_match():
    """Below Ansible: a look-up notes a warning on the client (shown by the task), or raises ``AmbiguousNameError``
    with the ids once the client refuses ambiguous names; a unique slug or an id notes nothing."""
    with private_simulator(renamed_slugs={"blog": "shop", "wiki/test": "live"}) as sim:
        shops = listed(sim, "applications/", slug="shop")
        with DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}) as client:
            assert get_application(client, "shop")["uuid"] == shops[0]["uuid"]
            assert get_environment(client, "wiki", "live")["slug"] == "live"
            warnings = name_warnings(client)
            assert len(warnings) == 2 and all(app["uuid"] in warnings[0] for app in shops)
            get_application(client, "shop")
            assert len(name_warnings(client)) == 2  # the same warning once
            refuse_ambiguous_names(client)
            with pytest.raises(AmbiguousNameError) as caught:
                get_application(client, "shop")
            assert caught.value.details["matches"] == [app["uuid"] for app in shops]
            with pytest.raises(AmbiguousNameError, match="environment 'live' of application 'wiki' names 2 environments"):
                get_environment(client, "wiki", "live")
            other = get_application(client, shops[1]["uuid"])
            assert other["uuid"] == shops[1]["uuid"] and get_environment(client, other, "live")["application"] == other["uuid"]
            assert get_application(client, "crm")["slug"] == "crm" and len(name_warnings(client)) == 2
