# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""ACL policies (sys/policies/acl/<name>)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError, normalise
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import VaultObject

# Vault manages these itself: "root" cannot be written, "default" cannot be deleted.
BUILTIN_POLICIES = ('root',)


class Policy(VaultObject):
    kind = 'policy'
    argument_spec = dict(
        name=dict(type='str', required=True),
        policy=dict(type='str'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
    )

    @classmethod
    def list_existing(cls, api, objects):
        return set(api.list('sys/policies/acl'))

    @classmethod
    def list_prunable(cls, api, entries):
        # "default" is Vault's own and cannot be deleted; "root" is not listed.
        return [{'name': name, 'state': 'absent'} for name in api.list('sys/policies/acl')
                if name not in ('default',) + BUILTIN_POLICIES]

    @property
    def name(self):
        return self.params['name']

    @property
    def path(self):
        return 'sys/policies/acl/%s' % self.params['name']

    def validate(self):
        name = self.params.get('name')
        if not name or not name.strip() or '/' in name:
            raise FieldError('name must be a non-empty policy name without "/", got %r' % name)
        if name in BUILTIN_POLICIES:
            raise FieldError('name %r is built into Vault and cannot be managed' % name)
        if self.params.get('state', 'present') == 'present' and not (self.params.get('policy') or '').strip():
            raise FieldError('policy must hold the HCL text of policy %r when state=present' % name)

    def read(self):
        body = self.api.read(self.path)
        if body is None:
            return None
        data = body.get('data') or body
        return {'policy': normalise('text', data.get('policy'))}

    def desired(self):
        return {'policy': normalise('text', self.params['policy'])}

    def create(self, wanted):
        self.api.write(self.path, {'policy': wanted['policy']})

    def remove(self, current):
        self.api.delete(self.path)

    def diff_view(self, state, other=None):
        # Policies are text: show them as text so the diff is line by line.
        return state['policy'] if state else ''
