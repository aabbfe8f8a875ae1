# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""GitHub auth as data: the organization and the team/user to policy maps.

One object per mount, so that the maps the document does not list can be
removed from that mount (the maps are the access list; a stale one is a grant).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.six import string_types

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import (
    FieldError,
    checked_name,
    checked_path,
    normalise,
    normalise_fields,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import VaultObject

CONFIG_FIELDS = {
    'organization': 'str',
    'organization_id': 'int',
    'base_url': 'str',
    'token_policies': 'set',
    'token_ttl': 'ttl',
    'token_max_ttl': 'ttl',
}
MAP_KINDS = ('teams', 'users')


def _policies(value, where):
    if isinstance(value, string_types) or isinstance(value, list):
        return normalise('set', value)
    raise FieldError('%s must be a list of policy names, got %s' % (where, type(value).__name__))


class GithubAuth(VaultObject):
    kind = 'github auth'
    argument_spec = dict(
        mount_path=dict(type='str', default='github'),
        organization=dict(type='str'),
        organization_id=dict(type='int'),
        base_url=dict(type='str'),
        token_policies=dict(type='list', elements='str', no_log=False),
        token_ttl=dict(type='raw', no_log=False),
        token_max_ttl=dict(type='raw', no_log=False),
        teams=dict(type='dict', default={}),
        users=dict(type='dict', default={}),
        state=dict(type='str', default='present', choices=['present']),
    )

    @property
    def mount(self):
        return (self.params.get('mount_path') or 'github').strip().strip('/')

    @property
    def name(self):
        return self.mount

    def validate(self):
        checked_path(self.mount, 'mount_path')
        if not self.params.get('organization'):
            raise FieldError('organization is required for the github auth method at %r' % self.mount)
        for kind in MAP_KINDS:
            seen = {}
            for key, value in (self.params.get(kind) or {}).items():
                if not isinstance(key, str) or not key or '/' in key:
                    raise FieldError('%s must map names without "/" to policies, got %r' % (kind, key))
                checked_name(key, '%s key' % kind)
                _policies(value, '%s.%s' % (kind, key))
                if key.lower() in seen:
                    raise FieldError('%s %r and %r are one name to Vault, which matches team slugs and logins '
                                     'without case: keep one of them' % (kind, seen[key.lower()], key))
                seen[key.lower()] = key
        self.desired()

    def _read(self, path):
        try:
            return self.api.read(path)
        except VaultRequestError as exc:
            if exc.no_route:
                raise VaultRequestError('github auth method is not enabled at %r: enable it first (%s)'
                                        % (self.mount, exc))
            raise

    def read(self):
        body = self._read('auth/%s/config' % self.mount)
        config = (body or {}).get('data') or {}
        current = normalise_fields(CONFIG_FIELDS, config, only=self._config_fields())
        for kind in MAP_KINDS:
            current[kind] = {}
            for key in self.api.list('auth/%s/map/%s' % (self.mount, kind)):
                entry = (self._read('auth/%s/map/%s/%s' % (self.mount, kind, key)) or {}).get('data') or {}
                current[kind][key] = normalise('set', entry.get('value'))
        if not config.get('organization') and not any(current[k] for k in MAP_KINDS):
            return None
        return current

    def _config_fields(self):
        return [name for name in CONFIG_FIELDS if self.params.get(name) is not None]

    def desired(self):
        wanted = normalise_fields(CONFIG_FIELDS, self.params, only=self._config_fields())
        # Vault keeps the map names in lower case (its team and user maps match without case): a
        # name given as "DEVS_RW" is listed back as "devs_rw", so it is compared that way.
        for kind in MAP_KINDS:
            wanted[kind] = dict((key.lower(), _policies(value, '%s.%s' % (kind, key)))
                                for key, value in (self.params.get(kind) or {}).items())
        return wanted

    def create(self, wanted):
        self.update({}, wanted, sorted(wanted))

    def update(self, current, wanted, changed_fields):
        config = dict((k, v) for k, v in wanted.items() if k in CONFIG_FIELDS)
        if any(field in CONFIG_FIELDS for field in changed_fields):
            self.api.write('auth/%s/config' % self.mount, config)
        for kind in MAP_KINDS:
            have, want = (current or {}).get(kind) or {}, wanted[kind]
            for key, policies in sorted(want.items()):
                if have.get(key) != policies:
                    self.api.write('auth/%s/map/%s/%s' % (self.mount, kind, key), {'value': ','.join(policies)})
            for key in sorted(set(have) - set(want)):
                self.api.delete('auth/%s/map/%s/%s' % (self.mount, kind, key))

    def remove(self, current):
        raise FieldError('github auth settings cannot be removed by vault_config; disable the auth method '
                         'with vaultkube.platform.vault_auth_method instead')
