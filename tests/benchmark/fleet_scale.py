"""Fleet-scale benchmark (issue 18): the fleet check at 1,000 applications, against a server that does what we
ask and one that does not, with the figures a reviewer needs to judge it against the network's own limit.

    python tests/benchmark/fleet_scale.py                      # every row but the 600-backup one (~10 minutes)
    python tests/benchmark/fleet_scale.py --rows scale,capped  # some rows only (see --help for the names)
    python tests/benchmark/fleet_scale.py --with-600           # also 600 backups per environment (~6 GB, slow)
    python tests/benchmark/fleet_scale.py --rows "" --with-600 # only that one
    python tests/benchmark/fleet_scale.py --rows playbook       # the whole playbook beside the module (issue 24)

The simulator runs in this process (it needs the data set to compute the minimum and the right answers);
each measured client runs in a fresh child process, so its peak RSS is its own. The fleet rows run the
``backup_check`` module's own ``main()`` in-process in that child (module start-up included, ansible-playbook
start-up not: that is its own row). Nothing is asserted: it prints numbers, and says when an answer was wrong.

Columns: requests as the simulator counted them; minimum: what this access pattern needs at the page size the
server really serves (formula printed below the table); limit: requests x latency / max requests in flight;
ratio: wall / limit; RSS: the child's peak resident memory.
"""

import argparse
import atexit
import contextlib
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "simulator"))
sys.path.insert(0, str(REPO / "tests" / "integration"))  # ground_truth: the right answers, by brute force
TOKEN = "fleet-scale-token"
CLI_VENV = REPO / ".venv-divio-cli"
ROWS = ("scale", "capped", "shapes", "bursts", "small", "profile", "keepalive", "inventory", "cli", "startup", "playbook")
# The "shapes" rows (issue 23): the fleet check, filter ignored, on every page shape a DRF server can serve.
SHAPES = (("page_size honoured up to 13", {"max_page_size": 13}),
          ("page_size honoured up to 7", {"max_page_size": 7}),
          ("page_size ignored, fixed pages of 25", {"page_size_ignored": True, "default_page_size": 25}),
          ("page_size ignored, fixed pages of 10, count null", {"page_size_ignored": True, "default_page_size": 10,
                                                                "null_count": True}),
          ("cursor links, pages of 25", {"max_page_size": 25, "cursor_links": True}))
CAPPED_MAX_PAGES = 100000
# 429 bursts for the "bursts" row: runs of consecutive requests answered 429 with Retry-After: 1.
BURSTS = [range(start, start + 16) for start in (500, 2500, 4500)]
SCALE = (1000, 3, 60)  # applications, environments per application, scheduled backups per environment
SMALL = [("100", 5, 2, 10), ("1k", 10, 2, 50), ("10k", 25, 2, 200)]  # the README's single-environment rows
SERVICES = ["DATABASE"]  # backup_check's default


# -- in the child: the code under test ----------------------------------------------------------

_COLLECTIONS_ROOT = None


def collection_imports():
    """Make ``ansible_collections.divio.cloud`` importable from this checkout; returns the collections root."""
    global _COLLECTIONS_ROOT
    if _COLLECTIONS_ROOT is None:
        root = Path(tempfile.mkdtemp(prefix="divio-fleet-"))
        atexit.register(shutil.rmtree, str(root), True)
        (root / "ansible_collections" / "divio").mkdir(parents=True)
        (root / "ansible_collections" / "divio" / "cloud").symlink_to(REPO)
        sys.path.insert(0, str(root))
        _COLLECTIONS_ROOT = root
    return _COLLECTIONS_ROOT


def make_client(url, concurrency=None):
    """A client as the modules build it; ``concurrency`` through the option if the option table has it."""
    from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient
    options = {"api_url": url, "api_token": TOKEN}
    if concurrency is None:
        return DivioClient.from_options(options, environ={})
    options["max_concurrency"] = concurrency
    client = DivioClient.from_options(options, environ={})
    if getattr(client.settings, "max_concurrency", None) == concurrency:
        return client
    client.close()
    return DivioClient.from_options(options, environ={}, max_concurrency=concurrency)


def usage():
    """``(peak RSS in MB, CPU seconds)`` of this process. The peak is VmHWM, not ``ru_maxrss``: Linux carries
    ``ru_maxrss`` over from the parent through fork and exec, and the parent here holds the simulator's data."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    peak = ru.ru_maxrss / 1024.0
    with contextlib.suppress(OSError):
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024.0
    return peak, ru.ru_utime + ru.ru_stime


def run_module_in_process(name, params):
    """A module's ``main()`` as AnsiballZ would run it, minus the packaging: returns its JSON result."""
    from ansible.module_utils import basic
    module = __import__("ansible_collections.divio.cloud.plugins.modules." + name, fromlist=["main"])
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": params}).encode()
    basic._ANSIBLE_PROFILE = "legacy"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    return json.loads(out.getvalue())


def answers_of(records):
    return {"%s/%s" % (r["application_slug"], r["environment_slug"]): [r["uuid"], r["status"]] for r in records}


def child_module(args):
    collection_imports()
    from ansible.module_utils import basic  # noqa: F401  pylint: disable=unused-import
    from ansible_collections.divio.cloud.plugins.modules import backup_check  # noqa: F401  pylint: disable=unused-import
    rss_before, cpu_before = usage()
    started = time.perf_counter()
    params = dict(json.loads(args.params or "{}"), api_url=args.url, api_token=TOKEN)
    result = run_module_in_process("backup_check", params)
    wall = time.perf_counter() - started
    rss, cpu = usage()
    return {"wall": wall, "rss_mb": rss, "rss_before_mb": rss_before, "cpu": cpu - cpu_before,
            "failed": result.get("failed", False), "msg": result.get("msg"), "stats": result.get("stats"),
            "summary": result.get("summary"), "answers": answers_of(result.get("checks") or [])}


def child_single(args):
    collection_imports()
    from ansible_collections.divio.cloud.plugins.module_utils.backups import find_backups
    started = time.perf_counter()
    with make_client(args.url) as client:
        [entry] = find_backups(client, args.app, environment=args.env, services=SERVICES)
    wall = time.perf_counter() - started
    return {"wall": wall, "rss_mb": usage()[0], "answer": entry["uuid"]}


def child_naive(args):
    """The documented chain for one environment, as benchmark.py walks it: application, environment, every
    backup, every part."""
    import requests
    from benchmark import naive_latest  # this script's folder is on the path: it runs as a script
    session = requests.Session()
    session.headers["Authorization"] = "Token " + TOKEN
    return {"answer": naive_latest(session, args.url, args.app, args.env)}


class PerThreadSession:
    """Stands in for the client's shared ``requests.Session``: one session (one kept-alive connection) per
    thread, each set up like the shared one."""

    def __init__(self, template):
        self._template = template
        self._local = threading.local()
        self._sessions = []
        self._lock = threading.Lock()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            import requests
            from requests.adapters import HTTPAdapter
            template = self._template
            session = requests.Session()
            session.trust_env = template.trust_env
            session.proxies = dict(template.proxies)
            session.auth = template.auth
            session.headers.update(template.headers)
            session.get_redirect_target = template.get_redirect_target  # redirects stay the client's to follow
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def request(self, *args, **kwargs):
        return self._session().request(*args, **kwargs)

    def get(self, *args, **kwargs):
        return self._session().get(*args, **kwargs)

    def close(self):
        for session in self._sessions:
            session.close()
        self._template.close()

    def __getattr__(self, name):
        return getattr(self._template, name)


class NoKeepAlive(PerThreadSession):
    """A new TCP connection for every request (``Connection: close``)."""

    def request(self, *args, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {}, Connection="close")
        return self._session().request(*args, headers=headers, **kwargs)


def child_keepalive(args):
    collection_imports()
    from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
    started = time.perf_counter()
    cpu_before = usage()[1]
    with make_client(args.url) as client:
        if args.mode == "thread":
            client.session = PerThreadSession(client.session)
        elif args.mode == "close":
            client.session = NoKeepAlive(client.session)
        records, _summary = check_backups(client, services=SERVICES)
    wall = time.perf_counter() - started
    rss, cpu = usage()
    return {"wall": wall, "rss_mb": rss, "cpu": cpu - cpu_before, "answers": answers_of(records)}


def child_profile(args):
    """Where the fleet check's CPU goes: cProfile of one thread (max_concurrency 1, so every call runs in it)
    at 0 ms latency, timed by the process's CPU clock, so waiting for answers (or for a busy machine's
    cores) counts for nothing; the profiler's own overhead inflates every figure about alike."""
    collection_imports()
    from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
    profiler = cProfile.Profile(time.process_time)
    with make_client(args.url, concurrency=1) as client:
        started = time.perf_counter()
        profiler.enable()
        check_backups(client, services=SERVICES)
        profiler.disable()
        wall = time.perf_counter() - started
        requests_sent = client.request_count
    return {"wall": wall, "requests": requests_sent, **summarise_profile(pstats.Stats(profiler))}


# Buckets: cumulative time of their entry points, own time of the waits (they do not overlap, except that
# the HTTP stack's figure is net of the waits inside it).
PROFILE_BUCKETS = (
    ("JSON decoding", "cum", (("json/__init__.py", "loads"),)),
    ("timestamp parsing", "cum", (("module_utils/values.py", "read_timestamp"),)),
    # The client's one HTTP exchange: preparing the request and requests' adapter (Session.request for a
    # session handed in); the body is read later, in transport.read_body, as before.
    ("HTTP stack (requests, urllib3, http.client)", "cum", (("module_utils/client.py", "_send_once"),)),
)
WAITS = ("<method 'recv_into' of '_socket.socket' objects>", "<method 'poll' of 'select.poll' objects>",
         "<built-in method select.select>")


def summarise_profile(stats):
    total = sum(entry[2] for entry in stats.stats.values())
    waiting = sum(entry[2] for (_filename, _line, name), entry in stats.stats.items() if name in WAITS)
    buckets = {}
    for label, _kind, entry_points in PROFILE_BUCKETS:
        buckets[label] = sum(entry[3] for (filename, _line, name), entry in stats.stats.items()
                             if any(filename.endswith(suffix) and name == wanted for suffix, wanted in entry_points))
    buckets["HTTP stack (requests, urllib3, http.client)"] -= waiting
    buckets["collection code (own time: per-item work)"] = sum(
        entry[2] for (filename, _line, name), entry in stats.stats.items()
        if "/plugins/module_utils/" in filename and name not in ("parse_timestamp", "read_timestamp"))
    top = sorted(((key, entry) for key, entry in stats.stats.items() if key[2] not in WAITS), key=lambda kv: -kv[1][2])[:12]
    lines = ["%8.3f s  %8d calls  %s:%d %s" % (entry[2], entry[1], _short(filename), line, name)
             for (filename, line, name), entry in top]
    return {"cpu": total - waiting, "waiting": waiting, "buckets": buckets, "top": lines}


def _short(filename):
    for marker in ("/plugins/", "/site-packages/", "/lib/python3"):
        if marker in filename:
            return filename[filename.index(marker) + 1:]
    return filename


def child_applist(args):
    collection_imports()
    from ansible_collections.divio.cloud.plugins.module_utils.resources import list_applications
    started = time.perf_counter()
    with make_client(args.url, concurrency=args.concurrency) as client:
        apps = list_applications(client)
    return {"wall": time.perf_counter() - started, "items": len(apps)}


CHILDREN = {"module": child_module, "single": child_single, "naive": child_naive, "keepalive": child_keepalive,
            "profile": child_profile, "applist": child_applist}


def child(args):
    print(json.dumps(CHILDREN[args.child](args)))


# -- in the harness: the simulator, the minimum, the right answers ---------------------------------

def _ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class InFlight:
    """Counts requests being answered at once (the simulator's side of the max-in-flight promise)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self.now = self.peak = self.connections = 0
            self.area = 0.0
            self.first = self.last = None

    def _step(self, delta):
        with self._lock:
            moment = time.perf_counter()
            if self.first is None:
                self.first = self.last = moment
            self.area += self.now * (moment - self.last)
            self.last = moment
            self.now += delta
            self.peak = max(self.peak, self.now)

    def mean(self):
        with self._lock:
            return self.area / (self.last - self.first) if self.first is not None and self.last > self.first else 0.0


class _EnvironmentView:
    """One environment's share of a data set, shaped like the data set for ``ground_truth`` (which scans
    every record it is given: the whole fleet at once would take hours)."""

    def __init__(self, dataset, env_uuid, parts_of):
        self.now = dataset.now
        self.by_uuid = dataset.by_uuid
        self.service_instances = dataset.lookup("service_instances", "environment", env_uuid)
        self.backups = dataset.lookup("backups", "environment", env_uuid)
        self.service_instance_backups = [part for backup in self.backups for part in parts_of.get(backup["uuid"], [])]


class Simulator:
    """The simulator in this process, with an in-flight counter around every answer."""

    def __init__(self, applications, environments, days, latency_ms):
        from divio_simulator.data import generate_dataset
        from divio_simulator.server import SimulatorServer
        started = time.perf_counter()
        self.dataset = generate_dataset(seed=1, organisations=5, applications=applications,
                                        environments=environments, days=days)
        self.generated_in = time.perf_counter() - started
        self.shape = (applications, environments, days)
        self.latency_ms = latency_ms
        self.server = SimulatorServer(self.dataset, token=TOKEN, latency_ms=latency_ms).start()
        self.url = self.server.url
        self.flight = flight = InFlight()
        handler = self.server._httpd.RequestHandlerClass  # this server's own subclass
        dispatch, setup = handler._dispatch, handler.setup

        def counted_dispatch(self):
            flight._step(1)
            try:
                return dispatch(self)
            finally:
                flight._step(-1)

        def counted_setup(self):
            with flight._lock:
                flight.connections += 1
            return setup(self)

        handler._dispatch = counted_dispatch
        handler.setup = counted_setup
        self._truth = None

    def configure(self, **settings):
        self.server.configure(**settings)

    def reset(self):
        self.server.reset_stats()
        self.flight.reset()

    def requests(self):
        return self.server.stats()["requests"]

    def close(self):
        self.server.stop()

    # What a client needs at least, and what it must answer.

    def truth(self):
        """``({"app/env": newest qualifying backup id or None}, {"app/env": parts a client must read})``.

        The answers come from the tests' brute-force ground truth (``tests/integration/ground_truth.py``),
        given one environment's records at a time. Parts to read: the winner's, and those of every backup
        that could still count (finished, not temporary) and ended after it, since each could have been
        newer until its parts were seen; all of them when nothing qualifies."""
        if self._truth is None:
            import ground_truth
            ds = self.dataset
            now = datetime.now(timezone.utc)
            parts_of = {}
            for part in ds.service_instance_backups:
                parts_of.setdefault(part["backup"], []).append(part)
            apps = ds.by_uuid["applications"]
            answers, to_read = {}, {}
            for env in ds.environments:
                key = "%s/%s" % (apps[env["application"]]["slug"], env["slug"])
                view = _EnvironmentView(ds, env["uuid"], parts_of)
                found = ground_truth.qualifying(view, env["uuid"], services=SERVICES, now=now)
                winner = found[0][1] if found else None
                answers[key] = winner["uuid"] if winner else None
                retention = now + timedelta(days=1)
                could_count = [b for b in view.backups if b["state"] == "COMPLETED" and b["ended_at"] and not (
                    b.get("scheduled_for_deletion_at") and _ts(b["scheduled_for_deletion_at"]) < retention)]
                count = 0
                for backup in sorted(could_count, key=lambda b: _ts(b["ended_at"]), reverse=True):
                    count += len(backup["service_instance_backups"])
                    if backup is winner:
                        break
                to_read[key] = count
            self._truth = answers, to_read
        return self._truth

    def minimum(self, page_size_asked, consistent=False):
        """The fewest requests for list applications -> list environments -> scan backups -> parts by id.

        ``consistent``: lists of more than one page read as overlapping windows (the paginator's consistent
        read of a list that may change), each in the fewest windows there are (``consistent_pages``)."""
        ds = self.dataset
        config = self.server.config()
        own_pages = config["page_size_ignored"] or config["cursor_links"]  # pages that cannot overlap
        page = config["default_page_size"] if config["page_size_ignored"] else min(page_size_asked, config["max_page_size"])

        def pages(n):
            plain = max(1, -(-n // page))
            if not consistent or n <= page:
                return plain
            return 2 * plain if own_pages else consistent_pages(n, page)

        apps, envs, backups = len(ds.applications), len(ds.environments), len(ds.backups)
        per_app = sum(pages(len(ds.lookup("environments", "application", a["uuid"]))) for a in ds.applications)
        per_env = sum(pages(len(ds.lookup("backups", "environment", e["uuid"]))) for e in ds.environments)
        instances = sum(pages(len(ds.lookup("service_instances", "environment", e["uuid"]))) for e in ds.environments)
        honoured = config["honour_backup_environment_filter"]
        parts = sum(self.truth()[1].values())
        terms = {"applications": pages(apps), "environments": min(per_app, pages(envs)),
                 "service instances": min(instances, pages(len(ds.service_instances))),
                 "backups": min(per_env, pages(backups)) if honoured else pages(backups), "parts": parts}
        terms["total"] = sum(terms.values())
        terms["page"] = page
        terms["honoured"] = honoured
        return terms


def consistent_pages(items, page):
    """Requests for a consistent read of ``items`` in pages of at most ``page``: the paginator's chain of
    windows, each overlapping the one before (its greedy plan takes the fewest windows there are; checked
    by dynamic programming for these sizes). Plain pages when the paginator does not chain."""
    collection_imports()
    from ansible_collections.divio.cloud.plugins.module_utils import pages
    return pages.requests_needed(items, page)


def run_child(kind, url, **extra):
    command = [sys.executable, __file__, "--child", kind, "--url", url]
    for key, value in extra.items():
        command += ["--" + key.replace("_", "-"), str(value)]
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit("child %s failed:\n%s" % (kind, out.stderr[-3000:]))
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_fleet_child(sim, kind="module", **extra):
    """``run_child`` with the simulator's own CPU time (this process's) during the run added as ``server_cpu``."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = run_child(kind, sim.url, **extra)
    after = resource.getrusage(resource.RUSAGE_SELF)
    result["server_cpu"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return result


def page_size_asked():
    collection_imports()
    from ansible_collections.divio.cloud.plugins.module_utils import client
    return client.DEFAULT_PAGE_SIZE


class Report:
    HEADER = ("| row | requests | minimum | requests / minimum | plain pages | wall | limit | wall / limit | RSS |\n"
              "|---|---|---|---|---|---|---|---|---|")

    def __init__(self, latency_ms, concurrency):
        self.latency_ms = latency_ms
        self.concurrency = concurrency
        self.rows = []
        self.notes = []

    def fleet_row(self, label, sim, result, minimum):
        requests = sim.requests()
        limit = requests * self.latency_ms / 1000.0 / self.concurrency
        answers, _unused = sim.truth()
        got = {key: value[0] for key, value in result["answers"].items()}
        wrong = sorted(key for key in answers if got.get(key, "absent") != answers[key])
        consistent = sim.minimum(page_size_asked(), consistent=True)
        text = "| %s | %d | %d | %.2fx | %d | %.1f s | %.1f s | %.2fx | %.0f MB |" % (
            label, requests, consistent["total"], requests / consistent["total"], minimum["total"], result["wall"], limit,
            result["wall"] / limit, result["rss_mb"])
        self.rows.append(text)
        self.notes.append(
            "%s: requests/minimum %.2fx (%.2fx of plain pages); plain pages = %d applications + %d environments + %d service instances + %d "
            "backups + %d parts (page %d); client counted %s (retries %s); in flight mean %.1f, peak %d; %d connections; "
            "RSS %.0f MB before the run; CPU %.1f s client, %.1f s simulator; answers %s"
            % (label, requests / consistent["total"], requests / minimum["total"], minimum["applications"], minimum["environments"],
               minimum["service instances"], minimum["backups"],
               minimum["parts"], minimum["page"], (result.get("stats") or {}).get("requests"),
               (result.get("stats") or {}).get("retries"), sim.flight.mean(), sim.flight.peak, sim.flight.connections,
               result.get("rss_before_mb", 0), result.get("cpu", 0), result.get("server_cpu", 0),
               "all %d right" % len(answers) if not wrong else "%d WRONG, e.g. %s" % (len(wrong), wrong[:3])))
        print(text, flush=True)
        print("    " + self.notes[-1], flush=True)
        if result.get("failed"):
            self.notes.append("%s: the module FAILED: %s" % (label, result.get("msg")))
            print("    " + self.notes[-1], flush=True)


def fleet_rows(args, report, which):
    apps, envs, days = args.applications, SCALE[1], SCALE[2]
    asked = page_size_asked()
    started = time.perf_counter()
    sim = Simulator(apps, envs, days, args.latency_ms)
    print("    (simulator: %d backups, %d parts, generated in %.1f s; load average %.1f)"
          % (len(sim.dataset.backups), len(sim.dataset.service_instance_backups), sim.generated_in, os.getloadavg()[0]),
          flush=True)
    try:
        if "scale" in which:
            sim.reset()
            result = run_fleet_child(sim)
            report.fleet_row("fleet %dx%dx%d, filter honoured, page cap %d" % (apps, envs, days, sim.server.max_page_size),
                             sim, result, sim.minimum(asked))
        if "capped" in which:
            sim.configure(honour_backup_environment_filter=False, max_page_size=args.cap)
            sim.reset()
            # Every backup at 20 a page is more pages than the max_pages default (10,000) allows one listing.
            result = run_fleet_child(sim, params=json.dumps({"max_pages": CAPPED_MAX_PAGES}))
            report.fleet_row("fleet %dx%dx%d, filter ignored, page cap %d, max_pages %d" % (
                apps, envs, days, args.cap, CAPPED_MAX_PAGES), sim, result, sim.minimum(asked))
            sim.configure(honour_backup_environment_filter=True, max_page_size=100)
        if "shapes" in which:
            plain = dict(max_page_size=100, default_page_size=20, page_size_ignored=False, null_count=False,
                         cursor_links=False)
            for label, config in SHAPES:
                sim.configure(honour_backup_environment_filter=False, **dict(plain, **config))
                sim.reset()
                result = run_fleet_child(sim, params=json.dumps({"max_pages": CAPPED_MAX_PAGES}))
                report.fleet_row("fleet %dx%dx%d, filter ignored, %s" % (apps, envs, days, label), sim, result,
                                 sim.minimum(asked))
            sim.configure(honour_backup_environment_filter=True, **plain)
        if "bursts" in which:
            sim.configure(faults={"kinds": ["429-seconds"], "retry_after": 1,
                                  "on_requests": [n for burst in BURSTS for n in burst]})
            sim.reset()
            result = run_fleet_child(sim)
            faults = sim.server.stats()["faults"]
            sim.configure(faults=None)
            report.fleet_row("fleet %dx%dx%d, filter honoured, %d bursts of 429 (Retry-After: 1 s)"
                             % (apps, envs, days, len(BURSTS)), sim, result, sim.minimum(asked))
            print("    429s answered: %s; the client counted %s retries" % (
                sum(faults.values()), (result.get("stats") or {}).get("retries")), flush=True)
        if "keepalive" in which:
            print("\nConnection reuse (check_backups, %d ms latency):\n" % args.latency_ms)
            print("| setup | wall | client CPU | simulator CPU | connections opened | RSS |\n|---|---|---|---|---|---|")
            for mode, label in (("shared", "today: one shared session, pool of max_concurrency kept-alive connections"),
                                ("thread", "one session (one kept-alive connection) per thread"),
                                ("close", "no keep-alive (a new connection per request)")):
                sim.reset()
                result = run_fleet_child(sim, "keepalive", mode=mode)
                print("| %s | %.1f s | %.1f s | %.1f s | %d | %.0f MB |" % (
                    label, result["wall"], result["cpu"], result["server_cpu"], sim.flight.connections, result["rss_mb"]),
                    flush=True)
        if "profile" in which:
            sim.configure(latency_ms=0)
            sim.reset()
            result = run_child("profile", sim.url)
            sim.configure(latency_ms=args.latency_ms)
            print("\nProfile of the fleet check (cProfile on the process CPU clock, one thread: max_concurrency 1, "
                  "0 ms latency; %d requests, %.1f s wall under the profiler): %.1f s CPU in the client under the "
                  "profiler, %.2f ms per request\n" % (result["requests"], result["wall"], result["cpu"],
                                                       1000 * result["cpu"] / max(1, result["requests"])))
            for label, value in sorted(result["buckets"].items(), key=lambda kv: -kv[1]):
                print("  %-52s %6.2f s  %3.0f%%" % (label, value, 100 * value / max(result["cpu"], 1e-9)))
            print("\n  top functions by own CPU time:")
            for line in result["top"]:
                print("  " + line)
        if "inventory" in which:
            inventory_rows(sim)
        if "cli" in which:
            cli_rows(args, sim)
    finally:
        sim.close()
    print("    (fleet rows took %.0f s)" % (time.perf_counter() - started), flush=True)


def row_600(args, report):
    apps, envs, days = args.applications, SCALE[1], 600
    sim = Simulator(apps, envs, days, args.latency_ms)
    print("    (simulator: %d backups, generated in %.1f s)" % (len(sim.dataset.backups), sim.generated_in), flush=True)
    try:
        sim.reset()
        result = run_fleet_child(sim)
        report.fleet_row("fleet %dx%dx%d, filter honoured, page cap %d" % (apps, envs, days, sim.server.max_page_size),
                         sim, result, sim.minimum(page_size_asked()))
    finally:
        sim.close()


def small_rows(args):
    print("\nOne environment (wiki/live), find_backups, %d ms latency; naive = the documented chain (divio-cli's "
          "page size, every page of backups and parts):\n" % args.latency_ms)
    print("| backups | `?environment=` | naive requests | our requests | fewer | our wall | RSS |\n|---|---|---|---|---|---|---|")
    for label, apps, envs, days in SMALL:
        sim = Simulator(apps, envs, days, args.latency_ms)
        try:
            for honour in (True, False):
                sim.configure(honour_backup_environment_filter=honour, latency_ms=0)
                sim.reset()
                naive = run_child("naive", sim.url, app="wiki", env="live")
                naive_requests = sim.requests()
                sim.configure(latency_ms=args.latency_ms)
                sim.reset()
                ours = run_child("single", sim.url, app="wiki", env="live")
                ours_requests = sim.requests()
                ok = "" if ours["answer"] == naive["answer"] else " (WRONG: %s, naive %s)" % (ours["answer"], naive["answer"])
                print("| %s | %s | %d | %d | %.0fx | %.2f s | %.0f MB |%s" % (
                    label, "honoured" if honour else "ignored", naive_requests, ours_requests,
                    naive_requests / max(1, ours_requests), ours["wall"], ours["rss_mb"], ok), flush=True)
        finally:
            sim.close()


# -- divio-cli 4.0.5 and ansible-playbook start-up ------------------------------------------------

LOOPBACK_GUARD = '''
import ipaddress, socket
_connect = socket.socket.connect
def _loopback_only(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise OSError("fleet_scale benchmark: refused a connection to %s (loopback only)" % host)
    return _connect(self, address)
socket.socket.connect = _loopback_only
'''


def cli_environment(url):
    """An isolated HOME for divio-cli: its token in a netrc, update check and error reporting off, and a
    guard that refuses any connection not to loopback."""
    home = Path(tempfile.mkdtemp(prefix="divio-cli-home-"))
    host = url.split("//", 1)[1].rsplit(":", 1)[0]
    (home / ".netrc").write_text("machine %s\n  login ada@example.com\n  password %s\n" % (host, TOKEN))
    (home / ".netrc").chmod(0o600)
    (home / ".config" / "divio").mkdir(parents=True)
    # A fresh update-check stamp means "checked today" (no PyPI request); an empty DSN turns Sentry off.
    (home / ".config" / "divio" / "config.json").write_text(
        json.dumps({"update_check_timestamp": int(time.time()), "sentry-dsn": ""}))
    (home / "guard").mkdir()
    (home / "guard" / "sitecustomize.py").write_text(LOOPBACK_GUARD)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "NETRC_PATH": str(home / ".netrc"), "PYTHONPATH": str(home / "guard"), "NO_PROXY": "*", "LANG": "C.UTF-8"}
    return home, env


def timed(command, env):
    started = time.perf_counter()
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, out


def cli_rows(args, sim):
    divio = CLI_VENV / "bin" / "divio"
    print("\ndivio-cli 4.0.5 (%s) and the collection listing applications, same simulator, %d ms latency:\n"
          % (CLI_VENV.name, args.latency_ms))
    if not divio.exists():
        print("  skipped: %s is missing (python -m venv %s && %s/bin/pip install divio-cli==4.0.5)" % (divio, CLI_VENV, CLI_VENV))
        return
    home, env = cli_environment(sim.url)
    try:
        print("| client, command | requests | applications listed | wall | start-up | wall - start-up "
              "| per request |\n|---|---|---|---|---|---|---|")
        # Start-up: the one-request command at 0 ms latency (best of 3), i.e. everything but waiting.
        sim.configure(latency_ms=0)
        startup = min(timed([str(divio), "-z", sim.url, "app", "list", "--json"], env)[0] for _unused in range(3))
        sim.configure(latency_ms=args.latency_ms)
        for command in (["app", "list", "--json"], ["app", "list"]):
            runs = []
            for _unused in range(3):
                sim.reset()
                wall, out = timed([str(divio), "-z", sim.url] + command, env)
                runs.append((wall, sim.requests(), out))
            wall, requests, out = min(runs, key=lambda run: run[0])
            if out.returncode != 0:
                print("| divio %s | failed: %s |" % (" ".join(command), (out.stderr or out.stdout)[-300:].strip()))
                continue
            listed = len(json.loads(out.stdout)["results"]) if "--json" in command else "(a table)"
            print("| divio-cli `%s` | %d | %s | %.2f s | %.2f s | %.2f s | %.0f ms |" % (
                " ".join(command), requests, listed, wall, startup, wall - startup,
                1000 * (wall - startup) / requests), flush=True)
        for concurrency in (1, args.concurrency):
            sim.reset()
            result = run_child("applist", sim.url, concurrency=concurrency)
            requests = sim.requests()
            print("| collection `list_applications`, max_concurrency %d | %d | %d | %.2f s | (in-process) | %.2f s "
                  "| %.0f ms |" % (concurrency, requests, result["items"], result["wall"], result["wall"],
                                   1000 * result["wall"] / requests), flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def ansible_environment(sim, work):
    """Environment for ansible-playbook / ansible-inventory of this venv against ``sim``, its state in ``work``."""
    root = collection_imports()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DIVIO_", "ANSIBLE_"))}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(root), ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_HOME=str(work / "home"), ANSIBLE_LOCAL_TEMP=str(work / "tmp"), ANSIBLE_NOCOLOR="1",
               DIVIO_API_URL=sim.url, DIVIO_API_TOKEN=TOKEN,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    return env


PEAK_RSS_OF = ("import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")


def inventory_rows(sim):
    """The inventory plugin over the same fleet: ``ansible-inventory --list`` (its start-up included), with and
    without ``latest_backup``; peak RSS is ansible-inventory's, with 3,000 hosts in Ansible's inventory."""
    work = Path(tempfile.mkdtemp(prefix="divio-fleet-inventory-"))
    try:
        env = ansible_environment(sim, work)
        inventory = shutil.which("ansible-inventory", path=env["PATH"])
        print("\nInventory plugin (`ansible-inventory --list`, start-up included):\n")
        print("| latest_backup | hosts | requests | wall | peak RSS | backup groups |\n|---|---|---|---|---|---|")
        for latest in (False, True):
            source = work / "fleet.divio.yml"
            source.write_text("plugin: divio.cloud.divio\nlatest_backup: %s\n" % str(latest).lower())
            sim.reset()
            # Through a wrapper process, so the peak RSS is this run's alone (RUSAGE_CHILDREN keeps the maximum).
            wall, out = timed([sys.executable, "-c", PEAK_RSS_OF, inventory, "-i", str(source), "--list"], env)
            if out.returncode != 0:
                print("| %s | FAILED: %s |" % (latest, out.stderr[-800:]))
                continue
            listed = json.loads(out.stdout)
            groups = ", ".join("%s %d" % (name, len(group.get("hosts", []))) for name, group in sorted(listed.items())
                               if name.startswith("divio_backup_"))
            print("| %s | %d | %d | %.1f s | %s | %s |" % (
                str(latest).lower(), len(listed["_meta"]["hostvars"]), sim.requests(), wall,
                "%.0f MB" % (int(out.stderr.strip().splitlines()[-1]) / 1024), groups or "-"),
                flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def startup_row(args):
    """ansible-playbook start-up: a play with one debug task, and a play running backup_check on a tiny fleet
    against the same check run in-process."""
    sim = Simulator(3, 2, 5, args.latency_ms)
    work = Path(tempfile.mkdtemp(prefix="divio-fleet-play-"))
    try:
        env = ansible_environment(sim, work)
        playbook = shutil.which("ansible-playbook", path=env["PATH"])
        (work / "debug.yml").write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                                        "    - ansible.builtin.debug:\n        msg: hello\n")
        (work / "check.yml").write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                                        "    - divio.cloud.backup_check:\n")
        plays = {}
        for name in ("debug", "check"):
            runs = [timed([playbook, "-i", "localhost,", "-c", "local", str(work / (name + ".yml"))], env) for _unused in range(3)]
            failed = [out for _unused, out in runs if out.returncode != 0]
            if failed:
                print("\nansible-playbook start-up: the %s play FAILED: %s" % (name, failed[0].stdout[-800:]))
                return
            plays[name] = min(wall for wall, _unused in runs)
        in_process = min(run_child("module", sim.url)["wall"] for _unused in range(3))
        print("\nansible-playbook start-up (not in the fleet rows' wall; best of 3): a play with one debug task %.2f s; "
              "a play running backup_check on a 3-application fleet %.2f s, where the same module run in-process "
              "takes %.2f s: %.2f s is ansible-playbook, module packaging and the module process's start-up"
              % (plays["debug"], plays["check"], in_process, plays["check"] - in_process))
    finally:
        sim.close()
        shutil.rmtree(work, ignore_errors=True)


def median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


PLAYBOOK_FLEET = (2, 28)  # environments per application, days of backups: 100 applications make ~200 environments, ~5,900 backups
PLAYBOOK_CAP = 7  # the server: pages of at most 7 items, ?environment= ignored


def playbook_rows(args):
    """The whole check_backups playbook beside the module alone, on a server that caps pages at 7 and ignores
    ``?environment=``: median wall of ``--runs`` runs each, and a no-op playbook's wall (ansible-playbook's own
    start-up). Target (issue 24): playbook - no-op <= 1.4 x limit at 100 applications, 1.3 x at 1,000."""
    print("\nWhole playbook beside the module alone (filter ignored, pages of at most %d, %d ms latency, median of %d "
          "runs; limit = requests x latency / %d; overhead = playbook - no-op playbook - module):\n"
          % (PLAYBOOK_CAP, args.latency_ms, args.runs, args.concurrency))
    print("| fleet | requests | limit | module | module / limit | playbook | no-op playbook | (playbook - no-op) / limit "
          "| target | overhead |\n|---|---|---|---|---|---|---|---|---|---|")
    for apps in [int(n) for n in args.playbook_applications.split(",") if n]:
        sim = Simulator(apps, PLAYBOOK_FLEET[0], PLAYBOOK_FLEET[1], args.latency_ms)
        sim.configure(honour_backup_environment_filter=False, max_page_size=PLAYBOOK_CAP)
        work = Path(tempfile.mkdtemp(prefix="divio-fleet-playbook-"))
        try:
            env = ansible_environment(sim, work)
            playbook = shutil.which("ansible-playbook", path=env["PATH"])
            (work / "noop.yml").write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                                           "    - ansible.builtin.meta: noop\n")
            noop = median([timed([playbook, "-i", str(REPO / "playbooks" / "inventory"), str(work / "noop.yml")], env)[0]
                           for _unused in range(args.runs)])
            module_walls, module_requests, play_walls, play_requests = [], [], [], []
            for _unused in range(args.runs):
                sim.reset()
                result = run_fleet_child(sim)
                module_walls.append(result["wall"])
                module_requests.append(sim.requests())
                sim.reset()
                wall, out = timed([playbook, "-i", str(REPO / "playbooks" / "inventory"),
                                   str(REPO / "playbooks" / "check_backups.yml"), "-e", "report_only=true",
                                   "-e", "report_dir=%s" % (work / "reports")], env)
                report = json.loads((work / "reports" / "backups.json").read_text())
                if out.returncode != 0 or report["summary"]["result"] == "failed":
                    print("| %d applications | the playbook FAILED (exit %d): %s |" % (apps, out.returncode, report["error"]))
                    return
                play_walls.append(wall)
                play_requests.append(sim.requests())
            requests = median(play_requests)
            limit = requests * args.latency_ms / 1000.0 / args.concurrency
            module, play = median(module_walls), median(play_walls)
            print("| %d applications, %d environments, %d backups | %d (module: %d) | %.2f s | %.2f s | %.2fx | %.2f s "
                  "| %.2f s | %.2fx | %.1fx | %.2f s |" % (
                      apps, len(sim.dataset.environments), len(sim.dataset.backups), requests, median(module_requests),
                      limit, module, module / limit, play, noop, (play - noop) / limit, 1.4 if apps <= 100 else 1.3,
                      play - noop - module), flush=True)
            runs = (", ".join("%.2f" % w for w in module_walls), ", ".join("%.2f" % w for w in play_walls))
            print("    runs: module %s s; playbook %s s" % runs, flush=True)
        finally:
            sim.close()
            shutil.rmtree(work, ignore_errors=True)


def benchmark(args):
    which = set(row for row in args.rows.split(",") if row)
    unknown = which - set(ROWS)
    if unknown:
        raise SystemExit("unknown row(s) %s; known: %s" % (", ".join(sorted(unknown)), ", ".join(ROWS)))
    print("latency %d ms per request, %d requests in flight at most, Python %s, %d CPUs, load average %.1f\n"
          % (args.latency_ms, args.concurrency, sys.version.split()[0], os.cpu_count(), os.getloadavg()[0]))
    report = Report(args.latency_ms, args.concurrency)
    if which & {"scale", "capped", "shapes"} or args.with_600:
        print(Report.HEADER)
    if which & {"scale", "capped", "shapes", "keepalive", "profile", "inventory", "cli"}:
        fleet_rows(args, report, which)
    if args.with_600:
        row_600(args, report)
    if report.rows:
        print("\n" + Report.HEADER + "\n" + "\n".join(report.rows))
        print("\nminimum = W(A) + min(sum over applications of W(e_a), W(E)) + min(sum over environments of W(s_e), "
              "W(S)) + (filter honoured: min(sum over environments of W(b_e), W(B)); ignored: W(B)) + the parts of "
              "each environment's newest qualifying backup and of every finished backup that ended after it, by id; "
              "W(n) = the fewest requests that read a list of n items so that a change during the read is seen: "
              "overlapping windows of at most P items (pages.requests_needed, checked against dynamic "
              "programming), or two reads of plain pages where windows cannot overlap every boundary (page_size "
              "ignored, cursor links, a cap too small for the list); P the page size the server serves (min(page_size "
              "asked, its cap), or its fixed size); A applications, "
              "E environments, S service instances, B backups, e_a / s_e / b_e per application / environment. "
              "plain pages: the same with W(n) = ceil(n/P), pages that only touch - a read that cannot see a change. "
              "limit = requests x latency / %d." % args.concurrency)
    if "small" in which:
        small_rows(args)
    if "startup" in which:
        startup_row(args)
    if "playbook" in which:
        playbook_rows(args)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated subset of: " + ", ".join(ROWS))
    parser.add_argument("--with-600", action="store_true", help="add the 600-backups-per-environment row (~6 GB, slow)")
    parser.add_argument("--applications", type=int, default=SCALE[0], help="applications in the fleet rows (default %(default)s)")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8, help="the client's max_concurrency (its default)")
    parser.add_argument("--cap", type=int, default=20, help="page-size cap of the filter-ignoring server (default %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement of the playbook row (median)")
    parser.add_argument("--playbook-applications", default="100,1000",
                        help="fleets of the playbook row, comma-separated (default %(default)s)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--app", help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        benchmark(args)


if __name__ == "__main__":
    main()
