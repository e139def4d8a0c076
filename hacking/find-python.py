"""Which Python make test runs a line on, found by running the candidates (a name on PATH is not proof: pyenv's
``python3.13`` shim fails unless a version is selected).

    find-python.py newest [PATH]   the newest Python 3.14, 3.13 or 3.12 (PATH, when given, is probed and used
                                   instead); none: the Python running this script, and exit status 3
    find-python.py 3.9             a Python 3.9; none: prints nothing, exit status 3
    find-python.py found           the minor versions 3.12 and newer found here, one a line

The path printed is the interpreter's own (``sys.executable``), never a shim. Candidates: ``python3.X`` on PATH,
then pyenv's versions (``$PYENV_ROOT/versions/3.X.*``, newest first).
"""

import glob
import os
import shutil
import subprocess
import sys

NEWEST = ((3, 14), (3, 13), (3, 12))
PROBE = "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"


def probe(candidate):
    """(version, path) of a Python that runs and can make a venv, or None."""
    try:
        proc = subprocess.run([candidate, "-c", PROBE], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = proc.stdout.split()
    return (lines[0], lines[1]) if proc.returncode == 0 and len(lines) == 2 else None


def candidates(version):
    name = "python%d.%d" % version
    on_path = shutil.which(name)
    if on_path:
        yield on_path
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = glob.glob(os.path.join(root, "versions", "%d.%d.*" % version, "bin", name))
    yield from sorted(found, key=lambda path: [int(p) if p.isdigit() else 0 for p in
                                               path.split(os.sep)[-3].split(".")], reverse=True)


def find(version):
    wanted = "%d.%d" % version
    for candidate in candidates(version):
        found = probe(candidate)
        if found and found[0] == wanted:
            return found[1]
    return None


def main(argv):
    what = argv[0] if argv else "newest"
    if what == "found":
        print("\n".join("%d.%d" % version for version in NEWEST if find(version)))
        return 0
    if what == "newest":
        if len(argv) > 1 and argv[1]:
            found = probe(argv[1])
            if not found:
                sys.exit("PYTHON_NEWEST=%s does not run (or cannot make a venv)" % argv[1])
            print(found[1])
            return 0
        for version in NEWEST:
            path = find(version)
            if path:
                print(path)
                return 0
        print(sys.executable)
        return 3
    path = find(tuple(int(part) for part in what.split(".")))
    if path:
        print(path)
        return 0
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
