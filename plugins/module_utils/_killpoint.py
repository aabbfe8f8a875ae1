# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fault tests' hook: end the module's process abruptly (no clean-up, no answer, as a
SIGKILL would) right after a named step, when the environment variable given names it.
Unset, as in every real run, it does nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os


def kill_point(env_name, step):
    if os.environ.get(env_name) == step:
        os._exit(137)
