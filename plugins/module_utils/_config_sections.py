# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The sections of a vault_config document, in the order they are applied."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vaultkube.platform.plugins.module_utils._config import Section
from ansible_collections.vaultkube.platform.plugins.module_utils._policy import Policy


def sections():
    # Mounts first (everything else lives under them), then what refers to them.
    return [
        Section('policies', Policy, Policy.argument_spec, prunable=True),
    ]
