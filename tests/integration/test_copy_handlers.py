"""backup_copy and backup_upload through each upload handler against real storage: ``exo-presigned-v1`` on the
simulator's object storage, ``s3-sts-v1`` on moto (boto3 reaching it through ``AWS_ENDPOINT_URL_S3``),
``az-sas-v1`` on Azurite; the simulator's upload faults; a missing optional library; the module for real with each
handler. The restore's record (``sim.restored()``) proves the target now holds the source's bytes."""

import hashlib
import os
import time

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.copies import CopyOptions, copy_backup
from ansible_collections.divio.cloud.plugins.module_utils.errors import UploadError
from ansible_collections.divio.cloud.plugins.module_utils.uploads import require_handlers
from divio_simulator.downloads import part_file

from testlib import TOKEN, play, private_simulator

HANDLERS = ("exo-presigned-v1", "s3-sts-v1", "az-sas-v1")
UPLOAD = "/apps/v3/backups/upload/"
FAST = dict(restores={"duration_seconds": 0.05}, backup_duration_seconds=0.05, downloads={"duration_seconds": 0.05})


def short_sleep(seconds):
    """The finish_url back-off and the polls, shortened: the simulator's jobs take 0.05 s."""
    time.sleep(min(seconds, 0.02))


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """boto3 with no profile or config of this machine; the endpoint comes from AWS_ENDPOINT_URL_S3."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    return monkeypatch


@pytest.fixture
def simulator_for(upload_standins, aws_env):
    """``simulator_for(handler, **settings)``: a private simulator handing out ``handler``, its stand-in attached."""
    def start(handler, **uploads):
        standins = upload_standins(handler)
        if "s3" in standins:
            aws_env.setenv("AWS_ENDPOINT_URL_S3", standins["s3"].endpoint)
        return private_simulator(uploads=dict({"handler": handler}, **uploads), **dict(FAST, **standins))
    return start


def posts(sim):
    return ["finish" if path.startswith(UPLOAD) and "/finish/" in path else path.split("?")[0]
            for method, path, _status in sim.requests if method == "POST"]


def copy(sim, **kwargs):
    args = dict(target_environment="test", confirm="blog/test", poll_interval=0.02)
    args.update(kwargs)
    with DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}) as client:
        return copy_backup(client, "blog", "live", CopyOptions(**args), sleep=short_sleep)


def environment_uuid(sim, app_slug, env_slug):
    ds = sim.dataset
    app = next(a for a in ds.applications if a["slug"] == app_slug)
    return next(e["uuid"] for e in ds.environments if e["application"] == app["uuid"] and e["slug"] == env_slug)


def assert_target_holds_source(sim, result, app_slug="blog", env_slug="test"):
    """The restore put the source part's bytes - the same sha256 - into the target environment."""
    [part] = result["parts"]
    source = part_file(sim.dataset, sim.dataset.by_uuid["service_instance_backups"][part["source_part"]], None)[0]
    [applied] = sim.restored(environment_uuid(sim, app_slug, env_slug))
    assert applied["uploaded"] is True and applied["restore"] == result["restore"]["uuid"]
    assert applied["service_instance"] == part["target_service_instance"]
    assert applied["sha256"] == part["sha256"] == hashlib.sha256(source).hexdigest()
    assert applied["size"] == part["bytes"] == len(source)


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("services", [["DATABASE"], ["STORAGE"]])
def test_live_to_test_through_each_handler(simulator_for, handler, services):
    with simulator_for(handler) as sim:
        result = copy(sim, services=services)
        assert posts(sim) == ["/apps/v3/backup-downloads/", "/apps/v3/backups/", UPLOAD, "finish",
                              "/apps/v3/backup-restores/"]
        assert result["parts"][0]["handler"] == handler
        assert_target_holds_source(sim, result)
        # finish_url is on the API's host, but gets neither the token nor a cookie.
        [finish] = sim.upload_jobs.finish_calls
        assert finish["status"] == 200 and finish["authorization"] is False and finish["cookie"] is False


@pytest.mark.parametrize("handler", HANDLERS)
def test_cross_application_through_each_handler(simulator_for, handler):
    with simulator_for(handler) as sim:
        result = copy(sim, target_application="portal", confirm="portal/test")
        assert_target_holds_source(sim, result, "portal", "test")


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("fault, words", [
    ("refused-put", "refused|answered HTTP 403"),
    ("expired-credential", "refused|answered HTTP 403"),
    ("missing-object", "POST finish_url .* answered HTTP 400"),
    ("finish-5xx", "POST finish_url .* got HTTP 503 4 times"),
])
def test_upload_faults_name_the_step_and_the_safety_backup(simulator_for, handler, fault, words):
    with simulator_for(handler, fault=fault) as sim:
        with pytest.raises(UploadError, match=words) as caught:
            copy(sim)
        message = str(caught.value)
        assert "Done before it: safety backup " in message and "upload backup " in message and handler in message
        assert "/apps/v3/backup-restores/" not in posts(sim) and sim.restored() == []
        assert TOKEN not in message


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_finish_url_that_fails_twice_is_retried(simulator_for, handler):
    with simulator_for(handler, finish_failures=2) as sim:
        result = copy(sim)
        assert posts(sim).count("finish") == 3
        assert_target_holds_source(sim, result)


def test_an_upload_backup_ending_in_failure_is_named(simulator_for):
    with simulator_for("s3-sts-v1", outcome="FAILURE") as sim:
        with pytest.raises(UploadError, match="uploaded backup .* of blog/test ended FAILURE") as caught:
            copy(sim)
        assert "Done before it: safety backup " in str(caught.value) and sim.restored() == []


@pytest.mark.parametrize("handler, package, module", [
    ("s3-sts-v1", "boto3", "boto3"),
    ("az-sas-v1", "azure-storage-blob", "azure"),
])
def test_a_missing_library_fails_after_the_safety_backup_and_before_any_byte(run_playbook, upload_standins, tmp_path,
                                                                             handler, package, module):
    # The module's Python without the package: a directory first on its path whose package of that name fails to
    # import, as a missing one does (the simulator, in this process, keeps its own).
    shadow = tmp_path / "without" / module
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(%r)\n" % ("No module named %r" % module))
    standins = upload_standins(handler)
    with private_simulator(uploads={"handler": handler}, **dict(FAST, **standins)) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN, "PYTHONPATH": str(shadow.parent)}
        tasks = """
    - name: Copy
      divio.cloud.backup_copy: {application: blog, environment: live, target_environment: test, confirm: blog/test,
                                poll_interval: 0.05}
      register: out
      ignore_errors: true
"""
        run = run_playbook(play(tasks), env=env)
        assert run.rc == 0, run
        assert run.result["failed"] is True and run.result.get("error") == "UploadError", run.result
        assert "needs the Python library %s where the task runs: pip install %s. Nothing was uploaded" % (
            package, package) in run.result["msg"]
        assert "Done before it: safety backup " in run.result["msg"]
        assert posts(sim) == ["/apps/v3/backup-downloads/", "/apps/v3/backups/", UPLOAD]
        assert not sim.upload_jobs.files


def test_an_unknown_handler_is_named():
    with pytest.raises(UploadError, match="upload handler 'gcs-signed-v9', which this collection does not know"):
        require_handlers({"i": {"handler": "gcs-signed-v9"}}, "b1")


@pytest.mark.parametrize("handler", HANDLERS)
def test_module_copies_through_each_handler(run_playbook, upload_standins, handler):
    standins = upload_standins(handler)
    with private_simulator(uploads={"handler": handler}, **dict(FAST, **standins)) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        if "s3" in standins:
            env["AWS_ENDPOINT_URL_S3"] = standins["s3"].endpoint
        tasks = """
    - name: Copy
      divio.cloud.backup_copy: {application: blog, environment: live, target_environment: test, confirm: blog/test,
                                poll_interval: 0.05}
      register: out
"""
        run = run_playbook(play(tasks), env=env, args=["-vvvv"])
        assert run.rc == 0, run
        assert TOKEN not in run.output
        assert run.result["parts"][0]["handler"] == handler
        assert_target_holds_source(sim, run.result)
