"""Benchmark: ``verify: read`` on hostile files - time, peak RSS and verdict of each read, with the bound that ended it.

    python tests/benchmark/verify_hostile.py               # every row, ~1 minute
    python tests/benchmark/verify_hostile.py --baseline    # also the landed main's reader (gzip, then tarfile), ~3 minutes

The files are the ones the simulator serves under its hostile ``downloads.fault`` settings (made by the same
functions), plus a 10 GiB-inside gzip bomb. Each read runs ``verify.verify_read`` in a fresh Python process, as the
part type the simulator serves it for; its peak RSS is that process's own (``VmHWM``), interpreter and the
collection's imports included (about 25 MB). ``--baseline`` runs, for the media archives, what ``verify: read`` did before issue 33: the whole gzip
stream, then ``tarfile`` over every member - capped here at 3 GiB of address space and 300 s. Nothing is asserted.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GIB = 1024 ** 3
# The child's own peak RSS (VmHWM: this process image's, not the forking parent's pages that ru_maxrss also counts).
PEAK = """
def peak_mib():
    try:
        with open("/proc/self/status") as status:
            return [int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:")][0]
    except (OSError, IndexError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""
READER = PEAK + """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.divio.cloud.plugins.module_utils.errors import DivioError
from ansible_collections.divio.cloud.plugins.module_utils.verify import ReadLimits, sniff, verify_read
path, kind, limits = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
try:
    checks, _details = verify_read(path, sniff(path), {"service_type": kind}, ReadLimits(**limits))
    print("verified: true - " + checks[-1])
except DivioError as exc:
    print("%s - %s" % ("verified: false" if type(exc).__name__ == "VerificationFailed" else "no verdict", exc))
print("peak %.1f" % peak_mib())
"""
BASELINE = PEAK + """
import gzip, resource, sys, tarfile
resource.setrlimit(resource.RLIMIT_AS, (3 * 1024 ** 3, 3 * 1024 ** 3))
resource.setrlimit(resource.RLIMIT_CPU, (300, 300))
path = sys.argv[2]
try:
    with gzip.open(path, "rb") as stream:
        while stream.read(1024 * 1024):
            pass
    with tarfile.open(path, "r:gz") as archive:
        members = sum(1 for _member in archive)
    print("verified: true - %d members (tarfile)" % members)
except MemoryError:
    print("crashed: MemoryError, no verdict")
except Exception as exc:
    print("verified: false - %s" % exc)
print("peak %.1f" % peak_mib())
"""


def files(directory):
    """``(row name, path, part type, limits)`` for each hostile file, written to ``directory``."""
    sys.path.insert(0, str(REPO / "tests" / "simulator"))
    from divio_simulator import downloads as sim

    part = {"uuid": "benchmark"}
    made = [("gzip bomb, 2 GiB inside (fault gzip-bomb)", "bomb2.tar.gz", sim.gzip_bomb(), "STORAGE", {}),
            ("gzip bomb, 10 GiB inside", "bomb10.tar.gz", sim.gzip_bomb(10 * GIB), "STORAGE", {}),
            ("the same, max_expanded_bytes 1 TiB, verify_timeout 5", "bomb10.tar.gz", None, "STORAGE",
             {"max_expanded_bytes": 1024 * GIB, "timeout": 5}),
            ("1,000,000 members (fault million-members)", "million.tar.gz", sim.many_members(), "STORAGE", {}),
            ("the same, max_members 100,000", "million.tar.gz", None, "STORAGE", {"max_members": 100000}),
            ("1 MiB GNU long-name header (fault long-name)", "long.tar.gz", sim.long_name_archive(), "STORAGE", {}),
            ("tar cut inside a header (cut-tar-header)", "cut1.tar.gz", sim.cut_tar(part, "inside-header"), "STORAGE", {}),
            ("tar cut at a member boundary (cut-tar-boundary)", "cut2.tar.gz", sim.cut_tar(part, "at-boundary"),
             "STORAGE", {}),
            ("DATABASE part serving a media tar (wrong-type-tar)", "media.tar.gz", sim.media_archive(part), "DATABASE", {}),
            ("DATABASE part serving '-- dump\\n' (tiny-sql)", "tiny.sql", b"-- dump\n", "DATABASE", {}),
            ("a sound media archive", "media.tar.gz", None, "STORAGE", {})]
    rows = []
    for name, filename, data, kind, limits in made:
        path = Path(directory) / filename
        if data is not None:
            path.write_bytes(data)
        rows.append((name, path, kind, limits))
    return rows


def measure(code, collections, path, kind, limits):
    """``(wall seconds, CPU seconds, peak RSS in MiB or None, the verdict line)`` of ``code`` in a fresh process."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", code, collections, str(path), kind, json.dumps(limits)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with proc.stdout:
        lines = proc.stdout.read().strip().splitlines()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    peak = float(lines.pop()[5:]) if lines and lines[-1].startswith("peak ") else None
    return seconds, usage.ru_utime + usage.ru_stime, peak, (lines or ["(no output; exit %d)" % proc.returncode])[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="store_true", help="also run the landed main's reader on the media rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="divio-verify-hostile-") as directory:
        collections = Path(directory) / "collections"
        (collections / "ansible_collections" / "divio").mkdir(parents=True)
        (collections / "ansible_collections" / "divio" / "cloud").symlink_to(REPO)
        print("| file | size | reader | wall s | CPU s | peak RSS MiB | verdict |")
        print("|---|---|---|---|---|---|---|")
        for name, path, kind, limits in files(directory):
            ways = [("verify_read", READER)]
            if args.baseline and kind == "STORAGE" and not limits:
                ways.append(("before (gzip + tarfile)", BASELINE))
            for way, code in ways:
                seconds, cpu, rss, verdict = measure(code, str(collections), path, kind, limits)
                print("| %s | %s | %s | %.2f | %.2f | %s | %s |" % (
                    name, _size(path.stat().st_size), way, seconds, cpu, "-" if rss is None else "%.0f" % rss,
                    verdict[:160]))


def _size(size):
    return "%.1f MiB" % (size / 1024 ** 2) if size >= 1024 ** 2 else "%d bytes" % size


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
