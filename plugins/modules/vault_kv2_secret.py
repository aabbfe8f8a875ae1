#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_kv2_secret
short_description: Manage one secret in a Vault KV version 2 engine
version_added: 0.1.0
description:
  - Writes, or deletes, the secret at C(<mount_path>/data/<path>) of a KV version 2 secrets engine.
  - The data is compared with the latest version Vault holds; equal data writes no new version. A latest
    version that is soft-deleted or destroyed counts as absent, so O(state=present) writes a new version.
  - Values are compared exactly as Vault stores them, JSON types included - V(1) (a number) and V("1")
    (a string) differ, and so do V(true) and V("true"); V(1) and V(1.0) are equal because Vault stores
    numbers as 64-bit floats (integers beyond 2**53 lose precision there). Quote values in YAML to store
    strings.
  - Secret values never leave the module - not in the result, not in the diff (which shows key names
    only), not in the logs.
  - The mount must exist and be KV version 2; the task fails with a message saying what it found otherwise
    (a KV version 1 mount would store the data under a key called C(data/...)).
options:
  mount_path:
    description: Path the KV version 2 engine is mounted at.
    type: str
    default: secret
  path:
    description:
      - Path of the secret inside the mount, for example C(myapp/db). Leading, trailing and repeated C(/)
        are ignored, as Vault ignores them.
      - Each segment (and each of O(mount_path)) is ASCII letters, digits and C(_ . @ = -); a wildcard (C(+), C(*)),
        a C(.) or C(..) segment, C(?), C(#), C(%), braces, whitespace or a newline is refused before any request.
      - The module adds the KV version 2 C(data/) itself. A path that starts with the API prefix
        (C(data/), C(metadata/), C(<mount_path>/data/) or C(<mount_path>/metadata/)) is refused with a message
        giving the path to write, so a secret never lands under a doubled prefix such as
        C(secret/data/secret/data/myapp). A secret inside a top-level folder called C(data) or C(metadata)
        therefore cannot be managed with this module.
    type: str
    required: true
  data:
    description:
      - Key/value pairs of the secret. Required when O(state=present). The whole secret is replaced; keys
        missing here are removed in the new version.
    type: dict
  state:
    description: Whether the secret should exist.
    type: str
    choices: [present, absent]
    default: present
  cas:
    description:
      - Check-and-set. Write only if the secret's current version is this number; V(0) writes only if the
        secret does not exist yet. The check runs before writing (also in check mode) and Vault enforces it
        again on the write. Ignored when the data is already equal and when O(state=absent).
    type: int
  destroy:
    description:
      - With O(state=absent), V(false) soft-deletes the latest version (it can be undeleted, older versions
        stay); V(true) deletes the metadata and every version for good.
      - With V(true) a secret whose latest version is already soft-deleted still counts as present while its
        metadata exists.
    type: bool
    default: false
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
notes:
  - Ansible masks every value of O(data) wherever it appears in the output; a return value equal to one of
    them (for example RV(version) when a value is V(1)) is masked too.
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Database credentials for myapp
  vaultkube.platform.vault_kv2_secret:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
    mount_path: secret
    path: myapp/db
    data:
      username: myapp
      password: "{{ myapp_db_password }}"
      port: "5432"

- name: Only create, never overwrite
  vaultkube.platform.vault_kv2_secret:
    path: myapp/api
    data:
      api_key: "{{ lookup('password', '/dev/null length=32') }}"
    cas: 0

- name: Remove the secret and all its versions
  vaultkube.platform.vault_kv2_secret:
    path: myapp/legacy
    state: absent
    destroy: true
'''

RETURN = r'''
operation:
  description: What was done (or would be done in check mode).
  returned: always
  type: str
  choices: [create, update, delete, none]
  sample: update
changed_fields:
  description: C([data]) when the data differs, else empty.
  returned: always
  type: list
  elements: str
  sample: [data]
changed_keys:
  description: Names of the keys added, removed or changed (for O(state=absent), the keys removed). Never values.
  returned: always
  type: list
  elements: str
  sample: [password]
version:
  description:
    - Version of the secret's readable data after the run (in check mode, the version Vault holds now).
    - V(null) when the secret is absent, soft-deleted or destroyed.
  returned: always
  type: int
  sample: 3
diff:
  description:
    - Key names before and after, when diff mode is on. Each value is replaced by V((hidden)), or
      V((hidden, changed)) for keys added, removed or changed.
  returned: when diff mode is on
  type: dict
  sample:
    before:
      data: {username: (hidden), password: (hidden, changed)}
    after:
      data: {username: (hidden), password: (hidden, changed)}
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._kv2 import KV2Secret
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    object_argument_spec,
    run_object_module,
)


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**KV2Secret.argument_spec),
        required_if=KV2Secret.required_if,
        supports_check_mode=True,
    )
    run_object_module(module, KV2Secret)


if __name__ == '__main__':
    main()
