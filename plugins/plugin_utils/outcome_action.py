# -*- coding: utf-8 -*-
# Copyright: (c) 2026, divio.cloud contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to divio.cloud: not a public API, it may change in any release (see CONTRIBUTING.md).

"""The shape of a playbook's outcome action (gate_outcome, refresh_outcome): steps named by the task, a result
file in ``report_dir`` marked unfinished at ``start`` and written whole at each step, and a ``start`` that ends the
run with its outcome when the variables are wrong. Internal to this collection: its interface may change."""

import os
import time

from ansible.plugins.action import ActionBase

from ansible_collections.divio.cloud.plugins.plugin_utils.backup_reports import write_report


class OutcomeAction(ActionBase):
    """Subclasses name ``RESULT_FILE``, ``STEPS`` (``start`` first) and ``decisions`` (the plugin_utils module with
    ``unfinished``, ``render`` and ``PASSED``), and give ``make_run``, ``refuse``, ``started_result`` and a
    ``step_<name>`` for each step after ``start``."""

    TRANSFERS_FILES = False
    _requires_connection = False
    RESULT_FILE = None
    STEPS = ("start",)
    decisions = None

    def run(self, tmp=None, task_vars=None):
        super().run(tmp, task_vars)
        args = self._task.args
        step = args.get("step")
        if step not in self.STEPS:
            return dict(failed=True, msg="step must be one of %s, not %r" % (", ".join(self.STEPS), step))
        run = self.make_run(args, bool(self._task.check_mode))
        # Relative to the directory ansible-playbook was started from (this process's), not to a playbook.
        report_dir = os.path.realpath(os.path.expanduser(str(args.get("report_dir", "reports"))))
        started = int(args.get("started") or time.time())
        try:
            if step == "start":
                return self._start(run, report_dir, started)
            return getattr(self, "step_" + step)(run, report_dir, started, args)
        except OSError as exc:
            why = exc.strerror or exc
            return dict(failed=True, msg="could not write %s in %s: %s" % (self.RESULT_FILE, report_dir, why))

    def _start(self, run, report_dir, started):
        os.makedirs(report_dir, mode=0o755, exist_ok=True)
        self.write(run, report_dir, self.decisions.unfinished(started), None, started, None)
        problems = run.problems()
        if problems:  # the run ends here, with its outcome written
            outcome = self.refuse(run, "; ".join(problems))
            self.write(run, report_dir, outcome, None, started, int(time.time()))
            return dict(failed=True, msg=outcome["line"], result=outcome["result"])
        return self.started_result(run, report_dir, started)

    def write(self, run, report_dir, outcome, subject, started, finished):
        """Write the result file for ``outcome`` (``subject``: what the run judged - the gate, the copy)."""
        document = run.document(outcome, subject, started, finished)
        write_report(report_dir, self.RESULT_FILE, self.decisions.render(document))
        return document

    def finished(self, run, report_dir, outcome, subject, started):
        """The task's result for a run that ends with ``outcome``, its result file written."""
        document = self.write(run, report_dir, outcome, subject, started, int(time.time()))
        return dict(changed=False, result=document["result"], line=document["line"],
                    passed=document["result"] in self.decisions.PASSED)

    def make_run(self, args, check_mode):
        raise NotImplementedError

    def refuse(self, run, reason):
        raise NotImplementedError

    def started_result(self, run, report_dir, started):
        raise NotImplementedError
