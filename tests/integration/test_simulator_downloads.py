"""The simulator's backup downloads, object storage origins, restores and ids (downloads.py, restores.py): the
flow divio-cli 4.0.5 uses, the files, and every fault, over real HTTP."""

import gzip
import io
import struct
import tarfile
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
import urllib3

from testlib import TOKEN, private_simulator
from divio_simulator.downloads import pg_dump_dated


@pytest.fixture
def api():
    session = requests.Session()
    session.headers["Authorization"] = "Token " + TOKEN
    yield session
    session.close()


def good_backup(sim, kind="DATABASE", service="postgres"):
    """A successful backup with a usable part of ``kind`` whose instance runs ``service``; (backup, part)."""
    ds = sim.dataset
    for backup in ds.backups:
        if backup["success"] != "SUCCESS" or backup.get("scheduled_for_deletion_at") is None:
            continue
        for part_uuid in backup["service_instance_backups"]:
            part = ds.by_uuid["service_instance_backups"][part_uuid]
            instance = ds.by_uuid["service_instances"][part["service_instance"]]
            if instance["type"] == kind and instance["service"].startswith(service) and part["ended_at"]:
                return backup, part
    raise AssertionError("no such backup in the data set")


def download(sim, api, backup, part, wait=True, slash="/"):
    made = api.post(sim.url + "/apps/v3/backup-downloads/",
                    json={"backup": backup["uuid"], "service_instance_backups": [part["uuid"]], "trigger": "PULL"})
    assert made.status_code == 201, made.text
    listed = api.get(sim.url + "/apps/v3/backup-download-service-instances/",
                     params={"backup": made.json()["uuid"], "page_size": 10}).json()
    [item] = listed["results"]
    for _try in range(40):
        item = api.get(sim.url + "/apps/v3/backup-download-service-instances/" + item["uuid"] + slash).json()
        if item["ended_at"] or not wait:
            break
        time.sleep(0.1)
    return made, item


def fetch(url):
    response = requests.get(url, allow_redirects=False, timeout=10, stream=True)
    return response, response.raw.read(decode_content=False)


def pg_created(data):
    """The creation time in a 1.14 pg_dump header (as UTC)."""
    fields = [struct.unpack("<I", data[17 + 5 * i:21 + 5 * i])[0] for i in range(6)]
    sec, minute, hour, day, month, year = fields
    return datetime(year + 1900, month + 1, day, hour, minute, sec, tzinfo=timezone.utc)


def test_a_database_download_serves_a_dump_dated_to_its_part(api):
    with private_simulator(downloads={"duration_seconds": 0.2}) as sim:
        backup, part = good_backup(sim)
        made, item = download(sim, api, backup, part, slash="")  # divio-cli asks without the slash
        assert "sessionid=" in made.headers["Set-Cookie"]
        assert item["errors"] == [] and item["ended_at"] and item["download_url"].startswith(sim.storage.main.url)
        assert not item["download_url"].startswith(sim.url)
        response, data = fetch(item["download_url"])
        assert response.status_code == 200 and data[:5] == b"PGDMP"
        assert part["size"] == len(data)  # the part says the size of the file it stored
        taken = datetime.fromisoformat(part["taken_at"].replace("Z", "+00:00"))
        assert pg_created(data) == taken.replace(microsecond=0)
        [seen] = sim.storage.requests()
        assert seen["authorization"] is False and seen["cookie"] is None and seen["origin"] == "main"
        # Without the signature the object storage refuses.
        assert requests.get(item["download_url"].split("?")[0], timeout=10).status_code == 403


def test_mysql_and_media_files(api):
    with private_simulator(downloads={"duration_seconds": 0}) as sim:
        backup, part = good_backup(sim, service="mysql")
        _made, item = download(sim, api, backup, part)
        _response, data = fetch(item["download_url"])
        assert data.startswith(b"-- MySQL dump") and b"-- Dump completed on" in data[-100:]
        backup, part = good_backup(sim, kind="STORAGE", service="s3")
        _made, item = download(sim, api, backup, part)
        response, data = fetch(item["download_url"])
        assert response.headers["Content-Encoding"] == "gzip" and part["size"] == len(data)
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
            assert [m.name for m in tar.getmembers()][0] == "images/logo.png"  # at the root, as divio-cli packs media


def test_truncated_dump_has_a_matching_size(api):
    with private_simulator(downloads={"duration_seconds": 0, "fault": "truncated"}) as sim:
        backup, part = good_backup(sim)
        _made, item = download(sim, api, backup, part)
        _response, data = fetch(item["download_url"])
        assert len(data) == part["size"] < len(pg_dump_dated(datetime.now(timezone.utc)))


def test_flipped_gzip_byte_still_lists_but_fails_the_crc(api):
    with private_simulator(downloads={"duration_seconds": 0, "fault": "gzip-flip"}) as sim:
        backup, part = good_backup(sim, kind="STORAGE", service="s3")
        _made, item = download(sim, api, backup, part)
        _response, data = fetch(item["download_url"])
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            assert len(tar.getmembers()) == 3  # the trap: tarfile lists every member
        with pytest.raises((OSError, EOFError)):
            gzip.decompress(data)


def test_stale_and_newer_dumps(api):
    with private_simulator(downloads={"duration_seconds": 0, "fault": "stale-dump"}) as sim:
        backup, part = good_backup(sim)
        _made, item = download(sim, api, backup, part)
        taken = datetime.fromisoformat(part["taken_at"].replace("Z", "+00:00")).replace(microsecond=0)
        assert pg_created(fetch(item["download_url"])[1]) == taken - timedelta(days=30)
        sim.configure(downloads={"duration_seconds": 0, "fault": "newer-postgres"})
        _made, item = download(sim, api, backup, part)
        assert fetch(item["download_url"])[1][5:8] == b"\x01\x0f\x00"


def test_part_errors_and_a_part_that_never_ends(api):
    with private_simulator(downloads={"duration_seconds": 0, "fault": "part-errors"}) as sim:
        backup, part = good_backup(sim)
        _made, item = download(sim, api, backup, part)
        assert item["errors"] and item["download_url"] is None and item["ended_at"]
        sim.configure(downloads={"duration_seconds": 0, "fault": "never-ready"})
        _made, item = download(sim, api, backup, part, wait=False)
        time.sleep(0.2)
        again = api.get(sim.url + "/apps/v3/backup-download-service-instances/%s/" % item["uuid"]).json()
        assert again["ended_at"] is None and again["download_url"] is None


def test_a_stalled_download_is_bounded(api):
    with private_simulator(downloads={"duration_seconds": 0, "fault": "stall", "stall_seconds": 1}) as sim:
        backup, part = good_backup(sim)
        _made, item = download(sim, api, backup, part)
        started = time.monotonic()
        response = requests.get(item["download_url"], stream=True, timeout=10)
        announced = int(response.headers["Content-Length"])
        with pytest.raises(urllib3.exceptions.ProtocolError):
            response.raw.read(decode_content=False)
        assert time.monotonic() - started < 8 and announced > 0


def test_redirects_go_to_a_third_origin(api):
    with private_simulator(downloads={"duration_seconds": 0, "fault": "redirect"}) as sim:
        backup, part = good_backup(sim)
        _made, item = download(sim, api, backup, part)
        response, _body = fetch(item["download_url"])
        assert response.status_code == 302 and response.headers["Location"].startswith(sim.storage.third.url)
        assert sim.storage.third.url not in (sim.url, sim.storage.main.url)
        second, data = fetch(response.headers["Location"])
        assert second.status_code == 200 and data[:5] == b"PGDMP"
        sim.configure(downloads={"duration_seconds": 0, "fault": "redirect-loop"})
        _made, item = download(sim, api, backup, part)
        url, seen = item["download_url"], set()
        for _hop in range(8):
            response, _body = fetch(url)
            assert response.status_code == 302 and url not in seen
            seen.add(url)
            url = response.headers["Location"]


def test_download_requests_are_checked(api):
    with private_simulator() as sim:
        backup, part = good_backup(sim)
        other, _part = good_backup(sim, kind="STORAGE", service="s3")
        for body in ({"backup": "nope", "service_instance_backups": [part["uuid"]]}, {"backup": backup["uuid"]},
                     {"backup": other["uuid"] if other is not backup else "x", "service_instance_backups": [part["uuid"]]}):
            assert api.post(sim.url + "/apps/v3/backup-downloads/", json=body).status_code == 400
        assert api.get(sim.url + "/apps/v3/backup-download-service-instances/nope").status_code == 404
        assert requests.get(sim.url + "/apps/v3/backup-downloads/", timeout=10).status_code == 401


def test_restores_succeed_or_fail(api):
    with private_simulator(restores={"duration_seconds": 0.1}) as sim:
        backup, part = good_backup(sim)
        body = {"backup": backup["uuid"], "service_instance_restores": [{"service_instance_backup": part["uuid"]}],
                "notes": "test"}
        made = api.post(sim.url + "/apps/v3/backup-restores/", json=body)
        assert made.status_code == 201 and made.json()["finished"] is None
        time.sleep(0.2)
        done = api.get(sim.url + "/apps/v3/backup-restores/%s/" % made.json()["uuid"]).json()
        assert done["finished"] and done["success"] == "SUCCESS"
        sim.configure(restores={"duration_seconds": 0, "outcome": "FAILURE"})
        failed = api.post(sim.url + "/apps/v3/backup-restores/", json=body).json()
        failed = api.get(sim.url + "/apps/v3/backup-restores/%s/" % failed["uuid"]).json()
        assert failed["success"] == "FAILURE" and failed["errors"]
        bad = dict(body, service_instance_restores=[{"service_instance_backup": "nope"}])
        assert api.post(sim.url + "/apps/v3/backup-restores/", json=bad).status_code == 400


def test_ids_are_unique_across_kinds_and_shaped_like_divio_ids(api):
    with private_simulator(downloads={"duration_seconds": 0}, restores={"duration_seconds": 0},
                           deployments={"duration_seconds": 0}) as sim:
        backup, part = good_backup(sim)
        env = sim.dataset.by_uuid["environments"][backup["environment"]]
        instance = part["service_instance"]
        made = []
        body = {"environment": env["uuid"], "services": [instance], "trigger": "MANUAL", "notes": ""}
        made.append(api.post(sim.url + "/apps/v3/backups/", json=body).json())
        made.append(api.post(sim.url + "/apps/v3/deployments/", json={"environment": env["uuid"]}).json())
        download_made, item = download(sim, api, backup, part)
        made += [download_made.json(), item]
        made.append(api.post(sim.url + "/apps/v3/backup-restores/", json={
            "backup": backup["uuid"], "service_instance_restores": [{"service_instance_backup": part["uuid"]}]}).json())
        ids = [obj["uuid"] for obj in made] + list(made[0]["service_instance_backups"])
        existing = {uuid for index in sim.dataset.by_uuid.values() for uuid in index}
        assert len(set(ids)) == len(ids)
        assert all(len(i) == 26 and i == i.lower() and set(i) <= set("abcdefghijklmnopqrstuvwxyz234567") for i in ids)
        assert not (set(ids[1:]) - {made[0]["uuid"], made[1]["uuid"]} - set(made[0]["service_instance_backups"])) & existing
