"""Benchmark: a large backup download streams in bounded memory (fetch.py), whatever the file's size.

    python tests/benchmark/download_memory.py                 # 256 MiB and 2 GiB
    python tests/benchmark/download_memory.py --sizes 64,512  # sizes in MiB

A loopback HTTP server (in its own process) serves a file of the given size, generated on the fly and
announced by Content-Length; each download runs ``fetch_file`` in a fresh child process, so the peak RSS
printed is that download's alone, next to the peak RSS of a child that only imports the same code. The file
goes to a temporary directory and is removed. Nothing is asserted: it prints numbers.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHUNK = b"\x5a" * (1024 * 1024)

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.divio.cloud.plugins.module_utils.fetch import fetch_file
url, directory, size = sys.argv[2], sys.argv[3], sys.argv[4]
result = {}
if url != "-":
    started = time.monotonic()
    fetched = fetch_file(url, directory, int(size), 3600, 1 << 40, allow_plain_http=True)
    result = {"seconds": time.monotonic() - started, "size": fetched.size, "sha256": fetched.sha256[:12]}
    fetched.discard()
result["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(result))
"""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        size = int(self.path.strip("/"))
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        left = size
        while left:
            piece = CHUNK[:min(left, len(CHUNK))]
            self.wfile.write(piece)
            left -= len(piece)


def serve():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def collections_path():
    root = Path(tempfile.mkdtemp(prefix="divio-bench-collections-"))
    (root / "ansible_collections" / "divio").mkdir(parents=True)
    (root / "ansible_collections" / "divio" / "cloud").symlink_to(REPO)
    return root


def child(collections, url, directory, size):
    proc = subprocess.run([sys.executable, "-c", CHILD, str(collections), url, directory, str(size)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,2048", help="file sizes in MiB, comma-separated (default: %(default)s)")
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        collections = collections_path()
        baseline = child(collections, "-", "-", 0)["peak_rss_kib"]
        print("%-10s %10s %9s %14s %20s" % ("size", "seconds", "MiB/s", "peak RSS MiB", "imports only, MiB"))
        for mib in (int(s) for s in args.sizes.split(",")):
            size = mib * 1024 * 1024
            with tempfile.TemporaryDirectory() as directory:
                result = child(collections, "http://127.0.0.1:%d/%d" % (port, size), directory, size)
            row = ("%d MiB" % mib, result["seconds"], mib / result["seconds"], result["peak_rss_kib"] / 1024, baseline / 1024)
            print("%-10s %10.2f %9.0f %14.1f %20.1f" % row)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    started = time.monotonic()
    main()
    print("(%.1f s)" % (time.monotonic() - started))
