"""The simulator's three upload handlers against real storage (uploads.py, standins.py): ``exo-presigned-v1`` on the
simulator's own object storage, ``s3-sts-v1`` on moto's S3 with temporary credentials from its STS, ``az-sas-v1``
on Azurite with a SAS; each upload made the way divio-cli 4.0.5 makes it (requests PUT, boto3 ``upload_file``
through ``AWS_ENDPOINT_URL_S3``, ``BlobClient.from_blob_url(...).upload_blob``). Plus the upload faults, the
restore's record of the bytes it put where, and the fidelity fixes of the object storage (its own loopback
address, two auth mechanisms refused on a download, media archives with their entries at the root)."""

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import boto3
import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobClient
from botocore.exceptions import ClientError

from divio_simulator.downloads import media_archive
from testlib import TOKEN, private_simulator

UPLOAD = "/apps/v3/backups/upload/"
SIMULATOR = Path(__file__).resolve().parent / "simulator.py"
HANDLERS = ("exo-presigned-v1", "s3-sts-v1", "az-sas-v1")


@pytest.fixture
def api():
    session = requests.Session()
    session.headers["Authorization"] = "Token " + TOKEN
    session.trust_env = False
    yield session
    session.close()


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """boto3 as divio-cli runs it: no profile or config of this machine, the endpoint from AWS_ENDPOINT_URL_S3."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    return monkeypatch


def environment(sim, app_slug="blog", env_slug="test"):
    ds = sim.dataset
    app = next(a for a in ds.applications if a["slug"] == app_slug)
    env = next(e for e in ds.environments if e["application"] == app["uuid"] and e["slug"] == env_slug)
    return env, {si["type"]: si for si in ds.lookup("service_instances", "environment", env["uuid"])}


def start_upload(sim, api, kind="DATABASE", env_slug="test"):
    env, by_type = environment(sim, env_slug=env_slug)
    made = api.post(sim.url + UPLOAD, json={"environment": env["uuid"], "services": [by_type[kind]["uuid"]],
                                            "notes": "Divio CLI push", "scheduled_for_deletion_at": "2099-01-01T00:00:00+00:00"})
    assert made.status_code == 201, made.text
    body = made.json()
    return body["uuid"], body["results"][by_type[kind]["uuid"]]


def send(result, data, aws_env=None, moto=None):
    """Upload ``data`` the way divio-cli 4.0.5 does for the result's handler; raises what the client raises."""
    handler, params = result["handler"], result["upload_parameters"]
    if handler == "exo-presigned-v1":
        bare = requests.Session()
        bare.trust_env = False
        response = bare.put(params["url"], data=data, timeout=30)
        response.raise_for_status()
    elif handler == "s3-sts-v1":
        aws_env.setenv("AWS_ENDPOINT_URL_S3", moto.endpoint)
        client = boto3.client("s3", aws_access_key_id=params["aws_access_key_id"],
                              aws_secret_access_key=params["aws_secret_access_key"],
                              aws_session_token=params["aws_session_token"])
        client.upload_fileobj(io.BytesIO(data), params["bucket"], params["key"])
    else:
        BlobClient.from_blob_url(params["url"]).upload_blob(io.BytesIO(data), overwrite=True, max_concurrency=10)


def finish(result):
    return requests.post(result["finish_url"], timeout=30)


def backup_of(sim, api, uuid):
    return api.get(sim.url + "/apps/v3/backups/%s/" % uuid).json()


def completed(sim, api, uuid):
    """The backup once it has ended, else None."""
    backup = backup_of(sim, api, uuid)
    return backup if backup["state"] == "COMPLETED" else None


def wait(check, what, seconds=10):
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("%s did not happen within %s s" % (what, seconds))


@pytest.mark.parametrize("handler", HANDLERS)
def test_each_handler_takes_an_upload_that_a_restore_puts_into_the_target(handler, api, upload_standins, aws_env):
    with private_simulator(backup_duration_seconds=0.2, restores={"duration_seconds": 0.1},
                           uploads={"handler": handler}, **upload_standins(handler)) as sim:
        backup_uuid, result = start_upload(sim, api)
        assert result["handler"] == handler
        assert not requests.utils.urlparse(result["finish_url"]).query.count("Token")
        data = b"PGDMP" + os.urandom(200000)
        send(result, data, aws_env, sim.upload_jobs.standins.get("s3"))
        assert backup_of(sim, api, backup_uuid)["state"] == "NEW"  # held until the finish
        assert finish(result).json() == {"uuid": backup_uuid}
        backup = wait(lambda: completed(sim, api, backup_uuid), "the backup's end")
        [part_uuid] = backup["service_instance_backups"]
        part = api.get(sim.url + "/apps/v3/service-instance-backups/%s/" % part_uuid).json()
        assert (backup["success"], part["size"]) == ("SUCCESS", len(data))
        assert sim.upload_jobs.files[part_uuid] == data  # read back from the storage that took it
        restore = api.post(sim.url + "/apps/v3/backup-restores/", json={
            "backup": backup_uuid, "service_instance_restores": [{"service_instance_backup": part_uuid}]})
        assert restore.status_code == 201, restore.text
        env, by_type = environment(sim)
        [applied] = wait(lambda: api.get(sim.url + "/apps/v3/backup-restores/%s/" % restore.json()["uuid"]).json()["finished"]
                         and sim.restored(env["uuid"]), "the restore's end")
        assert applied == {"restore": restore.json()["uuid"], "environment": env["uuid"],
                           "service_instance": by_type["DATABASE"]["uuid"], "service_instance_backup": part_uuid,
                           "uploaded": True, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_s3_multipart_upload_and_credentials_scoped_to_one_key(api, moto_s3, aws_env):
    """boto3 goes multipart from 8 MiB; the credentials work for their key alone, and only with their secret."""
    with private_simulator(backup_duration_seconds=0.1, uploads={"handler": "s3-sts-v1"}, s3=moto_s3) as sim:
        _uuid, result = start_upload(sim, api)
        params = result["upload_parameters"]
        data = os.urandom(9 * 1024 * 1024)
        send(result, data, aws_env, moto_s3)
        assert finish(result).status_code == 200 and sim.upload_jobs.files[next(iter(sim.upload_jobs.files))] == data

        def client(secret=params["aws_secret_access_key"], token=params["aws_session_token"]):
            return boto3.client("s3", aws_access_key_id=params["aws_access_key_id"], aws_secret_access_key=secret,
                                aws_session_token=token)

        for attempt, code in ((lambda: client().put_object(Bucket=params["bucket"], Key="other", Body=b"x"), "AccessDenied"),
                              (lambda: client(secret="wrong").put_object(Bucket=params["bucket"], Key=params["key"], Body=b"x"),
                               "SignatureDoesNotMatch"),
                              (lambda: client(token="wrong").put_object(Bucket=params["bucket"], Key=params["key"], Body=b"x"),
                               "InvalidToken")):
            with pytest.raises(ClientError) as refused:
                attempt()
            assert refused.value.response["Error"]["Code"] == code


def test_a_sas_is_for_its_one_blob(api, azurite):
    with private_simulator(uploads={"handler": "az-sas-v1"}, azure=azurite) as sim:
        _uuid, result = start_upload(sim, api)
        url = result["upload_parameters"]["url"]
        assert url.startswith(azurite.endpoint + "/devstoreaccount1/divio-uploads/") and "sig=" in url
        path, query = url.split("?", 1)
        with pytest.raises(HttpResponseError) as refused:
            BlobClient.from_blob_url(path + "-other?" + query).upload_blob(b"x", overwrite=True)
        assert refused.value.status_code == 403


def test_handlers_per_environment_and_the_stand_in_they_need(api, moto_s3):
    with private_simulator(s3=moto_s3, uploads={"handlers": {"blog/test": "s3-sts-v1"}}) as sim:
        assert start_upload(sim, api)[1]["handler"] == "s3-sts-v1"
        assert start_upload(sim, api, env_slug="live")[1]["handler"] == "exo-presigned-v1"
        live, _by_type = environment(sim, env_slug="live")
        sim.configure(uploads={"handler": "s3-sts-v1", "handlers": {live["uuid"]: "exo-presigned-v1"}})
        assert start_upload(sim, api)[1]["handler"] == "s3-sts-v1"
        assert start_upload(sim, api, env_slug="live")[1]["handler"] == "exo-presigned-v1"
        with pytest.raises(ValueError, match="uploads handler az-sas-v1 needs the Azurite stand-in"):
            sim.configure(uploads={"handler": "az-sas-v1"})
        with pytest.raises(ValueError, match="uploads handler 'gcs-v1' is unknown: expected one of exo-presigned-v1"):
            sim.configure(uploads={"handlers": {"blog/test": "gcs-v1"}})
        control = requests.post(sim.url + "/_simulator/config", json={"uploads": {"fault": "nope"}}, timeout=10)
        assert control.status_code == 400 and "uploads.fault must be null or one of" in control.json()["detail"]


def refusal(result, data, aws_env, moto):
    """The status code with which the handler's storage refused the upload (AssertionError if it took it)."""
    try:
        send(result, data, aws_env, moto)
    except requests.HTTPError as exc:
        return exc.response.status_code, exc.response.text
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"]
    except HttpResponseError as exc:
        return exc.status_code, exc.error_code
    raise AssertionError("the upload was taken")


@pytest.mark.parametrize("handler", HANDLERS)
@pytest.mark.parametrize("fault, code", [("refused-put", ("AccessDenied", "AuthorizationPermissionMismatch")),
                                         ("expired-credential", ("AccessDenied", "AuthorizationFailure"))])
def test_a_refused_or_expired_upload_is_refused_by_the_storage(handler, fault, code, api, upload_standins, aws_env):
    with private_simulator(uploads={"handler": handler, "fault": fault}, **upload_standins(handler)) as sim:
        backup_uuid, result = start_upload(sim, api)
        status, said = refusal(result, b"PGDMP" + bytes(1000), aws_env, sim.upload_jobs.standins.get("s3"))
        assert status == 403 and any(c in said for c in code), said
        refused = finish(result)
        assert refused.status_code == 400 and "No file was uploaded" in refused.json()["detail"]
        assert backup_of(sim, api, backup_uuid)["state"] == "NEW" and sim.upload_jobs.files == {}


@pytest.mark.parametrize("handler", HANDLERS)
def test_an_object_missing_at_finish_leaves_the_backup_not_started(handler, api, upload_standins, aws_env):
    with private_simulator(backup_duration_seconds=0.1, uploads={"handler": handler, "fault": "missing-object"},
                           **upload_standins(handler)) as sim:
        backup_uuid, result = start_upload(sim, api)
        send(result, b"PGDMP" + bytes(1000), aws_env, sim.upload_jobs.standins.get("s3"))
        refused = finish(result)
        assert refused.status_code == 400 and "No file was uploaded" in refused.json()["detail"]
        time.sleep(0.3)
        assert backup_of(sim, api, backup_uuid)["state"] == "NEW" and sim.upload_jobs.files == {}


def test_finish_url_answering_5xx_leaves_the_backup_not_started_and_a_retry_gets_through(api):
    data = b"PGDMP" + bytes(1000)
    with private_simulator(backup_duration_seconds=0.1, uploads={"fault": "finish-5xx"}) as sim:
        backup_uuid, result = start_upload(sim, api)
        send(result, data)
        assert [finish(result).status_code for _try in range(3)] == [503] * 3
        time.sleep(0.3)
        assert backup_of(sim, api, backup_uuid)["state"] == "NEW"
        sim.configure(uploads={"finish_failures": 2})
        backup_uuid, result = start_upload(sim, api)
        send(result, data)
        assert [finish(result).status_code for _try in range(3)] == [503, 503, 200]
        wait(lambda: backup_of(sim, api, backup_uuid)["state"] == "COMPLETED", "the backup's end")
        # Each finish_url POST is recorded, with whether credentials came along (none here).
        assert [(c["status"], c["authorization"], c["cookie"]) for c in sim.upload_jobs.finish_calls] == \
            [(503, False, False)] * 5 + [(200, False, False)]
        api.post(result["finish_url"])
        assert sim.upload_jobs.finish_calls[-1]["authorization"] is True


def test_an_upload_backup_can_fail_while_other_backups_succeed(api):
    with private_simulator(backup_duration_seconds=0.1, uploads={"outcome": "FAILURE"}) as sim:
        env, by_type = environment(sim)
        safety = api.post(sim.url + "/apps/v3/backups/",
                          json={"environment": env["uuid"], "services": [by_type["DATABASE"]["uuid"]]}).json()
        backup_uuid, result = start_upload(sim, api)
        send(result, b"PGDMP" + bytes(1000))
        assert finish(result).status_code == 200
        failed = wait(lambda: completed(sim, api, backup_uuid), "the upload backup's end")
        assert failed["success"] == "FAILURE"
        assert wait(lambda: backup_of(sim, api, safety["uuid"])["success"], "the safety backup's end") == "SUCCESS"


# -- fidelity of the object storage ------------------------------------------------------------------

def test_the_object_storage_listens_on_another_loopback_address_than_the_api(api):
    with private_simulator() as sim:
        assert sim.url.startswith("http://127.0.0.1:")
        assert sim.storage.main.url.startswith("http://127.0.0.2:") and sim.storage.third.url.startswith("http://127.0.0.2:")
        _uuid, result = start_upload(sim, api)
        assert result["upload_parameters"]["url"].startswith("http://127.0.0.2:")


def download_url(sim, api, kind, env_slug="live"):
    env, by_type = environment(sim, env_slug=env_slug)
    backup = next(b for b in sim.dataset.lookup("backups", "environment", env["uuid"]) if b["success"] == "SUCCESS")
    part = next(p for p in backup["service_instance_backups"]
                if sim.dataset.by_uuid["service_instance_backups"][p]["service_instance"] == by_type[kind]["uuid"])
    made = api.post(sim.url + "/apps/v3/backup-downloads/", json={"backup": backup["uuid"], "service_instance_backups": [part]})
    assert made.status_code == 201, made.text
    parts = "/apps/v3/backup-download-service-instances/?backup=" + made.json()["uuid"]
    ready = wait(lambda: [p for p in api.get(sim.url + parts).json()["results"] if p["download_url"]], "the download")
    return backup["uuid"], part, ready[0]["download_url"]


def test_a_download_carrying_an_authorization_header_is_refused_like_s3_does(api):
    with private_simulator(downloads={"duration_seconds": 0}) as sim:
        _backup, _part, url = download_url(sim, api, "DATABASE")
        bare = requests.Session()
        bare.trust_env = False
        refused = bare.get(url, headers={"Authorization": "Token " + TOKEN}, timeout=10)
        assert refused.status_code == 400 and "<Code>InvalidArgument</Code>" in refused.text
        assert bare.get(url, timeout=10).content[:5] == b"PGDMP"


def test_media_archives_hold_their_entries_at_the_root():
    with tarfile.open(fileobj=io.BytesIO(media_archive({"uuid": "x"}))) as tar:
        names = sorted(tar.getnames())
    assert names == ["images/logo.png", "uploads/notes.txt", "uploads/report.pdf"]


def test_a_restore_records_the_bytes_a_download_of_that_part_serves(api):
    """Live's own backup restored into live: the record's sha256 is that of the file its download serves."""
    with private_simulator(downloads={"duration_seconds": 0}, restores={"duration_seconds": 0}) as sim:
        backup, part, url = download_url(sim, api, "DATABASE")
        served = requests.get(url, timeout=10).content
        made = api.post(sim.url + "/apps/v3/backup-restores/", json={
            "backup": backup, "service_instance_restores": [{"service_instance_backup": part}]})
        assert made.status_code == 201
        live, _by_type = environment(sim, env_slug="live")
        [applied] = wait(lambda: api.get(sim.url + "/apps/v3/backup-restores/%s/" % made.json()["uuid"]).json()["finished"]
                         and sim.restored(live["uuid"]), "the restore's end")
        assert (applied["uploaded"], applied["sha256"]) == (False, hashlib.sha256(served).hexdigest())
        assert sim.restored(environment(sim)[0]["uuid"]) == []


def test_the_command_line_starts_the_stand_ins_and_stops_them(tmp_path, api):
    url_file = tmp_path / "url"
    proc = subprocess.Popen([sys.executable, str(SIMULATOR), "--port", "0", "--size", "tiny", "--token", TOKEN,
                             "--url-file", str(url_file), "--upload-handler", "az-sas-v1", "--upload-standins"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait(url_file.exists, "the simulator's start", 60)
        lines = [proc.stdout.readline().strip() for _line in range(3)]  # printed before the URL file was written
        url = url_file.read_text().strip()
        sim_env = requests.get(url + "/apps/v3/environments/", headers={"Authorization": "Token " + TOKEN}, timeout=10)
        env = sim_env.json()["results"][0]
        instance = api.get(url + "/apps/v3/service-instances/?environment=" + env["uuid"]).json()["results"][0]
        made = api.post(url + UPLOAD, json={"environment": env["uuid"], "services": [instance["uuid"]]}).json()
        assert made["results"][instance["uuid"]]["handler"] == "az-sas-v1"
        switched = requests.post(url + "/_simulator/config", json={"uploads": {"handler": "s3-sts-v1"}}, timeout=10)
        assert switched.status_code == 200
    finally:
        proc.terminate()
        _out, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in stderr, stderr
    assert lines[0] == "Divio API simulator listening on " + url
    moto = lines[1].rsplit("=", 1)[1]
    assert lines[1] == "moto S3 for s3-sts-v1 uploads on %s: clients set AWS_ENDPOINT_URL_S3=%s" % (moto, moto)
    assert lines[2].startswith("Azurite for az-sas-v1 uploads on http://127.0.0.1:")
    for endpoint in (moto, lines[2].rsplit(" ", 1)[1]):  # both stopped with the simulator
        with pytest.raises(requests.ConnectionError):
            requests.get(endpoint, timeout=5)
