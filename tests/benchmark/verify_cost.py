"""Benchmark: what ``verify: read`` adds to a fleet check, and what the manifest saves on the next run.

    python tests/benchmark/verify_cost.py                      # the demo fleet, 20 ms latency
    python tests/benchmark/verify_cost.py --latency-ms 0 --runs 3

Against a private simulator (the demo data set; download links ready at once, files served from its loopback
object-storage origin), ``check_backups`` over every application, three ways side by side:

- ``verify: none``: existence and age only (the check as it was);
- ``verify: read``, cold: every judged backup's DATABASE parts downloaded and read whole (pg_restore for the
  custom-format dumps), in a temporary directory;
- ``verify: read``, warm: the same with ``verify_dir`` after one run, so the manifest's verdicts stand.

Printed per way: API requests, download links created (POSTs), files read and their bytes, wall time (median of
``--runs``) and this process's peak RSS. Nothing is asserted: it prints numbers.
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def imports():
    from benchmark import collection_imports  # this folder's benchmark.py, on sys.path as the script's own

    collection_imports()
    sys.path[:0] = [str(REPO / "tests" / "simulator"), str(REPO / "tests")]


def one_run(sim, verify, verify_dir):
    from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
    from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
    from testlib import TOKEN

    sim.reset_stats()
    reads_before = len(sim.storage.requests())
    started = time.monotonic()
    with DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}) as client:
        records, summary = check_backups(client, verify=verify, verify_dir=verify_dir)
    seconds = time.monotonic() - started
    posts = sum(1 for method, path, _status in sim.requests if method == "POST")
    files = [part for record in records for part in record.get("verification") or []]
    return dict(seconds=seconds, requests=sim.stats()["requests"], posts=posts,
                downloads=len(sim.storage.requests()) - reads_before, files=len(files),
                bytes=sum(part.get("size") or 0 for part in files), summary=summary)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=20, help="API latency (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs per way; the median time is printed")
    args = parser.parse_args()
    imports()
    from testlib import private_simulator

    print("%-22s %9s %6s %10s %6s %10s %9s %12s  %s" % (
        "way", "requests", "POSTs", "downloads", "files", "bytes", "seconds", "peak RSS MiB", "summary"))
    with private_simulator(downloads={"duration_seconds": 0}, latency_ms=args.latency_ms) as sim:
        with tempfile.TemporaryDirectory() as kept:
            one_run(sim, "read", kept)  # fills the manifest for the warm runs
            for way, verify, verify_dir in (("verify: none", "none", None), ("verify: read, cold", "read", None),
                                            ("verify: read, warm", "read", kept)):
                runs = [one_run(sim, verify, verify_dir) for _run in range(args.runs)]
                last = runs[-1]
                counts = dict((k, v) for k, v in last["summary"].items() if k in ("fresh", "stale", "missing", "error",
                                                                                  "unverified") and v)
                print("%-22s %9d %6d %10d %6d %10d %9.2f %12.1f  %s" % (
                    way, last["requests"], last["posts"], last["downloads"], last["files"], last["bytes"],
                    statistics.median(r["seconds"] for r in runs),
                    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, counts))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    started = time.monotonic()
    main()
    print("(%.1f s, latency %s)" % (time.monotonic() - started, "as given"))
