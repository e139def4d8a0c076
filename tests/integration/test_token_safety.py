"""The token never appears anywhere: every module, the lookup, the role and the playbooks run at -vvvv,
with successes and failures (401, 500, timeouts, oversized answers, plain http off loopback, bad input);
all stdout/stderr and every report file written are searched for the tokens and every 6-character piece
of them. (Servers that echo the token back: tests/hostile/.)"""

import socket
import threading
from pathlib import Path

import pytest

from testlib import TOKEN

REJECTED = "rJx9Qe-Secr3t-7c1e9a5f0b"

EVERYTHING = """
- hosts: localhost
  gather_facts: false
  vars_files:
    - "{{ secrets_file }}"
  tasks:
    - divio.cloud.application_info:
    - divio.cloud.environment_info: {application: shop}
    - divio.cloud.environment_variable_info: {application: shop, environment: live, reveal_sensitive: true}
      no_log: true
    - divio.cloud.deployment_info: {application: shop, environment: live, limit: 2, variables: true}
    - divio.cloud.backup_info: {application: shop, max_age: 24h}
    - divio.cloud.backup_check: {environments: [live]}
    - ansible.builtin.debug:
        msg: "{{ lookup('divio.cloud.divio', 'latest_backup', application='shop', environment='live') }}"
    - ansible.builtin.debug:
        msg: "{{ query('divio.cloud.divio', 'applications', api_token=lookup_token) }}"
    - ansible.builtin.debug:
        msg: "{{ query('divio.cloud.divio', 'environment_variables', application='wiki', environment='live', api_token=lookup_token) }}"
    - name: the gate, failing on blog
      block:
        - ansible.builtin.include_role: {name: divio.cloud.backup_gate}
          vars: {backup_gate_application: blog, backup_gate_environments: [test, live]}
      rescue:
        - ansible.builtin.debug: {var: ansible_failed_result}
    - name: the gate with the token as a role variable
      ansible.builtin.include_role: {name: divio.cloud.backup_gate}
      vars: {backup_gate_application: wiki, backup_gate_api_token: "{{ lookup_token }}"}
"""

FAILURES = """
- hosts: localhost
  gather_facts: false
  vars_files:
    - "{{ secrets_file }}"
  tasks:
    - block:
        - divio.cloud.backup_info: {application: shop, api_token: "{{ rejected_token }}"}
      rescue:
        - ansible.builtin.debug: {var: ansible_failed_result}
    - block:
        - ansible.builtin.debug:
            msg: "{{ query('divio.cloud.divio', 'applications', api_token=rejected_token) }}"
      rescue:
        - ansible.builtin.debug: {var: ansible_failed_result}
    - block:
        - divio.cloud.backup_check: {applications: [shop], api_token: "{{ rejected_token }}"}
      rescue:
        - ansible.builtin.debug: {var: ansible_failed_result}
    - block:
        - divio.cloud.backup_info: {application: crm}
      rescue:
        - ansible.builtin.debug: {var: ansible_failed_result}
    - block:
        - divio.cloud.backup_info: {application: shop, api_url: "http://127.0.0.1:{{ stall_port }}", timeout: 0.2}
      rescue:
        - ansible.builtin.debug: {var: ansible_failed_result}
    - block:
        - divio.cloud.backup_info: {application: shop, max_age: never}
      rescue:
        - ansible.builtin.debug: {var: ansible_failed_result}
    - block:
        - divio.cloud.backup_info: {application: shop, max_response_bytes: 1024}
      rescue:
        - ansible.builtin.debug: {var: ansible_failed_result}
    - block:
        - ansible.builtin.debug:
            msg: "{{ query('divio.cloud.divio', 'applications', api_url='http://api.divio.invalid', api_token=rejected_token) }}"
      rescue:
        - ansible.builtin.debug: {var: ansible_failed_result}
    - block:
        - ansible.builtin.include_role: {name: divio.cloud.backup_gate}
          vars: {backup_gate_application: shop, backup_gate_api_token: "{{ rejected_token }}"}
      rescue:
        - ansible.builtin.debug: {var: ansible_failed_result}
"""


@pytest.fixture
def stall_port():
    """A server that accepts connections and never answers: every request times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    for conn in held:
        conn.close()
    listener.close()


@pytest.fixture
def secrets_file(tmp_path):
    """Tokens reach the plays through a vars file, as users keep them (an inline -e would be echoed by
    ansible itself at -vvvv)."""
    path = tmp_path / "secrets.yml"
    path.write_text("lookup_token: %s\nrejected_token: %s\n" % (TOKEN, REJECTED))
    return str(path)


def pieces(secret, size=6):
    return set(secret[i:i + size].lower() for i in range(len(secret) - size + 1))


def assert_no_token(*texts):
    """Neither token, nor any 6-character piece of one (a prefix, a suffix), in any case."""
    for text in texts:
        lowered = text.lower()
        shown = sorted(piece for piece in pieces(TOKEN) | pieces(REJECTED) if piece in lowered)
        assert not shown, "pieces of a token in the output: %s" % shown


def test_every_plugin_at_vvvv_never_shows_the_token(run_playbook, sim_env, secrets_file):
    run = run_playbook(EVERYTHING, extra_vars={"secrets_file": secrets_file}, env=sim_env, args=["-vvvv"])
    assert run.rc == 0, run
    assert "Backup gate for blog failed" in run.output  # the failure path really ran
    assert_no_token(run.output)


def test_failures_at_vvvv_never_show_the_token(run_playbook, sim, sim_env, secrets_file, stall_port):
    sim.configure(fail_applications=["crm"])
    try:
        run = run_playbook(FAILURES, extra_vars={"secrets_file": secrets_file, "stall_port": stall_port},
                           env=sim_env, args=["-vvvv"])
    finally:
        sim.configure(fail_applications=[])
    assert run.rc == 0, run
    for expected in ("(401)", "HTTP 500", "no answer within the timeout", "max_age 'never' is not valid",
                     "max_response_bytes limit of 1024 bytes", "allow_plain_http"):
        assert expected in run.output, expected
    assert_no_token(run.output)


def test_check_backups_reports_never_show_the_token(run_playbook, sim_env, tmp_path):
    reports = tmp_path / "reports"
    run = run_playbook(None, playbook_path="divio.cloud.check_backups", env=sim_env, args=["-vvvv"],
                       extra_vars={"report_dir": str(reports), "report_only": True})
    assert run.rc == 0, run
    written = sorted(reports.iterdir())
    assert [p.name for p in written] == ["backups.json", "backups.md", "backups.prom", "backups.xml"]
    assert_no_token(run.output, *(Path(p).read_text() for p in written))
