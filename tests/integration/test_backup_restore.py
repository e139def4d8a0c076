"""Restores: ``restore_backup`` (the backup_restore module's logic) and the module, over real HTTP against a
private simulator (restores and safety backups change its data)."""

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.errors import BackupFailed, InputError, RestoreFailed
from ansible_collections.divio.cloud.plugins.module_utils.restores import restore_backup

from testlib import TOKEN, play, private_simulator


@pytest.fixture
def rsim():
    with private_simulator(restores={"duration_seconds": 0.2}, backup_duration_seconds=0.2) as server:
        yield server


@pytest.fixture
def client(rsim):
    with DivioClient.from_options({"api_url": rsim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


def posts(sim):
    return [path for method, path, _status in sim.requests if method == "POST"]


def restore(client, **kwargs):
    args = dict(backup="latest", confirm="wiki/live", services=["DATABASE"], poll_interval=0.05)
    args.update(kwargs)
    return restore_backup(client, "wiki", "live", **args)


def test_restore_takes_a_safety_backup_first_and_waits(client, rsim):
    result = restore(client)
    assert posts(rsim) == ["/apps/v3/backups/", "/apps/v3/backup-restores/"]
    assert result["changed"] is True and result["restore"]["success"] == "SUCCESS" and result["restore"]["finished"]
    safety = rsim.dataset.by_uuid["backups"][result["safety_backup"]["uuid"]]
    assert safety["success"] == "SUCCESS" and "Safety backup before restoring backup %s" % result["backup"]["uuid"] in safety["notes"]
    restored = rsim.restore_jobs.restores[result["restore"]["uuid"]]
    assert restored["backup"] == result["backup"]["uuid"] != safety["uuid"]
    [part] = result["parts"]
    assert part["service_type"] == "DATABASE" and restored["service_instance_restores"] == [{"service_instance_backup": part["uuid"]}]


def test_without_safety_backup_and_all_parts(client, rsim):
    result = restore(client, services=None, safety_backup=False)
    assert posts(rsim) == ["/apps/v3/backup-restores/"] and result["safety_backup"] is None
    assert sorted(p["service_type"] for p in result["parts"]) == ["DATABASE", "STORAGE"]


@pytest.mark.parametrize("confirm", [None, "live", "wiki/test", "blog/live"])
def test_confirm_must_name_the_environment(client, rsim, confirm):
    with pytest.raises(InputError, match="confirm"):
        restore(client, confirm=confirm)
    assert posts(rsim) == []


def test_a_backup_of_another_environment_is_refused(client, rsim):
    ds = rsim.dataset
    wiki_live = next(e["uuid"] for e in ds.environments if e["slug"] == "live"
                     and ds.by_uuid["applications"][e["application"]]["slug"] == "wiki")
    other = next(b for b in ds.backups if b["environment"] != wiki_live and b["success"] == "SUCCESS")
    with pytest.raises(InputError, match="belongs to another environment"):
        restore(client, backup=other["uuid"])
    assert posts(rsim) == []


def test_check_mode_sends_nothing(client, rsim):
    result = restore(client, check_mode=True)
    assert result["changed"] is True and result["restore"] is None and result["parts"] and posts(rsim) == []


def test_a_failed_restore_names_restore_backup_environment_and_errors(client, rsim):
    rsim.configure(restores={"duration_seconds": 0, "outcome": "FAILURE"})
    with pytest.raises(RestoreFailed) as caught:
        restore(client)
    message = str(caught.value)
    restore_uuid = next(iter(rsim.restore_jobs.restores))
    assert "restore %s of backup " % restore_uuid in message and "into wiki/live ended FAILURE" in message
    assert "out of shared memory" in message and "The safety backup taken before it is " in message


def test_a_failed_safety_backup_stops_the_restore(client, rsim):
    rsim.configure(backup_outcome="FAILURE")
    with pytest.raises(BackupFailed, match="safety backup of wiki/live failed, so backup .* was not restored"):
        restore(client)
    assert posts(rsim) == ["/apps/v3/backups/"]


def test_module_restores(run_playbook):
    with private_simulator(restores={"duration_seconds": 0.1}, backup_duration_seconds=0.1) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        tasks = """
    - name: Check mode
      divio.cloud.backup_restore: {application: wiki, environment: live, backup: latest, confirm: wiki/live, poll_interval: 0.1}
      check_mode: true
      register: checked
    - name: Wrong confirm
      divio.cloud.backup_restore: {application: wiki, environment: live, backup: latest, confirm: live, poll_interval: 0.1}
      register: refused
      ignore_errors: true
    - name: Restore
      divio.cloud.backup_restore: {application: wiki, environment: live, backup: latest, confirm: wiki/live, poll_interval: 0.1}
      register: restored
    - ansible.builtin.set_fact:
        out: {checked: "{{ checked }}", refused: "{{ refused }}", restored: "{{ restored }}"}
"""
        run = run_playbook(play(tasks), env=env)
        assert run.rc == 0, run
        assert TOKEN not in run.output
        out = run.result
        assert out["checked"]["changed"] is True and out["checked"]["restore"] is None
        assert out["refused"]["failed"] is True and "expected 'wiki/live'" in out["refused"]["msg"]
        assert out["restored"]["restore"]["success"] == "SUCCESS" and out["restored"]["safety_backup"]["uuid"]
        assert posts(sim) == ["/apps/v3/backups/", "/apps/v3/backup-restores/"]
