"""Tests that can fail (issue 31): a fixed list of mutants - small breakages of what the collection promises - each
naming the tests that must fail under it. Each mutant is applied to a copy of the collection in a temp dir (the work
tree is never edited) and the named tests run there in a pytest of their own, with ANSIBLE_COLLECTIONS_PATH on the
copy. A mutant whose old text is no longer in its file fails here too, so the list cannot rot silently: re-point it
at the code that now holds the behaviour. Marked ``quality``: test-highest runs it, the compatibility runs leave it
out (the same code, the same verdicts)."""

import os
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

Mutant = namedtuple("Mutant", "name path old new tests")

PAGINATE = "plugins/module_utils/pagination.py"
READER_LINE = "    items = _Reader(PageSource(client, first_url, path, max_items)).items\n"
PAGINATION_TESTS = ["tests/unit/test_pagination.py::test_plain_pages_are_read_twice_and_stand_when_both_reads_agree",
                    "tests/unit/test_pagination.py::test_fixed_pages_are_read_concurrently_and_in_order"]

MUTANTS = [
    Mutant("paginate always refuses", PAGINATE, READER_LINE,
           READER_LINE + '    raise PaginationError("GET %s: refused by a mutant." % path, path=path)\n',
           PAGINATION_TESTS + ["tests/unit/test_pagination_property.py::test_glitch_seeds_that_once_failed[9]",
                               "tests/unit/test_pagination_property.py::test_glitch_seeds_that_once_failed[43]"]),
    Mutant("paginate returns nothing", PAGINATE, READER_LINE, "    items = lambda: iter(())  # noqa: E731\n",
           PAGINATION_TESTS + ["tests/unit/test_pagination_property.py::test_glitch_seeds_that_once_failed[9]",
                               "tests/unit/test_pagination_property.py::test_glitch_seeds_that_once_failed[43]"]),
    # The read proof's dispatcher (verify_read): every reader is reached through it.
    Mutant("verification always passes", "plugins/module_utils/verify.py",
           "    limits = limits or ReadLimits()\n    kind = part.get(\"service_type\")\n",
           "    return [\"nothing read (a mutant)\"], {}\n",
           ["tests/unit/test_verify_read.py::test_a_wrong_checksum_is_damage",
            "tests/unit/test_verify_read.py::test_a_storage_part_holding_a_dump_fails_naming_it",
            "tests/unit/test_verify_read.py::test_a_gzip_stream_cut_short_is_broken"]),
    Mutant("the gate always passes", "plugins/module_utils/checks.py",
           "        summary.update(total=len(records), ok=bool(records) and summary[FRESH] == len(records))\n",
           "        summary.update(total=len(records), ok=True)\n",
           ["tests/integration/test_checks.py::test_named_application_outside_the_organisation_is_an_error_not_skipped",
            "tests/integration/test_gate_and_reports.py::test_gate_fails_on_blog_with_one_line_per_problem"]),
    Mutant("the deployment playbook deploys past any gate failure", "plugins/plugin_utils/gate_outcome.py",
           "        if judged and not unreadable and self.check_mode and self.refresh() and reasons == [\"stale\"]:\n",
           "        if True:\n",
           ["tests/unit/test_gate_outcome.py::test_stale_backups_refuse",
            "tests/unit/test_gate_outcome.py::test_a_backup_that_failed_verification_is_refused_as_unverified",
            "tests/unit/test_gate_outcome.py::test_unreadable_backups_could_not_check"]),
    Mutant("the token mask is off", "plugins/module_utils/errors.py",
           "    if not isinstance(text, str) or not DivioError._secrets or not text:\n",
           "    if True:\n",
           ["tests/unit/test_client.py::test_registered_token_is_scrubbed_from_error_text",
            "tests/unit/test_client.py::test_scrub_masks_whole_pieces_cases_and_encodings"]),
]

# What a copy leaves out: caches, venvs, outputs, and the collections trees pytest-ansible and the Makefile make.
TOP_LEVEL_SKIPPED = (".git", ".venv", ".ansible", ".pytest_cache", "collections", "reports", "node_modules")


def skipped(folder, names):
    top = Path(folder) == REPO
    return [name for name in names if name in ("__pycache__", ".pytest_cache") or name.endswith(".pyc")
            or (top and name.startswith(TOP_LEVEL_SKIPPED)) or (Path(folder) == REPO / "tests" and name == "output")]


def collection_copy(root):
    """This collection, as it is in the work tree, at ``root/ansible_collections/divio/cloud``."""
    dest = root / "ansible_collections" / "divio" / "cloud"
    shutil.copytree(REPO, dest, ignore=skipped, symlinks=True)
    return dest


def apply(mutant, checkout):
    target = checkout / mutant.path
    text = target.read_text(encoding="utf-8")
    assert text.count(mutant.old) == 1, (
        "mutant %r: its old text is no longer found once in %s; re-point it at the code that now holds this "
        "behaviour:\n%s" % (mutant.name, mutant.path, mutant.old))
    target.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")


def test_every_mutant_names_code_that_is_there_and_tests_that_exist():
    for mutant in MUTANTS:
        text = (REPO / mutant.path).read_text(encoding="utf-8")
        assert text.count(mutant.old) == 1, "mutant %r: old text not found once in %s" % (mutant.name, mutant.path)
        assert mutant.tests, mutant.name
        for node in mutant.tests:
            name = node.split("::")[1].split("[")[0]
            assert "def %s(" % name in (REPO / node.split("::")[0]).read_text(encoding="utf-8"), (mutant.name, node)


def run_tests(checkout, nodes):
    """The output of a pytest of ``nodes`` in ``checkout``, with the collection imported from there."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(checkout.parents[2]), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--tb=short", "-rfEp",
                           "-o", "addopts=", *nodes],
                          cwd=str(checkout), env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.stdout + proc.stderr


def outcome_lines(output, word, nodes):
    return [node for node in nodes if any(line.startswith("%s %s" % (word, node)) for line in output.splitlines())]


@pytest.mark.quality
def test_the_named_tests_pass_on_an_unchanged_copy(tmp_path):
    """The control: in the copy as it is, every named test passes (so under a mutant, a failure is the mutant's)."""
    nodes = list(dict.fromkeys(node for mutant in MUTANTS for node in mutant.tests))
    output = run_tests(collection_copy(tmp_path / "collections"), nodes)
    assert outcome_lines(output, "PASSED", nodes) == nodes, output[-3000:]


@pytest.mark.quality
@pytest.mark.parametrize("mutant", MUTANTS, ids=[mutant.name.replace(" ", "-") for mutant in MUTANTS])
def test_the_named_tests_fail_under_each_mutant(mutant, tmp_path):
    checkout = collection_copy(tmp_path / "collections")
    apply(mutant, checkout)
    output = run_tests(checkout, mutant.tests)
    survived = [node for node in mutant.tests if node not in outcome_lines(output, "FAILED", mutant.tests)]
    assert not survived, "mutant %r survived these tests, which should have failed under it: %s\n%s" % (
        mutant.name, survived, output[-3000:])
