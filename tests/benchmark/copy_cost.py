"""Benchmark: what a copy costs (backup_copy's transfer path) through each upload handler, against a baseline.

    python tests/benchmark/copy_cost.py                     # 255 MiB, the three handlers
    python tests/benchmark/copy_cost.py --mib 64 --handlers exo-presigned-v1

The source file is a tar archive of incompressible bytes, served by a loopback HTTP server (its own process) as a
presigned download is. Per handler, against the simulator's real stand-ins (exo: its own object storage; s3-sts-v1:
moto, reached through AWS_ENDPOINT_URL_S3; az-sas-v1: Azurite), each side runs in a fresh child process, so the
peak RSS printed is that process's alone:

- ours: the collection's own path, as the backup_copy module runs it - ``fetch.fetch_file`` (streamed, sha256),
  ``verify.verify_file`` (``verify: read``, its own column), ``uploads.send_file`` (the handler, hashing the
  bytes it sends);
- baseline: a plain streamed ``requests`` download to a file, then a plain upload of it with the same library
  divio-cli uses (``requests.put(data=file)``, boto3 ``upload_file``, ``upload_blob(max_concurrency=10)``).

Upload instructions come from the simulator's ``backups/upload/``; after each upload the parent POSTs the finish_url
and waits for the backup (the platform's wait, its own column). The simulator holds uploads in memory (up to 1 GiB).
Nothing is asserted: it prints numbers.
"""

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "simulator")]
HANDLERS = ("exo-presigned-v1", "s3-sts-v1", "az-sas-v1")
TOKEN = "bench-Tok3n-copy-cost"

OURS = r"""
def hwm():
    # VmHWM: this process's own peak (ru_maxrss also keeps the forking parent's, Linux folds it in at exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
import json, sys, tempfile, time, types
sys.path.insert(0, sys.argv[1])
from ansible_collections.divio.cloud.plugins.module_utils.fetch import fetch_file
from ansible_collections.divio.cloud.plugins.module_utils.uploads import UploadOptions, send_file
from ansible_collections.divio.cloud.plugins.module_utils.verify import sniff, verify_file
url, size, instructions = sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
settings = types.SimpleNamespace(validate_certs=True, allow_plain_http=False)
result = {"rss_imports": hwm()}
with tempfile.TemporaryDirectory() as work:
    started = time.monotonic()
    fetched = fetch_file(url, work, size, 3600, 1 << 40)
    result["download"] = time.monotonic() - started
    result["rss_after_download"] = hwm()
    started = time.monotonic()
    verify_file(fetched.temp_path, sniff(fetched.temp_path), {"service_type": "STORAGE"}, "read", 3600)
    result["verify"] = time.monotonic() - started
    result["rss_after_verify"] = hwm()
    started = time.monotonic()
    sent, digest = send_file(instructions, fetched.temp_path, fetched.size, UploadOptions(), settings, "bench")
    result["upload"] = time.monotonic() - started
    result["same_sha256"] = digest == fetched.sha256 and sent == size
result["peak_rss_mib"] = hwm()
print(json.dumps(result))
"""

BASELINE = r"""
def hwm():
    # VmHWM: this process's own peak (ru_maxrss also keeps the forking parent's, Linux folds it in at exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
import json, os, resource, sys, tempfile, time
import requests
url, size, instructions = sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
handler, params = instructions["handler"], instructions["upload_parameters"]
result = {}
with tempfile.TemporaryDirectory() as work:
    path = os.path.join(work, "file")
    started = time.monotonic()
    with requests.get(url, stream=True) as response, open(path, "wb") as out:
        for chunk in response.iter_content(1024 * 1024):
            out.write(chunk)
    result["download"] = time.monotonic() - started
    started = time.monotonic()
    if handler == "exo-presigned-v1":
        with open(path, "rb") as handle:
            requests.put(params["url"], data=handle).raise_for_status()
    elif handler == "s3-sts-v1":
        import boto3
        boto3.client("s3", aws_access_key_id=params["aws_access_key_id"], aws_secret_access_key=params["aws_secret_access_key"],
                     aws_session_token=params["aws_session_token"]).upload_file(path, params["bucket"], params["key"])
    else:
        from azure.storage.blob import BlobClient
        with open(path, "rb") as handle:
            BlobClient.from_blob_url(params["url"]).upload_blob(handle, overwrite=True, max_concurrency=10)
    result["upload"] = time.monotonic() - started
result["peak_rss_mib"] = hwm()
print(json.dumps(result))
"""

IMPORTS = r"""
def hwm():
    # VmHWM: this process's own peak (ru_maxrss also keeps the forking parent's, Linux folds it in at exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
import json, sys
sys.path.insert(0, sys.argv[1])
import ansible_collections.divio.cloud.plugins.module_utils.copies, boto3, azure.storage.blob
print(json.dumps({"peak_rss_mib": hwm()}))
"""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.server.file
        size = os.path.getsize(path)
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.send_header("Content-Type", "application/x-tar")
        self.end_headers()
        with open(path, "rb") as handle:
            while True:
                chunk = handle.read(1024 * 1024)
                if not chunk:
                    break
                self.wfile.write(chunk)


def serve(path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.file = path
    print(server.server_address[1], flush=True)
    server.serve_forever()


def make_tar(directory, mib):
    """A tar of one member of ``mib`` MiB less its headers, of incompressible bytes, as a media part."""
    payload = os.path.join(directory, "payload.bin")
    with open(payload, "wb") as out:
        for _mib in range(mib - 1):
            out.write(os.urandom(1024 * 1024))
    path = os.path.join(directory, "media.tar")
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        tar.add(payload, arcname="uploads/payload.bin")
    os.unlink(payload)
    return path


def collections_path():
    root = Path(tempfile.mkdtemp(prefix="divio-bench-collections-"))
    (root / "ansible_collections" / "divio").mkdir(parents=True)
    (root / "ansible_collections" / "divio" / "cloud").symlink_to(REPO)
    return root


def child(code, collections, url, size, instructions, env):
    proc = subprocess.run([sys.executable, "-c", code, str(collections), url, str(size), json.dumps(instructions)],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit("a child failed:\n" + proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(handler, standin, collections, url, size):
    """``(ours, baseline, platform seconds)`` for one handler."""
    from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
    from ansible_collections.divio.cloud.plugins.module_utils.uploads import (
        Environment,
        UploadOptions,
        finish_upload,
        start_upload,
        wait_uploaded,
    )
    from divio_simulator import SIZES, generate_dataset, run_simulator

    env = dict(os.environ)
    extra = {}
    if handler == "s3-sts-v1":
        env["AWS_ENDPOINT_URL_S3"] = standin.endpoint
        os.environ["AWS_ENDPOINT_URL_S3"] = standin.endpoint
        extra["s3"] = standin
    elif handler == "az-sas-v1":
        extra["azure"] = standin
    uploads = {"handler": handler, "max_file_size": max(size, 1)}
    results, waits = [], []
    with run_simulator(dataset=generate_dataset(seed=1, **SIZES["demo"]), token=TOKEN, uploads=uploads,
                       backup_duration_seconds=0.05, **extra) as sim, \
            DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}) as client:
        target = Environment(client, "blog", "test")
        options = UploadOptions(poll_interval=0.05)
        for code in (OURS, BASELINE):
            backup, found = start_upload(client, target, [target.instance("STORAGE")], options)
            [instructions] = found.values()
            results.append(child(code, collections, url, size, instructions, env))
            started = time.monotonic()
            finish_upload(instructions["finish_url"], "bench", client.settings)
            wait_uploaded(client, backup, target.name, options)
            waits.append(time.monotonic() - started)
    return results[0], results[1], waits[0]


def standin_for(handler, folder):
    from divio_simulator.standins import Azurite, MotoS3

    kind = {"s3-sts-v1": MotoS3, "az-sas-v1": Azurite}.get(handler)
    if kind is None:
        return None
    os.makedirs(os.path.join(folder, kind.name), exist_ok=True)
    return kind(folder=os.path.join(folder, kind.name)).start()


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=255, help="file size in MiB, at most 1024 (default: %(default)s)")
    parser.add_argument("--handlers", default=",".join(HANDLERS), help="comma-separated (default: all three)")
    args = parser.parse_args()
    collections = collections_path()
    sys.path.insert(0, str(collections))
    with tempfile.TemporaryDirectory(prefix="divio-bench-copy-") as folder:
        path = make_tar(folder, args.mib)
        size = os.path.getsize(path)
        server = subprocess.Popen([sys.executable, __file__, "--serve", path], stdout=subprocess.PIPE, text=True)
        try:
            url = "http://127.0.0.1:%d/file" % int(server.stdout.readline())
            imports = child(IMPORTS, collections, "-", 0, {}, dict(os.environ))["peak_rss_mib"]
            print("%d bytes (%.1f MiB); a child importing the collection, boto3 and azure-storage-blob: %.0f MiB peak RSS"
                  % (size, size / 1048576, imports))
            header = ("handler", "ours dl+ul s", "verify s", "base dl+ul s", "ratio", "platform s", "ours RSS MiB",
                      "base RSS MiB", "sha256")
            print("%-18s %12s %9s %13s %6s %11s %13s %13s %7s" % header)
            for handler in args.handlers.split(","):
                standin = standin_for(handler, folder)
                try:
                    ours, base, wait = measure(handler, standin, collections, url, size)
                finally:
                    if standin is not None:
                        standin.stop()
                mine, theirs = ours["download"] + ours["upload"], base["download"] + base["upload"]
                print("%-18s %12s %9.2f %13s %6.2f %11.2f %13.0f %13.0f %7s" % (
                    handler, "%.2f+%.2f" % (ours["download"], ours["upload"]), ours["verify"],
                    "%.2f+%.2f" % (base["download"], base["upload"]), mine / theirs, wait, ours["peak_rss_mib"],
                    base["peak_rss_mib"], "equal" if ours["same_sha256"] else "DIFFER"))
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    started = time.monotonic()
    main()
    print("(%.1f s)" % (time.monotonic() - started))
