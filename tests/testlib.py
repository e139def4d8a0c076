"""Constants and helpers shared by test modules (importable by name, unlike conftest.py, of which there are
several)."""

from ansible.release import __version__ as _ansible_version
from divio_simulator import SIZES, generate_dataset, run_simulator

# The simulator's token in tests: distinctive, so leak checks can search all output for it.
TOKEN = "sim-Tok3n-6f1d9c2a7e4b"

# (major, minor) of the ansible-core under test (make test runs 2.19, then 2.16), for the few places where
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
