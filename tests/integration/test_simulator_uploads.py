"""The simulator's backup uploads (uploads.py): the ``exo-presigned-v1`` flow divio-cli 4.0.5 uses, and what the
object storage and the API refuse, over real HTTP."""

import time

import pytest
import requests

from testlib import TOKEN, private_simulator

UPLOAD = "/apps/v3/backups/upload/"


@pytest.fixture
def api():
    session = requests.Session()
    session.headers["Authorization"] = "Token " + TOKEN
    yield session
    session.close()


@pytest.fixture
def bare():
    """A client without credentials of any kind (no netrc either), as the object storage should be spoken to."""
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


def instances(sim, app_slug="blog", env_slug="test"):
    ds = sim.dataset
    app = next(a for a in ds.applications if a["slug"] == app_slug)
    env = next(e for e in ds.environments if e["application"] == app["uuid"] and e["slug"] == env_slug)
    return env, {si["type"]: si for si in ds.lookup("service_instances", "environment", env["uuid"])}


def start_upload(sim, api, kinds=("DATABASE",)):
    env, by_type = instances(sim)
    services = [by_type[kind]["uuid"] for kind in kinds]
    made = api.post(sim.url + UPLOAD, json={"environment": env["uuid"], "services": services, "notes": "Divio CLI push",
                                            "scheduled_for_deletion_at": "2099-01-01T00:00:00+00:00"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert sorted(body["results"]) == sorted(services)
    return body, [body["results"][uuid] for uuid in services]


def backup_of(sim, api, uuid):
    return api.get(sim.url + "/apps/v3/backups/%s/" % uuid).json()


def wait_completed(sim, api, uuid):
    for _try in range(50):
        backup = backup_of(sim, api, uuid)
        if backup["state"] == "COMPLETED":
            return backup
        time.sleep(0.1)
    raise AssertionError("backup %s did not complete" % uuid)


def test_upload_put_finish_then_the_backup_runs_with_the_files_sizes(api, bare):
    with private_simulator(backup_duration_seconds=0.3) as sim:
        body, (db, media) = start_upload(sim, api, ("DATABASE", "STORAGE"))
        for result in (db, media):
            params = result["upload_parameters"]
            assert result["handler"] == "exo-presigned-v1" and params["http_method"] == "PUT"
            assert params["url"].startswith(sim.storage.main.url + "/objects/") and "Signature=" in params["url"]
            assert params["max_file_size"] == 32 * 1024 * 1024 and result["finish_url"].startswith(sim.url)
        backup = backup_of(sim, api, body["uuid"])
        assert (backup["state"], backup["notes"]) == ("NEW", "Divio CLI push")
        dump, archive = b"PGDMP" + bytes(range(256)) * 7, b"\x1f\x8b" + bytes(3000)
        assert bare.put(db["upload_parameters"]["url"], data=dump, timeout=10).status_code == 200
        assert bare.post(db["finish_url"], timeout=10).json() == {"uuid": body["uuid"]}
        # One part's file is in; the backup waits for the other.
        time.sleep(0.4)
        assert backup_of(sim, api, body["uuid"])["state"] == "NEW"
        response = bare.put(media["upload_parameters"]["url"], data=archive, timeout=10)
        assert response.status_code == 200 and response.headers["ETag"].startswith('"')
        assert bare.post(media["finish_url"], timeout=10).status_code == 200
        backup = wait_completed(sim, api, body["uuid"])
        assert backup["success"] == "SUCCESS"
        parts = [api.get(sim.url + "/apps/v3/service-instance-backups/%s/" % uuid).json()
                 for uuid in backup["service_instance_backups"]]
        assert [(p["service_type"], p["size"], p["errors"]) for p in parts] == [
            ("DATABASE", len(dump), []), ("STORAGE", len(archive), [])]
        assert list(sim.upload_jobs.files.values()) == [dump, archive]
        # Finishing again changes nothing; the finished part's URL takes no new file.
        assert bare.post(db["finish_url"], timeout=10).status_code == 200
        assert bare.put(db["upload_parameters"]["url"], data=b"other", timeout=10).status_code == 403
        assert sim.upload_jobs.files[parts[0]["uuid"]] == dump
        # The uploaded backup is restored like any other.
        restore = api.post(sim.url + "/apps/v3/backup-restores/", json={
            "backup": backup["uuid"], "service_instance_restores": [{"service_instance_backup": parts[0]["uuid"]}]})
        assert restore.status_code == 201, restore.text


def test_the_object_storage_refuses_what_s3_refuses(api, bare):
    with private_simulator(uploads={"max_file_size": 1000}) as sim:
        _body, [db] = start_upload(sim, api)
        url = db["upload_parameters"]["url"]
        assert db["upload_parameters"]["max_file_size"] == 1000

        def refused(response, status, code):
            assert (response.status_code, response.headers["Content-Type"]) == (status, "application/xml"), response.text
            assert "<Code>%s</Code>" % code in response.text

        refused(bare.put(url, data=b"x" * 1001, timeout=10), 400, "EntityTooLarge")
        refused(bare.put(url, data=b"x", headers={"Authorization": "Token " + TOKEN}, timeout=10), 400, "InvalidArgument")
        refused(bare.put(url.replace("Signature=", "Signature=0"), data=b"x", timeout=10), 403, "SignatureDoesNotMatch")
        refused(bare.put(url.split("?")[0], data=b"x", timeout=10), 403, "SignatureDoesNotMatch")
        expires = url.rsplit("Expires=", 1)[1]
        refused(bare.put(url.replace("Expires=" + expires, "Expires=%d" % (int(expires) + 1)), data=b"x", timeout=10),
                403, "SignatureDoesNotMatch")  # the expiry is signed too
        refused(bare.put(url, data=iter([b"x"]), timeout=10), 411, "MissingContentLength")  # chunked: no length
        # The third origin (redirect target) takes no uploads.
        third = url.replace(sim.storage.main.url, sim.storage.third.url)
        assert bare.put(third, data=b"x", timeout=10).status_code == 405
        assert sim.upload_jobs.files == {}
        # Exactly the limit is fine.
        assert bare.put(url, data=b"x" * 1000, timeout=10).status_code == 200
        # Every request was recorded; only one carried an Authorization header, and it was refused.
        assert [r["authorization"] for r in sim.storage.requests()].count(True) == 1


def test_an_expired_upload_url_is_refused(api, bare, monkeypatch):
    with private_simulator() as sim:
        _body, [db] = start_upload(sim, api)
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 3601)
        response = bare.put(db["upload_parameters"]["url"], data=b"x", timeout=10)
        assert response.status_code == 403 and "<Code>AccessDenied</Code>" in response.text
        assert "expired" in response.text


def test_the_api_side_refusals(api, bare):
    with private_simulator() as sim:
        env, by_type = instances(sim)
        # divio-cli 4.0.5 got a 405 here before uploads existed; a GET still gets one.
        got = api.get(sim.url + UPLOAD)
        assert got.status_code == 405 and got.headers["Allow"] == "POST"
        assert bare.post(sim.url + UPLOAD, json={}).status_code == 401  # the upload request itself needs the token
        bad = api.post(sim.url + UPLOAD, json={"environment": env["uuid"], "services": []})
        assert bad.status_code == 400 and bad.json() == {"services": ["This list may not be empty."]}
        other_env = next(e for e in sim.dataset.environments if e["uuid"] != env["uuid"])
        bad = api.post(sim.url + UPLOAD, json={"environment": other_env["uuid"], "services": [by_type["DATABASE"]["uuid"]]})
        assert bad.status_code == 400 and "services" in bad.json()
        twice = [by_type["DATABASE"]["uuid"]] * 2
        bad = api.post(sim.url + UPLOAD, json={"environment": env["uuid"], "services": twice})
        assert bad.status_code == 400 and bad.json() == {"services": ["Each service instance may be named once."]}
        assert api.post(sim.url + UPLOAD, data="not json", headers={"Content-Type": "application/json"}).status_code == 400
        body, [db] = start_upload(sim, api)
        # Finishing before the file is in is refused; so is a finish_url with another signature.
        early = bare.post(db["finish_url"], timeout=10)
        assert early.status_code == 400 and "No file was uploaded" in early.json()["detail"]
        assert bare.post(db["finish_url"].replace("signature=", "signature=0"), timeout=10).status_code == 403
        assert bare.post(sim.url + UPLOAD + "nosuchpart/finish/", timeout=10).status_code == 404
        assert backup_of(sim, api, body["uuid"])["state"] == "NEW"
