"""hacking/support_table.py, make test's last step: README's "Tested versions" table held to the runs' records."""

import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("support_table", REPO / "hacking" / "support_table.py")
support_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support_table)

README = """# x
### Tested versions

| `make test` run | ansible-core | controller Python | Python where the modules run | requests / urllib3 | what |
|---|---|---|---|---|---|
| `test-highest` | 2.21 | 3.13 | 3.13 | 2.x / 2.x | all |
| `test-lowest` | 2.16 | 3.11 | 3.11 | 2.28 / 1.26 | some |

## Next
| `test-other` | 9.9 | 9.9 | 9.9 | 9 / 9 | not in the section |
"""


def record(run, core, python, module_python=None, requests="2.34.2", urllib3="2.8.0", **extra):
    return dict(run=run, ansible_core=core, python=python, module_python=module_python or python, requests=requests,
                urllib3=urllib3, exitstatus=0, passed=10, skipped=1, minutes=1.0, **extra)


def good_records():
    return {"test-highest": record("test-highest", "2.21.5", "3.13.0", found_pythons=["3.13", "3.12"]),
            "test-lowest": record("test-lowest", "2.16.19", "3.11.7", requests="2.28.2", urllib3="1.26.18")}


def test_rows_of_the_section_only():
    rows = support_table.table_rows(README)
    assert rows == {"test-highest": {"ansible_core": "2.21", "python": "3.13", "module_python": "3.13",
                                     "http": "2.x / 2.x"},
                    "test-lowest": {"ansible_core": "2.16", "python": "3.11", "module_python": "3.11",
                                    "http": "2.28 / 1.26"}}


def test_runs_that_match_the_table_pass_and_the_summary_names_core_and_python():
    records = good_records()
    assert support_table.check(records, support_table.table_rows(README)) == ([], [])
    line = support_table.summary(records, ["test-highest", "test-lowest"])
    assert "test-highest: ansible-core 2.21.5 on Python 3.13.0" in line
    assert "test-lowest: ansible-core 2.16.19 on Python 3.11.7" in line


def test_a_version_no_run_used_fails():
    records = good_records()
    records["test-highest"]["ansible_core"] = "2.22.0"
    records["test-lowest"]["urllib3"] = "2.8.0"
    errors, notes = support_table.check(records, support_table.table_rows(README))
    assert errors == ["test-highest: the table names ansible_core 2.21 (the run used 2.22.0)",
                      "test-lowest: the table names http 2.28 / 1.26 (the run used 2.28.2 / 2.8.0)"]
    assert notes == []


def test_a_missing_failed_or_unlisted_run_fails():
    records = good_records()
    del records["test-lowest"]
    records["test-highest"]["exitstatus"] = 1
    records["test-extra"] = record("test-extra", "2.19.1", "3.11.7")
    errors, _notes = support_table.check(records, support_table.table_rows(README))
    assert errors == ["test-extra ran but the README's table has no row for it",
                      "test-highest failed (pytest exit status 1)",
                      "test-lowest: the table names it, but this make test left no record of it"]


def test_a_run_without_its_python_is_one_line_not_a_failure():
    records = good_records()
    records["test-highest"] = record("test-highest", "2.19.14", "3.11.7", found_pythons=[])
    records["test-lowest"] = {"run": "test-lowest", "not_run": "no Python 3.11 here"}
    errors, notes = support_table.check(records, support_table.table_rows(README))
    assert errors == []
    assert notes == ["test-highest ran ansible-core 2.19.14 on Python 3.11.7 instead of the table's 2.21 on 3.13: "
                     "no Python 3.13 here",
                     "test-lowest (table: ansible-core 2.16, Python 3.11) not run: no Python 3.11 here"]


def test_a_newer_python_here_is_one_line():
    records = good_records()
    records["test-highest"] = record("test-highest", "2.21.5", "3.14.0", found_pythons=["3.14", "3.13"])
    errors, notes = support_table.check(records, support_table.table_rows(README))
    assert errors == []
    assert notes == ["test-highest ran ansible-core 2.21.5 on Python 3.14.0 instead of the table's 2.21 on 3.13: "
                     "Python 3.14.0 is the newest here"]


def test_an_older_python_than_the_tables_found_one_fails():
    records = good_records()
    records["test-highest"] = record("test-highest", "2.21.5", "3.12.1", found_pythons=["3.13", "3.12"])
    errors, _notes = support_table.check(records, support_table.table_rows(README))
    assert errors == ["test-highest: the table names python 3.13 (the run used 3.12.1), "
                      "module_python 3.13 (the run used 3.12.1)"]


def test_the_readme_table_lists_exactly_make_tests_runs():
    rows = support_table.table_rows((REPO / "README.md").read_text())
    makefile = (REPO / "Makefile").read_text()
    runs = re.search(r"^test: (.*)$", makefile, re.M).group(1).split()
    # test-start and test-prepare run no tests: they say what will run and make the venvs.
    assert sorted(rows) == sorted(run for run in runs if run not in ("test-start", "test-prepare"))
