# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: kv_reader_rules
short_description: The policy rules of a reader of one KV version 2 folder, as data
version_added: 0.6.0
description:
  - Gives the rules (for P(vaultkube.platform.policy_hcl#filter)) that let a reader such as External Secrets
    Operator read the secrets below C(<kv_mount>/<kv_prefix>/) of a KV version 2 engine.
  - C(read) on C(<kv_mount>/data/<kv_prefix>/*), C(read) and C(list) on C(<kv_mount>/metadata/<kv_prefix>/*).
    The metadata C(read) is what C(dataFrom.find) by tags (the C(custom_metadata) of each secret) and
    metadata fetches need.
  - The mount and the prefix are checked whole (letters, digits and C(_ . @ = -) between single slashes, no
    wildcard or template character), so no value can widen the rules.
options:
  _input:
    description: The path of the KV version 2 mount, for example C(secret).
    type: str
    required: true
  kv_prefix:
    description: The folder inside the mount, for example C(apps/team-a).
    type: str
    required: true
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: The read-only policy of one KV folder
  ansible.builtin.set_fact:
    policy_text: >-
      {{ 'secret' | vaultkube.platform.kv_reader_rules('apps/team-a')
         | vaultkube.platform.policy_hcl(comment='ESO reads secret/apps/team-a/*') }}
'''

RETURN = r'''
_value:
  description: The rules, each a C(path) and its C(capabilities).
  type: list
  elements: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.module_utils._names import (
    InvalidName,
    kv_reader_rules as _kv_reader_rules,
)


def kv_reader_rules(kv_mount, kv_prefix):
    # Ansible hands templated text over as a str subclass (AnsibleUnicode and the like).
    try:
        return _kv_reader_rules(str(kv_mount) if isinstance(kv_mount, str) else kv_mount,
                                str(kv_prefix) if isinstance(kv_prefix, str) else kv_prefix)
    except InvalidName as exc:
        raise AnsibleFilterError('kv_reader_rules: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'kv_reader_rules': kv_reader_rules}
