# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AnsibleModule of every module of the collection.

Internal. Ansible registers the values of no_log options BEFORE it converts them to
their types, so a secret mapping given as JSON text (a file lookup, a variable holding
JSON) is registered as that one string while the parsed values would print in clear in
the module invocation - also when Ansible's own argument checks fail, before any code of
the module runs. This class registers the parsed content (every nested value) right
before anything is returned, on success and on failure alike.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import mask_secret_options


class VaultModule(AnsibleModule):
    """AnsibleModule plus ``secret_values``: a function of the module's params returning
    more values to mask (vault_config's secrets inside its document)."""

    def __init__(self, *args, **kwargs):
        self._secret_values = kwargs.pop('secret_values', None)
        super(VaultModule, self).__init__(*args, **kwargs)

    def register_secrets(self):
        mask_secret_options(self)
        if self._secret_values is not None:
            self.no_log_values.update(self._secret_values(self.params))

    def exit_json(self, **kwargs):
        self.register_secrets()
        super(VaultModule, self).exit_json(**kwargs)

    def fail_json(self, msg, **kwargs):
        self.register_secrets()
        super(VaultModule, self).fail_json(msg, **kwargs)
