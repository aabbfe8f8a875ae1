# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Attributes shared by the modules: check mode, diff mode, action group."""

    # For modules that change Vault: full check mode and diff.
    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    support: full
    description: Reads Vault, reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Returns the state before and after in C(diff); secret values are masked.
  action_group:
    description: Use C(group/vaultkube.platform.vault) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - vaultkube.platform.vault
'''

    # For read-only modules.
    READ_ONLY = r'''
options: {}
attributes:
  check_mode:
    support: full
    description: This module only reads; it behaves the same in check mode.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
  action_group:
    description: Use C(group/vaultkube.platform.vault) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - vaultkube.platform.vault
'''
