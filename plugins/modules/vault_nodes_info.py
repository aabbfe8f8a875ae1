#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_nodes_info
short_description: Ask every node of a Vault cluster and decide which to initialise and which to join
version_added: 0.4.0
description:
  - Reads the seal status (C(sys/seal-status)) and, once unsealed, the leader status (C(sys/leader)) of
    every node in O(nodes), as M(vaultkube.platform.vault_status_info) does for one node. No token is
    needed.
  - Returns a plan. If any node is initialised, the cluster exists - RV(initialized) is true, RV(init_node)
    is null - and the uninitialised nodes are RV(joiners) that must join RV(leader) through a raft join,
    never be initialised.
  - Only when every node answered and none is initialised is the first node RV(init_node).
  - When some node does not answer and none of those that answered is initialised, the task fails in one
    line and nothing is decided (the silent node may hold the cluster, and initialising another node
    would make a second, empty Vault).
  - Fails too when no node answers, or when initialised nodes report different cluster IDs.
  - Changes nothing; check mode reads the nodes as a normal run does.
options:
  nodes:
    description:
      - Every node of the cluster, each once, in order of preference (the first is initialised when the
        cluster is new).
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description: Address the controller reaches the node at, for example through a port-forward.
        type: str
        required: true
      pod:
        description: Name of the node's pod when Vault runs in Kubernetes; used for RV(join_address).
        type: str
      leader_api_addr:
        description:
          - The leader's address as this node reaches it, if the caller sets one; returned with the
            node in RV(joiners), not read by this module.
        type: str
  pod_service:
    description:
      - Headless service of the pods. With it, RV(join_address) is C(<pod_scheme>://<pod>.<pod_service>:<pod_port>)
        of the active pod (the leader pod when none is active yet) when that pod is in O(nodes).
    type: str
  pod_scheme:
    description: Scheme of the pods' API address inside the cluster.
    type: str
    choices: [http, https]
    default: https
  pod_port:
    description: API port of the pods inside the cluster.
    type: int
    default: 8200
notes:
  - The connection options apply to every node; O(url) is replaced by each node's C(url).
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes.read_only
seealso:
  - module: vaultkube.platform.vault_status_info
  - module: vaultkube.platform.vault_init
  - module: vaultkube.platform.vault_raft_join
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Ask every node before anything is initialised
  vaultkube.platform.vault_nodes_info:
    nodes:
      - url: https://vault1.example.com:8200
      - url: https://vault2.example.com:8200
      - url: https://vault3.example.com:8200
    ca_cert: /etc/vault/ca.pem
  register: vault_plan

- name: Initialise only a new cluster, and only its first node
  vaultkube.platform.vault_init:
    url: "{{ vault_plan.init_node.url }}"
    ca_cert: /etc/vault/ca.pem
    output_file: "{{ playbook_dir }}/vault-keys.vault"
    output_vault_password: "{{ vault_keys_password }}"
  when: vault_plan.init_node is not none

- name: Join the empty nodes to the cluster (never initialise them)
  vaultkube.platform.vault_raft_join:
    url: "{{ item.url }}"
    ca_cert: /etc/vault/ca.pem
    leader_api_addr: "{{ item.leader_api_addr | default(vault_plan.join_address) }}"
    leader_ca_cert_file: /etc/vault/ca.pem
  loop: "{{ vault_plan.joiners }}"
'''

RETURN = r'''
initialized:
  description: Whether any node is initialised (the cluster exists).
  returned: success
  type: bool
  sample: true
init_node:
  description: The node to initialise (as given in O(nodes)); null unless no node is initialised and all answered.
  returned: success
  type: dict
  sample: null
leader:
  description:
    - The node the others join and that is unsealed first, as given in O(nodes). The active node, else an
      initialised unsealed node, else an initialised one; RV(init_node) for a new cluster.
  returned: success
  type: dict
  sample: {url: "https://127.0.0.1:40123", pod: vault-1}
leader_status:
  description: Status of RV(leader), the fields of M(vaultkube.platform.vault_status_info) without raft_peers.
  returned: success
  type: dict
followers:
  description: Every node but RV(leader), as given in O(nodes), in order.
  returned: success
  type: list
  elements: dict
members:
  description: The initialised nodes other than RV(leader) (cluster members, sealed or not), as given in O(nodes).
  returned: success
  type: list
  elements: dict
silent:
  description: The nodes that did not answer (their C(error) is in RV(nodes)); never in RV(members) or RV(joiners).
  returned: success
  type: list
  elements: dict
joiners:
  description: The uninitialised nodes other than RV(leader) that answered; each must join with a raft join.
  returned: success
  type: list
  elements: dict
  sample: [{url: "https://127.0.0.1:40121", pod: vault-0}]
join_address:
  description:
    - Address the joiners reach the cluster at. For pods with O(pod_service), the active pod (else the
      leader pod) under the headless service; else the active node's address as Vault reports it; else
      the leader's url.
    - Never a joiner's own address (RV(joiner_addresses)). While no node is active a standby may still
      report the address of the node that was lost.
  returned: success
  type: str
  sample: https://vault-1.vault-internal:8200
joiner_addresses:
  description:
    - The addresses the joiners themselves answer at (their url, and for pods their name under
      O(pod_service)), lower case. Never a join target.
  returned: success
  type: list
  elements: str
  sample: ["http://vault-0.vault-internal:8200", "https://127.0.0.1:40121"]
seal_type:
  description: Seal type of the cluster (C(shamir) or the auto-unseal type), from an initialised node when there is one.
  returned: success
  type: str
  sample: shamir
cluster_id:
  description: ID of the cluster the unsealed nodes report; null while none is unsealed.
  returned: success
  type: str
single_and_ready:
  description: Whether O(nodes) is one node that is initialised, unsealed and active (nothing to unseal or wait for).
  returned: success
  type: bool
nodes:
  description:
    - The status of every node, in the order of O(nodes) - the fields of M(vaultkube.platform.vault_status_info)
      without raft_peers - with C(reachable), C(pod) when given and, for a node that did not answer, C(error).
  returned: success
  type: list
  elements: dict
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._lifecycle import run_lifecycle_module
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._nodes import (
    NODES_ARGUMENT_SPEC,
    nodes_plan,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import object_argument_spec


def main():
    module = VaultModule(argument_spec=object_argument_spec(**NODES_ARGUMENT_SPEC), supports_check_mode=True)
    run_lifecycle_module(module, nodes_plan)


if __name__ == '__main__':
    main()
