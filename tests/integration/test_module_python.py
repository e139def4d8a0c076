"""The modules run on the Python make names (test-modules-py39: DIVIO_TEST_MODULE_PYTHON, a Python 3.9 venv),
else on the controller's: the README's "Python where the modules run" is what ran them."""

import os
import subprocess
import sys

from testlib import play


def test_modules_run_on_the_python_the_run_names(run_playbook):
    module_python = os.environ.get("DIVIO_TEST_MODULE_PYTHON") or sys.executable
    expected = subprocess.run([module_python, "-c", "import platform; print(platform.python_version())"],
                              capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    run = run_playbook(play("""
    - ansible.builtin.setup:
        gather_subset: [min]
      register: facts
    - ansible.builtin.set_fact:
        out: "{{ facts.ansible_facts.ansible_python_version }}"
"""))
    assert run.rc == 0, run
    assert run.result == expected
