"""Benchmark: the collection's latest-backup resolution against the documented (naive) chain.

    python tests/benchmark/benchmark.py                  # full table (a few minutes)
    python tests/benchmark/benchmark.py --quick          # small sizes only
    python tests/benchmark/benchmark.py --profile        # where the client's CPU time goes, at 0 ms latency
    python tests/benchmark/benchmark.py --churn          # the fleet check while the account changes (a few minutes)

Each row starts the simulator in its own process with an injected per-request latency, then runs each
approach in a fresh child process (so peak RSS is that approach's alone) and reads the request count
from the simulator. Nothing here is asserted: it prints numbers.

The churn rows (issue 13): the fleet check over the fleet data set, once on a still account and then while
the simulator creates and deletes backups at random positions of the lists (``--churn-rate`` changes per
second, 20 by default), ``--runs`` times, with the ``?environment=`` filter honoured and ignored. Per mode:
error records over all churn runs (goal 0), the extra requests of a churn run over the still run before it
(re-reads; goal <= 10 %), and whether every environment no change touched got the still run's answer.
"""

import argparse
import cProfile
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
SIMULATOR = REPO / "tests" / "simulator" / "simulator.py"
TOKEN = "benchmark-token"

# Single environment: (label, applications, environments per app, scheduled backups per environment).
SINGLE = [("100", 5, 2, 10), ("1k", 10, 2, 50), ("10k", 25, 2, 200)]
FLEET = ("fleet 100x3x200", 100, 3, 200)
NAIVE_FLEET_SAMPLE = 1  # environments the naive fleet chain really walks; the rest is extrapolated
# Round trips that depend on each other. Single: application, environments, backups page 1, the other
# pages (concurrent), the winner's parts, its service instances. Fleet: applications page 1, the other
# pages, environments, backups page 1, the other pages, parts.
SINGLE_DEPTH = 6
FLEET_DEPTH = 6


# -- the two approaches (run in a child process) -------------------------------------------------

def collection_imports():
    """Make ``ansible_collections.divio.cloud`` importable from this checkout."""
    root = Path(tempfile.mkdtemp(prefix="divio-bench-"))
    (root / "ansible_collections" / "divio").mkdir(parents=True)
    (root / "ansible_collections" / "divio" / "cloud").symlink_to(REPO)
    sys.path.insert(0, str(root))


def run_collection(url, scenario, app, env, concurrency):
    if scenario == "fleet-records":
        return fleet_records(url, concurrency)
    from ansible_collections.divio.cloud.plugins.module_utils.backups import find_backups
    from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
    from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient

    with DivioClient.from_options({"api_url": url, "api_token": TOKEN}, environ={}, max_concurrency=concurrency) as client:
        if scenario == "single":
            [entry] = find_backups(client, app, environment=env, services=["DATABASE"])
            return {"%s/%s" % (app, env): entry["uuid"]}
        records, _unused = check_backups(client, services=["DATABASE"], max_age="24h")
        return {"%s/%s" % (r["application_slug"], r["environment_slug"]): r["uuid"] for r in records}


def fleet_records(url, concurrency):
    """The fleet check's answer per environment: ``{"app/env": [status, uuid, taken_at]}``."""
    from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
    from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient

    with DivioClient.from_options({"api_url": url, "api_token": TOKEN}, environ={}, max_concurrency=concurrency) as client:
        records, _unused = check_backups(client, services=["DATABASE"], max_age="24h")
    return {"%s/%s" % (r["application_slug"], r["environment_slug"]): [r["status"], r["uuid"], r["taken_at"]]
            for r in records}


def naive_pages(session, url):
    """Follow ``next`` from the default page size, as divio-cli does."""
    while url:
        page = session.get(url, timeout=60)
        page.raise_for_status()
        body = page.json()
        yield from body["results"]
        url = body["next"]


def naive_latest(session, base, app_slug, env_slug):
    """The documented chain: application, environment, every backup, every service-instance backup."""
    [app] = [a for a in naive_pages(session, base + "/apps/v3/applications/?slug=" + app_slug) if a["slug"] == app_slug]
    [env] = [e for e in naive_pages(session, base + "/apps/v3/environments/?application=" + app["uuid"]) if e["slug"] == env_slug]
    backups = {b["uuid"]: b for b in naive_pages(session, base + "/apps/v3/backups/")
               if b["environment"] == env["uuid"] and b["state"] == "COMPLETED"}
    best = None
    for part in naive_pages(session, base + "/apps/v3/service-instance-backups/"):
        if part["backup"] in backups and part["service_type"] == "DATABASE" and part["ended_at"] and not part["errors"]:
            taken = datetime.fromisoformat(part["taken_at"].replace("Z", "+00:00"))
            if best is None or taken > best[0]:
                best = (taken, part)
    if best is None:
        return None
    session.get(base + "/apps/v3/service-instances/%s/" % best[1]["service_instance"], timeout=60).raise_for_status()
    return best[1]["backup"]


def run_naive(url, scenario, app, env, _concurrency):
    session = requests.Session()
    session.headers["Authorization"] = "Token " + TOKEN
    if scenario == "single":
        return {"%s/%s" % (app, env): naive_latest(session, url, app, env)}
    answers = {}
    apps = list(naive_pages(session, url + "/apps/v3/applications/"))
    for application in apps:
        for environment in naive_pages(session, url + "/apps/v3/environments/?application=" + application["uuid"]):
            if len(answers) < NAIVE_FLEET_SAMPLE:
                answers["%s/%s" % (application["slug"], environment["slug"])] = naive_latest(
                    session, url, application["slug"], environment["slug"])
    return answers


def child(args):
    collection_imports()
    # Import before the clock starts: module import time is not request work.
    from ansible_collections.divio.cloud.plugins.module_utils import backups, checks  # noqa: F401  pylint: disable=unused-import
    started = time.perf_counter()
    runner = run_collection if args.child == "collection" else run_naive
    answers = runner(args.url, args.scenario, args.app, args.env, args.concurrency)
    wall = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "rss_mb": rss_mb, "answers": answers}))


# -- the harness ---------------------------------------------------------------------------------

class Simulator:
    def __init__(self, applications, environments, days, latency_ms, honour):
        self.dir = tempfile.mkdtemp(prefix="divio-bench-sim-")
        url_file = os.path.join(self.dir, "url")
        command = [sys.executable, str(SIMULATOR), "--port", "0", "--url-file", url_file, "--token", TOKEN,
                   "--applications", str(applications), "--environments", str(environments), "--days", str(days),
                   "--organisations", "3", "--latency-ms", str(latency_ms)]
        if not honour:
            command.append("--ignore-backup-environment-filter")
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while not os.path.exists(url_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit("simulator did not start: %s" % self.proc.stderr.read().decode())
            time.sleep(0.05)
        self.url = Path(url_file).read_text().strip()

    def stats(self):
        return requests.get(self.url + "/_simulator/stats", timeout=10).json()

    def configure(self, **settings):
        response = requests.post(self.url + "/_simulator/config", json=settings, timeout=10)
        response.raise_for_status()

    def environment_names(self):
        """``{environment uuid: "app/env"}``, read through the API."""
        session = requests.Session()
        session.headers["Authorization"] = "Token " + TOKEN
        apps = {a["uuid"]: a["slug"] for a in naive_pages(session, self.url + "/apps/v3/applications/?page_size=100")}
        return {e["uuid"]: "%s/%s" % (apps[e["application"]], e["slug"])
                for e in naive_pages(session, self.url + "/apps/v3/environments/?page_size=100")}

    def reset(self):
        requests.post(self.url + "/_simulator/reset", timeout=10)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def measure(sim, approach, scenario, app, env, concurrency, reset=True):
    if reset:
        sim.reset()
    out = subprocess.run([sys.executable, __file__, "--child", approach, "--url", sim.url, "--scenario", scenario,
                          "--app", app, "--env", env, "--concurrency", str(concurrency)],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["requests"] = sim.stats()["requests"]
    return result


def row(label, filter_mode, naive, ours, latency_ms, concurrency, depth, extrapolate=1):
    """``depth``: round trips that must follow one another (each needs the previous answer)."""
    naive_requests = naive["requests"] * extrapolate
    naive_wall = naive["wall"] * extrapolate
    limit = max(depth, -(-ours["requests"] // concurrency)) * latency_ms / 1000.0
    mark = "~" if extrapolate > 1 else ""
    return ("| %s | %s | %s%d | %d | %s%.0fx | %s%.1f s | %.2f s | %s%.0fx | %.2f s | %.1fx | %.0f MB | %.0f MB |" % (
        label, filter_mode, mark, naive_requests, ours["requests"], mark, naive_requests / max(1, ours["requests"]),
        mark, naive_wall, ours["wall"], mark, naive_wall / ours["wall"], limit, ours["wall"] / limit if limit else 0,
        naive["rss_mb"], ours["rss_mb"]))


HEADER = ("| backups in account | `?environment=` | naive requests | our requests | ratio | naive wall | our wall | "
          "speed-up | physical limit | ours / limit | naive RSS | our RSS |\n|---|---|---|---|---|---|---|---|---|---|---|---|")


def benchmark(args):
    print("latency %d ms per request, max_concurrency %d, Python %s\n" % (args.latency_ms, args.concurrency, sys.version.split()[0]))
    print(HEADER)
    sizes = SINGLE[:2] if args.quick else SINGLE
    for label, apps, envs, days in sizes:
        for honour in (True, False):
            sim = Simulator(apps, envs, days, args.latency_ms, honour)
            try:
                naive = measure(sim, "naive", "single", "wiki", "live", args.concurrency)
                ours = measure(sim, "collection", "single", "wiki", "live", args.concurrency)
                assert naive["answers"] == ours["answers"], (naive["answers"], ours["answers"])
                print(row(label + " (wiki/live)", "honoured" if honour else "ignored", naive, ours, args.latency_ms, args.concurrency,
                          depth=SINGLE_DEPTH))
            finally:
                sim.close()
    if not args.quick:
        label, apps, envs, days = FLEET
        for honour in (True, False):
            sim = Simulator(apps, envs, days, args.latency_ms, honour)
            try:
                naive = measure(sim, "naive", "fleet", "", "", args.concurrency)
                ours = measure(sim, "collection", "fleet", "", "", args.concurrency)
                for key, value in naive["answers"].items():
                    assert ours["answers"][key] == value, (key, value, ours["answers"][key])
                print(row(label, "honoured" if honour else "ignored", naive, ours, args.latency_ms, args.concurrency,
                          depth=FLEET_DEPTH, extrapolate=apps * envs / NAIVE_FLEET_SAMPLE))
            finally:
                sim.close()
    print("\n~ naive fleet: the documented chain walked for %d environments, extrapolated to all.\nPhysical limit: "
          "max(dependent round trips (%d), our requests / max_concurrency) x latency." % (NAIVE_FLEET_SAMPLE, SINGLE_DEPTH))


def churn(args):
    """The fleet check on a still account, then while it changes; see the module docstring."""
    label, apps, envs, days = FLEET
    print("fleet check, %s, %d changes/s, %d runs per mode, latency %d ms, max_concurrency %d\n"
          % (label, args.churn_rate, args.runs, args.latency_ms, args.concurrency))
    print("| `?environment=` | error records (goal 0) | requests, still run | requests under churn | extra requests "
          "(goal <= 10 %) | changes per run | environments untouched | answers that differ from the still run "
          "(goal 0) |\n|---|---|---|---|---|---|---|---|")
    for honour in (True, False):
        sim = Simulator(apps, envs, days, args.latency_ms, honour)
        try:
            names = sim.environment_names()
            errors, still_requests, churn_requests, changes, untouched, differ = 0, [], [], [], [], 0
            for run in range(args.runs):
                sim.configure(churn_rate=0)
                still = measure(sim, "collection", "fleet-records", "", "", args.concurrency)
                sim.reset()  # before the churn starts: every change it makes is counted
                sim.configure(churn_rate=args.churn_rate, churn_seed=run + 1)
                churned = measure(sim, "collection", "fleet-records", "", "", args.concurrency, reset=False)
                stats = sim.stats()
                sim.configure(churn_rate=0)
                touched = set(names[uuid] for uuid in stats["churn"]["environments"] if uuid in names)
                errors += sum(record[0] == "error" for record in churned["answers"].values())
                still_requests.append(still["requests"])
                churn_requests.append(churned["requests"])
                changes.append(stats["churn"]["created"] + stats["churn"]["deleted"])
                keys = [key for key in still["answers"] if key not in touched]
                untouched.append(len(keys))
                differ += sum(still["answers"][key] != churned["answers"].get(key) for key in keys)
            extra = [100.0 * (c - s) / s for s, c in zip(still_requests, churn_requests)]
            print("| %s | %d in %d records | %d | %d | %+.1f %% (%+.1f %% .. %+.1f %%) | %d | %d of %d | %d |" % (
                "honoured" if honour else "ignored", errors, args.runs * len(names),
                sum(still_requests) / args.runs, sum(churn_requests) / args.runs, sum(extra) / args.runs, min(extra),
                max(extra), sum(changes) / args.runs, sum(untouched) / args.runs, len(names), differ))
        finally:
            sim.close()
    print("\nPer mode: requests and changes are means per run, the extra requests' range over the runs in brackets; "
          "untouched environments: mean per run (their answers are compared).")


def profile(args):
    """At 0 ms latency: where does the client's own CPU time go on a full unfiltered pass?"""
    sim = Simulator(25, 2, 200, 0, False)
    try:
        collection_imports()
        from ansible_collections.divio.cloud.plugins.module_utils.backups import find_backups
        from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
        with DivioClient.from_options({"api_url": sim.url, "api_token": TOKEN}, environ={}, max_concurrency=1) as client:
            profiler = cProfile.Profile()
            profiler.enable()
            find_backups(client, "wiki", environment="live", services=["DATABASE"])
            profiler.disable()
            pages = client.request_count
        stats = pstats.Stats(profiler)
        total = stats.total_tt
        by_name = {}
        for (filename, _unused, _name), (_unused, _unused, tottime, _unused, _unused) in stats.stats.items():
            key = "json decoding" if "json" in filename and "decoder" in filename else (
                "collection code" if "divio/cloud" in filename or "module_utils" in filename else "requests/urllib3/http/sockets")
            by_name[key] = by_name.get(key, 0.0) + tottime
        print("%d requests, %.3f s CPU in the client (%.2f ms per request)" % (pages, total, 1000 * total / pages))
        for key, value in sorted(by_name.items(), key=lambda kv: -kv[1]):
            print("  %-32s %6.3f s  %4.0f%%" % (key, value, 100 * value / total))
        stats.sort_stats("tottime").print_stats(12)
    finally:
        sim.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--churn", action="store_true", help="only the churn rows")
    parser.add_argument("--churn-rate", type=float, default=20.0, help="changes per second in the churn rows")
    parser.add_argument("--runs", type=int, default=5, help="churn runs per mode")
    parser.add_argument("--child", choices=["naive", "collection"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--app", help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    elif args.profile:
        profile(args)
    elif args.churn:
        churn(args)
    else:
        benchmark(args)
        if not args.quick:
            print()
            churn(args)


if __name__ == "__main__":
    main()
