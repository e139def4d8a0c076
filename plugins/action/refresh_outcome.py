# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""divio.cloud.refresh_outcome: the refresh_environment playbook's outcome, decided in Python, and its
refresh_result.json. Two steps, one task each in the playbook: start (check the variables, mark the file
unfinished) and finish (the outcome from the copy's result). The decisions are in plugin_utils/refresh_outcome.py.
"""

import os
import time

from ansible.plugins.action import ActionBase

from ansible_collections.divio.cloud.plugins.plugin_utils import refresh_outcome
from ansible_collections.divio.cloud.plugins.plugin_utils.backup_reports import write_report

RESULT_FILE = "refresh_result.json"
STEPS = ("start", "finish")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        super().run(tmp, task_vars)
        args = self._task.args
        step = args.get("step")
        if step not in STEPS:
            return dict(failed=True, msg="step must be one of %s, not %r" % (", ".join(STEPS), step))
        run = refresh_outcome.Run(args.get("variables"), bool(self._task.check_mode))
        # Relative to the directory ansible-playbook was started from (this process's), not to a playbook.
        report_dir = os.path.realpath(os.path.expanduser(str(args.get("report_dir", "reports"))))
        started = int(args.get("started") or time.time())
        try:
            if step == "start":
                return self._start(run, report_dir, started)
            outcome = run.decide(args.get("copy"))
            document = self._write(run, report_dir, outcome, args.get("copy"), started, int(time.time()))
        except OSError as exc:
            return dict(failed=True, msg="could not write %s in %s: %s" % (RESULT_FILE, report_dir, exc.strerror or exc))
        return dict(changed=False, result=document["result"], line=document["line"],
                    passed=document["result"] in refresh_outcome.PASSED)

    def _start(self, run, report_dir, started):
        os.makedirs(report_dir, mode=0o755, exist_ok=True)
        self._write(run, report_dir, refresh_outcome.unfinished(started), None, started, None)
        problems = run.problems()
        if problems:  # the run ends here, with its outcome written
            outcome = run.refused("; ".join(problems))
            self._write(run, report_dir, outcome, None, started, int(time.time()))
            return dict(failed=True, msg=outcome["line"], result=outcome["result"])
        return dict(changed=False, started=started, services=run.services(), allow_live=run.allow_live())

    def _write(self, run, report_dir, outcome, copy, started, finished):
        document = run.document(outcome, copy, started, finished)
        write_report(report_dir, RESULT_FILE, refresh_outcome.render(document))
        return document
