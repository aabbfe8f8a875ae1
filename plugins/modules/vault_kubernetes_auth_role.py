#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_kubernetes_auth_role
short_description: Manage a role of a Vault Kubernetes auth method
version_added: 0.1.0
description:
  - Creates, updates or deletes one role at C(auth/<mount_path>/role/<name>), which binds Kubernetes service
    accounts to Vault policies and token settings.
  - Only the options you set are compared; the others keep the value Vault holds. Lists are compared as sets
    (order and duplicates ignored), durations by their meaning (V(1h) equals V(3600)).
  - An update writes the whole role (what Vault holds, overlaid with your options), because Vault clears
    the namespace selector on a write that leaves it out.
  - The auth method must already be enabled at O(mount_path) (see M(vaultkube.platform.vault_auth_method));
    otherwise the task fails with a message saying so.
options:
  mount_path:
    description: Path the Kubernetes auth method is enabled at, without the C(auth/) prefix.
    type: str
    default: kubernetes
  name:
    description: Name of the role.
    type: str
    required: true
  state:
    description: Whether the role should exist.
    type: str
    choices: [present, absent]
    default: present
  bound_service_account_names:
    description:
      - Service account names allowed to log in; V(*) allows any. Required when O(state=present).
    type: list
    elements: str
  bound_service_account_namespaces:
    description:
      - Namespaces of those service accounts; V(*) allows any.
      - When O(state=present) this or O(bound_service_account_namespace_selector) is required.
    type: list
    elements: str
  bound_service_account_namespace_selector:
    description:
      - Label selector (a mapping, or its JSON/YAML text) of the namespaces allowed, as an alternative or
        addition to O(bound_service_account_namespaces). JSON is compared by meaning, other text as is.
    type: raw
  audience:
    description: Audience the service account JWT must carry. An empty string removes the check.
    type: str
  alias_name_source:
    description: What names the identity alias of a login. Vault defaults to V(serviceaccount_uid).
    type: str
    choices: [serviceaccount_uid, serviceaccount_name]
  token_policies:
    description: Policies of the tokens issued by this role.
    type: list
    elements: str
  token_ttl:
    description: Initial TTL of issued tokens, as seconds or a duration like V(1h).
    type: raw
  token_max_ttl:
    description: Maximum lifetime of issued tokens, as seconds or a duration. Must not be below O(token_ttl).
    type: raw
  token_period:
    description: Period of periodic tokens, as seconds or a duration; V(0) for non-periodic tokens.
    type: raw
  token_explicit_max_ttl:
    description: Hard limit on the lifetime of issued tokens, even across renewals.
    type: raw
  token_type:
    description: Type of the tokens issued. Periodic tokens cannot be V(batch).
    type: str
    choices: [default, service, batch]
  token_bound_cidrs:
    description: IP addresses or CIDR blocks allowed to use the issued tokens. V(10.0.0.1/32) equals V(10.0.0.1).
    type: list
    elements: str
  token_no_default_policy:
    description: Leave the C(default) policy off the issued tokens.
    type: bool
  token_num_uses:
    description: Number of uses of an issued token; V(0) means unlimited.
    type: int
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Let External Secrets Operator log in with its service account
  vaultkube.platform.vault_kubernetes_auth_role:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
    mount_path: kubernetes/prod
    name: eso
    bound_service_account_names: [external-secrets]
    bound_service_account_namespaces: [external-secrets]
    audience: vault
    token_policies: [eso-read]
    token_ttl: 1h
    token_max_ttl: 4h

- name: Any service account of namespaces labelled team=payments
  vaultkube.platform.vault_kubernetes_auth_role:
    name: payments
    bound_service_account_names: ["*"]
    bound_service_account_namespace_selector:
      matchLabels:
        team: payments
    token_policies: [payments-read]

- name: Remove a role
  vaultkube.platform.vault_kubernetes_auth_role:
    name: legacy
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
  description: Names of the options that differ from what Vault holds.
  returned: always
  type: list
  elements: str
  sample: [token_policies, token_ttl]
diff:
  description:
    - The role before and after, when diff mode is on, in Vault's units (durations in seconds, lists
      sorted).
  returned: when diff mode is on
  type: dict
  sample:
    before:
      token_policies: [eso-read]
      token_ttl: 3600
    after:
      token_policies: [eso-read, extra]
      token_ttl: 3600
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes_auth import KubernetesAuthRole
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    object_argument_spec,
    run_object_module,
)


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**KubernetesAuthRole.argument_spec),
        required_if=KubernetesAuthRole.required_if,
        supports_check_mode=True,
    )
    run_object_module(module, KubernetesAuthRole)


if __name__ == '__main__':
    main()
