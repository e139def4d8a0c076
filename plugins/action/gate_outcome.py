# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""divio.cloud.gate_outcome: the gate_deployment playbook's outcome, decided in Python, and its gate_result.json.

Three steps, one task each in the playbook, which only passes variables and registered results on:
start (check the variables, mark gate_result.json unfinished), gate_failed (in the gate's rescue: why it failed,
and whether check mode goes on to the deployment) and finish (the outcome: gate_result.json and the last line).
The decisions are in plugin_utils/gate_outcome.py.
"""

import os
import time

from ansible.plugins.action import ActionBase

from ansible_collections.divio.cloud.plugins.plugin_utils import gate_outcome
from ansible_collections.divio.cloud.plugins.plugin_utils.backup_reports import write_report

RESULT_FILE = "gate_result.json"
STEPS = ("start", "gate_failed", "finish")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        super().run(tmp, task_vars)
        args = self._task.args
        step = args.get("step")
        if step not in STEPS:
            return dict(failed=True, msg="step must be one of %s, not %r" % (", ".join(STEPS), step))
        run = gate_outcome.Run(args.get("application"), args.get("environment"), args.get("build_mode"),
                               args.get("refresh_if_stale"), bool(self._task.check_mode), args.get("verify", False))
        # Relative to the directory ansible-playbook was started from (this process's), not to a playbook.
        report_dir = os.path.realpath(os.path.expanduser(str(args.get("report_dir", "reports"))))
        started = int(args.get("started") or time.time())
        try:
            if step == "start":
                return self._start(run, report_dir, started)
            if step == "gate_failed":
                return run.judge_gate_failure(args.get("failed_action"), args.get("failure"), args.get("gate"))
            return self._finish(run, report_dir, started, args)
        except OSError as exc:
            return dict(failed=True, msg="could not write %s in %s: %s" % (RESULT_FILE, report_dir, exc.strerror or exc))

    def _start(self, run, report_dir, started):
        os.makedirs(report_dir, mode=0o755, exist_ok=True)
        self._write(run, report_dir, gate_outcome.unfinished(started), None, started, None)
        problems = run.problems()
        if problems:  # the run ends here, with its outcome written
            outcome = run.could_not_check("; ".join(problems))
            self._write(run, report_dir, outcome, None, started, int(time.time()))
            return dict(failed=True, msg=outcome["line"], result=outcome["result"])
        return dict(changed=False, started=started, report_dir=report_dir, build_mode=run.build_mode.upper(),
                    refresh=run.refresh(), verify=run.verify())

    def _finish(self, run, report_dir, started, args):
        gate, verdict, deployment = args.get("gate"), args.get("verdict"), args.get("deployment")
        if deployment and deployment.get("skipped"):
            deployment = None
        if verdict and not (verdict.get("deploy") and deployment):
            outcome = verdict
        elif deployment:
            outcome = run.deployed(deployment, gate, refresh=bool(verdict and verdict.get("refresh")))
        else:
            outcome = run.could_not_check("the gate passed but the deployment did not run")
        document = self._write(run, report_dir, outcome, gate, started, int(time.time()))
        return dict(changed=False, result=document["result"], line=document["line"],
                    passed=document["result"] in gate_outcome.PASSED)

    def _write(self, run, report_dir, outcome, gate, started, finished):
        document = run.document(outcome, gate, started, finished)
        write_report(report_dir, RESULT_FILE, gate_outcome.render(document))
        return document
