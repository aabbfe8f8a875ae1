#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_rekey
short_description: Rekey Vault's unseal or recovery keys, custody always holding a set that unseals
version_added: 0.2.0
description:
  - Replaces the key shares of Vault (unseal keys with a Shamir seal, recovery keys with an auto-unseal seal,
    detected from C(sys/seal-status)) with a new set of O(secret_shares) shares and a threshold of
    O(secret_threshold), and writes the new set to custody (the keys file and the keys Secret, encrypted).
  - The new shares are written to custody beside the old ones (as C(pending)) before the rekey is finished.
    The attempt always requires verification, so the server keeps using the old set until the new shares
    have been submitted to the verify endpoint; only then is the new set promoted to custody's current set,
    the old one kept as C(previous) until a check attempt proves the server takes the new set, then dropped.
  - A run killed at any step leaves custody holding a set that unseals Vault; the next run finishes the
    killed run's rekey (verifies it, promotes it, or cancels it) before anything else. See the notes.
  - A sealed Shamir server is first unsealed with the set in custody that opens it (pending, current, then
    previous).
  - The new shares and the nonces are registered as no_log values; they are never returned nor printed.
  - O(rotate_encryption_key) also rotates the barrier encryption key (C(sys/rotate)).
options:
  state:
    description: Only V(present) (a rekey is done, and a killed run's rekey finished).
    type: str
    choices: [present]
    default: present
  rekey:
    description:
      - Start a new rekey. With V(false) only a killed run's rekey is finished (and O(rotate_encryption_key)
        done).
    type: bool
    default: true
  secret_shares:
    description: Number of new shares. Default the current number (C(n) of C(sys/seal-status)).
    type: int
  secret_threshold:
    description: Number of new shares needed to unseal. Default the current threshold.
    type: int
  target:
    description:
      - Which keys to rekey. V(auto) takes them from the seal type; V(unseal) or V(recovery) fail when they do
        not match it.
    type: str
    choices: [auto, unseal, recovery]
    default: auto
  rotate_encryption_key:
    description: Rotate the encryption key of the barrier (C(sys/rotate)) after the rekey.
    type: bool
    default: false
  pgp_keys:
    description:
      - Base64 PGP public keys, one per new share (O(secret_shares)); the new shares are encrypted for their
        holders and written to custody encrypted (as C(pending)). The module cannot verify them then - the run
        ends with RV(awaiting_holders) and the server keeps using the old set until a later run gets the
        holders' decrypted shares in O(new_keys) (with O(rekey=false)), which verifies, promotes and retires.
    type: list
    elements: str
    default: []
  new_keys:
    description:
      - The holders' decrypted new shares of a PGP rekey (O(pgp_keys)), to verify it (run with O(rekey=false)).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.custody
  - vaultkube.platform.attributes
attributes:
  check_mode:
    support: partial
    details: Reads the server and custody and reports the plan; nothing is started, submitted or written.
notes:
  - Endpoints. OpenBao 2.x - C(sys/rotate/root/*) (unseal keys) and C(sys/rotate/recovery/*) (recovery keys),
    with a token (the unauthenticated C(sys/rekey/*) are disabled by C(disable_unauthed_rekey_endpoints)).
    HashiCorp Vault - C(sys/rekey/*) and C(sys/rekey-recovery-key/*). The family is decided once per run
    (C(GET sys/rotate/root/init) answering 404 or 405 means Vault). Vault's cancel needs the nonce in a body.
  - An admin token is required (O(token), for example from M(vaultkube.platform.vault_admin_token)).
  - Kill points and what the next run does. Killed after the attempt started or during the update - the
    attempt is cancelled (custody still holds the old set, which the server uses) and a new rekey done.
    After the new shares were written as C(pending) or during their verification - the verification is
    done again with them. After the verification - a check attempt finds the server takes the pending set,
    which is promoted. After the promotion - a check attempt, then C(previous) is dropped.
  - A check attempt is a rekey attempt with verification required, fed with one set of shares and cancelled;
    it completes only with the shares the server uses, and never switches keys.
  - A started rekey attempt that custody knows nothing of is cancelled, so do not run this module while an
    operator rekeys by hand.
  - With custody holding PGP-encrypted shares, give the holders' decrypted current shares in O(keys).
  - A sealed or restarted server forgets a rekey attempt that awaits verification (Vault and OpenBao keep it in
    memory); the next run then finds the server still takes the current set and drops the pending one (with
    O(pgp_keys), once the holders' O(new_keys) are given).
seealso:
  - module: vaultkube.platform.vault_admin_token
  - module: vaultkube.platform.vault_unseal
  - module: vaultkube.platform.vault_key_custody
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Five new unseal keys, three to unseal, written to the keys file
  vaultkube.platform.vault_rekey:
    url: https://vault.example.com:8200
    token: "{{ admin.token }}"
    keys_file: ~/.vaultkube/vault-init.vault
    keys_file_vault_password: "{{ vault_keys_password }}"
    secret_shares: 5
    secret_threshold: 3

- name: Finish a killed run's rekey only, and rotate the encryption key
  vaultkube.platform.vault_rekey:
    url: https://vault.example.com:8200
    token: "{{ admin.token }}"
    keys_file: ~/.vaultkube/vault-init.vault
    keys_file_vault_password: "{{ vault_keys_password }}"
    rekey: false
    rotate_encryption_key: true
'''

RETURN = r'''
target:
  description: The keys rekeyed, V(unseal) or V(recovery).
  returned: always
  type: str
endpoint:
  description: The endpoint family used (for example C(sys/rotate/root) or C(sys/rekey)).
  returned: always
  type: str
plan:
  description: What the run found to finish first (V(fresh) when nothing, V(verify), V(check_pending), V(drop_marker), V(check_current)).
  returned: always
  type: str
resumed:
  description: What was done with a killed run's rekey (V(verification), V(promotion), V(retirement), V(cancelled)), or null.
  returned: always
  type: str
rekeyed:
  description: Whether this run did a new rekey.
  returned: always
  type: bool
unsealed:
  description: Whether the module unsealed the sealed server with a set from custody.
  returned: always
  type: bool
encryption_key_rotated:
  description: Whether sys/rotate was called.
  returned: always
  type: bool
shares:
  description: Number of shares of the server after the run.
  returned: always
  type: int
threshold:
  description: Threshold of the server after the run.
  returned: always
  type: int
steps:
  description: The steps of the state machine done by this run.
  returned: always
  type: list
  elements: str
generation:
  description: Custody generation after the run.
  returned: always
  type: int
custody_pending:
  description: Whether custody still holds a pending set (only in check mode or after a failure).
  returned: always
  type: bool
custody_previous:
  description: Whether custody still holds the previous set.
  returned: always
  type: bool
key_term:
  description: Term of the encryption key (C(sys/key-status)).
  returned: always
  type: int
awaiting_holders:
  description: A PGP rekey waits for the holders' decrypted shares (O(new_keys)); the server uses the old set.
  returned: always
  type: bool
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._custody import custody_argument_spec
from ansible_collections.vaultkube.platform.plugins.module_utils._lifecycle import (
    require_cryptography,
    run_lifecycle_module,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import object_argument_spec
from ansible_collections.vaultkube.platform.plugins.module_utils._rekey import run


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**custody_argument_spec(
            keys_secret_namespace=dict(type='str', no_log=False),
            state=dict(type='str', choices=['present'], default='present'),
            rekey=dict(type='bool', default=True),
            secret_shares=dict(type='int', no_log=False),
            secret_threshold=dict(type='int', no_log=False),
            target=dict(type='str', choices=['auto', 'unseal', 'recovery'], default='auto'),
            rotate_encryption_key=dict(type='bool', default=False),
            pgp_keys=dict(type='list', elements='str', default=[], no_log=False),
            new_keys=dict(type='list', elements='str', default=[], no_log=True),
        )),
        supports_check_mode=True,
    )
    if module.params['keys_file_vault_password']:
        require_cryptography(module)
    run_lifecycle_module(module, run)


if __name__ == '__main__':
    main()
