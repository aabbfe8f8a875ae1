#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_unseal
short_description: Unseal a Vault node with its Shamir key shares
version_added: 0.1.0
description:
  - Submits unseal keys to C(sys/unseal) one at a time and stops as soon as the node is unsealed, so no
    more keys than needed are sent.
  - A node that is already unsealed is left alone (C(changed=false)); the keys are not even read then.
  - The keys come from O(keys), else from custody - the Secret O(keys_secret_name) (encrypted, or the plain
    C(init.json) of an earlier version), else O(keys_file), the file M(vaultkube.platform.vault_init) wrote
    (ansible-vault encrypted or plain JSON). Recovery keys (auto-unseal seal) are never submitted, and shares
    PGP-encrypted for their holders are refused (pass the decrypted shares in O(keys)).
  - 'If the keys run out before the threshold, the task fails with
    C(still sealed after submitting N keys: progress P/T). If Vault rejects a key, the task fails
    with the message of Vault and the progress reached. Keys are never part of any message or result.'
  - A raft follower that joined with M(vaultkube.platform.vault_raft_join) finishes unsealing in the
    background once it has answered its leader's challenge; the module waits up to O(wait_timeout)
    seconds for that.
  - No token is needed; O(token) and the other login options are ignored.
options:
  reset:
    description:
      - Discard the progress of an unseal left half done (by someone else or a failed run) before
        submitting the keys.
      - Vault ignores a key submitted twice in the same unseal, so without a reset a half-done unseal
        is simply continued.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for a node that reached the threshold but unseals in the background (a raft
        follower that just joined).
    type: int
    default: 60
extends_documentation_fragment:
  - vaultkube.platform.custody
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
seealso:
  - module: vaultkube.platform.vault_init
  - module: vaultkube.platform.vault_raft_join
  - module: vaultkube.platform.vault_key_custody
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Unseal with the file vault_init wrote
  vaultkube.platform.vault_unseal:
    url: https://vault-0.vault-internal:8200
    ca_cert: /etc/vault/ca.pem
    keys_file: "{{ playbook_dir }}/secrets/vault-init.vault"
    keys_file_vault_password: "{{ vault_keys_password }}"
  delegate_to: localhost

- name: Unseal with keys from an encrypted variable file
  vaultkube.platform.vault_unseal:
    url: https://vault.example.com:8200
    keys: "{{ vault_unseal_keys[:3] }}"

- name: Unseal with the keys kept encrypted in a Kubernetes Secret (the keys file as the backup)
  vaultkube.platform.vault_unseal:
    url: https://vault.example.com:8200
    keys_file: ~/.vaultkube/vault-init.vault
    keys_file_vault_password: "{{ vault_keys_password }}"
    keys_secret_namespace: vault
    keys_secret_name: vault-unseal-keys
  delegate_to: localhost

- name: Start over after a half-finished unseal
  vaultkube.platform.vault_unseal:
    url: https://vault.example.com:8200
    keys_file: ~/.vault/vault-init.vault
    keys_file_vault_password: "{{ vault_keys_password }}"
    reset: true
'''

RETURN = r'''
url:
  description: Address of the node.
  returned: always
  type: str
  sample: https://vault-0.vault-internal:8200
sealed:
  description: Whether the node is sealed after the task (still C(true) in check mode).
  returned: always
  type: bool
  sample: false
keys_submitted:
  description: Number of keys submitted by this task (C(0) when it was unsealed already or in check mode).
  returned: always
  type: int
  sample: 3
progress:
  description: Unseal progress reported by Vault after the task.
  returned: always
  type: int
  sample: 0
threshold:
  description: Number of keys needed to unseal.
  returned: always
  type: int
  sample: 3
shares:
  description: Number of key shares.
  returned: always
  type: int
  sample: 5
version:
  description: Server version.
  returned: always
  type: str
  sample: 2.7.2
cluster_name:
  description: Cluster name, once unsealed.
  returned: always
  type: str
  sample: vault-cluster-0b0b0e70
diff:
  description: C(sealed) before and after, when diff mode is on.
  returned: when diff mode is on
  type: dict
  sample: {before: {sealed: true}, after: {sealed: false}}
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._custody import custody_argument_spec
from ansible_collections.vaultkube.platform.plugins.module_utils._lifecycle import (
    require_cryptography,
    run_lifecycle_module,
    unseal,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import object_argument_spec


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**custody_argument_spec(
            reset=dict(type='bool', default=False),
            wait_timeout=dict(type='int', default=60),
        )),
        supports_check_mode=True,
    )
    if module.params['keys_file_vault_password']:
        require_cryptography(module)
    run_lifecycle_module(module, unseal)


if __name__ == '__main__':
    main()
