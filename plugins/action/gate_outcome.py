# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""divio.cloud.gate_outcome: the gate_deployment playbook's outcome, decided in Python, and its gate_result.json.

Three steps, one task each in the playbook, which only passes variables and registered results on:
start (check the variables, mark gate_result.json unfinished), gate_failed (in the gate's rescue: why it failed,
and whether check mode goes on to the deployment) and finish (the outcome: gate_result.json and the last line).
The decisions are in plugin_utils/gate_outcome.py.
"""

from ansible_collections.divio.cloud.plugins.plugin_utils import gate_outcome
from ansible_collections.divio.cloud.plugins.plugin_utils.outcome_action import OutcomeAction


class ActionModule(OutcomeAction):
    RESULT_FILE = "gate_result.json"
    STEPS = ("start", "gate_failed", "finish")
    decisions = gate_outcome

    def make_run(self, args, check_mode):
        return gate_outcome.Run(args.get("application"), args.get("environment"), args.get("build_mode"),
                                args.get("refresh_if_stale"), check_mode, args.get("verify", False))

    def refuse(self, run, reason):
        return run.could_not_check(reason)

    def started_result(self, run, report_dir, started):
        return dict(changed=False, started=started, report_dir=report_dir, build_mode=run.build_mode.upper(),
                    refresh=run.refresh(), verify=run.verify())

    def step_gate_failed(self, run, report_dir, started, args):
        return run.judge_gate_failure(args.get("failed_action"), args.get("failure"), args.get("gate"))

    def step_finish(self, run, report_dir, started, args):
        gate, verdict, deployment = args.get("gate"), args.get("verdict"), args.get("deployment")
        if deployment and deployment.get("skipped"):
            deployment = None
        if verdict and not (verdict.get("deploy") and deployment):
            outcome = verdict
        elif deployment:
            outcome = run.deployed(deployment, gate, refresh=bool(verdict and verdict.get("refresh")))
        else:
            outcome = run.could_not_check("the gate passed but the deployment did not run")
        return self.finished(run, report_dir, outcome, gate, started)
