# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: number every task boundary of a playbook run and, when asked,
SIGKILL the run's whole process group at one of them.

A boundary is the start of a task or handler (v2_playbook_on_task_start /
v2_playbook_on_handler_task_start): the previous task has finished, the next has not
begun. Each boundary is appended to $VAULTKUBE_KILLPOINT_LOG as one JSON line
{"n": 1-based number, "role": role or "", "task": name, "handler": bool}, and flushed
before anything else happens, so the log of a killed run ends with the boundary it
was killed at. Each task result is logged too ({"result": n, "host", "status":
ok|changed|skipped|failed, "action"}), which tells boundaries with nothing done
between them apart. With $VAULTKUBE_KILLPOINT_AT=N the callback stops the controller
(SIGSTOP) at boundary N, after logging it; the test then SIGKILLs the whole process
tree (ansible's workers call setsid(), so a process-group kill would miss them).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = '''
    name: vaultkube_killpoint
    type: aggregate
    short_description: number task boundaries and SIGKILL the run at one (tests only)
    description: See the module docstring.
    requirements:
      - enabled with ANSIBLE_CALLBACKS_ENABLED=vaultkube_killpoint
'''

import json
import os
import signal

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'vaultkube_killpoint'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.count = 0
        self.log_path = os.environ.get('VAULTKUBE_KILLPOINT_LOG')
        at = os.environ.get('VAULTKUBE_KILLPOINT_AT')
        self.kill_at = int(at) if at else None

    def _log(self, entry):
        if self.log_path:
            with open(self.log_path, 'a') as handle:
                handle.write(json.dumps(entry) + '\n')
                handle.flush()
                os.fsync(handle.fileno())

    def _result(self, result, status):
        if status == 'ok' and result._result.get('changed'):
            status = 'changed'
        self._log({'result': self.count, 'host': result._host.get_name(), 'status': status,
                   'action': result._task.action})

    def v2_runner_on_ok(self, result):
        self._result(result, 'ok')

    def v2_runner_on_skipped(self, result):
        self._result(result, 'skipped')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_unreachable(self, result):
        self._result(result, 'failed')

    def _boundary(self, task, handler):
        self.count += 1
        role = task._role.get_name() if getattr(task, '_role', None) else ''
        self._log({'n': self.count, 'role': role.split('.')[-1], 'task': task.get_name(), 'handler': handler,
                   'action': task.action})
        if self.kill_at is not None and self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGSTOP)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._boundary(task, False)

    def v2_playbook_on_handler_task_start(self, task):
        self._boundary(task, True)
