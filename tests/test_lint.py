"""ruff (``ruff.toml``) over the repository's Python: pyflakes, pycodestyle, bugbear and pyupgrade findings fail the
suite, each listed as ``path:line:column: code message``. Runs in a second; ansible-test's pep8 and pylint
(``test_quality_gates.py``) still run on top of it."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def ruff(*args):
    proc = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert "No module named ruff" not in proc.stderr, (
        "ruff is not installed in %s: pip install -r requirements-test.txt" % sys.prefix)
    return proc


def test_ruff_check_finds_nothing():
    proc = ruff("check", "--no-cache", "--output-format", "concise", ".")
    assert proc.returncode == 0, "ruff check (ruff.toml) found:\n%s%s" % (proc.stdout, proc.stderr)


def test_ruff_checks_the_code_and_not_the_venvs():
    files = {Path(line).resolve().relative_to(REPO).as_posix()
             for line in ruff("check", "--show-files", ".").stdout.splitlines() if line.strip()}
    for expected in ("plugins/module_utils/client.py", "plugins/modules/backup.py", "plugins/lookup/divio.py",
                     "tests/simulator/divio_simulator/server.py", "hacking/check-python.py", "tests/test_lint.py"):
        assert expected in files
    assert not [path for path in files if path.startswith((".venv", "collections/", "tests/output/"))]
