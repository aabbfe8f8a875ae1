#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_secrets_engine
short_description: Enable, tune or disable a Vault secrets engine
version_added: 0.1.0
description:
  - Enables a secrets engine at O(path) (C(sys/mounts/<path>)), tunes the fields that differ from what
    Vault holds (C(sys/mounts/<path>/tune)), or disables it.
  - The current state is read from the mount table C(sys/mounts). Only the options you set are
    compared; Vault's values for the others are left alone. TTLs are compared as durations, so
    V(1h), V(60m) and V(3600) are equal. Lists are compared ignoring order.
  - The path is normalised, so V(secret), V(secret/) and V(/secret/) are the same mount.
  - A different O(engine_type), kv O(version), O(local) or O(seal_wrap) at an existing path fails the
    task instead of remounting, because disabling a secrets engine deletes its data. Disable it first
    (O(state=absent)) or choose another path. An in-place kv version 1 to 2 upgrade is a one-way
    data migration and is left to the operator (C(bao kv enable-versioning)).
  - The built-in mounts C(sys/), C(identity/) and C(cubbyhole/) are never disabled or tuned.
options:
  path:
    description: Where the secrets engine is (to be) mounted, without C(/v1/).
    type: str
    required: true
  engine_type:
    description:
      - The secrets engine type, for example V(kv), V(pki), V(transit), V(database).
      - Required when O(state=present). With O(state=absent) it is optional; when given, a mount of
        another type at O(path) is not disabled.
      - V(kv-v2) and V(kv-v1) are accepted as V(kv) with that O(version), as Vault stores them.
    type: str
  version:
    description:
      - Version of a V(kv) secrets engine (C(options.version)). Unset, it is not compared; Vault
        enables version 1 when it is not given.
    type: int
    choices: [1, 2]
  description:
    description: Human-readable description of the mount.
    type: str
  default_lease_ttl:
    description:
      - Default lease TTL, as seconds or a duration such as V(1h) or V(30m).
      - V(0) means the system default; Vault reports C(0) for a mount that uses it.
    type: raw
  max_lease_ttl:
    description:
      - Maximum lease TTL, as seconds or a duration. V(0) means the system default.
    type: raw
  options:
    description:
      - Engine-specific mount options, as text values (booleans are sent as V(true)/V(false)).
      - Only the keys given are compared and tuned; other keys Vault holds are left alone.
      - C(options.version) is the same as O(version).
    type: dict
  kv_config:
    description:
      - Settings of a kv version 2 engine, written to C(<path>/config) and compared with what it holds.
        Requires O(engine_type=kv) and O(version=2).
    type: dict
    suboptions:
      max_versions:
        description: Number of versions kept per key; V(0) means the engine default (10).
        type: int
      cas_required:
        description: Whether every write must give the current version (check-and-set).
        type: bool
      delete_version_after:
        description: Age after which versions are deleted, as seconds or a duration; V(0) means never.
        type: raw
  local:
    description:
      - Whether the mount is local to this cluster (not replicated). Set only when enabling;
        a different value at an existing mount fails the task.
    type: bool
  seal_wrap:
    description:
      - Whether seal wrapping is on. Set only when enabling; a different value at an existing mount
        fails the task.
    type: bool
  listing_visibility:
    description:
      - Whether the mount is listed to unauthenticated users (V(unauth)) or not (V(hidden)).
        Vault's unset value is treated as V(hidden).
    type: str
    choices: [hidden, unauth]
  audit_non_hmac_request_keys:
    description: Request keys the audit devices log in clear text instead of HMAC. An empty list clears it.
    type: list
    elements: str
  audit_non_hmac_response_keys:
    description: Response keys the audit devices log in clear text instead of HMAC. An empty list clears it.
    type: list
    elements: str
  passthrough_request_headers:
    description: HTTP request headers passed through to the engine. An empty list clears it.
    type: list
    elements: str
  state:
    description:
      - Whether the secrets engine should be enabled. V(absent) disables it and B(deletes all its data).
    type: str
    choices: [present, absent]
    default: present
notes:
  - Reading needs C(read) on C(sys/mounts); enabling, tuning and disabling need the matching
    capabilities on C(sys/mounts/<path>) and C(sys/mounts/<path>/tune). O(kv_config) needs C(read)
    and C(update) on C(<path>/config).
  - Works with HashiCorp Vault and OpenBao. OpenBao does not ship every Vault engine (its plugin
    catalog lists the types it has); enabling an unknown type fails with Vault's own message.
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: KV version 2 for the application secrets, keeping 5 versions
  vaultkube.platform.vault_secrets_engine:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
    path: secret
    engine_type: kv
    version: 2
    description: Application secrets synced by External Secrets
    kv_config:
      max_versions: 5
      delete_version_after: 30d

- name: Transit engine with shorter leases
  vaultkube.platform.vault_secrets_engine:
    path: transit
    engine_type: transit
    default_lease_ttl: 1h
    max_lease_ttl: 24h

- name: Stop logging the "version" request key as HMAC
  vaultkube.platform.vault_secrets_engine:
    path: secret
    engine_type: kv
    audit_non_hmac_request_keys: [version]

- name: Disable an engine (its data is deleted)
  vaultkube.platform.vault_secrets_engine:
    path: legacy-kv
    engine_type: kv
    state: absent
'''

RETURN = r'''
operation:
  description: What was done (or would be done in check mode).
  returned: always
  type: str
  choices: [create, update, delete, none]
  sample: update
changed_fields:
  description: Names of the options whose values differ from what Vault holds.
  returned: always
  type: list
  elements: str
  sample: [default_lease_ttl, kv_config]
path:
  description: The normalised mount path, with a trailing slash.
  returned: always
  type: str
  sample: secret/
accessor:
  description: The mount accessor; null when the mount does not exist (or was only planned in check mode).
  returned: always
  type: str
  sample: kv_f7e7a373
diff:
  description:
    - The compared fields before and after, when diff mode is on. TTLs in seconds, lists sorted,
      O(options) without C(version) (shown as O(version) for kv).
  returned: when diff mode is on
  type: dict
  sample:
    before: {engine_type: kv, version: "2", default_lease_ttl: 0, description: "", options: {}}
    after: {engine_type: kv, version: "2", default_lease_ttl: 3600, description: "", options: {}}
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._mounts import SecretsEngine
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    object_argument_spec,
    run_object_module,
)


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**SecretsEngine.argument_spec),
        required_if=[('state', 'present', ['engine_type'])],
        supports_check_mode=True,
    )
    run_object_module(module, SecretsEngine)


if __name__ == '__main__':
    main()
