"""make test's last step: the README's "Tested versions" table against what this make test ran.

Each run of make test (test-highest, test-modules-py39, test-middle, test-lowest) leaves a record in
tests/output/runs/<run>.json (tests/testlib.py writes it when pytest ends; make writes one for a run it skips for
want of a Python). This script prints one summary line with the ansible-core and Python of every run, and fails when
a row of the table names a version that no recorded run used, a run failed or left no record, or a run is missing
from the table. A run that used another version than its row because the row's Python is not installed here (or
PYTHON_NEWEST chose another, or a newer one is here) is said in one line and does not fail.

    support_table.py [RUNS_DIR [README]]
"""

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEADING = "### Tested versions"
# The table's columns, in order, after the run's name: the record's key for each.
COLUMNS = ("ansible_core", "python", "module_python", "http")


def table_rows(readme_text):
    """{run: {column: version}} from the README's table under HEADING (rows whose first cell is `test-...`)."""
    section = readme_text.split(HEADING, 1)
    if len(section) != 2:
        raise ValueError("README has no %r section" % HEADING)
    rows = {}
    for line in section[1].split("\n## ", 1)[0].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`(test-[\w-]+)`", cells[0])
        if match and len(cells) >= 1 + len(COLUMNS):
            rows[match.group(1)] = dict(zip(COLUMNS, (cell.strip("` ") for cell in cells[1:])))
    if not rows:
        raise ValueError("the %r table has no `test-...` rows" % HEADING)
    return rows


def matches(recorded, named):
    """Does the recorded version (2.21.5, "2.34.2 / 2.8.0") fall in the one the table names (2.21, "2.x / 2.x")?"""
    pairs = zip(recorded.split("/"), named.split("/")) if "/" in named else [(recorded, named)]
    return all(rec.strip().startswith(name.strip().replace(".x", "") + ".") for rec, name in pairs) and \
        recorded.count("/") == named.count("/")


def recorded_versions(record):
    return {"ansible_core": record["ansible_core"], "python": record["python"],
            "module_python": record["module_python"],
            "http": "%s / %s" % (record["requests"], record["urllib3"])}


def explained(record, row):
    """Why this run could not use the row's controller Python, or None."""
    wanted = row["python"]
    if matches(record["python"], wanted):
        return None
    if record.get("python_override"):
        return "PYTHON_NEWEST=%s chose it" % record["python_override"]
    if "found_pythons" in record and wanted not in record["found_pythons"]:
        return "no Python %s here" % wanted
    if _minor(record["python"]) > _minor(wanted):  # make test picks the newest Python it finds
        return "Python %s is the newest here" % record["python"]
    return None


def _minor(version):
    return tuple(int(part) for part in version.split(".")[:2])


def check(records, rows):
    """(errors, notes): what makes the table untrue, and the one-line notes on runs that could not run as listed."""
    errors, notes = [], []
    for run in sorted(set(records) - set(rows)):
        errors.append("%s ran but the README's table has no row for it" % run)
    for run, row in rows.items():
        record = records.get(run)
        if record is None:
            errors.append("%s: the table names it, but this make test left no record of it" % run)
        elif record.get("not_run"):
            notes.append("%s (table: ansible-core %s, Python %s) not run: %s" % (
                run, row["ansible_core"], row["python"], record["not_run"]))
        elif record["exitstatus"] != 0:
            errors.append("%s failed (pytest exit status %s)" % (run, record["exitstatus"]))
        else:
            versions = recorded_versions(record)
            wrong = ["%s %s (the run used %s)" % (column, row[column], versions[column])
                     for column in COLUMNS if not matches(versions[column], row[column])]
            reason = explained(record, row)
            if wrong and reason:
                notes.append("%s ran ansible-core %s on Python %s instead of the table's %s on %s: %s" % (
                    run, versions["ansible_core"], versions["python"], row["ansible_core"], row["python"], reason))
            elif wrong:
                errors.append("%s: the table names %s" % (run, ", ".join(wrong)))
    return errors, notes


def summary(records, order):
    parts = []
    for run in order:
        record = records.get(run)
        if record is None:
            continue
        if record.get("not_run"):
            parts.append("%s skipped" % run)
            continue
        modules = "" if record["module_python"] == record["python"] else ", modules on Python %s" % (
            record["module_python"])
        parts.append("%s: ansible-core %s on Python %s%s, %d passed in %.1f min" % (
            run, record["ansible_core"], record["python"], modules, record["passed"], record["minutes"]))
    return "; ".join(parts)


def load(runs_dir):
    return {path.stem: json.loads(path.read_text()) for path in sorted(Path(runs_dir).glob("*.json"))}


def main(argv):
    runs_dir = Path(argv[0]) if argv else REPO / "tests" / "output" / "runs"
    readme = Path(argv[1]) if len(argv) > 1 else REPO / "README.md"
    records = load(runs_dir)
    rows = table_rows(readme.read_text())
    errors, notes = check(records, rows)
    for note in notes:
        print("== %s" % note)
    print("== make test: %s" % summary(records, list(rows) + sorted(set(records) - set(rows))))
    for error in errors:
        print("README.md %s is not true: %s" % (HEADING, error), file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
