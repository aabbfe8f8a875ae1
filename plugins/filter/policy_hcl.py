# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: policy_hcl
short_description: A Vault ACL policy written from data, every path quoted
version_added: 0.4.0
description:
  - Writes an ACL policy from a list of rules, each C(path) quoted as an HCL string (never pasted into
    the text), each capability checked against Vault's list.
  - A path holding C(${) or C(%{) (a template sequence HCL would interpret) is refused.
  - Check the inventory parts of a path first with the C(vault_path) test of this collection's roles
    (letters, digits and C(_ . @ = -) between single slashes, no wildcard).
options:
  _input:
    description: Rules - a list of C(path) (string) and C(capabilities) (list of strings).
    type: list
    elements: dict
    required: true
  comment:
    description: Comment lines put above the rules.
    type: str
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: The read-only policy of one KV folder
  ansible.builtin.set_fact:
    policy_text: >-
      {{ [{'path': 'secret/data/' ~ folder ~ '/*', 'capabilities': ['read']},
          {'path': 'secret/metadata/' ~ folder ~ '/*', 'capabilities': ['read', 'list']}]
         | vaultkube.platform.policy_hcl(comment='ESO reads ' ~ folder) }}
'''

RETURN = r'''
_value:
  description: The policy as HCL text.
  type: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.module_utils._names import InvalidName, policy_hcl as _policy_hcl


def policy_hcl(rules, comment=None):
    if not isinstance(rules, list):
        raise AnsibleFilterError('policy_hcl: the input must be a list of rules ({path, capabilities})')
    try:
        return _policy_hcl(rules, comment)
    except InvalidName as exc:
        raise AnsibleFilterError('policy_hcl: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'policy_hcl': policy_hcl}
