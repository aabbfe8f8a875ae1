# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: autopilot_plan
short_description: The raft autopilot settings a role applies, with HA defaults
version_added: 0.5.0
description:
  - Takes a mapping of autopilot settings (the names of M(vaultkube.platform.vault_raft_autopilot)'s options,
    V(null) meaning "the default") and returns what to apply.
  - Storage other than raft, and fewer than 3 raft nodes, are skipped (C(apply=false)) because dead server
    cleanup needs at least 3 servers. From 3 nodes on, C(cleanup_dead_servers) defaults to V(true) and
    C(min_quorum) to the number of raft nodes.
  - Fails in one line naming the first bad setting (with O(prefix) before its name).
options:
  _input:
    description: Setting name to value (V(null) for the default).
    type: dict
    required: true
  storage_type:
    description: The server's storage type, as its seal status reports it.
    type: str
    default: raft
  raft_nodes:
    description: The number of raft nodes (or the list of them).
    type: raw
    default: 1
  enabled:
    description: Whether the role manages autopilot at all.
    type: bool
    default: true
  prefix:
    description: Put before the setting names in error messages (the role's variable prefix).
    type: str
    default: ''
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Plan the autopilot settings of a three-node cluster
  ansible.builtin.set_fact:
    _plan: >-
      {{ {'dead_server_last_contact_threshold': '24h', 'cleanup_dead_servers': none}
         | vaultkube.platform.autopilot_plan(storage_type='raft', raft_nodes=3) }}
  # _plan: {apply: true, reason: 3 raft nodes,
  #         settings: {cleanup_dead_servers: true, min_quorum: 3, dead_server_last_contact_threshold: 24h}}
'''

RETURN = r'''
_value:
  description: C(apply) (bool), C(reason) (text) and C(settings) (only the fields to manage).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.vaultkube.platform.plugins.module_utils._autopilot import role_plan
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError


def autopilot_plan(settings, storage_type='raft', raft_nodes=1, enabled=True, prefix=''):
    if not isinstance(settings, dict):
        raise AnsibleFilterError('autopilot_plan: the input must be a mapping of autopilot settings')
    try:
        return role_plan(dict(settings), storage_type=storage_type, raft_nodes=raft_nodes,
                         enabled=boolean(enabled, strict=False), prefix=prefix)
    except FieldError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'autopilot_plan': autopilot_plan}
