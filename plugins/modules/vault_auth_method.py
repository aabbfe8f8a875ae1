#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_auth_method
short_description: Enable, tune or disable a Vault auth method
version_added: 0.1.0
description:
  - Enables an auth method at O(path) (C(sys/auth/<path>)), tunes the fields that differ from what
    Vault holds (C(sys/auth/<path>/tune)), or disables it.
  - The current state is read from the auth table C(sys/auth). Only the options you set are
    compared; Vault's values for the others are left alone. TTLs are compared as durations, so
    V(1h), V(60m) and V(3600) are equal. Lists are compared ignoring order.
  - The path is relative to C(auth/) and normalised, so V(kubernetes), V(kubernetes/) and
    V(/kubernetes/) are the same mount.
  - A different O(method_type), O(local) or O(seal_wrap) at an existing path fails the task instead of
    re-enabling the method, because disabling an auth method deletes its roles, its configuration and
    the tokens it issued. Disable it first (O(state=absent)) or choose another path.
  - The C(token/) auth method cannot be disabled; it can be tuned.
  - Configuring the method itself (for example C(auth/kubernetes/config)) and its roles is the job
    of other modules.
options:
  path:
    description: Where the auth method is (to be) mounted, relative to C(auth/).
    type: str
    required: true
  method_type:
    description:
      - The auth method type, for example V(kubernetes), V(approle), V(userpass), V(jwt).
      - Required when O(state=present). With O(state=absent) it is optional; when given, a method of
        another type at O(path) is not disabled.
    type: str
  description:
    description: Human-readable description of the auth method.
    type: str
  default_lease_ttl:
    description:
      - Default TTL of the tokens it issues, as seconds or a duration such as V(1h).
      - V(0) means the system default; Vault reports C(0) for a mount that uses it.
    type: raw
  max_lease_ttl:
    description: Maximum TTL of the tokens it issues, as seconds or a duration. V(0) means the system default.
    type: raw
  token_type:
    description:
      - Type of the tokens it issues. V(default-service) and V(default-batch) let roles choose.
      - Vault's unset value is treated as V(default-service).
    type: str
    choices: [default-service, default-batch, service, batch]
  local:
    description:
      - Whether the auth method is local to this cluster (not replicated). Set only when enabling;
        a different value at an existing mount fails the task.
    type: bool
  seal_wrap:
    description:
      - Whether seal wrapping is on. Set only when enabling; a different value at an existing mount
        fails the task.
    type: bool
  listing_visibility:
    description:
      - Whether the method is listed to unauthenticated users (V(unauth), for login pages) or not
        (V(hidden)). Vault's unset value is treated as V(hidden).
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
    description: HTTP request headers passed through to the auth method. An empty list clears it.
    type: list
    elements: str
  state:
    description:
      - Whether the auth method should be enabled. V(absent) disables it and B(deletes its roles and
        configuration) and revokes the tokens it issued.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Reading needs C(read) on C(sys/auth); enabling and disabling need C(sudo) on C(sys/auth/<path>);
    tuning needs C(update) on C(sys/auth/<path>/tune).
  - OpenBao ships fewer auth methods than HashiCorp Vault (for example no C(github)); enabling one it
    does not have fails with its own message.
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Kubernetes auth for the production cluster
  vaultkube.platform.vault_auth_method:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
    path: kubernetes-prod
    method_type: kubernetes
    description: External Secrets Operator in the production cluster
    default_lease_ttl: 1h
    max_lease_ttl: 4h

- name: AppRole for CI, batch tokens only
  vaultkube.platform.vault_auth_method:
    path: approle
    method_type: approle
    token_type: batch

- name: Shorter tokens for the token auth method
  vaultkube.platform.vault_auth_method:
    path: token
    method_type: token
    max_lease_ttl: 768h

- name: Remove an auth method nobody uses (its roles are deleted)
  vaultkube.platform.vault_auth_method:
    path: userpass
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
  sample: [default_lease_ttl, token_type]
path:
  description: The normalised path of the auth method, relative to C(auth/), with a trailing slash.
  returned: always
  type: str
  sample: kubernetes-prod/
accessor:
  description:
    - The mount accessor (used in identity entity aliases); null when the method does not exist
      (or was only planned in check mode).
  returned: always
  type: str
  sample: auth_kubernetes_4b2d9a1c
diff:
  description: The compared fields before and after, when diff mode is on. TTLs in seconds, lists sorted.
  returned: when diff mode is on
  type: dict
  sample:
    before: {method_type: kubernetes, default_lease_ttl: 0, token_type: default-service}
    after: {method_type: kubernetes, default_lease_ttl: 3600, token_type: default-service}
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._mounts import AuthMethod
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    object_argument_spec,
    run_object_module,
)


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**AuthMethod.argument_spec),
        required_if=[('state', 'present', ['method_type'])],
        supports_check_mode=True,
    )
    run_object_module(module, AuthMethod)


if __name__ == '__main__':
    main()
