#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_admin_token
short_description: A short-lived admin token for one run, generated from the key shares, instead of a standing root token
version_added: 0.2.0
description:
  - With O(state=present), returns an admin token for this run.
  - If an admin token is given (O(token), E(VAULT_TOKEN), or a login with O(auth_method)), it is checked with
    C(auth/token/lookup-self) and returned as it is; nothing is generated or revoked.
  - Otherwise, while custody still holds the initial root token of M(vaultkube.platform.vault_init) and it is
    valid, that token is used; else a root token is generated with C(sys/generate-root) from the shares in
    custody (unseal keys with a Shamir seal, recovery keys with an auto-unseal seal, read from
    C(sys/seal-status)), with a one-time password (OTP) the server generates. A started attempt is cancelled
    first (only its starter's OTP decodes it, so a killed run's attempt cannot be finished).
  - The root token is then exchanged for an orphan token with the C(root) policy, a TTL of O(ttl) (not
    renewable, explicit max TTL O(ttl)) and the display name O(display_name), and revoked. The initial root
    token is revoked too (O(revoke_initial)) and removed from custody (the keys file and the keys Secret are
    rewritten, encrypted, without C(root_token)).
  - The OTP, the encoded token, the root token and the shares are registered as no_log values, so they never
    appear in a result, a message or C(-vvv) output, and are never written to disk. The admin token is the
    result of this module, in RV(token); set C(no_log) on the task that registers it.
  - With O(state=absent), revokes O(token) (C(auth/token/revoke-self)); an already invalid token is
    C(changed=false). Only the O(token) option is revoked, never E(VAULT_TOKEN).
options:
  state:
    description:
      - V(present) returns an admin token (given, initial, or generated); V(absent) revokes O(token).
    type: str
    choices: [present, absent]
    default: present
  ttl:
    description:
      - TTL of the admin token (Vault duration, for example V(1h)). Also its explicit max TTL.
      - This bounds a killed run, whose admin token expires after O(ttl).
    type: str
    default: 1h
  display_name:
    description: Display name of the admin token (Vault shows it as C(token-<display_name>)).
    type: str
    default: vaultkube-admin
  revoke_initial:
    description:
      - Revoke the initial root token once the admin token exists, and remove it from custody.
      - With V(false) the initial root token stays valid and in custody (the behaviour before this module).
    type: bool
    default: true
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.custody
  - vaultkube.platform.attributes
attributes:
  check_mode:
    support: partial
    details: A given token is checked; otherwise nothing is generated and O(token) is returned empty.
notes:
  - Endpoints. Vault (since 1.10) and OpenBao 2.x both answer C(PUT sys/generate-root/attempt) without an
    OTP with a server-generated C(otp) (Vault 28 characters, OpenBao 26) and its C(otp_length); the last
    C(sys/generate-root/update) returns C(encoded_token) (Vault also C(encoded_root_token)), decoded as
    base64 (raw standard alphabet) XOR the OTP on both.
  - OpenBao 2.5.3 and later disable the unauthenticated C(sys/generate-root/*) endpoints by default (they
    answer C(405 unsupported operation)); the listener parameter C(disable_unauthed_generate_root_endpoints =
    false) enables them (M(vaultkube.platform.vault_install) role sets it for OpenBao). HashiCorp Vault has no
    such switch. OpenBao disables the unauthenticated rekey endpoints the same way
    (C(disable_unauthed_rekey_endpoints)).
  - Bounds of a killed run. A run killed after the exchange leaves the admin token valid until its O(ttl).
    A run killed between the last C(sys/generate-root/update) and the revocation of the generated root token
    (a window of two requests, the exchange and the revocation) leaves a root token without TTL that nobody
    holds (its OTP died with the run and the server keeps no copy of the encoded token). It cannot be told
    apart from other root tokens (all are display name C(root), path C(auth/token/root)), so
    it is not swept; list C(auth/token/accessors) and revoke unknown root accessors by hand if that matters.
    A run killed with an attempt started leaves that attempt, which the next run cancels. A run killed while
    custody still held the valid initial root token leaves that token in custody; the next run revokes it.
    Each of these kill points is an integration test (C(tests/integration/test_root_token.py)).
  - A started generate-root attempt is cancelled before a new one, so do not run this module while an operator
    generates a root token by hand.
  - Pass O(keys) (the holders' decrypted shares) with PGP custody.
seealso:
  - module: vaultkube.platform.vault_init
  - module: vaultkube.platform.vault_unseal
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: An admin token for this run (generated from the keys file when no token is given)
  vaultkube.platform.vault_admin_token:
    url: https://vault.example.com:8200
    keys_file: ~/.vaultkube/vault-init.vault
    keys_file_vault_password: "{{ vault_keys_password }}"
    ttl: 30m
  register: admin
  no_log: true  # the result holds the token

- name: Revoke it at the end of the run
  vaultkube.platform.vault_admin_token:
    url: https://vault.example.com:8200
    token: "{{ admin.token }}"
    state: absent
'''

RETURN = r'''
token:
  description:
    - The admin token (the generated orphan token, or the token a login returned). Empty in check mode.
    - A token given in O(token) is returned masked by Ansible (it is a no_log option); the caller has it.
  returned: state is present
  type: str
accessor:
  description: Accessor of the admin token.
  returned: state is present
  type: str
  sample: hmac-accessor-id
expire_time:
  description: Expiry of the admin token (RFC 3339); empty for a token without TTL.
  returned: state is present
  type: str
  sample: "2026-01-01T12:00:00Z"
policies:
  description: Policies of the admin token.
  returned: state is present
  type: list
  elements: str
  sample: [root]
generated:
  description: Whether a root token was generated with sys/generate-root for this token.
  returned: state is present
  type: bool
revoked_initial:
  description: Whether the initial root token was revoked (and removed from custody) by this task.
  returned: state is present
  type: bool
revoked:
  description: Whether the token was revoked by this task (false when it was already invalid).
  returned: state is absent
  type: bool
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._custody import custody_argument_spec
from ansible_collections.vaultkube.platform.plugins.module_utils._lifecycle import (
    require_cryptography,
    run_lifecycle_module,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import object_argument_spec
from ansible_collections.vaultkube.platform.plugins.module_utils._root_token import run


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**custody_argument_spec(
            # Not a secret (validate-modules asks because of its name).
            keys_secret_namespace=dict(type='str', no_log=False),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            ttl=dict(type='str', default='1h'),
            display_name=dict(type='str', default='vaultkube-admin'),
            revoke_initial=dict(type='bool', default=True),
        )),
        supports_check_mode=True,
    )
    if module.params['keys_file_vault_password']:
        require_cryptography(module)
    run_lifecycle_module(module, run)


if __name__ == '__main__':
    main()
