# Test helper: records how long each task took on each host, as JSON lines appended to the file
# named by $PTREC_TIMING_LOG. Enabled by tests/ansible/run with ANSIBLE_CALLBACKS_ENABLED.
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: ptrec_timing
type: aggregate
short_description: per-host task durations for tests/ansible/run
description:
  - Appends one JSON line per finished task and host to $PTREC_TIMING_LOG.
requirements:
  - enabled with ANSIBLE_CALLBACKS_ENABLED=ptrec_timing
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'ptrec_timing'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._started = {}
        self._path = os.environ.get('PTREC_TIMING_LOG')
        self._play = ''

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()

    def v2_runner_on_start(self, host, task):
        self._started[(host.get_name(), task._uuid)] = time.monotonic()

    def _record(self, result, status):
        if not self._path:
            return
        key = (result._host.get_name(), result._task._uuid)
        start = self._started.pop(key, None)
        if start is None:
            return
        line = {
            'play': self._play,
            'task': result._task.get_name(),
            'action': result._task.action,
            'host': key[0],
            'status': status,
            'seconds': round(time.monotonic() - start, 4),
        }
        with open(self._path, 'a') as out:
            out.write(json.dumps(line) + '\n')

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')
