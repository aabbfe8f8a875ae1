# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: checked_names
short_description: Inventory values checked whole before they become a name, a policy path or a document
version_added: 0.3.0
description:
  - Checks each C([variable, kind, value]) of the input with the full-string checks of this collection -
    C(dns_label) (a namespace), C(dns_subdomain) (a ServiceAccount, a store, a binding), C(vault_name)
    (a policy or role), C(vault_path) (a mount or KV folder - no C(+), C(*), glob, empty, C(.) or C(..) segment).
  - Returns a mapping variable to value (a path without its outer slashes), or fails in one line naming the
    first bad variable and what to fix. The roles' preflights run it before their first write.
options:
  _input:
    description: List of C([variable, kind, value]) triples.
    type: list
    elements: list
    required: true
  role:
    description: Name put at the start of the message.
    type: str
    default: vaultkube.platform
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Check the names before the first write
  ansible.builtin.set_fact:
    _checked: >-
      {{ [['my_kv_prefix', 'vault_path', my_kv_prefix], ['my_namespace', 'dns_label', my_namespace]]
         | vaultkube.platform.checked_names(role='my_role') }}
'''

RETURN = r'''
_value:
  description: Variable name to checked value.
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.module_utils._names import (
    InvalidName,
    dns_label,
    dns_subdomain,
    vault_name,
    vault_path,
)

_CHECKS = {'dns_label': dns_label, 'dns_subdomain': dns_subdomain, 'vault_name': vault_name, 'vault_path': vault_path}


def checked_names(fields, role='vaultkube.platform'):
    if not isinstance(fields, list) or not all(isinstance(f, (list, tuple)) and len(f) == 3 for f in fields):
        raise AnsibleFilterError('checked_names: the input must be a list of [variable, kind, value]')
    out = {}
    for field, kind, value in fields:
        if kind not in _CHECKS:
            raise AnsibleFilterError('checked_names: unknown kind %r for %s' % (kind, field))
        try:
            out[field] = _CHECKS[kind](value, field)
        except InvalidName as exc:
            raise AnsibleFilterError('%s: %s' % (role, exc))
    return out


class FilterModule(object):
    def filters(self):
        return {'checked_names': checked_names}
