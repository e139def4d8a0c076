#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: deployment_info
short_description: List the deployments of a Divio application, or read one with its log
version_added: 0.2.0
description:
  - Lists the deployments of an application, or of one of its environments, newest first (as
    C(divio app deployments list) does), at most O(limit) of them.
  - With O(deployment), reads that one deployment; it must belong to the application (and to O(environment), if
    given).
  - With O(logs=true), each deployment returned carries its deploy log, scrubbed of the API token and of the
    values of that deployment's environment variables (see RV(deployments[].logs)).
  - With O(variables=true), each deployment returned carries the environment variables it ran with (see
    RV(deployments[].variables)). Sensitive values are held back unless O(reveal_sensitive=true).
author:
  - divio.cloud contributors (@divio)
options:
  environment:
    description:
      - Environment slug, for example V(live), or id. Omitted, the deployments of every environment of the application.
      - A slug that several environments of the application have is a warning naming every match; the first is used.
      - An environment the application does not have fails the task, naming the ones it has.
    required: false
  deployment:
    description: The id of one deployment to read instead of a list.
    type: str
  limit:
    description:
      - The most deployments to return (the newest ones); only as many pages as needed are read.
      - Omitted, every deployment (up to the client's C(max_items) safety limit).
    type: int
  logs:
    description:
      - Add each deployment's deploy log as RV(deployments[].logs). Costs two requests per deployment (the log and
        the variables it is scrubbed of); combine it with O(deployment) or a small O(limit).
      - A log that cannot be read together with its variables fails the task; an unscrubbed log is never returned.
    type: bool
    default: false
  log_lines:
    description: With O(logs=true), only the last this many lines of each log (at most 10000). Omitted, the whole log.
    type: int
  variables:
    description:
      - Add the environment variables each deployment ran with as RV(deployments[].variables), in the shape of
        RV(divio.cloud.environment_variable_info#module:environment_variables).
      - A deployment's variables carry no sensitivity of their own, so each name is looked up in its environment's
        current variable list. A name is always shown; its value only where that list marks the name not
        sensitive, or with O(reveal_sensitive=true). Names the list does not hold - variables the platform provides,
        such as C(DEFAULT_DATABASE_DSN), or ones removed since - get C(is_sensitive=null) and no value.
      - Costs one request per deployment and one variable list per environment.
    type: bool
    default: false
  # reveal_sensitive (with variables=true) is described in the divio.cloud.reveal_sensitive fragment.
extends_documentation_fragment:
  - divio.cloud.environment
  - divio.cloud.reveal_sensitive
  - divio.cloud.connection
  - divio.cloud.attributes.info_module
  - divio.cloud.attributes.module_host
seealso:
  - module: divio.cloud.deployment
  - module: divio.cloud.environment_variable_info
"""

EXAMPLES = r"""
- name: The five newest deployments of shop/live
  divio.cloud.deployment_info:
    application: shop
    environment: live
    limit: 5
  delegate_to: localhost
  register: recent

- name: Fail unless the newest deployment of live succeeded
  ansible.builtin.assert:
    that: recent.deployments[0].success
    fail_msg: "shop/live: deployment {{ recent.deployments[0].uuid }} did not succeed"

- name: The log of the deployment a timed-out task left behind
  divio.cloud.deployment_info:
    application: shop
    deployment: "{{ deploy_result.deployment.uuid }}"
    logs: true
    log_lines: 100
  delegate_to: localhost
  register: one

- name: What the failed deployment ran with (names always; values of variables not marked sensitive)
  divio.cloud.deployment_info:
    application: shop
    deployment: "{{ deploy_result.deployment.uuid }}"
    variables: true
  delegate_to: localhost
  register: ran_with
"""

RETURN = r"""
deployments:
  description:
    - The deployments, newest first; with O(deployment), a list of that one.
  returned: success
  type: list
  elements: dict
  contains:
    uuid:
      description: The deployment's id.
      type: str
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
    running:
      description: Whether it is still queued or running.
      type: bool
    started_at:
      description: When it started (ISO 8601, UTC); V(null) while queued.
      type: str
    ended_at:
      description: When it ended (ISO 8601, UTC); V(null) while it runs.
      type: str
    build_mode:
      description: The build mode, when the API reports it; else V(null).
      type: str
    environment:
      description: The environment's id.
      type: str
    environment_slug:
      description: The environment's slug.
      type: str
    application:
      description: The application's id.
      type: str
    application_slug:
      description: The application's slug.
      type: str
    logs:
      description:
        - With O(logs=true), the deploy log (its last O(log_lines) lines, if given), with the API token and the values
          of the deployment's environment variables replaced by C(********) (values shorter than 6 characters, or 3
          for variables named like secrets, and words such as V(True) are left as they are) - also where the log
          quotes a value JSON-escaped, C(repr)-quoted, percent-encoded or in base64.
      returned: when O(logs=true)
      type: str
    variables:
      description:
        - With O(variables=true), the environment variables the deployment ran with, sorted by name.
      returned: when O(variables=true)
      type: list
      elements: dict
      contains:
        name:
          description: The variable's name.
          type: str
        value:
          description:
            - The value it had in this deployment, where the environment's list marks the name not sensitive, or
              with O(reveal_sensitive=true); else V(null).
          type: str
        is_sensitive:
          description:
            - Whether the environment's current list marks the name sensitive; V(null) when the list does not hold it.
          type: bool
"""

from ansible_collections.divio.cloud.plugins.module_utils.deployments import deployment_info
from ansible_collections.divio.cloud.plugins.module_utils.module import DivioModule


class DeploymentInfo(DivioModule):
    argument_spec = dict(
        application=dict(type="str", required=True),
        environment=dict(type="str"),
        deployment=dict(type="str"),
        limit=dict(type="int"),
        logs=dict(type="bool", default=False),
        log_lines=dict(type="int"),
        variables=dict(type="bool", default=False),
        reveal_sensitive=dict(type="bool", default=False),
    )

    def run(self, client):
        p = self.params
        return {"deployments": deployment_info(client, p["application"], environment=p["environment"],
                                               deployment=p["deployment"], limit=p["limit"], logs=p["logs"],
                                               log_lines=p["log_lines"], variables=p["variables"],
                                               reveal_sensitive=p["reveal_sensitive"])}


def main():
    DeploymentInfo().execute()


if __name__ == "__main__":
    main()
