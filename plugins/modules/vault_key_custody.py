#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_key_custody
short_description: Keep Vault's unseal (or recovery) keys where this inventory keeps them, encrypted
version_added: 0.2.0
description:
  - Owns the places Vault's keys live - the keys file on the host that runs the module and, with
    O(keys_secret_name), a Kubernetes Secret - and moves the keys between them. Both hold the same content,
    encrypted in the ansible-vault format with O(keys_file_vault_password); the Secret keeps it under the data
    key C(init.vault), so a controller that may read every Secret learns nothing from it.
  - The module never returns a key share or a token (M(vaultkube.platform.vault_admin_token) turns custody into a
    short-lived admin token).
  - O(state=prepare) runs before M(vaultkube.platform.vault_init) - Vault hands the keys out once - and makes
    every place ready (the keys file's directory, mode 0700 when created; the Secret's namespace). It refuses,
    in one line naming the Secret or the file, when one of them already holds keys (of another or an earlier
    Vault), before anything is initialised.
  - O(state=present) runs once Vault is initialised. It finds the keys in the Secret and the keys file and
    finishes a half-stored state (file only - the Secret is written; Secret only - the keys file is written).
    When both hold keys and differ, the copy of the later C(generation) wins (each custody write counts one;
    the keys file is written first, so a run stopped between the two leaves the file ahead), the Secret on
    a tie; when they share no key at all (the keys of two Vaults) the task fails.
  - A Secret an earlier version wrote with plain JSON under C(init.json) is replaced by the encrypted form.
  - With O(adopt_bank_vaults), keys found in neither place are taken from the plain Secret the Bank-Vaults
    operator wrote (C(vault-unseal-N), C(vault-root)) into the encrypted form; that Secret is left as it is.
  - An initialised Vault whose keys are nowhere fails in one line; Vault is never initialised twice.
  - Content is compared decrypted, so a re-run writes nothing (C(changed=false)).
  - With PGP storage, custody holds the shares encrypted for their holders; they are kept, never submitted.
options:
  state:
    description:
      - V(prepare) before C(sys/init), V(present) once Vault is initialised.
    type: str
    choices: [prepare, present]
    default: present
  initialized:
    description:
      - Whether Vault is initialised, as read by the caller. O(state=prepare) does nothing when it is true;
        O(state=present) does nothing when it is false (check mode of a run that would initialise).
    type: bool
    required: true
  forget_root_token:
    description:
      - Remove C(root_token) from custody (once the bootstrap root token is revoked).
    type: bool
    default: false
  adopt_bank_vaults:
    description:
      - Take keys found in neither place from the plain Secret Bank-Vaults wrote
        (O(bank_vaults_secret_namespace)/O(bank_vaults_secret_name)).
    type: bool
    default: false
  bank_vaults_secret_namespace:
    description: Namespace of Bank-Vaults' keys Secret.
    type: str
    default: default
  bank_vaults_secret_name:
    description: Name of Bank-Vaults' keys Secret.
    type: str
    default: vault-unseal-keys
extends_documentation_fragment:
  - vaultkube.platform.custody
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
notes:
  - O(keys) is not used by this module (custody content is read from the keys file and the Secret).
  - The module does not talk to Vault. O(url) is only named in messages; the other options of the
    C(vaultkube.platform.vault) action group are accepted and ignored.
seealso:
  - module: vaultkube.platform.vault_init
  - module: vaultkube.platform.vault_unseal
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Make the keys file's directory and the Secret's namespace ready before sys/init
  vaultkube.platform.vault_key_custody:
    state: prepare
    initialized: false
    keys_file: ~/.vaultkube/vault-init.vault
    keys_file_vault_password: "{{ vault_keys_password }}"
    keys_secret_namespace: vault
    keys_secret_name: vault-unseal-keys
  delegate_to: localhost

- name: Keep the keys of the initialised Vault in the file and the Secret, encrypted
  vaultkube.platform.vault_key_custody:
    state: present
    initialized: true
    keys_file: ~/.vaultkube/vault-init.vault
    keys_file_vault_password: "{{ vault_keys_password }}"
    keys_secret_namespace: vault
    keys_secret_name: vault-unseal-keys
    adopt_bank_vaults: true
    bank_vaults_secret_namespace: vault
    bank_vaults_secret_name: vault-unseal-keys-bv
  delegate_to: localhost
'''

RETURN = r'''
locations:
  description: Where custody holds the keys after the task.
  returned: always
  type: dict
  sample: {file: true, secret: true}
secret_format:
  description: C(encrypted) when the Secret holds the keys (C(null) without Secret custody).
  returned: always
  type: str
  sample: encrypted
kind:
  description: C(unseal) (Shamir seal) or C(recovery) (auto-unseal seal); C(null) when nothing is held.
  returned: always
  type: str
  sample: unseal
shares:
  description: Number of key shares.
  returned: always
  type: int
  sample: 5
threshold:
  description: Number of shares needed (C(0) when custody does not record it).
  returned: always
  type: int
  sample: 3
holds_root_token:
  description: Whether custody still holds a root token.
  returned: always
  type: bool
  sample: false
pgp:
  description: Whether the shares are PGP-encrypted for their holders.
  returned: always
  type: bool
  sample: false
adopted:
  description: Whether the keys were taken from Bank-Vaults' Secret by this task.
  returned: always
  type: bool
  sample: false
diff:
  description: Locations, Secret format and whether a root token is held, before and after; never a key.
  returned: when diff mode is on
  type: dict
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._custody import (
    CustodyError, custody_argument_spec, prepare, present)
from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes import KubernetesError
from ansible_collections.vaultkube.platform.plugins.module_utils._lifecycle import (
    require_cryptography, run_lifecycle_module)
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import object_argument_spec


def _custody(module):
    params = module.params
    result = dict(changed=False, locations=dict(file=False, secret=False), secret_format=None, kind=None,
                  shares=0, threshold=0, holds_root_token=False, pgp=False, adopted=False)
    try:
        if params['state'] == 'prepare':
            if not params['initialized']:
                result.update(prepare(params, module.check_mode))
        elif params['initialized']:
            result.update(present(params, module.check_mode))
    except KubernetesError as exc:
        raise CustodyError(str(exc))
    result.pop('content', None)
    for private in ('created', 'written', 'pending'):
        result.pop(private, None)
    return result


def main():
    spec = object_argument_spec(**custody_argument_spec(
        state=dict(type='str', choices=['prepare', 'present'], default='present'),
        initialized=dict(type='bool', required=True),
        forget_root_token=dict(type='bool', default=False),
        adopt_bank_vaults=dict(type='bool', default=False),
        bank_vaults_secret_namespace=dict(type='str', default='default', no_log=False),
        bank_vaults_secret_name=dict(type='str', default='vault-unseal-keys', no_log=False),
    ))
    module = VaultModule(argument_spec=spec, supports_check_mode=True)
    require_cryptography(module)
    run_lifecycle_module(module, _custody)


if __name__ == '__main__':
    main()
