"""Copies: ``copy_backup`` (the backup_copy module's logic) and the module, over real HTTP against a private simulator:
download and verify the source, safety backup of the target, upload, finish, wait, restore into the target."""

import hashlib

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.copies import CopyOptions, copy_backup
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    InputError,
    NotFoundError,
    RestoreFailed,
    UploadError,
    VerificationFailed,
)
from divio_simulator.downloads import part_file

from testlib import TOKEN, play, private_simulator

UPLOAD = "/apps/v3/backups/upload/"
FAST = dict(restores={"duration_seconds": 0.05}, backup_duration_seconds=0.05, downloads={"duration_seconds": 0.05})


@pytest.fixture
def csim():
    with private_simulator(**FAST) as server:
        yield server


@pytest.fixture
def client(csim):
    with DivioClient.from_options({"api_url": csim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


def posts(sim):
    """The POSTs the API saw, a finish_url as ``finish``."""
    return ["finish" if path.startswith(UPLOAD) and "/finish/" in path else path.split("?")[0]
            for method, path, _status in sim.requests if method == "POST"]


def copy(client, application="blog", environment="live", check_mode=False, **kwargs):
    args = dict(target_environment="test", confirm="blog/test", poll_interval=0.02)
    args.update(kwargs)
    return copy_backup(client, application, environment, CopyOptions(**args), check_mode=check_mode)


def instance_of(sim, app_slug, env_slug, kind, prefix="DEFAULT"):
    ds = sim.dataset
    app = next(a for a in ds.applications if a["slug"] == app_slug)
    env = next(e for e in ds.environments if e["application"] == app["uuid"] and e["slug"] == env_slug)
    return next(si for si in ds.lookup("service_instances", "environment", env["uuid"])
                if si["type"] == kind and si["prefix"] == prefix)


def source_bytes(sim, part_uuid, fault=None):
    return part_file(sim.dataset, sim.dataset.by_uuid["service_instance_backups"][part_uuid], fault)[0]


def check_landed(sim, result, app_slug, env_slug):
    """The restore put the uploaded part - the source's bytes - into the target's instance."""
    restore = sim.restore_jobs.restores[result["restore"]["uuid"]]
    [uploaded] = result["uploaded_backup"]["service_instance_backups"]
    assert restore["backup"] == result["uploaded_backup"]["uuid"]
    assert restore["service_instance_restores"] == [{"service_instance_backup": uploaded}]
    [part] = result["parts"]
    target = instance_of(sim, app_slug, env_slug, *part["target_service"].split(":"))
    assert sim.dataset.by_uuid["service_instance_backups"][uploaded]["service_instance"] == target["uuid"]
    received = sim.upload_jobs.files[uploaded]
    sent = source_bytes(sim, part["source_part"])
    assert received == sent and hashlib.sha256(sent).hexdigest() == part["sha256"] and part["bytes"] == len(sent)


def test_live_to_test_downloads_verifies_backs_up_uploads_and_restores(client, csim, tmp_path):
    result = copy(client, work_dir=str(tmp_path))
    assert posts(csim) == ["/apps/v3/backup-downloads/", "/apps/v3/backups/", UPLOAD, "finish", "/apps/v3/backup-restores/"]
    assert result["restore"]["success"] == "SUCCESS" and result["uploaded_backup"]["success"] == "SUCCESS"
    [part] = result["parts"]
    assert part["handler"] == "exo-presigned-v1" and part["format"] == "pg_custom" and part["verification"]["level"] == "read"
    assert result["source"]["backup"]["uuid"] and result["safety_backup"]["success"] == "SUCCESS"
    safety = csim.dataset.by_uuid["backups"][result["safety_backup"]["uuid"]]
    assert safety["environment"] == instance_of(csim, "blog", "test", "DATABASE")["environment"]
    assert "into blog/test" in result["msg"] and result["msg"].startswith("copied backup ")
    check_landed(csim, result, "blog", "test")
    # The storage saw one PUT, with no credentials; the private work directory is gone.
    [seen] = [r for r in csim.storage.requests() if r["method"] == "PUT"]
    assert seen["authorization"] is False and not seen["cookie"]
    assert list(tmp_path.iterdir()) == []


def test_media_copies_too(client, csim):
    result = copy(client, services=["STORAGE"])
    [part] = result["parts"]
    assert part["format"] == "tar_gzip" and part["service"] == "STORAGE:DEFAULT"
    check_landed(csim, result, "blog", "test")


def test_cross_application_copy(client, csim):
    result = copy(client, target_application="portal", confirm="portal/test")
    assert result["target"] == {"application": "portal", "environment": "test"}
    check_landed(csim, result, "portal", "test")


def test_a_corrupt_source_is_refused_with_nothing_uploaded_or_restored(client, csim):
    csim.configure(downloads={"duration_seconds": 0.05, "fault": "truncated"})
    with pytest.raises(VerificationFailed, match="Nothing was uploaded, backed up or restored"):
        copy(client)
    assert posts(csim) == ["/apps/v3/backup-downloads/"] and not csim.upload_jobs.files and not csim.restore_jobs.restores


@pytest.mark.parametrize("kwargs, environment, message", [
    (dict(confirm="blog/live"), "live", "confirm 'blog/live' does not name the environment to copy into: expected 'blog/test'"),
    (dict(confirm="test"), "live", "expected 'blog/test'"),
    (dict(target_environment="live", confirm="blog/live"), "test", "blog/live is a live environment"),
    (dict(target_environment="live", confirm="blog/live"), "live", "is the source environment"),
    (dict(target_application="wiki", confirm="wiki/test"), "live", "postgres-15.*mysql-8.*cannot be restored into mysql"),
])
def test_refusals_before_any_post(client, csim, kwargs, environment, message):
    with pytest.raises(InputError, match=message):
        copy(client, environment=environment, **kwargs)
    assert posts(csim) == []


@pytest.mark.parametrize("kwargs, message", [
    (dict(work_dir="/nonexistent/dir"), "work_dir '/nonexistent/dir' is not a directory"),
    (dict(verify="none"), "verify 'none' is not valid: expected read or restore"),
    (dict(prefix_map={"DEFAULT": 3}), "prefix_map .* is not valid"),
    (dict(prefix_map={"DEFAULT": "MAIN"}), "blog/test has no provisioned DATABASE:MAIN service instance"),
    (dict(upload_timeout=0), "upload_timeout 0 is not valid"),
])
def test_bad_options_fail_before_any_post(client, csim, kwargs, message):
    with pytest.raises(InputError, match=message):
        copy(client, **kwargs)
    assert posts(csim) == []


def test_a_source_without_such_a_backup_fails_before_any_post(client, csim):
    with pytest.raises(NotFoundError, match="blog/live has no qualifying backup holding DATABASE:OTHER"):
        copy(client, services=["DATABASE:OTHER"])
    assert posts(csim) == []


def test_a_live_target_with_allow_live(client, csim):
    result = copy(client, application="shop", environment="test", target_environment="live", confirm="shop/live",
                  allow_live=True)
    assert result["parts"][0]["format"] == "sql"  # a MySQL dump
    check_landed(csim, result, "shop", "live")


def test_check_mode_posts_nothing_and_says_what_would_be_copied_where(client, csim):
    result = copy(client, check_mode=True, services=["DATABASE", "STORAGE"])
    assert posts(csim) == [] and result["restore"] is None and result["uploaded_backup"] is None
    assert result["msg"].startswith("would copy backup %s of blog/live into blog/test (" % result["source"]["backup"]["uuid"])
    assert sorted(p["target_service"] for p in result["parts"]) == ["DATABASE:DEFAULT", "STORAGE:DEFAULT"]


def test_a_failed_restore_says_which_steps_happened(client, csim):
    csim.configure(restores={"duration_seconds": 0, "outcome": "FAILURE"})
    with pytest.raises(RestoreFailed) as caught:
        copy(client)
    message = str(caught.value)
    safety = next(b for b in csim.dataset.backups if "Safety backup before copying" in (b.get("notes") or ""))
    assert "ended FAILURE" in message and "Done before it: safety backup %s of blog/test was taken" % safety["uuid"] in message
    assert "upload backup " in message and "DATABASE:DEFAULT was sent" in message


def test_a_file_over_the_platforms_limit_is_refused_before_sending(client, csim):
    csim.configure(uploads={"max_file_size": 1000})
    with pytest.raises(UploadError, match="more than the 1000 bytes the platform accepts .*nothing was sent") as caught:
        copy(client)
    assert "Done before it: safety backup " in str(caught.value)
    assert not [r for r in csim.storage.requests() if r["method"] == "PUT"]
    assert "/apps/v3/backup-restores/" not in posts(csim)


def test_an_upload_backup_that_fails_is_named(client, csim):
    csim.configure(backup_outcome="FAILURE")
    with pytest.raises(UploadError, match="uploaded backup .* of blog/test ended FAILURE"):
        copy(client, safety_backup=False)
    assert "/apps/v3/backup-restores/" not in posts(csim)


def test_module_copies_and_check_mode(run_playbook):
    with private_simulator(**FAST) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        task = "{application: blog, environment: live, target_environment: test, confirm: blog/test, poll_interval: 0.05}"
        tasks = """
    - name: Check mode
      divio.cloud.backup_copy: %s
      check_mode: true
      register: checked
    - name: Live target refused
      divio.cloud.backup_copy: {application: blog, environment: test, target_environment: live, confirm: blog/live}
      register: refused
      ignore_errors: true
    - name: Copy
      divio.cloud.backup_copy: %s
      register: copied
    - ansible.builtin.set_fact:
        out: {checked: "{{ checked }}", refused: "{{ refused }}", copied: "{{ copied }}"}
""" % (task, task)
        run = run_playbook(play(tasks), env=env, args=["-vvvv"])
        assert run.rc == 0, run
        assert TOKEN not in run.output
        out = run.result
        assert out["checked"]["changed"] is True and out["checked"]["restore"] is None
        assert out["refused"]["failed"] is True and out["refused"]["error"] == "InputError"
        assert "is a live environment" in out["refused"]["msg"]
        assert out["copied"]["restore"]["success"] == "SUCCESS"
        assert posts(sim) == ["/apps/v3/backup-downloads/", "/apps/v3/backups/", UPLOAD, "finish",
                              "/apps/v3/backup-restores/"]
