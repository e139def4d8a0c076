"""Constants and helpers shared by test modules (importable by name, unlike conftest.py, of which there are
several)."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from ansible.release import __version__ as _ansible_version
from divio_simulator import SIZES, generate_dataset, run_simulator

# The simulator's token in tests: distinctive, so leak checks can search all output for it.
TOKEN = "sim-Tok3n-6f1d9c2a7e4b"

# (major, minor) of the ansible-core under test (make test runs 2.21, then 2.19 and 2.16), for the few places where
# the two behave differently in a way that is Ansible's, not the collection's.
ANSIBLE_CORE = tuple(int(part) for part in _ansible_version.split(".")[:2])


WRITE_RESULT = """
    - name: Save the result for the test
      ansible.builtin.copy:
        content: "{{ %s | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
"""


def play(tasks, result_var="out", header=""):
    """A localhost play running ``tasks`` (YAML indented for a task list), then saving ``result_var``
    to ``{{ result_file }}`` for the ``run_playbook`` fixture; ``header`` adds play keywords."""
    return """
- hosts: localhost
  gather_facts: false
%s
  tasks:
%s
%s""" % (header, tasks, WRITE_RESULT % result_var)


def gate_play(role_vars, rolespec_validate=True):
    """A localhost play that includes the backup_gate role with ``role_vars`` (YAML lines, indented for a
    ``vars:`` block) and saves ``{"msg": the gate's failure or "passed", "result": backup_gate_result}``."""
    return """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Gate
      block:
        - ansible.builtin.include_role:
            name: divio.cloud.backup_gate%s
          vars:
%s
        - ansible.builtin.set_fact:
            gate_msg: passed
      rescue:
        - ansible.builtin.set_fact:
            gate_msg: "{{ ansible_failed_result.msg }}"
%s""" % ("" if rolespec_validate else "\n            rolespec_validate: false", role_vars,
         WRITE_RESULT % "{'msg': gate_msg, 'result': backup_gate_result | default(None)}")


def private_simulator(**config):
    """A simulator of its own over a fresh copy of the demo data set (seed 1, as in the session ``dataset``
    fixture), for tests that change its data: ``with private_simulator(**config) as server: ...``."""
    return run_simulator(dataset=generate_dataset(seed=1, **SIZES["demo"]), token=TOKEN, **config)


# --- what make test ran, and deprecations from this collection ---------------------------------------------

# make test's records of its runs (tests/output/runs/<run>.json, read by hacking/support_table.py).
_STARTED = time.time()  # this module is imported as the session starts (conftest.py)
RUNS_DIR = Path(__file__).resolve().parent / "output" / "runs"
VERSIONS = ("import json, sys, requests, urllib3; print(json.dumps({'python': '%d.%d.%d' % sys.version_info[:3], "
            "'requests': requests.__version__, 'urllib3': urllib3.__version__}))")


def record_run(session, exitstatus, environ=None):
    """At the end of a run that make names (DIVIO_TEST_RUN), its record: the ansible-core and Python it ran on,
    the Python and HTTP libraries the modules ran with (DIVIO_TEST_MODULE_PYTHON, default this one), the counts."""
    environ = os.environ if environ is None else environ
    run = environ.get("DIVIO_TEST_RUN")
    if not run or hasattr(session.config, "workerinput"):  # not from make, or an xdist worker
        return
    stats = session.config.pluginmanager.get_plugin("terminalreporter").stats
    module_python = environ.get("DIVIO_TEST_MODULE_PYTHON") or sys.executable
    modules = json.loads(subprocess.run([module_python, "-c", VERSIONS], capture_output=True, text=True, timeout=60,
                                        check=True).stdout)
    record = dict(run=run, ansible_core=_ansible_version, python="%d.%d.%d" % sys.version_info[:3],
                  module_python=modules["python"], requests=modules["requests"], urllib3=modules["urllib3"],
                  exitstatus=int(exitstatus), args=sys.argv[1:],
                  minutes=round((time.time() - _STARTED) / 60, 1),
                  **{outcome: len([r for r in stats.get(outcome, []) if getattr(r, "when", "call") == "call"])
                     for outcome in ("passed", "failed", "skipped")})
    if environ.get("DIVIO_TEST_FOUND_PYTHONS") is not None:
        record["found_pythons"] = environ["DIVIO_TEST_FOUND_PYTHONS"].split()
    if environ.get("PYTHON_NEWEST"):
        record["python_override"] = environ["PYTHON_NEWEST"]
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    (RUNS_DIR / ("%s.json" % run)).write_text(json.dumps(record, indent=1) + "\n")


# Where a deprecation warning ends: the next marker, play, task or host line (its text spans several lines and
# paragraphs on 2.19 and newer: the message, "Origin:" and the source lines, the removal version).
_NEXT_OUTPUT = re.compile(r"^(\[[A-Z ]+\]|PLAY |TASK |RUNNING HANDLER |ok:|changed:|fatal:|skipping:|included:)")


def deprecations(output):
    """The deprecation warnings in ansible-playbook's output, each with its continuation lines."""
    found = []
    for line in output.splitlines():
        if line.startswith("[DEPRECATION WARNING]"):
            found.append([line])
        elif found and found[-1] is not None and not _NEXT_OUTPUT.match(line):
            found[-1].append(line)
        elif found and found[-1] is not None:
            found.append(None)
    return ["\n".join(lines).strip() for lines in found if lines]


def our_deprecations(output):
    """The deprecation warnings that name this collection: its own (they often name no file, only the plugin)
    and those of Ansible features its code uses."""
    ours = ("divio.cloud", "ansible_collections/divio/cloud", str(Path(__file__).resolve().parent.parent))
    return [text for text in deprecations(output) if any(name in text for name in ours)]
