"""Soak the latest-backup resolution against the simulator with injected faults.

Each run resolves the latest backup of one environment of the ``demo`` data (seed 1) with
``find_backups`` over real HTTP, while the simulator faults about 10 % of the requests, and is judged:

- ``correct``: the entry's backup uuid and ``taken_at`` equal the brute-force ground truth;
- ``clean failure``: a ``DivioError`` whose message names the cause: it contains a phrase that belongs
  to one of the fault kinds injected during the run (``CAUSES``);
- ``wrong``: anything else - another answer, an exception that is not a ``DivioError`` (a traceback),
  a failure although no fault was injected, or a message that names no injected cause.

Used by tests/stress/test_soak.py and test_churn.py; also runs on its own (long soak, prints a report)::

    .venv/bin/python tests/stress/soak.py --runs 250 [--seed 7] [--rate 0.1] [--verbose]

exit status 0 when no run was wrong, 1 otherwise.
"""

import argparse
import functools
import itertools
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
REPO = TESTS.parent
for _path in (TESTS / "simulator", TESTS / "integration", TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


def _import_collection():
    """Make ``ansible_collections.divio.cloud`` importable when run outside pytest (pytest-ansible does it there)."""
    try:
        import ansible_collections.divio.cloud  # noqa: F401
        return
    except ImportError:
        pass
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="divio-soak-"))
    (root / "ansible_collections" / "divio").mkdir(parents=True)
    (root / "ansible_collections" / "divio" / "cloud").symlink_to(REPO, target_is_directory=True)
    sys.path.insert(0, str(root))


_import_collection()

import ground_truth
from ansible_collections.divio.cloud.plugins.module_utils.backups import find_backups
from ansible_collections.divio.cloud.plugins.module_utils.checks import check_backups
from ansible_collections.divio.cloud.plugins.module_utils.client import DivioClient, RetryPolicy
from ansible_collections.divio.cloud.plugins.module_utils.errors import DivioError
from divio_simulator.faults import KINDS

SERVICE_RULES = (None, ("DATABASE",), ("DATABASE", "STORAGE"))
CLIENT_TIMEOUT = 0.5  # seconds; the simulator's stalls are longer
STALL_SECONDS = 1.0
RETRY_AFTER = 1  # what 429 faults ask for; the soak's sleep shortens real waits (see capped_sleep)
DEFAULT_RATE = 0.1

# Phrases of the client's messages that name each fault kind as the cause (plugins/module_utils/client.py).
_GAVE_UP = "gave up after"
CAUSES = {
    "500": ("HTTP 500",),
    "502": ("HTTP 502",),
    "503": ("HTTP 503",),
    "504": ("HTTP 504",),
    "429-seconds": ("HTTP 429",),
    "429-date": ("HTTP 429",),
    "stall": ("no answer within the timeout",),
    "reset": ("could not connect to", "connection failed", "closed or reset before an answer arrived"),
    "truncated": ("the connection failed while reading the answer",),
    "partial-json": ("not valid JSON",),
    "html": ("HTTP 502",),
    "html-200": ("not valid JSON",),
    "loop-next": ("loop back", "does not lead to page"),
    "count-mismatch": ("announced", "the count changed", "more items arrived than", "ends before or after"),
    "empty-next": ("an empty page that still links to a next one",),
    "duplicate-item": ("arrived twice",),
}
# Kinds after which a failure must also say that the client retried and gave up.
RETRIED = {"502", "503", "504", "429-seconds", "429-date", "stall", "reset", "truncated", "partial-json", "html",
           "html-200"}
assert set(CAUSES) == set(KINDS)


def names_cause(message, kinds):
    """The injected kinds (of ``kinds``) that the message names as its cause."""
    named = set()
    for kind in kinds:
        if any(phrase in message for phrase in CAUSES[kind]):
            if kind not in RETRIED or _GAVE_UP in message:
                named.add(kind)
    return named


class CappedSleep:
    """A RetryPolicy sleep that really sleeps at most ``cap`` seconds, and remembers what was asked.

    The client's waits (backoff, Retry-After) are honoured in order and counted against its budget;
    only the wall-clock cost is cut, so hundreds of runs stay fast.
    """

    def __init__(self, cap=0.02):
        self.cap = cap
        self.asked = []

    def __call__(self, seconds):
        self.asked.append(seconds)
        time.sleep(min(seconds, self.cap))


class settled:
    """Context manager: on exit, wait for the worker threads the client started meanwhile.

    When a concurrent read fails, the client abandons the page fetches still running (they finish on their
    own); their requests would otherwise reach the simulator during the next run and take its faults."""

    def __init__(self, timeout=30.0):
        self.timeout = timeout

    def __enter__(self):
        self._before = set(threading.enumerate())
        return self

    def __exit__(self, *exc_info):
        deadline = time.monotonic() + self.timeout
        for thread in set(threading.enumerate()) - self._before:
            if thread.name.startswith("ThreadPoolExecutor"):
                thread.join(max(0.0, deadline - time.monotonic()))


def fast_policy(sleep=None):
    # The budget holds four tries with the 429-date waits (up to 2 s each: an HTTP-date has whole seconds).
    return RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_max=0.05, max_total=10.0,
                       sleep=sleep or CappedSleep())


def make_client(server, token, timeout=CLIENT_TIMEOUT, retry=None, **kwargs):
    return DivioClient.from_options({"api_url": server.url, "api_token": token, "timeout": timeout}, environ={},
                                    retry=retry or fast_policy(), **kwargs)


def fault_settings(seed, rate=DEFAULT_RATE, kinds=KINDS):
    return {"rate": rate, "kinds": list(kinds), "seed": seed, "stall_seconds": STALL_SECONDS, "retry_after": RETRY_AFTER}


@dataclass
class Run:
    number: int
    app_slug: str
    env_slug: str
    services: tuple
    honoured: bool
    page_size: int = 100
    concurrency: int = 8
    outcome: str = ""  # correct, clean, wrong
    detail: str = ""
    faults: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def describe(self):
        rule = "+".join(self.services) if self.services else "any"
        return (f"run {self.number}: {self.app_slug}/{self.env_slug} services={rule} "
                f"filter={'honoured' if self.honoured else 'ignored'} pages<={self.page_size} concurrency={self.concurrency} "
                f"faults={dict(self.faults)}: {self.outcome}"
                f"{' - ' + self.detail if self.detail else ''}")


@dataclass
class Report:
    runs: list = field(default_factory=list)
    faults: Counter = field(default_factory=Counter)
    requests: int = 0
    seconds: float = 0.0
    label: str = "soak"

    def count(self, outcome):
        return sum(run.outcome == outcome for run in self.runs)

    @property
    def wrong(self):
        return [run for run in self.runs if run.outcome == "wrong"]

    def named_causes(self):
        """Clean failures by the kind their message named."""
        return Counter(run.detail.split(":", 1)[0] for run in self.runs if run.outcome == "clean")

    def summary(self):
        injected = dict(sorted(self.faults.items()))
        total = sum(injected.values())
        share = f" of {self.requests} requests ({100.0 * total / self.requests:.1f} %)" if self.requests else ""
        return (f"{self.label}: {len(self.runs)} runs, {self.count('correct')} correct, {self.count('clean')} clean failures, "
                f"{self.count('wrong')} wrong (faults injected: {total}{share}: {injected}; {self.seconds:.1f} s)")


def _noting_faults(call, run, server, before):
    """``call`` that adds the faults injected meanwhile to ``run.faults``: they are known only after it, so
    ``judge`` reads them from ``run.faults`` once the call is over."""
    def noted():
        try:
            return call()
        finally:
            run.faults.update(_fault_delta(server, before))
    return noted


def _fault_delta(server, before):
    after = Counter(server.stats()["faults"])
    after.subtract(before)
    return +after


def judge(run, dataset, env_uuid, call):
    """Run ``call()`` and classify it (see the module docstring); returns the run."""
    expected_uuid, expected_taken = ground_truth.latest(dataset, env_uuid, run.services)
    try:
        entries = call()
    except DivioError as exc:
        message = str(exc)
        named = names_cause(message, run.faults)
        if named:
            run.outcome, run.detail = "clean", f"{'/'.join(sorted(named))}: {type(exc).__name__}: {message}"
        elif not run.faults:
            run.outcome, run.detail = "wrong", f"failed although no fault was injected: {type(exc).__name__}: {message}"
        else:
            run.outcome, run.detail = "wrong", f"the message names no injected cause: {type(exc).__name__}: {message}"
        return run
    except Exception as exc:  # a traceback, whatever it is
        run.outcome, run.detail = "wrong", f"traceback: {type(exc).__name__}: {exc}"
        return run
    if len(entries) != 1:
        run.outcome, run.detail = "wrong", f"{len(entries)} entries instead of 1"
        return run
    entry = entries[0]
    got_taken = ground_truth.ts(entry["taken_at"]) if entry.get("taken_at") else None
    if entry["environment"] != env_uuid or entry["uuid"] != expected_uuid or got_taken != expected_taken:
        run.outcome = "wrong"
        run.detail = f"answered {entry['uuid']} taken {entry['taken_at']}, expected {expected_uuid} taken {expected_taken}"
    else:
        run.outcome = "correct"
    return run


# (server page-size cap, client max_concurrency): one page per list; several pages fetched concurrently
# by number; several pages followed one next link at a time.
LAYOUTS = ((100, 8), (25, 8), (25, 1))


def run_soak(server, dataset, token, runs, seed=1, rate=DEFAULT_RATE, layouts=LAYOUTS, on_run=None):
    """``runs`` latest-backup resolutions against ``server`` (serving ``dataset``) with faults on.

    Cycles through every environment, the three service rules, the backups/?environment= filter honoured
    or ignored, and the page layouts (``LAYOUTS``). Leaves the server with faults off. Returns a
    :class:`Report`.
    """
    envs = ground_truth.environments(dataset)
    combos = list(itertools.product(SERVICE_RULES, (True, False), layouts))
    report = Report()
    server.configure(faults=fault_settings(seed, rate))
    first_stats = server.stats()
    first = Counter(first_stats["faults"])
    started = time.monotonic()
    try:
        for number in range(1, runs + 1):
            # Environments cycle; each pass over them shifts the knobs by one, so every pass sees every
            # combination of knobs and, over len(envs) passes, every environment sees every combination.
            n = number - 1
            (app_slug, env_slug, env_uuid) = envs[n % len(envs)]
            services, honoured, (page_size, concurrency) = combos[(n + n // len(envs)) % len(combos)]
            server.configure(honour_backup_environment_filter=honoured, max_page_size=page_size)
            run = Run(number, app_slug, env_slug, services, honoured, page_size, concurrency)
            before = Counter(server.stats()["faults"])
            t0 = time.monotonic()
            with make_client(server, token, max_concurrency=concurrency) as client, settled():
                find = functools.partial(find_backups, client, app_slug, environment=env_slug,
                                         services=list(services) if services else None)
                judge(run, dataset, env_uuid, _noting_faults(find, run, server, before))
            run.seconds = time.monotonic() - t0
            report.runs.append(run)
            if on_run:
                on_run(run)
    finally:
        report.seconds = time.monotonic() - started
        report.faults = _fault_delta(server, first)
        report.requests = server.stats()["requests"] - first_stats["requests"]
        server.configure(faults=None, honour_backup_environment_filter=True, max_page_size=100)
    return report


# -- the fleet check under faults --------------------------------------------------------------------

def expected_check_records(dataset, now, max_age_seconds=24 * 3600, services=("DATABASE",)):
    """``{(app slug, env slug): (status, uuid, taken_at)}`` by brute force, as ``check_backups`` judges."""
    expected = {}
    for app_slug, env_slug, env_uuid in ground_truth.environments(dataset):
        checks = []
        for service in services:
            uuid, taken = ground_truth.latest(dataset, env_uuid, [service])
            if uuid is None:
                checks.append(("missing", None, None, None))
            else:
                age = int((now - taken).total_seconds())
                checks.append(("fresh" if age <= max_age_seconds else "stale", uuid, taken, age))
        order = ("error", "missing", "stale", "fresh")
        status = min((c[0] for c in checks), key=order.index)
        if status == "missing":
            expected[(app_slug, env_slug)] = (status, None, None)
        else:
            stalest = max(checks, key=lambda c: c[3] if c[3] is not None else -1)
            expected[(app_slug, env_slug)] = (status, stalest[1], stalest[2])
    return expected


def judge_check(records, expected, injected):
    """``(correct records, error records, wrong descriptions)`` for one ``check_backups`` answer, given the
    fault kinds injected meanwhile."""
    correct, errors, wrong = 0, 0, []
    seen = set()
    for record in records:
        key = (record["application_slug"], record["environment_slug"])
        if record["status"] == "error":
            if not isinstance(record.get("error"), str) or not record["error"].strip():
                wrong.append(f"{key}: error record without a message")
            elif not names_cause(record["error"], injected):
                wrong.append(f"{key}: error names no fault: {record['error']}")
            else:
                errors += 1
            if record["environment_slug"] is None:
                # an application-level error stands for all of its environments
                seen.update(k for k in expected if k[0] == record["application_slug"])
            else:
                seen.add(key)
            continue
        seen.add(key)
        want = expected.get(key)
        taken = ground_truth.ts(record["taken_at"]) if record.get("taken_at") else None
        if want is None:
            wrong.append(f"{key}: not in the data set")
        elif (record["status"], record["uuid"], taken) != want:
            wrong.append(f"{key}: {record['status']} {record['uuid']} {record['taken_at']}, expected {want}")
        else:
            correct += 1
    missing = set(expected) - seen
    if missing:
        wrong.append(f"no record for {sorted(missing)}")
    return correct, errors, wrong


def run_check_soak(server, dataset, token, iterations, seed=1, rate=DEFAULT_RATE, now=None):
    """``check_backups`` over the whole fleet ``iterations`` times with faults on.

    Returns ``(counts, faults, wrong)``: counts of correct records, error records, whole calls that
    failed cleanly, and the list of wrong findings (must stay empty)."""
    import datetime

    now = now or datetime.datetime.now(datetime.timezone.utc)
    expected = expected_check_records(dataset, now)
    counts, wrong = Counter(), []
    faults = Counter()
    server.configure(faults=fault_settings(seed, rate))
    try:
        for number in range(1, iterations + 1):
            server.configure(honour_backup_environment_filter=bool(number % 2), max_page_size=(100, 25)[number % 3 == 0])
            before = Counter(server.stats()["faults"])
            with make_client(server, token) as client, settled():
                try:
                    records, _summary = check_backups(client, now=now)
                except DivioError as exc:
                    injected = _fault_delta(server, before)
                    faults.update(injected)
                    if names_cause(str(exc), injected):
                        counts["failed cleanly"] += 1
                    else:
                        wrong.append(f"iteration {number}: {type(exc).__name__}: {exc} (faults {dict(injected)})")
                    continue
                except Exception as exc:
                    faults.update(_fault_delta(server, before))
                    wrong.append(f"iteration {number}: traceback: {type(exc).__name__}: {exc}")
                    continue
            injected = _fault_delta(server, before)
            faults.update(injected)
            correct, errors, bad = judge_check(records, expected, injected)
            counts["correct records"] += correct
            counts["error records"] += errors
            wrong.extend(f"iteration {number}: {item}" for item in bad)
    finally:
        server.configure(faults=None, honour_backup_environment_filter=True, max_page_size=100)
    return counts, faults, wrong


def main(argv=None):
    from divio_simulator import generate_dataset, run_simulator
    from divio_simulator.data import SIZES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=250)
    parser.add_argument("--check-iterations", type=int, default=30, help="check_backups iterations (0: none)")
    parser.add_argument("--seed", type=int, default=1, help="fault plan seed")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE)
    parser.add_argument("--verbose", action="store_true", help="print every run")
    args = parser.parse_args(argv)

    token = "soak-token"
    dataset = generate_dataset(seed=1, **SIZES["demo"])
    with run_simulator(dataset=dataset, token=token) as server:
        report = run_soak(server, dataset, token, args.runs, seed=args.seed, rate=args.rate,
                          on_run=(lambda run: print(run.describe(), flush=True)) if args.verbose else None)
        print(report.summary())
        print("clean failures by named cause:", dict(sorted(report.named_causes().items())))
        for run in report.wrong:
            print("WRONG", run.describe())
        wrong_checks = []
        if args.check_iterations:
            counts, faults, wrong_checks = run_check_soak(server, dataset, token, args.check_iterations, seed=args.seed,
                                                          rate=args.rate)
            print(f"check_backups soak: {args.check_iterations} iterations, {dict(counts)}, {len(wrong_checks)} wrong "
                  f"(faults injected: {sum(faults.values())} {dict(sorted(faults.items()))})")
            for item in wrong_checks:
                print("WRONG", item)
    return 1 if report.wrong or wrong_checks else 0


if __name__ == "__main__":
    sys.exit(main())
