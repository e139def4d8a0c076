#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: divio.cloud.backup_report is an action plugin (plugins/action/backup_report.py).

DOCUMENTATION = r"""
module: backup_report
short_description: Check the backups of Divio environments and write JSON, JUnit, Markdown and Prometheus reports
version_added: 0.2.0
description:
  - Runs the check of M(divio.cloud.backup_check) and writes its outcome to four files in O(report_dir), on the
    controller -
    C(backups.json) (C(summary.result), the counts, the rules, the error if any, one record per (application,
    environment)), C(backups.xml) (JUnit, one test case per environment; stale, missing and unverified are failures,
    error an error), C(backups.md) (a Markdown table, worst first) and C(backups.prom) (Prometheus metrics for
    node_exporter's textfile collector).
  - Each file is written to a temporary file in O(report_dir) and renamed into place, C(backups.json) last, so a
    reader never sees half a file.
  - When the task starts, C(backups.json) is replaced by a C(failed) "did not finish" report and C(backups.xml)
    and C(backups.md) are removed, so a run that is killed never leaves an earlier run's report looking like its
    own; C(backups.prom) keeps the last finished run's metrics until the run ends.
  - When the check cannot run (a bad option, no or a rejected token, the API unreachable, nothing matched), all
    four files are still written, with C(summary.result=failed) and the error, and the task fails.
  - Otherwise the task succeeds, whatever it found - RV(passed) says whether the run passes (RV(result=fresh), or
    V(stale) with O(report_only)) and RV(failure) is the message for a task that fails it, one line per problem.
    The C(divio.cloud.check_backups) playbook is this task, a C(debug) of RV(lines) and a C(fail).
  - It takes the options of M(divio.cloud.backup_check) and the connection options, checked as the module checks
    them, and returns the module's results.
author:
  - divio.cloud contributors (@divio)
options:
  applications:
    description: Applications to check, by slug or id. Empty or omitted, every application the token can see.
    type: list
    elements: str
  organisation:
    description: Only applications of the organisation with this id. Empty or omitted, every organisation.
    type: str
  environments:
    description: Environment slugs to check in each application. Empty or omitted, every environment.
    type: list
    elements: str
  services:
    description: What must each have a recent successful backup, as in M(divio.cloud.backup_check).
    type: list
    elements: str
    default: [DATABASE]
  max_age:
    description: The oldest a backup may be and still count as fresh, as in M(divio.cloud.backup_check).
    type: raw
    default: 24h
  verify:
    description:
      - V(read) also reads back the judged backup of each environment, as
        O(divio.cloud.backup_check#module:verify=read) - its downloads, cost and statuses. A backup whose file fails
        verification is V(unverified) - a JUnit failure, a Markdown row with the reason, C(divio_backup_status)
        with C(status="unverified") and C(divio_backup_verified 0) - and RV(result) is then V(stale).
      - The reports of a check with V(read) have an C(unverified) count, a Markdown C(Verified) column and the
        C(divio_backup_verified) gauge; those of a check with V(none) have none of these.
      - Not done in check mode (no report is written then either).
    type: str
    choices: [none, read]
    default: none
  verify_dir:
    description:
      - With O(verify=read), where downloads and their manifest go, as
        O(divio.cloud.backup_check#module:verify_dir); a verdict recorded there is not repeated on the next run.
        Empty or omitted, a temporary directory, removed at the end.
    type: path
  verify_timeout:
    description:
      - With O(verify=read), the seconds the read of one dump may take, as
        O(divio.cloud.backup_check#module:verify_timeout); then that record is V(error) ("could not verify").
    type: float
    default: 600
  report_dir:
    description:
      - The folder the reports go to, created if needed. A relative path is relative to the directory
        ansible-playbook was started from.
    type: path
    default: reports
  report_only:
    description:
      - V(true), the task passes when backups are only stale or missing (never when the check failed); the
        problems are then in RV(lines).
    type: bool
    default: false
extends_documentation_fragment:
  - divio.cloud.min_retention
  - divio.cloud.connection
attributes:
  action:
    support: full
    description: An action plugin - the check runs and the reports are written on the controller, whatever the
      task's host, even when the check cannot start.
  action_group:
    support: full
    membership:
      - divio.cloud.divio
    description: Use C(group/divio.cloud.divio) in C(module_defaults) to set the connection options once.
  check_mode:
    support: full
    description: The check runs; no report is written.
  diff_mode:
    support: none
    description: Nothing to diff.
notes:
  - "Run it once (C(hosts: localhost) or C(run_once: true)) - every host would write the same files."
  - Needs network access to the Divio API and the Python library C(requests) on the controller.
seealso:
  - module: divio.cloud.backup_check
"""

EXAMPLES = r"""
- name: Check every live environment and write the reports
  divio.cloud.backup_report:
    environments: [live]
    report_dir: /var/lib/node_exporter/textfile/divio
  register: report

- name: Say what the check found
  ansible.builtin.debug:
    msg: "{{ report.lines }}"

- name: Fail when a backup is stale or missing
  ansible.builtin.fail:
    msg: "{{ report.failure }}"
  when: not report.passed
"""

RETURN = r"""
result:
  description: The outcome - V(fresh), V(stale) (the check ran; something is stale, missing or unverified) or
    V(failed) (the check could not run, or an application's or environment's API calls failed).
  returned: always
  type: str
  sample: stale
report_dir:
  description: The absolute path of the folder the reports are in.
  returned: always
  type: str
lines:
  description: What the check found and cost, and where the reports are; with O(report_only), the problem lines too.
  returned: when the check ran
  type: list
  elements: str
  sample: ["Backups: 12 checked - 9 fresh, 2 stale, 1 missing, 0 error (limit 24h, DATABASE) - result stale"]
passed:
  description: Whether the run passes - RV(result=fresh), or V(stale) with O(report_only).
  returned: when the check ran
  type: bool
failure:
  description: When RV(passed) is false, the message a failing task shows - a count, one line per problem, and
    where the reports are; else V(null).
  returned: when the check ran
  type: str
checks:
  description: One record per (application, environment), as RV(divio.cloud.backup_check#module:checks).
  returned: when the check ran
  type: list
  elements: dict
summary:
  description: Counts by status and RV(result), as RV(divio.cloud.backup_check#module:summary).
  returned: when the check ran
  type: dict
problems:
  description: Every record's problem lines, worst first.
  returned: when the check ran
  type: list
  elements: str
rules:
  description: The rules the records were judged by, as RV(divio.cloud.backup_check#module:rules).
  returned: when the check ran
  type: dict
stats:
  description: What the check cost, as RV(divio.cloud.backup_check#module:stats).
  returned: when the check ran
  type: dict
"""
