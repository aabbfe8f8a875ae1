#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_policy
short_description: Manage a Vault ACL policy
version_added: 0.1.0
description:
  - Creates, updates or deletes one ACL policy at C(sys/policies/acl/<name>).
  - The policy text is compared with what Vault holds (trailing white space ignored); an equal
    policy is not written again.
  - Vault parses the HCL when it is written; a policy Vault rejects fails the task with Vault's
    own parse error and leaves the stored policy untouched.
options:
  name:
    description:
      - Name of the policy, ASCII letters, digits and C(_ - . @), starting with a letter, digit or C(_).
      - Checked whole before any request (a trailing newline, a C(/), a wildcard or a space is refused).
    type: str
    required: true
  policy:
    description:
      - HCL (or JSON) text of the policy. Required when O(state=present).
    type: str
  state:
    description: Whether the policy should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Let External Secrets read the app secrets
  vaultkube.platform.vault_policy:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
    name: eso-read
    policy: |
      path "secret/data/myapp/*" {
        capabilities = ["read"]
      }
      path "secret/metadata/myapp/*" {
        capabilities = ["list"]
      }

- name: Remove a policy nobody uses
  vaultkube.platform.vault_policy:
    name: legacy-ci
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
  description: Names of the fields that differ from what Vault holds.
  returned: always
  type: list
  elements: str
  sample: [policy]
diff:
  description: The policy text before and after, when diff mode is on.
  returned: when diff mode is on
  type: dict
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._policy import Policy
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    object_argument_spec,
    run_object_module,
)


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**Policy.argument_spec),
        required_if=[('state', 'present', ['policy'])],
        supports_check_mode=True,
    )
    run_object_module(module, Policy)


if __name__ == '__main__':
    main()
