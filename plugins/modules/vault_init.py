#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_init
short_description: Initialise a Vault node once and store its keys safely
version_added: 0.1.0
description:
  - Initialises a new Vault (or OpenBao) node through C(sys/init) with Shamir key shares, or with
    recovery shares for an auto-unseal seal.
  - A node that is already initialised is left alone, C(changed=false), and no keys are returned;
    Vault hands out the keys only once, in the answer to the initialisation.
  - On a node that is already initialised, O(output_file) (when given) must exist and hold the keys
    (decrypted with O(output_vault_password)); otherwise the task fails, because the keys are then
    nowhere the playbook looks for them. Tasks that no longer keep the file should not call this module
    once Vault is initialised.
  - Because of that, the keys and the root token are written to O(output_file) B(before) the module
    returns. The file is created atomically (a temporary file in the same directory, fsynced, then
    moved into place) with mode C(0600), and it is never overwritten. If O(output_file) already exists
    the task fails before Vault is touched, so the node stays uninitialised.
  - By default the file is encrypted in the ansible-vault 1.1 AES256 format with O(output_vault_password);
    C(ansible-vault view), C(include_vars) with that vault password, and M(vaultkube.platform.vault_unseal)
    with O(vaultkube.platform.vault_unseal#module:keys_file) read it.
  - The file holds a JSON object with C(keys), C(keys_base64), C(root_token), C(secret_shares) and
    C(secret_threshold); for auto-unseal seals (C(transit), ...) C(recovery_keys),
    C(recovery_keys_base64), C(recovery_shares) and C(recovery_threshold) instead of the share settings.
  - With an auto-unseal seal (read from C(sys/seal-status) before initialising) O(secret_shares),
    O(secret_threshold) are not sent (the seal keeps the root key) and O(pgp_keys) is refused.
  - No token is needed; O(token) and the other login options are ignored.
options:
  secret_shares:
    description: Number of unseal key shares to split the root key into.
    type: int
    default: 5
  secret_threshold:
    description:
      - Number of shares needed to unseal. Between 1 and O(secret_shares); at least 2 when there is
        more than one share.
    type: int
    default: 3
  pgp_keys:
    description:
      - Base64-encoded public PGP keys, one per share, to encrypt each unseal key
        for one holder. The file then holds the encrypted keys.
      - C(keybase:<user>) names are refused before Vault is asked anything (here, in O(root_token_pgp_key)
        and in O(recovery_pgp_keys)), because Vault's API takes no keybase names, the run does not fetch keys from
        keybase.io, and a key kept by a third party is not in the operator's custody.
      - Each key (and O(root_token_pgp_key), O(recovery_pgp_keys)) is checked before Vault is asked to
        initialise. It must be base64 of a binary public key (C(gpg --export <id> | base64 -w0)) with a user ID.
        Vault itself parses O(root_token_pgp_key) only after initialising, too late to refuse it.
    type: list
    elements: str
  root_token_pgp_key:
    description:
      - Base64-encoded public PGP key to encrypt the root token with.
      - Checked before C(sys/init), like O(pgp_keys); a C(keybase:<user>) name is refused.
    type: str
  stored_shares:
    description: Number of shares stored by an auto-unseal seal. Only for seals that need it.
    type: int
  recovery_shares:
    description: Number of recovery key shares; only for auto-unseal seals.
    type: int
  recovery_threshold:
    description: Number of recovery shares needed; only for auto-unseal seals.
    type: int
  recovery_pgp_keys:
    description: Public PGP keys to encrypt the recovery keys, one per recovery share.
    type: list
    elements: str
  output_file:
    description:
      - Path of the file, on the host that runs the module, that receives the keys and root token.
      - Must not exist yet. Its directory must exist. Use an absolute path (a relative one is relative to
        the working directory of the module process).
      - Required unless O(return_keys=true).
    type: path
  output_encryption:
    description:
      - V(ansible-vault) encrypts O(output_file) with O(output_vault_password) (ansible-vault 1.1 AES256).
      - V(none) writes plain JSON. B(Anyone who can read that file can unseal Vault and has root access
        to it); use it only for throw-away test servers or when the file goes straight into another
        protected store.
    type: str
    choices: [ansible-vault, none]
    default: ansible-vault
  output_vault_password:
    description:
      - Password that encrypts O(output_file). Required with O(output_encryption=ansible-vault).
      - Use the same password to read it with C(ansible-vault view) or M(vaultkube.platform.vault_unseal).
    type: str
  return_keys:
    description:
      - Also return RV(keys), RV(keys_base64) and RV(root_token) (and the recovery keys) in the result.
      - B(The task must then set C(no_log=true)), otherwise the keys appear in the output and logs.
    type: bool
    default: false
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
requirements:
  - cryptography (Python library, on the host that runs the module) for O(output_encryption=ansible-vault)
notes:
  - Returned keys are registered as secrets of the module only when O(return_keys=false); with
    O(return_keys=true), hiding them is the job of C(no_log).
seealso:
  - module: vaultkube.platform.vault_unseal
  - module: vaultkube.platform.vault_status_info
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Initialise Vault, keys encrypted on the controller
  vaultkube.platform.vault_init:
    url: https://vault.example.com:8200
    ca_cert: /etc/vault/ca.pem
    secret_shares: 5
    secret_threshold: 3
    output_file: "{{ playbook_dir }}/secrets/vault-init.vault"
    output_vault_password: "{{ vault_keys_password }}"
  delegate_to: localhost

- name: Read the root token back for later tasks
  ansible.builtin.include_vars:
    file: "{{ playbook_dir }}/secrets/vault-init.vault"
    name: vault_init_keys
  no_log: true

- name: Keys for each holder, encrypted with their PGP keys
  vaultkube.platform.vault_init:
    url: https://vault.example.com:8200
    secret_shares: 3
    secret_threshold: 2
    pgp_keys: "{{ key_holders_pgp_public_keys }}"
    root_token_pgp_key: "{{ admin_pgp_public_key }}"
    output_file: ~/.vault/vault-init.vault
    output_vault_password: "{{ vault_keys_password }}"

- name: Keys in the result (store them yourself; no_log is mandatory)
  vaultkube.platform.vault_init:
    url: http://127.0.0.1:8200
    return_keys: true
  register: vault_keys
  no_log: true
'''

RETURN = r'''
url:
  description: Address of the node.
  returned: always
  type: str
  sample: https://vault.example.com:8200
initialized:
  description: Whether the node is initialised after the task (false in check mode).
  returned: always
  type: bool
  sample: true
output_file:
  description: Absolute path of the key file written (or that would be written in check mode).
  returned: always
  type: str
  sample: /home/ops/secrets/vault-init.vault
secret_shares:
  description: Number of key shares (as reported by Vault when it was already initialised).
  returned: always
  type: int
  sample: 5
secret_threshold:
  description: Number of shares needed to unseal (as reported by Vault when it was already initialised).
  returned: always
  type: int
  sample: 3
keys:
  description:
    - Unseal keys, hex encoded (PGP encrypted with O(pgp_keys)). Secret.
    - In templates write C(result['keys']); C(result.keys) is the dictionary method.
  returned: when O(return_keys=true) and the node was initialised by this task
  type: list
  elements: str
  sample: ["d2255878718e8a87a7826de86a9de8e401e98355c7a3519c11750e665aa4db7bc8"]
keys_base64:
  description: The same unseal keys, base64 encoded. Secret.
  returned: when O(return_keys=true) and the node was initialised by this task
  type: list
  elements: str
  sample: ["0iVYeHGOioengm3oap3o5AHpg1XHo1GcEXUOZlqk23vI"]
root_token:
  description: Initial root token (PGP encrypted with O(root_token_pgp_key)). Secret.
  returned: when O(return_keys=true) and the node was initialised by this task
  type: str
  sample: s.cozmOl39lmfWNM4oIuK1y9dT
recovery_keys:
  description: Recovery keys of an auto-unseal seal, hex encoded. Secret.
  returned: when O(return_keys=true), the node was initialised by this task and uses an auto-unseal seal
  type: list
  elements: str
recovery_keys_base64:
  description: The same recovery keys, base64 encoded. Secret.
  returned: when O(return_keys=true), the node was initialised by this task and uses an auto-unseal seal
  type: list
  elements: str
diff:
  description: C(initialized) before and after, when diff mode is on.
  returned: when diff mode is on
  type: dict
  sample: {before: {initialized: false}, after: {initialized: true}}
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._lifecycle import (
    initialise,
    require_cryptography,
    run_lifecycle_module,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import object_argument_spec


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(
            secret_shares=dict(type='int', default=5, no_log=False),
            secret_threshold=dict(type='int', default=3, no_log=False),
            pgp_keys=dict(type='list', elements='str', no_log=False),
            root_token_pgp_key=dict(type='str', no_log=False),
            stored_shares=dict(type='int'),
            recovery_shares=dict(type='int'),
            recovery_threshold=dict(type='int'),
            recovery_pgp_keys=dict(type='list', elements='str', no_log=False),
            output_file=dict(type='path'),
            output_encryption=dict(type='str', default='ansible-vault', choices=['ansible-vault', 'none']),
            output_vault_password=dict(type='str', no_log=True),
            return_keys=dict(type='bool', default=False, no_log=False),
        ),
        supports_check_mode=True,
    )
    if module.params['output_file'] and module.params['output_encryption'] == 'ansible-vault':
        require_cryptography(module)
    run_lifecycle_module(module, initialise)


if __name__ == '__main__':
    main()
