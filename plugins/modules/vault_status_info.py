#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_status_info
short_description: Read the status of a Vault node
version_added: 0.1.0
description:
  - Reports whether a Vault (or OpenBao) node is initialised and sealed, its unseal progress, version,
    cluster name and ID, HA state, the active node's address and, with a token, the raft peers.
  - Reads C(sys/seal-status) and, once the node is unsealed, C(sys/leader). Neither needs a token, so
    O(token) is optional.
  - A sealed or uninitialised node is not an error, it is what this module reports. An unreachable
    node or a failed TLS verification fails the task with one line.
  - The raft peer list (C(sys/storage/raft/configuration)) needs a token (or another O(auth_method))
    with read access to that path and an unsealed node; without them RV(raft_peers) is omitted.
    If reading it fails, the task warns and omits RV(raft_peers) rather than failing.
options: {}
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes.read_only
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Is Vault initialised and unsealed?
  vaultkube.platform.vault_status_info:
    url: https://vault.example.com:8200
    ca_cert: /etc/vault/ca.pem
  register: vault_status

- name: Initialise only a new Vault
  vaultkube.platform.vault_init:
    url: https://vault.example.com:8200
    ca_cert: /etc/vault/ca.pem
    output_file: "{{ playbook_dir }}/vault-keys.vault"
    output_vault_password: "{{ vault_keys_password }}"
  when: not vault_status.initialized

- name: Wait until the node is unsealed and active
  vaultkube.platform.vault_status_info:
    url: https://vault.example.com:8200
  register: vault_status
  until: vault_status.active
  retries: 30
  delay: 2

- name: List the raft peers (needs a token)
  vaultkube.platform.vault_status_info:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
  register: vault_status

- name: Every peer votes
  ansible.builtin.assert:
    that: vault_status.raft_peers | rejectattr('voter') | list | length == 0
'''

RETURN = r'''
url:
  description: Address of the node that was asked.
  returned: always
  type: str
  sample: https://vault.example.com:8200
initialized:
  description: Whether the node is initialised (a node that joined a raft cluster counts as initialised).
  returned: always
  type: bool
  sample: true
sealed:
  description: Whether the node is sealed.
  returned: always
  type: bool
  sample: false
seal_type:
  description: Seal type, C(shamir) for key shares or the auto-unseal type (C(awskms), C(transit)...).
  returned: always
  type: str
  sample: shamir
storage_type:
  description: Storage backend of the node.
  returned: when the server reports it
  type: str
  sample: raft
version:
  description: Server version.
  returned: always
  type: str
  sample: 2.7.2
cluster_name:
  description: Name of the cluster; null while the node is sealed.
  returned: always
  type: str
  sample: vault-cluster-0b0b0e70
cluster_id:
  description: ID of the cluster; null while the node is sealed.
  returned: always
  type: str
  sample: 1074df87-e476-c8df-f80a-f7ab02e8b56e
progress:
  description: Number of unseal keys submitted so far in an unseal in progress.
  returned: always
  type: int
  sample: 1
threshold:
  description: Number of unseal keys needed to unseal (C(0) before initialisation).
  returned: always
  type: int
  sample: 3
shares:
  description: Number of unseal key shares (C(0) before initialisation).
  returned: always
  type: int
  sample: 5
ha_enabled:
  description: Whether HA is enabled; null while the node is sealed (Vault does not tell then).
  returned: always
  type: bool
  sample: true
standby:
  description: Whether the node is an HA standby; null while the node is sealed.
  returned: always
  type: bool
  sample: false
active:
  description: Whether the node is unsealed and serving requests itself (the active node, or HA is off).
  returned: always
  type: bool
  sample: true
leader_address:
  description: API address of the active node; null while sealed or during an election.
  returned: always
  type: str
  sample: https://10.0.0.11:8200
leader_cluster_address:
  description: Cluster address of the active node; null while sealed or during an election.
  returned: always
  type: str
  sample: https://10.0.0.11:8201
raft_peers:
  description:
    - Raft configuration as seen by the node.
    - Omitted when the node is sealed, does not use raft storage, no token or login is configured,
      or the configuration cannot be read (a warning says why).
  returned: when the node is unsealed, uses raft storage and a token or login is configured
  type: list
  elements: dict
  contains:
    node_id:
      description: Raft node ID.
      type: str
    address:
      description: Cluster address of the peer.
      type: str
    leader:
      description: Whether this peer is the raft leader.
      type: bool
    voter:
      description: Whether this peer votes (a new follower is a non-voter until autopilot promotes it).
      type: bool
  sample:
    - {node_id: node1, address: "10.0.0.11:8201", leader: true, voter: true}
    - {node_id: node2, address: "10.0.0.12:8201", leader: false, voter: true}
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._lifecycle import (
    node_status,
    run_lifecycle_module,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import object_argument_spec


def main():
    module = VaultModule(argument_spec=object_argument_spec(), supports_check_mode=True)
    run_lifecycle_module(module, node_status)


if __name__ == '__main__':
    main()
