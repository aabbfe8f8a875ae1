#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_raft_autopilot
short_description: Configure raft autopilot (dead server cleanup, quorum, thresholds)
version_added: 0.5.0
description:
  - Reads C(sys/storage/raft/autopilot/configuration), compares it with the settings given and writes
    only the ones that differ. Settings left out are kept as the server has them.
  - Durations are compared by meaning; V(24h), V(86400), V(86400s), V(1d) and V(24h0m0s) are the same
    value. They must be whole seconds and more than 0 (the server drops fractions and ignores 0).
  - Bad input fails in one line naming the field, before anything is written, also when it would only
    be bad together with the server's current values (O(cleanup_dead_servers=true) while the server
    has a C(min_quorum) below 3).
  - With none of the settings given, the module only reads and returns the configuration.
  - Needs raft (integrated) storage; the request goes to the active node (a standby forwards it).
options:
  cleanup_dead_servers:
    description:
      - Remove dead servers from the raft peers, periodically or when a new one joins.
      - V(true) needs O(min_quorum) of at least 3, given or already on the server.
    type: bool
  min_quorum:
    description:
      - Number of servers below which autopilot does not remove dead servers. At least 3; set it to
        the number of voters of the cluster.
    type: int
  dead_server_last_contact_threshold:
    description:
      - How long a server may go without contact from the leader before it counts as dead (with
        O(cleanup_dead_servers)). At least V(1m); longer than a new node needs to load a snapshot.
      - A duration (V(24h), V(30m), V(90s)) or a number of seconds.
    type: raw
  last_contact_threshold:
    description: How long a server may go without contact from the leader before it is unhealthy.
    type: raw
  max_trailing_logs:
    description: How many log entries a server may lag behind the leader and still be healthy.
    type: int
  server_stabilization_time:
    description: How long a new server must be healthy before it is promoted to a voter.
    type: raw
notes:
  - Needs C(read) and C(update) on C(sys/storage/raft/autopilot/configuration).
  - In check mode nothing is written and RV(config) is the configuration as it is; the diff shows
    what a run would write.
seealso:
  - name: Raft autopilot (HashiCorp Vault)
    description: What each setting does.
    link: https://developer.hashicorp.com/vault/docs/concepts/integrated-storage/autopilot
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Remove dead peers of a three-node cluster after a day
  vaultkube.platform.vault_raft_autopilot:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
    cleanup_dead_servers: true
    min_quorum: 3
    dead_server_last_contact_threshold: 24h

- name: Read the configuration only
  vaultkube.platform.vault_raft_autopilot:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
  register: autopilot
'''

RETURN = r'''
operation:
  description: What was done (or would be done in check mode).
  returned: always
  type: str
  choices: [update, none]
  sample: update
changed_fields:
  description: Names of the settings that differ from the server's.
  returned: always
  type: list
  elements: str
  sample: [cleanup_dead_servers, min_quorum]
config:
  description:
    - The configuration read back from the server after the write (in check mode, as it is); durations
      in the server's spelling.
  returned: success
  type: dict
  sample:
    cleanup_dead_servers: true
    dead_server_last_contact_threshold: 24h0m0s
    last_contact_threshold: 10s
    max_trailing_logs: 1000
    min_quorum: 3
    server_stabilization_time: 10s
diff:
  description: The configuration before and after, when diff mode is on.
  returned: when diff mode is on
  type: dict
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._autopilot import AutopilotConfig
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    object_argument_spec,
    run_object_module,
)


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**AutopilotConfig.argument_spec),
        supports_check_mode=True,
    )
    run_object_module(module, AutopilotConfig)


if __name__ == '__main__':
    main()
