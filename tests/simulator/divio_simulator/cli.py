"""Command line of the Divio API simulator (see ``python simulator.py --help``)."""

import argparse
import logging
import os
import signal
import sys
import threading
from datetime import datetime

from .data import ID_STYLES, PART_SHAPES, SIZES, generate_dataset
from .faults import DEFAULT_RETRY_AFTER, DEFAULT_STALL_SECONDS, KINDS
from .server import DEFAULT_TOKEN, SimulatorServer
from .standins import Azurite, MotoS3, StandInError
from .uploads import HANDLER_NAMES

SIZE_KNOBS = ("organisations", "applications", "environments", "days", "interval_hours")


def _parse_now(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def build_parser():
    parser = argparse.ArgumentParser(
        prog="simulator.py",
        description="Serve a simulated Divio Cloud API v3 until SIGTERM or Ctrl-C.",
        epilog=f"The token comes from --token, else $DIVIO_SIMULATOR_TOKEN, else '{DEFAULT_TOKEN}'.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="data seed (default: %(default)s)")
    parser.add_argument("--size", choices=sorted(SIZES), default="demo", help="data size preset (default: %(default)s)")
    parser.add_argument("--organisations", type=int, help="override the preset's number of organisations")
    parser.add_argument("--applications", type=int, help="override the preset's number of applications")
    parser.add_argument("--environments", type=int, help="override the preset's environments per application")
    parser.add_argument("--days", type=int, help="override the preset's scheduled backups per environment")
    parser.add_argument("--interval-hours", type=float, help="hours between scheduled backups (default: 24)")
    parser.add_argument("--now", type=_parse_now, help="anchor time of the data, ISO 8601 (default: the current time)")
    parser.add_argument("--id-style", choices=ID_STYLES, default="divio",
                        help="ids like Divio's (26 lower-case base32 characters) or RFC 4122 UUIDs (default: %(default)s)")
    parser.add_argument("--part-shape", choices=PART_SHAPES, default="full",
                        help="fields of service-instance backups: full; documented (no service_type, like the one "
                             "object Divio's API page shows); bare (no service_type, taken_at, size); null (those "
                             "three null); mixed (default: %(default)s)")
    parser.add_argument("--token", help="API token the server accepts")
    parser.add_argument("--ignore-backup-environment-filter", action="store_true",
                        help="ignore the undocumented backups/?environment= filter, like a server that does not have it")
    parser.add_argument("--fail-application", action="append", default=[], metavar="SLUG", dest="fail_applications",
                        help="answer 500 to every request about this application (repeatable)")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay before each answer (default: %(default)s)")
    parser.add_argument("--max-page-size", type=int, default=100, help="page_size cap (default: %(default)s)")
    parser.add_argument("--default-page-size", type=int, default=20, help="page size without page_size (default: %(default)s)")
    faults = parser.add_argument_group(
        "fault injection", "Make authenticated API requests go wrong, at a rate or on chosen request numbers "
        "(never the /_simulator/ control endpoints). Kinds: " + ", ".join(KINDS) + "; 'all' means every kind.")
    faults.add_argument("--fault-rate", type=float, default=0.0, metavar="RATE",
                        help="share of requests to fault, 0..1 (default: %(default)s, no faults)")
    faults.add_argument("--faults", default="all", metavar="KIND,...", help="fault kinds to draw from (default: %(default)s)")
    faults.add_argument("--fault-seed", type=int, default=0, metavar="N", help="seed of the fault plan (default: %(default)s)")
    faults.add_argument("--fault-on-request", type=int, action="append", default=[], metavar="N", dest="fault_on_requests",
                        help="fault exactly request number N (1-based, counting eligible requests; repeatable; "
                             "overrides --fault-rate)")
    faults.add_argument("--fault-path", action="append", default=[], metavar="PATH", dest="fault_paths",
                        help="fault only requests to this path, e.g. /apps/v3/backups/ (repeatable)")
    faults.add_argument("--stall-seconds", type=float, default=DEFAULT_STALL_SECONDS, metavar="S",
                        help="how long a 'stall' fault waits before answering (default: %(default)s)")
    faults.add_argument("--retry-after", type=int, default=DEFAULT_RETRY_AFTER, metavar="S",
                        help="seconds a 429 fault asks the client to wait (default: %(default)s)")
    churn = parser.add_argument_group(
        "churn", "Create and delete backups at random positions of the lists while clients read, like a live account "
        "(half of them created, half of those temporary 'Divio CLI pull' backups; half deleted).")
    churn.add_argument("--churn", type=float, default=0.0, metavar="RATE", dest="churn_rate",
                       help="changes per second (default: %(default)s, none)")
    churn.add_argument("--churn-seed", type=int, default=0, metavar="N", help="seed of the changes (default: %(default)s)")
    uploads = parser.add_argument_group(
        "upload handlers", "Which handler backups/upload/ names (uploads.py). s3-sts-v1 starts moto's S3 on loopback, "
        "az-sas-v1 Azurite (hacking/install-azurite.sh installs it); their endpoints are printed at start "
        "(s3-sts-v1 clients need AWS_ENDPOINT_URL_S3=<that endpoint>). Both stop with the simulator.")
    uploads.add_argument("--upload-handler", choices=HANDLER_NAMES, default=HANDLER_NAMES[0],
                         help="handler for every environment (default: %(default)s)")
    uploads.add_argument("--upload-standins", action="store_true",
                         help="start both stand-ins, so that /_simulator/config may switch handlers at runtime")
    parser.add_argument("--url-file", help="write the base URL into this file once listening (removed on exit)")
    parser.add_argument("--verbose", action="store_true", help="log each request (method, path, status) to stderr")
    return parser


def fault_settings(args):
    """The ``faults`` setting from the command line, or None when no fault was asked for."""
    if not args.fault_rate and not args.fault_on_requests:
        return None
    return {"rate": args.fault_rate, "kinds": args.faults, "seed": args.fault_seed,
            "only_paths": args.fault_paths or None, "on_requests": args.fault_on_requests or None,
            "stall_seconds": args.stall_seconds, "retry_after": args.retry_after}


def start_standins(args):
    """The stand-ins the upload handler asks for, started: ``{"s3": MotoS3, "azure": Azurite}`` (either may be
    absent); raises StandInError, having stopped any it started."""
    wanted = [("s3", MotoS3)] if args.upload_standins or args.upload_handler == "s3-sts-v1" else []
    wanted += [("azure", Azurite)] if args.upload_standins or args.upload_handler == "az-sas-v1" else []
    started = {}
    try:
        for name, kind in wanted:
            started[name] = kind().start()
    except StandInError:
        stop_standins(started)
        raise
    return started


def announce_standins(standins):
    """Say where the stand-ins listen, and what an s3-sts-v1 client must set."""
    if "s3" in standins:
        endpoint = standins["s3"].endpoint
        print("moto S3 for s3-sts-v1 uploads on %s: clients set AWS_ENDPOINT_URL_S3=%s" % (endpoint, endpoint), flush=True)
    if "azure" in standins:
        print("Azurite for az-sas-v1 uploads on %s" % standins["azure"].endpoint, flush=True)


def stop_standins(standins):
    for standin in standins.values():
        standin.stop()


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(message)s")
    knobs = dict(SIZES[args.size])
    knobs.update({key: getattr(args, key) for key in SIZE_KNOBS if getattr(args, key) is not None})
    dataset = generate_dataset(seed=args.seed, now=args.now, id_style=args.id_style, part_shape=args.part_shape, **knobs)
    token = args.token or os.environ.get("DIVIO_SIMULATOR_TOKEN") or DEFAULT_TOKEN

    stop = threading.Event()
    # Handlers only set a flag: the main thread does the shutdown, so Ctrl-C leaves no traceback.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    try:
        standins = start_standins(args)
    except StandInError as exc:
        print("simulator.py: %s" % exc, file=sys.stderr)
        return 1
    try:
        server = SimulatorServer(dataset, token=token, host=args.host, port=args.port,
                                 honour_backup_environment_filter=not args.ignore_backup_environment_filter,
                                 max_page_size=args.max_page_size, default_page_size=args.default_page_size,
                                 latency_ms=args.latency_ms, fail_applications=args.fail_applications,
                                 faults=fault_settings(args), churn_rate=args.churn_rate, churn_seed=args.churn_seed,
                                 uploads={"handler": args.upload_handler}, **standins)
    except ValueError as exc:
        stop_standins(standins)
        parser.error(str(exc))
    try:
        server.start()
    except OSError as exc:
        stop_standins(standins)
        print(f"simulator.py: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"Divio API simulator listening on {server.url}", flush=True)
        announce_standins(standins)
        if args.url_file:
            # Write then rename, so a script polling for the file never reads half a URL.
            tmp = f"{args.url_file}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(server.url + "\n")
            os.replace(tmp, args.url_file)
        while not stop.wait(0.1):
            pass
    finally:
        server.stop()
        stop_standins(standins)
        if args.url_file:
            try:
                os.remove(args.url_file)
            except OSError:
                pass
    return 0
