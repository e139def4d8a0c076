# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""divio.cloud.refresh_outcome: the refresh_environment playbook's outcome, decided in Python, and its
refresh_result.json. Two steps, one task each in the playbook: start (check the variables, mark the file
unfinished) and finish (the outcome from the copy's result). The decisions are in plugin_utils/refresh_outcome.py.
"""

from ansible_collections.divio.cloud.plugins.plugin_utils import refresh_outcome
from ansible_collections.divio.cloud.plugins.plugin_utils.outcome_action import OutcomeAction


class ActionModule(OutcomeAction):
    RESULT_FILE = "refresh_result.json"
    STEPS = ("start", "finish")
    decisions = refresh_outcome

    def make_run(self, args, check_mode):
        return refresh_outcome.Run(args.get("variables"), check_mode)

    def refuse(self, run, reason):
        return run.refused(reason)

    def started_result(self, run, report_dir, started):
        return dict(changed=False, started=started, services=run.services(), allow_live=run.allow_live())

    def step_finish(self, run, report_dir, started, args):
        return self.finished(run, report_dir, run.decide(args.get("copy")), args.get("copy"), started)
