"""Conformance: divio-cli 4.0.5's ``app push db`` and ``app push media`` run against the simulator end to end -
the upload request (``backups/upload/``), the upload through each handler the platform may name (a PUT to the
presigned URL on the simulator's object storage for ``exo-presigned-v1``; boto3's ``upload_file`` into moto's S3
with temporary credentials for ``s3-sts-v1``, reached through ``AWS_ENDPOINT_URL_S3``; azure-storage-blob's
``upload_blob`` to a SAS URL of Azurite for ``az-sas-v1``), the ``finish_url``, the backup polled until it
completes, then the restore of that part polled until it is finished, and the bytes it put into the target.

divio-cli runs in a project directory (the isolated HOME of the ``divio_runner`` fixture, with a
``.divio/config.json``). ``push db --dumpfile`` only asks docker for the compose configuration (to learn the
database's ``SERVICE_MANAGER``): a stand-in named by divio's own ``docker-compose`` setting answers that.
``push media`` packs ``data/media`` itself; ``--keep-tempfile`` keeps the archive it uploaded.
"""

import hashlib
import json
import tarfile

import pytest

from divio_simulator.downloads import PG_DUMP_FIXTURE
from testlib import private_simulator

COMPOSE_CONFIG = """services:
  database_default:
    image: postgres:13
    environment:
      SERVICE_MANAGER: fsm-postgres
"""

COMPOSE = """#!/bin/sh
# A stand-in for "docker compose": the project's configuration for "config"; nothing else is expected.
echo "$*" >> "{log}"
case " $* " in
  *" config "*) cat "{config}" ;;
  *) exit 1 ;;
esac
"""

MEDIA = {"images/logo.png": b"\x89PNG\r\n" + bytes(range(256)) * 40, "uploads/notes.txt": b"notes\n" * 150}


@pytest.fixture
def push(divio_runner, tmp_path):
    """``push(sim, "db" | "media", *options)``: divio-cli's push to blog's test environment, from a project
    directory; returns ``(proc, project, compose calls)``."""
    def run(sim, what, *options, traceback_ok=False):
        moto = sim.upload_jobs.standins.get("s3")
        cli = divio_runner(sim, **({"AWS_ENDPOINT_URL_S3": moto.endpoint} if moto is not None else {}))
        project = tmp_path / "divio-home"  # the runner's HOME and working directory
        app = next(a for a in sim.dataset.applications if a["slug"] == "blog")
        (project / ".divio").mkdir(exist_ok=True)
        (project / ".divio" / "config.json").write_text(json.dumps({"application_uuid": app["uuid"], "slug": "blog"}))
        (project / "docker-compose.yml").write_text("services: {}\n")
        for name, data in MEDIA.items():
            (project / "data" / "media" / name).parent.mkdir(parents=True, exist_ok=True)
            (project / "data" / "media" / name).write_bytes(data)
        log, config = tmp_path / "compose.log", tmp_path / "compose-config.yml"
        config.write_text(COMPOSE_CONFIG)
        compose = tmp_path / "docker-compose-stand-in"
        compose.write_text(COMPOSE.format(log=log, config=config))
        compose.chmod(0o755)
        settings = project / ".config" / "divio" / "config.json"
        settings.write_text(json.dumps(dict(json.loads(settings.read_text()), **{"docker-compose": [str(compose)]})))
        proc = cli("app", "push", what, "test", "--noinput", "--remote-id", app["uuid"], *options, traceback_ok=traceback_ok)
        return proc, project, log.read_text() if log.exists() else ""

    return run


def uploaded(sim):
    """``(backup, part, service instance, bytes received)`` of the one upload the simulator took."""
    [(part_uuid, data)] = sim.upload_jobs.files.items()
    part = sim.dataset.by_uuid["service_instance_backups"][part_uuid]
    backup = sim.dataset.by_uuid["backups"][part["backup"]]
    return backup, part, sim.dataset.by_uuid["service_instances"][part["service_instance"]], data


def check_push(sim, proc, kind, handler="exo-presigned-v1"):
    """What every push leaves behind: the calls divio-cli made, in order, each answered well; the upload and
    restore of one part of the right service instance, the restore holding the bytes uploaded; with
    exo-presigned-v1 nothing but one signed PUT at the object storage, with the others nothing there."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    backup, part, instance, data = uploaded(sim)
    env = next(e for e in sim.dataset.environments if e["uuid"] == backup["environment"])
    app = sim.dataset.by_uuid["applications"][env["application"]]
    assert (app["slug"], env["slug"], instance["type"], instance["prefix"]) == ("blog", "test", kind, "DEFAULT")
    assert backup["notes"] == "Divio CLI push" and backup["scheduled_for_deletion_at"]
    assert (backup["state"], backup["success"], part["size"], part["errors"]) == ("COMPLETED", "SUCCESS", len(data), [])
    # The restore asked for exactly that part of that backup, and ran to its end.
    [restore] = sim.restore_jobs.restores.values()
    assert restore["backup"] == backup["uuid"]
    assert restore["service_instance_restores"] == [{"service_instance_backup": part["uuid"]}]
    assert restore["success"] == "SUCCESS" and restore["finished"]
    errors = [(method, path, status) for method, path, status in sim.requests if status >= 400]
    assert not errors, errors
    posts = [path.split("?")[0] for method, path, _status in sim.requests if method == "POST"]
    assert posts == ["/apps/v3/backups/upload/", "/apps/v3/backups/upload/%s/finish/" % part["uuid"],
                     "/apps/v3/backup-restores/"]
    # divio-cli's bare POST to finish_url, on the API's host, carries its netrc login (the token, as Basic auth):
    # requests picks the netrc entry by host name. A fact about divio-cli the collection must not copy.
    assert [(c["part"], c["status"], c["authorization"]) for c in sim.upload_jobs.finish_calls] == [(part["uuid"], 200, True)]
    # The target environment now holds the bytes uploaded (restores.py's record).
    [applied] = sim.restored(env["uuid"])
    assert (applied["service_instance"], applied["uploaded"]) == (instance["uuid"], True)
    assert applied["sha256"] == hashlib.sha256(data).hexdigest()
    assert sim.upload_jobs.parts[part["uuid"]]["handler"] == handler
    if handler != "exo-presigned-v1":  # the file went to moto or Azurite: the simulator read it back from there
        assert sim.storage.requests() == []
        return data
    # The file went to the object storage alone, once, without the API's credentials or cookies.
    [seen] = sim.storage.requests()
    assert (seen["method"], seen["origin"], seen["authorization"], seen["cookie"]) == ("PUT", "main", False, None)
    assert "pushing local %s to project %s's test environment" % (kind.lower(), app["uuid"]) in proc.stdout
    return data


HANDLERS = ("exo-presigned-v1", "s3-sts-v1", "az-sas-v1")


@pytest.mark.parametrize("handler", HANDLERS)
def test_divio_cli_pushes_a_database_dump(push, tmp_path, handler, upload_standins):
    dump = tmp_path / "local.dump"
    with open(PG_DUMP_FIXTURE, "rb") as handle:
        dump.write_bytes(handle.read())
    with private_simulator(backup_duration_seconds=0.5, restores={"duration_seconds": 0.5}, uploads={"handler": handler},
                           **upload_standins(handler)) as sim:
        proc, _project, compose = push(sim, "db", "--dumpfile", str(dump))
        data = check_push(sim, proc, "DATABASE", handler)
    assert data == dump.read_bytes() and data[:5] == b"PGDMP"  # byte for byte what was pushed
    assert "Uploading %s" % dump in proc.stdout
    assert compose.splitlines() == ["-f %s config" % (tmp_path / "divio-home" / "docker-compose.yml")]


@pytest.mark.parametrize("handler", HANDLERS)
def test_divio_cli_pushes_media(push, tmp_path, handler, upload_standins):
    with private_simulator(backup_duration_seconds=0.5, restores={"duration_seconds": 0.5}, uploads={"handler": handler},
                           **upload_standins(handler)) as sim:
        proc, project, compose = push(sim, "media", "--keep-tempfile")
        data = check_push(sim, proc, "STORAGE", handler)
    archive = project / ".divio" / "local_media.tar.gz"
    assert data == archive.read_bytes()  # the archive divio-cli made and kept, byte for byte
    with tarfile.open(archive) as tar:
        assert {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()} == MEDIA
    assert compose == ""  # media needs no docker


def test_a_dump_over_the_size_limit_is_refused_by_divio_cli_before_the_upload(push, tmp_path):
    dump = tmp_path / "local.dump"
    with open(PG_DUMP_FIXTURE, "rb") as handle:
        dump.write_bytes(handle.read())
    with private_simulator(uploads={"max_file_size": 1000}) as sim:
        proc, _project, _compose = push(sim, "db", "--dumpfile", str(dump))
        assert proc.returncode != 0
        assert "above the upload size limit of" in proc.stdout + proc.stderr
        assert sim.storage.requests() == [] and sim.upload_jobs.files == {}
        assert not sim.restore_jobs.restores


@pytest.mark.parametrize("failing, said", [
    ({"backup_outcome": "FAILURE"}, "Backup upload failed: success=FAILURE, ['storage backup failed: simulated error']"),
    ({"restores": {"duration_seconds": 0.5, "outcome": "FAILURE"}}, "Backup restore failed."),
])
def test_a_failed_upload_backup_or_restore_fails_the_push(push, failing, said):
    with private_simulator(**dict({"backup_duration_seconds": 0.5}, **failing)) as sim:
        proc, _project, _compose = push(sim, "media")
        assert proc.returncode != 0 and said in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        assert len(sim.upload_jobs.files) == 1
        # A restore is asked for only once the upload's backup succeeded.
        assert len(sim.restore_jobs.restores) == (0 if "backup_outcome" in failing else 1)


@pytest.mark.parametrize("handler, said", [("exo-presigned-v1", "403 Client Error"), ("s3-sts-v1", "AccessDenied"),
                                           ("az-sas-v1", "AuthorizationPermissionMismatch")])
def test_a_refused_upload_fails_the_push_with_nothing_started(push, handler, said, upload_standins):
    """Each storage's refusal reaches divio-cli as a failure (shown as a traceback naming the storage's error): no
    finish, no backup run, no restore."""
    with private_simulator(backup_duration_seconds=0.5, uploads={"handler": handler, "fault": "refused-put"},
                           **upload_standins(handler)) as sim:
        proc, _project, _compose = push(sim, "media", traceback_ok=True)
        assert proc.returncode != 0 and said in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        [backup] = [b for b in sim.dataset.backups if b["notes"] == "Divio CLI push"]
        assert backup["state"] == "NEW" and sim.upload_jobs.files == {} and not sim.restore_jobs.restores
        posts = [path.split("?")[0] for method, path, _status in sim.requests if method == "POST"]
        assert posts == ["/apps/v3/backups/upload/"]
