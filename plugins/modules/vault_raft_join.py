#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_raft_join
short_description: Join an uninitialised Vault node to a raft cluster
version_added: 0.1.0
description:
  - Asks a new, uninitialised node with raft storage to join the cluster of O(leader_api_addr)
    through C(sys/storage/raft/join).
  - A node that is already initialised (a cluster member, or a node that joined and waits to be
    unsealed) is left alone, C(changed=false).
  - After joining, the node is sealed; unseal it with the cluster's keys
    (M(vaultkube.platform.vault_unseal)) to complete the join. It starts as a non-voter and is promoted
    to voter by autopilot once it is stable.
  - No token is needed to join; O(token) and the other login options are used only with
    O(lost_peer_names), on O(leader_url).
options:
  leader_api_addr:
    description: API address of a node of the cluster to join, for example C(https://vault-0.vault-internal:8200).
    type: str
    required: true
  leader_ca_cert:
    description:
      - PEM text of the CA that signed the leader's API certificate. The joining node uses it to
        verify the leader, not the controller.
      - Mutually exclusive with O(leader_ca_cert_file).
    type: str
  leader_ca_cert_file:
    description:
      - Path of a PEM file, on the host that runs the module, with the CA of the leader's API
        certificate; its content is sent as O(leader_ca_cert).
    type: path
  leader_client_cert:
    description: PEM client certificate the joining node presents to the leader (mutual TLS).
    type: str
  leader_client_key:
    description: PEM private key of O(leader_client_cert). Never logged.
    type: str
  leader_tls_servername:
    description: TLS server name to verify in the leader's certificate, when it differs from the host in O(leader_api_addr).
    type: str
  lost_peer_names:
    description:
      - Names the joining node had as a raft peer before it lost its data, for example its pod
        name (its node id when the chart sets it) and C(vault-0.vault-internal) (the host of its
        cluster address). Before the join, a peer of the cluster whose node id or address host
        is one of them is removed through O(leader_url) with C(sys/storage/raft/remove-peer), and
        the configuration is read back. The cluster would still count that peer (as a voter)
        while its data is gone.
      - Only when the node answers uninitialised. A matching peer that is the leader or that
        autopilot reports healthy is never removed; the task then fails and nothing is joined.
      - Needs O(leader_url) and a token allowed to read C(sys/storage/raft/configuration) and to
        update C(sys/storage/raft/remove-peer).
    type: list
    elements: str
    default: []
  leader_url:
    description:
      - Address at which the controller reaches a node of the cluster (the active node), to read
        and change the raft configuration for O(lost_peer_names), with O(token) or the login options.
    type: str
  retry:
    description:
      - Let the node keep retrying the join in the background when the leader cannot be reached yet.
        The task then succeeds with RV(joined=false) instead of failing.
    type: bool
    default: false
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
seealso:
  - module: vaultkube.platform.vault_unseal
  - module: vaultkube.platform.vault_status_info
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Join vault-1 to the cluster of vault-0
  vaultkube.platform.vault_raft_join:
    url: https://vault-1.vault-internal:8200
    ca_cert: /etc/vault/ca.pem
    leader_api_addr: https://vault-0.vault-internal:8200
    leader_ca_cert_file: /etc/vault/ca.pem

- name: Then unseal it with the cluster's keys
  vaultkube.platform.vault_unseal:
    url: https://vault-1.vault-internal:8200
    ca_cert: /etc/vault/ca.pem
    keys_file: "{{ playbook_dir }}/secrets/vault-init.vault"
    keys_file_vault_password: "{{ vault_keys_password }}"
'''

RETURN = r'''
url:
  description: Address of the joining node.
  returned: always
  type: str
  sample: https://vault-1.vault-internal:8200
leader_api_addr:
  description: The leader address that was given.
  returned: always
  type: str
  sample: https://vault-0.vault-internal:8200
joined:
  description:
    - Whether Vault accepted a join request made by this task. C(false) when nothing was requested
      (already initialised, check mode) or when O(retry=true) and the leader was not reached yet.
  returned: always
  type: bool
  sample: true
initialized:
  description: Whether the node counts as initialised after the task (true once it has joined).
  returned: always
  type: bool
  sample: true
removed_peers:
  description: The raft peers removed for O(lost_peer_names) (in check mode, those that would be), each C(node_id) and C(address).
  returned: when O(lost_peer_names) is set and the node was uninitialised
  type: list
  elements: dict
  sample: [{node_id: 3f1c0b6e-8d5e-4c1a-9d6b-2b7f0e1a9c44, address: "vault-0.vault-internal:8201"}]
peers:
  description: The cluster's raft configuration read back through O(leader_url) after the removal (before the join).
  returned: when O(lost_peer_names) is set and the node was uninitialised
  type: list
  elements: dict
diff:
  description: C(initialized) before and after, when diff mode is on.
  returned: when diff mode is on
  type: dict
  sample: {before: {initialized: false}, after: {initialized: true}}
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._lifecycle import (
    raft_join,
    run_lifecycle_module,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import object_argument_spec


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(
            leader_api_addr=dict(type='str', required=True),
            leader_ca_cert=dict(type='str'),
            leader_ca_cert_file=dict(type='path'),
            leader_client_cert=dict(type='str'),
            leader_client_key=dict(type='str', no_log=True),
            leader_tls_servername=dict(type='str'),
            retry=dict(type='bool', default=False),
            lost_peer_names=dict(type='list', elements='str', default=[]),
            leader_url=dict(type='str'),
        ),
        mutually_exclusive=[('leader_ca_cert', 'leader_ca_cert_file')],
        required_together=[('leader_client_cert', 'leader_client_key')],
        supports_check_mode=True,
    )
    run_lifecycle_module(module, raft_join)


if __name__ == '__main__':
    main()
