#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: deployment
short_description: Deploy a Divio environment and wait for the deployment to end
version_added: 0.2.0
description:
  - Starts a deployment of an environment (C(POST /apps/v3/deployments/), as C(divio app deploy) does) and by
    default waits until it has ended, failing the task unless it succeeded.
  - If a deployment of that environment is already running, the task first waits for it to end and then starts
    its own, because the running one may not contain what this run is meant to deploy - also with O(wait=false),
    because a second one cannot start while it runs. Both are reported (RV(attached) and RV(deployment)). With
    O(attach_only=true) it only waits for the running one.
  - A failed deployment fails the task with one line naming the application, the environment and the deployment's
    id, and returns the last O(log_lines) lines of its deploy log in RV(log_tail). The tail is scrubbed of the API
    token and of the values of the deployment's environment variables, which may hold the application's secrets.
  - A wait that times out fails the task with the deployment's id (in the message and in RV(deployment)); the
    deployment itself goes on, and a later task can follow it with M(divio.cloud.deployment_info) or wait for it
    with O(attach_only=true).
  - Every option is checked before the first request, so nothing is started when an option is wrong.
author:
  - divio.cloud contributors (@divio)
options:
  build_mode:
    description:
      - How the image is built, as in C(divio app deploy --build-mode).
      - V(AUTO) builds a new image when the code changed, V(ADOPT) reuses an image already built for another
        environment, V(FORCE) always builds.
    type: str
    choices: [AUTO, ADOPT, FORCE]
    default: AUTO
  # wait, wait_timeout and poll_interval are described in the divio.cloud.wait fragment.
  wait_timeout:
    default: 3600
  poll_interval:
    default: 3
  attach_only:
    description:
      - Do not start a deployment. If one is running, wait for it to end (with O(wait=true)) and fail unless it
        succeeded; if none is running, report the newest one. Always C(changed=false).
    type: bool
    default: false
  log_lines:
    description:
      - How many lines from the end of a failed deployment's log to return in RV(log_tail); V(0) for none.
      - At most 10000.
    type: int
    default: 40
notes:
  - O(wait_timeout) bounds the wait for a running deployment and for the new one together, and is at most 86400.
    O(poll_interval) is at most 600 (divio-cli waits 3 seconds).
extends_documentation_fragment:
  - divio.cloud.environment
  - divio.cloud.wait
  - divio.cloud.connection
  - divio.cloud.attributes.module_host
attributes:
  check_mode:
    support: full
    description:
      - Reports C(changed=true) when a deployment would be started and starts nothing - no request other than
        reads is sent, and a running deployment is reported in RV(attached) without waiting for it.
  diff_mode:
    support: none
    description: There is nothing to diff.
seealso:
  - module: divio.cloud.deployment_info
  - module: divio.cloud.backup
"""

EXAMPLES = r"""
- name: Deploy the live environment and wait for it (fails with the log tail if it fails)
  divio.cloud.deployment:
    application: shop
    environment: live
  delegate_to: localhost
  register: deployed

- name: Rebuild the test image from scratch, without waiting
  divio.cloud.deployment:
    application: shop
    environment: test
    build_mode: FORCE
    wait: false
  delegate_to: localhost

- name: Wait for whatever deployment of live is running (started by someone else), for at most 30 minutes
  divio.cloud.deployment:
    application: shop
    environment: live
    attach_only: true
    wait_timeout: 1800
  delegate_to: localhost

- name: Show why a deployment failed
  block:
    - name: Deploy
      divio.cloud.deployment:
        application: shop
        environment: live
      delegate_to: localhost
  rescue:
    - name: Print the end of the deploy log
      ansible.builtin.debug:
        msg: "{{ ansible_failed_result.log_tail | default([]) }}"
"""

RETURN = r"""
deployment:
  description:
    - The deployment this task started (with O(attach_only=true), the one waited for or the newest one), as last
      seen. V(null) in check mode when one would be started, and with O(attach_only=true) when the environment
      has never been deployed.
    - Also returned when the task fails because the deployment failed or the wait timed out.
  returned: always
  type: dict
  contains:
    uuid:
      description: The deployment's id.
      type: str
      sample: bagztldeadfdhlilnmpzx3twly
    status:
      description: The deployment's status as the API reports it.
      type: str
      sample: COMPLETED
    success:
      description: V(true) or V(false) once it has ended, V(null) while it runs.
      type: bool
    percent:
      description: Progress in percent, as the API reports it.
      type: int
      sample: 100
    running:
      description: Whether it was still queued or running when last seen.
      type: bool
    started_at:
      description: When it started (ISO 8601, UTC); V(null) while queued.
      type: str
    ended_at:
      description: When it ended (ISO 8601, UTC); V(null) while it runs.
      type: str
    build_mode:
      description: The build mode - as the API reports it, else the one this task asked for, else V(null).
      type: str
    environment:
      description: The environment's id.
      type: str
    environment_slug:
      description: The environment's slug.
      type: str
      sample: live
    application:
      description: The application's id.
      type: str
    application_slug:
      description: The application's slug.
      type: str
      sample: shop
attached:
  description:
    - The deployment that was already running when the task started, shaped like RV(deployment) - after the task
      waited for it to end (before starting its own), or as seen in check mode or with O(wait=false) and
      O(attach_only=true). V(null) when none was running.
  returned: always
  type: dict
log_tail:
  description:
    - When the deployment failed, the last O(log_lines) lines of its deploy log, with the API token and the values
      of the deployment's environment variables replaced by C(********) (values shorter than 6 characters, or
      3 for variables named like secrets, and words such as V(True) are left as they are). Otherwise empty.
    - A value is also replaced where the log quotes it JSON-escaped, C(repr)-quoted, percent-encoded or in base64
      (also inside a longer base64 text such as an C(Authorization) header); the failure message is masked the same
      way (the environment variables guide lists the forms).
    - Empty too when the log could not be read together with the variables it must be scrubbed of; the failure
      message then says why.
  returned: always
  type: list
  elements: str
  sample:
    - "$ python manage.py migrate --noinput"
    - "  DATABASE_URL=********"
    - Release command "python manage.py migrate --noinput" failed with exit code 1
    - Deployment failed
"""

from ansible_collections.divio.cloud.plugins.module_utils.deployments import DeploymentError, DeployOptions, deploy_with
from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule


class Deployment(DivioModule):
    changes_something = True
    argument_spec = DeployOptions.ARGUMENT_SPEC

    def run(self, client):
        try:
            changed, result = deploy_with(client, DeployOptions.from_params(self.params, check_mode=self.module.check_mode))
        except DeploymentError as exc:
            # The failure still says which deployment it is about (and how it ended), so a later task can pick it up.
            details = exc.details
            self.module.fail_json(msg=str(exc), error=details.get("cause") or type(exc).__name__,
                                  changed=bool(details.get("changed")), **details.get("result", {}))
        return dict(result, changed=changed)


def main():
    Deployment().execute()


if __name__ == "__main__":
    main()
