#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: backup_check
short_description: Check that Divio environments have recent backups, for one application or a whole fleet
version_added: 0.1.0
description:
  - For every (application, environment) asked for, finds the newest successful backup of each listed service
    type and judges it V(fresh) (at most O(max_age) old), V(stale), V(missing) (none at all, or no such
    environment) or V(error) (the API failed for that application).
  - Stale, missing and erroring environments are data, not task failures - the task fails only when nothing
    can be checked (bad input, a rejected token, an unreadable application list). Use RV(summary.ok) to gate,
    as the C(divio.cloud.backup_gate) role and the C(divio.cloud.check_backups) playbook do.
  - When the server ignores the C(backups/?environment=) filter, one pass over all backups serves every
    environment of every application.
  - Backups are dated and skipped as in M(divio.cloud.backup_info) (see its notes); each skipped backup that could have
    been the answer is named in RV(checks[].warnings) and shown as a task warning.
author:
  - divio.cloud contributors (@divio)
options:
  applications:
    description:
      - Applications to check, by slug or id (each looked up as a slug first). Omitted, every application the token can see
        (narrowed by O(organisation)).
      - An application that cannot be found or read is reported with status V(error); the others are still checked.
    type: list
    elements: str
  organisation:
    description: Only applications of the organisation with this id, for example V(bagztldeadfdhlilnmpzx3twly).
    type: str
  environments:
    description:
      - Environment slugs to check in each application, for example V([live]). Omitted, every environment.
      - A listed slug that an application does not have is reported as V(missing).
    type: list
    elements: str
  services:
    description:
      - What must each have a recent successful backup - service types, or V(TYPE:PREFIX) such as
        V(DATABASE:DEFAULT) for one service instance. Each entry is judged on its own, by the rule of
        M(divio.cloud.backup_info)'s O(divio.cloud.backup_info#module:services) - the newest backup holding
        usable service-instance backups of every provisioned instance of the type (C(NEW) ones are not needed,
        at least one is), or of the one instance named.
      - Known types are V(DATABASE) and V(STORAGE).
    type: list
    elements: str
    default: [DATABASE]
  max_age:
    description:
      - The oldest a backup may be and still count as fresh.
      - Seconds as a number, or a string with units V(s), V(m), V(h), V(d), V(w), such as V(36h) or V(2d).
    type: raw
    default: 24h
  verify:
    description:
      - V(read) downloads and read-verifies the C(DATABASE) parts that each C(DATABASE) entry of O(services) counted,
        of the backup it judged for each checked environment (never an older one; a backup judged only for C(STORAGE)
        is not read), as M(divio.cloud.backup_download) with O(divio.cloud.backup_download#module:verify=read) does.
        A backup whose file fails verification gets status V(unverified); a verification that could not run (no
        C(pg_restore), a failed download) makes the record V(error), with the reason.
      - This creates download links on the platform and reads whole files (network, disk, time); it changes no backup,
        so the task still reports C(changed=false). Not done in check mode.
      - With no C(DATABASE) entry in O(services) nothing is verified, and a warning says so.
      - A O(verify_dir) that cannot be written (or a full disk) fails the task, naming the directory.
      - V(none) (the default) checks the backups' existence and age only.
    type: str
    choices: [none, read]
    default: none
  verify_dir:
    description:
      - With O(verify=read), a directory for the downloads and their manifest (C(.divio-downloads.json)); each file is
        removed once verified, and a verdict recorded there (by backup and part) is not repeated on the next run.
      - Omitted, a temporary directory is used and removed at the end (nothing is remembered).
    type: path
  verify_timeout:
    description:
      - With O(verify=read), the seconds the read of one dump may take (C(pg_restore -f /dev/null)), as
        O(divio.cloud.backup_download#module:verify_timeout). Then the read stops, and the record is V(error) ("could not
        verify"), never V(fresh).
      - Only DATABASE dumps are read here, so the bounds of media archives
        (O(divio.cloud.backup_download#module:max_expanded_bytes), O(divio.cloud.backup_download#module:max_members))
        do not apply.
    type: float
    default: 600
  # min_retention is described in the divio.cloud.min_retention fragment.
extends_documentation_fragment:
  - divio.cloud.min_retention
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
  - divio.cloud.attributes.info_module
seealso:
  - module: divio.cloud.backup_info
"""

EXAMPLES = r"""
- name: Check every application's live database backups
  divio.cloud.backup_check:
    environments: [live]
    max_age: 24h
  delegate_to: localhost
  register: fleet

- name: Fail with one line per problem
  ansible.builtin.fail:
    msg: "{{ fleet.problems | join('\n') }}"
  when: not fleet.summary.ok

- name: Database and media storage of two applications, at most 36 hours old
  divio.cloud.backup_check:
    applications: [shop, blog]
    services: [DATABASE, STORAGE]
    max_age: 36h
  delegate_to: localhost
  register: two_apps
"""

RETURN = r"""
checks:
  description: One record per (application, environment), worst first (error, missing, unverified, stale, fresh).
  returned: success
  type: list
  elements: dict
  contains:
    application:
      description: Application id; V(null) if the application could not be found.
      type: str
    application_slug:
      description: Application slug (or the reference given, if it could not be found).
      type: str
    environment:
      description: Environment id; V(null) if it does not exist or could not be read.
      type: str
    environment_slug:
      description: Environment slug; V(null) when the application's environments could not be read.
      type: str
    status:
      description:
        - V(fresh), V(stale), V(missing) or V(error) - the worst of the services.
        - With O(verify=read) also V(unverified) - the judged backup's file failed verification (worse than stale,
          better than missing).
      type: str
      sample: stale
    verified:
      description: With O(verify=read) only - V(true) when every C(DATABASE) part the check counted read whole,
        V(false) when one failed, V(null) when nothing was verified (missing, error, or no C(DATABASE) part).
      type: bool
    verified_at:
      description: With O(verify=read) only - when the newest verification of the judged backup was made.
      type: str
    verified_age_seconds:
      description: With O(verify=read) only - the age of the newest verified backup (the judged one, when verified).
      type: int
    verification:
      description: With O(verify=read) only - per part, what M(divio.cloud.backup_download) returns in its C(files)
        (C(part), C(format), C(size), C(sha256), C(verified), C(verification)).
      type: list
      elements: dict
    problems:
      description: One line per problem, empty when fresh.
      type: list
      elements: str
      sample: ["shop/live: newest DATABASE backup is 31h old (limit 24h)"]
    error:
      description: The error message when RV(checks[].status=error), else V(null).
      type: str
    uuid:
      description: Id of the stalest service's newest backup; V(null) when missing or error.
      type: str
    dated_by:
      description: The field that backup's snapshot time came from (see RV(divio.cloud.backup_info#module:backups[].dated_by)).
      type: str
    warnings:
      description: Backups of this environment skipped as unusable, and O(services) entries that name no instance.
      type: list
      elements: str
    taken_at:
      description: Snapshot time of that backup.
      type: str
    age_seconds:
      description: Age of that backup's snapshot in seconds.
      type: int
    age:
      description: RV(checks[].age_seconds) written short, as the problem lines show it (V(31h), V(4d19h)); V(null) without a backup.
      type: str
    max_age_seconds:
      description: The limit in seconds.
      type: int
      sample: 86400
    max_age:
      description: The limit as given.
      type: str
      sample: 24h
    services:
      description: The judgement of each service type.
      type: list
      elements: dict
      contains:
        service:
          description: The O(services) entry, for example V(DATABASE) or V(DATABASE:DEFAULT).
          type: str
        status:
          description: V(fresh), V(stale) or V(missing).
          type: str
        uuid:
          description: Id of the newest backup holding a good part of this type.
          type: str
        dated_by:
          description: The field its snapshot time came from.
          type: str
        taken_at:
          description: Snapshot time of that part.
          type: str
        age_seconds:
          description: Its age in seconds.
          type: int
        age:
          description: That age written short (V(31h)).
          type: str
        fresh:
          description: Whether it is at most O(max_age) old.
          type: bool
  sample:
    - application_slug: blog
      environment_slug: live
      status: stale
      problems: ["blog/live: newest DATABASE backup is 4d2h old (limit 24h)"]
summary:
  description: Counts by status, the total, and whether everything is fresh.
  returned: success
  type: dict
  sample: {total: 12, fresh: 8, stale: 1, missing: 2, error: 1, ok: false, result: failed}
  contains:
    ok:
      description: True only when there are records and every one is fresh.
      type: bool
    result:
      description:
        - V(fresh) when RV(summary.ok); V(failed) when a record has status V(error) or there are no records;
          else V(stale) (something is stale or missing).
      type: str
      sample: stale
    total:
      description: Number of records.
      type: int
    fresh:
      description: Records with status V(fresh).
      type: int
    stale:
      description: Records with status V(stale).
      type: int
    missing:
      description: Records with status V(missing).
      type: int
    error:
      description: Records with status V(error).
      type: int
    unverified:
      description: With O(verify=read) only - records with status V(unverified) (RV(summary.result) is then V(stale)).
      type: int
problems:
  description: Every record's problem lines, worst first.
  returned: success
  type: list
  elements: str
rules:
  description: The rules the records were judged by, as the module understood them.
  returned: success
  type: dict
  sample: {services: [DATABASE], max_age: 24h, max_age_seconds: 86400, min_retention_seconds: 86400}
  contains:
    services:
      description: The O(services) entries checked (V(TYPE) or V(TYPE:PREFIX)).
      type: list
      elements: str
    min_retention_seconds:
      description: O(min_retention) in seconds; V(0) when the rule is off.
      type: int
    max_age:
      description: The limit as given (a number of seconds is shown with units).
      type: str
    max_age_seconds:
      description: The limit in seconds.
      type: int
    verify:
      description: V(read) when the judged backups were read back (O(verify=read), not in check mode); absent otherwise.
      type: str
      returned: when backups were verified
stats:
  description: What the check cost, for a line at the end of a long run.
  returned: success
  type: dict
  sample: {requests: 53, retries: 0, seconds: 1.234}
  contains:
    requests:
      description: HTTP requests sent to the API, retries included.
      type: int
    retries:
      description: Requests that were repeated after a retryable failure.
      type: int
    seconds:
      description: Wall-clock time of the check.
      type: float
"""

from ansible_collections.divio.cloud.plugins.module_utils.checks import CHECK_ARGUMENT_SPEC, run_fleet_check
from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule


class BackupCheck(DivioModule):
    argument_spec = dict(CHECK_ARGUMENT_SPEC)

    def run(self, client):
        result, warnings = run_fleet_check(client, self.params, check_mode=self.module.check_mode)
        for warning in warnings:
            self.module.warn(warning)
        return result


def main():
    BackupCheck().execute()


if __name__ == "__main__":
    main()
