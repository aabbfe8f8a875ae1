# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: hcl_string
short_description: A value as a quoted HCL string, for a Vault server configuration written from the inventory
version_added: 0.4.0
description:
  - Quotes a value as an HCL string (JSON's quoting, which HCL reads the same way), so that an inventory
    value put into a configuration file stays one string and cannot add or close a block.
  - A value holding C(${) or C(%{) (a template sequence HCL would interpret) is refused, and so is a value
    that is not text (a number or a boolean is given with C(string) first, on purpose).
  - With O(field), the error names that field and never shows the value (for a token, say).
options:
  _input:
    description: The text to quote.
    type: str
    required: true
  field:
    description: Name of the variable the value comes from, for the error message.
    type: str
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: A listener address from the inventory in the server configuration
  ansible.builtin.set_fact:
    listener_hcl: |
      listener "tcp" {
        address = {{ vault_listen_address | vaultkube.platform.hcl_string }}
      }
'''

RETURN = r'''
_value:
  description: The quoted string, with its double quotes.
  type: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.module_utils._names import InvalidName, hcl_string as _hcl_string


def hcl_string(value, field=None):
    # Ansible hands templated text over as a str subclass (AnsibleUnicode and the like).
    if isinstance(value, str):
        value = str(value)
    try:
        return _hcl_string(value)
    except InvalidName as exc:
        if field:
            # The value may be a secret: only the field is named.
            raise AnsibleFilterError('hcl_string: %s must be text without ${ or %%{ (HCL would interpret them)'
                                     % field)
        raise AnsibleFilterError('hcl_string: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'hcl_string': hcl_string}
