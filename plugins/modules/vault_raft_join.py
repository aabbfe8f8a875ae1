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
  - No token is needed; O(token) and the other login options are ignored.
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
        ),
        mutually_exclusive=[('leader_ca_cert', 'leader_ca_cert_file')],
        required_together=[('leader_client_cert', 'leader_client_key')],
        supports_check_mode=True,
    )
    run_lifecycle_module(module, raft_join)


if __name__ == '__main__':
    main()
