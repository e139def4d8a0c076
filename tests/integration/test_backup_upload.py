"""Uploads: ``push_files`` (the backup_upload module's logic), ``finish_upload`` and the module, over real HTTP against
a private simulator (and, for finish_url's retries, a loopback server that records what it is sent)."""

import datetime
import hashlib
import http.server
import io
import socket
import tarfile
import threading

import pytest

from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
from ansible_collections.divio.cloud.plugins.module_utils.errors import (
    BackupFailed,
    InputError,
    UploadError,
    VerificationFailed,
)
from ansible_collections.divio.cloud.plugins.module_utils.uploads import UploadOptions, finish_upload, push_files, send_file
from divio_simulator.downloads import PG_DUMP_FIXTURE

from testlib import TOKEN, play, private_simulator

UPLOAD = "/apps/v3/backups/upload/"
FAST = dict(restores={"duration_seconds": 0.05}, backup_duration_seconds=0.05)


@pytest.fixture
def usim():
    with private_simulator(**FAST) as server:
        yield server


@pytest.fixture
def client(usim):
    with DivioClient.from_options({"api_url": usim.url, "api_token": TOKEN}, environ={}) as client:
        yield client


def posts(sim):
    return ["finish" if path.startswith(UPLOAD) and "/finish/" in path else path.split("?")[0]
            for method, path, _status in sim.requests if method == "POST"]


def push(client, files, **kwargs):
    options = UploadOptions(upload_timeout=kwargs.pop("upload_timeout", 600), wait_timeout=kwargs.pop("wait_timeout", 60),
                            poll_interval=0.02)
    return push_files(client, "blog", "test", files, options=options, **kwargs)


@pytest.fixture
def dump():
    with open(PG_DUMP_FIXTURE, "rb") as handle:
        return handle.read()


@pytest.fixture
def dump_file(tmp_path, dump):
    path = tmp_path / "blog.dump"
    path.write_bytes(dump)
    return str(path)


def test_a_dump_is_uploaded_finished_and_restored_after_a_safety_backup(client, usim, dump_file, dump):
    started = datetime.datetime.now(datetime.timezone.utc)
    result = push(client, [{"service": "DATABASE", "path": dump_file}], restore=True, confirm="blog/test")
    assert posts(usim) == ["/apps/v3/backups/", UPLOAD, "finish", "/apps/v3/backup-restores/"]
    [part] = result["parts"]
    uploaded = result["backup"]["service_instance_backups"][0]
    assert usim.upload_jobs.files[uploaded] == dump and part["sha256"] == hashlib.sha256(dump).hexdigest()
    assert part["bytes"] == len(dump) and part["format"] == "pg_custom" and part["handler"] == "exo-presigned-v1"
    restore = usim.restore_jobs.restores[result["restore"]["uuid"]]
    assert restore["service_instance_restores"] == [{"service_instance_backup": uploaded}]
    assert result["safety_backup"]["success"] == "SUCCESS"
    # Temporary, but it outlives the task: upload_timeout + the waits.
    deletion = usim.dataset.by_uuid["backups"][result["backup"]["uuid"]]["scheduled_for_deletion_at"]
    deletion = datetime.datetime.fromisoformat(deletion.replace("Z", "+00:00"))
    assert deletion >= started + datetime.timedelta(seconds=600 + 60)
    [seen] = [r for r in usim.storage.requests() if r["method"] == "PUT"]
    assert seen["authorization"] is False and not seen["cookie"]


def test_without_restore_only_the_upload(client, usim, dump_file):
    result = push(client, [{"service": "DATABASE:DEFAULT", "path": dump_file}])
    assert posts(usim) == [UPLOAD, "finish"] and result["restore"] is None and result["safety_backup"] is None
    assert result["backup"]["success"] == "SUCCESS"


def test_a_failed_safety_backup_stops_the_upload(client, usim, dump_file):
    usim.configure(backup_outcome="FAILURE")
    with pytest.raises(BackupFailed, match="^the safety backup of blog/test failed, so nothing was uploaded or restored: "
                       "backup (\\S+) of blog/test ended FAILURE") as caught:
        push(client, [{"service": "DATABASE", "path": dump_file}], restore=True, confirm="blog/test")
    assert posts(usim) == ["/apps/v3/backups/"] and caught.value.details["uuid"] in str(caught.value)


def test_an_upload_the_platform_does_not_process_in_time_names_its_backup(dump_file):
    with private_simulator(backup_duration_seconds=30) as sim, \
            DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}) as client:
        with pytest.raises(UploadError, match="uploaded backup (\\S+) of blog/test did not finish within .*; the files "
                           "were sent and finished, but the platform did not process them") as caught:
            push(client, [{"service": "DATABASE", "path": dump_file}], wait_timeout=0.3)
    assert "uploaded backup %s of blog/test" % caught.value.details["uuid"] in str(caught.value)


def test_media_tar_at_the_root(client, usim, tmp_path):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("images/logo.png")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"12345"))
    path = tmp_path / "media.tar.gz"
    path.write_bytes(raw.getvalue())
    result = push(client, [{"service": "STORAGE", "path": str(path)}])
    assert result["parts"][0]["format"] == "tar_gzip"
    assert usim.upload_jobs.files[result["backup"]["service_instance_backups"][0]] == raw.getvalue()


@pytest.mark.parametrize("content, service, error, message", [
    (b"\x00garbage" * 100, "DATABASE", VerificationFailed, "its format is unknown, expected pg_custom or sql"),
    (None, "STORAGE", VerificationFailed, "is not a STORAGE part: its format is pg_custom"),
    ("cut", "DATABASE", VerificationFailed, "could not read the whole dump.*Nothing was sent"),
    (b"", "DATABASE", InputError, "is empty"),
])
def test_a_bad_file_is_refused_before_anything_is_sent(client, usim, tmp_path, dump, content, service, error, message):
    path = tmp_path / "file"
    path.write_bytes(dump if content is None else dump[:len(dump) * 7 // 10] if content == "cut" else content)
    with pytest.raises(error, match=message):
        push(client, [{"service": service, "path": str(path)}], restore=True, confirm="blog/test")
    assert posts(usim) == []


@pytest.mark.parametrize("kwargs, message", [
    (dict(restore=True), "confirm is required"),
    (dict(restore=True, confirm="blog/live"), "expected 'blog/test'"),
])
def test_restore_needs_confirm(client, usim, dump_file, kwargs, message):
    with pytest.raises(InputError, match=message):
        push(client, [{"service": "DATABASE", "path": dump_file}], **kwargs)
    assert posts(usim) == []


def test_check_mode_sends_nothing(client, usim, dump_file):
    result = push(client, [{"service": "DATABASE", "path": dump_file}], restore=True, confirm="blog/test", check_mode=True)
    assert posts(usim) == [] and result["backup"] is None and result["parts"][0]["verification"]["level"] == "read"


class Finish(http.server.BaseHTTPRequestHandler):
    """A finish_url that answers 503 until ``ok_after`` POSTs have come, recording each request's headers."""

    def do_POST(self):
        self.server.seen.append(dict(self.headers))
        status = 200 if len(self.server.seen) > self.server.ok_after else 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def finish_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Finish)
    server.seen, server.ok_after = [], 2
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_finish_url_is_retried_on_5xx_and_gets_no_credentials(client, finish_server):
    url = "http://127.0.0.1:%d/apps/v3/backups/upload/x/finish/?signature=abc" % finish_server.server_port
    finish_upload(url, "upload of x", client.settings, sleep=lambda seconds: None)
    assert len(finish_server.seen) == 3
    assert not any(name.lower() in ("authorization", "cookie") for headers in finish_server.seen for name in headers)


def test_finish_url_that_keeps_failing_is_a_clear_error(client, finish_server):
    finish_server.ok_after = 100
    url = "http://127.0.0.1:%d/finish/" % finish_server.server_port
    with pytest.raises(UploadError, match="upload of x: POST finish_url .* got HTTP 503 4 times"):
        finish_upload(url, "upload of x", client.settings, sleep=lambda seconds: None)
    assert len(finish_server.seen) == 4


def test_storage_that_cannot_be_reached_is_said_as_every_transport_failure_is(client, tmp_path):
    """The PUT and finish_url's POST word a transport failure through http_rules.failure: its kind and class."""
    with socket.socket() as closed:  # a loopback port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d/finish/" % closed.getsockname()[1]
    sleeps = []
    with pytest.raises(UploadError, match=r"upload of x: POST finish_url .* got no connection \(ConnectionError\) 4 times"):
        finish_upload(url, "upload of x", client.settings, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0, 4.0]
    path = tmp_path / "db.dump"
    path.write_bytes(b"x" * 1000)
    instructions = {"handler": "exo-presigned-v1", "upload_parameters": {"url": url}}
    with pytest.raises(UploadError, match=r"upload of x: the PUT to .* failed: no connection \(ConnectionError\)\.$"):
        send_file(instructions, str(path), 1000, UploadOptions(upload_timeout=60), client.settings, "upload of x")


class Blob(http.server.BaseHTTPRequestHandler):
    """A blob endpoint for azure-storage-blob's PUT: records each request's path and headers; answers 201, or the
    ``redirect`` status (to another path) when set."""

    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.path.split("?")[0], dict(self.headers)))
        self.send_response(self.server.redirect or 201)
        if self.server.redirect:
            self.send_header("Location", "/elsewhere/c/b")
        self.send_header("ETag", '"0x1"')
        self.send_header("Last-Modified", "Mon, 07 Dec 2026 12:00:00 GMT")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def blob_server(monkeypatch, tmp_path):
    """The blob endpoint, and a netrc (``NETRC``) naming its host, as a user's ~/.netrc might."""
    pytest.importorskip("azure.storage.blob")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Blob)
    server.seen, server.redirect = [], None
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def send_blob(client, server, tmp_path):
    path = tmp_path / "part.dump"
    path.write_bytes(b"x" * 1000)
    instructions = {"handler": "az-sas-v1", "upload_parameters": {
        "url": "http://127.0.0.1:%d/devstoreaccount1/c/b?sv=2021-08-06&sr=b&sp=cw&sig=abc" % server.server_port}}
    return send_file(instructions, str(path), 1000, UploadOptions(upload_timeout=60), client.settings, "upload of x")


def test_the_blob_host_gets_the_sas_url_and_no_netrc_credentials(client, blob_server, tmp_path):
    assert send_blob(client, blob_server, tmp_path)[0] == 1000
    [(path, headers)] = blob_server.seen
    assert path == "/devstoreaccount1/c/b"
    assert not any(name.lower() in ("authorization", "cookie") for name in headers)


@pytest.mark.parametrize("status", [307, 308])
def test_a_redirect_of_a_blob_put_is_not_followed(client, blob_server, tmp_path, status):
    blob_server.redirect = status
    with pytest.raises(UploadError, match="upload of x: Azure Blob Storage refused the upload"):
        send_blob(client, blob_server, tmp_path)
    assert [path for path, _headers in blob_server.seen] == ["/devstoreaccount1/c/b"]


def test_module_uploads(run_playbook, dump_file):
    with private_simulator(**FAST) as sim:
        env = {"DIVIO_API_URL": sim.url, "DIVIO_API_TOKEN": TOKEN}
        tasks = """
    - name: Upload and restore
      divio.cloud.backup_upload:
        application: blog
        environment: test
        files: [{service: DATABASE, path: "%s"}]
        restore: true
        confirm: blog/test
        poll_interval: 0.05
      register: pushed
    - name: Live without allow_live
      divio.cloud.backup_upload:
        application: blog
        environment: live
        files: [{service: DATABASE, path: "%s"}]
        restore: true
        confirm: blog/live
      register: refused
      ignore_errors: true
    - ansible.builtin.set_fact:
        out: {pushed: "{{ pushed }}", refused: "{{ refused }}"}
""" % (dump_file, dump_file)
        run = run_playbook(play(tasks), env=env, args=["-vvvv"])
        assert run.rc == 0, run
        assert TOKEN not in run.output
        out = run.result
        assert out["pushed"]["restore"]["success"] == "SUCCESS" and out["pushed"]["safety_backup"]["uuid"]
        assert out["refused"]["failed"] is True and "blog/live is a live environment" in out["refused"]["msg"]
        assert posts(sim) == ["/apps/v3/backups/", UPLOAD, "finish", "/apps/v3/backup-restores/"]
