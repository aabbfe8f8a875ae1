# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Audit devices (sys/audit/<path>).

Audit devices have no tune endpoint: a device is enabled with its type and
options and can only be disabled again. So a difference is an error unless the
user asked for ``replace``, and a replacement that Vault rejects puts the old
device back, so that a bad option never leaves Vault unaudited.

Recent OpenBao releases (2.7.2 tested) refuse to enable audit devices through the API
unless the server runs with ``unsafe_allow_api_audit_creation = true``; devices are
declared in its configuration file instead. That refusal is reported as Vault's
message plus a pointer to the configuration stanza.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import (
    FieldError,
    checked_path,
    differences,
    normalise,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._mounts import (
    STATES,
    mount_path,
    options_of,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import HIDDEN, TableEntryObject

# Options that can carry credentials (the http device's headers): compared, never shown.
SECRET_OPTIONS = ('headers',)

DECLARATIVE_HINT = ('OpenBao only accepts audit devices declared in its configuration file, as an '
                    'audit "<type>" "<path>" stanza, unless it runs with unsafe_allow_api_audit_creation = true')


class AuditDevice(TableEntryObject):
    kind = 'audit device'
    table = 'sys/audit'

    argument_spec = dict(
        path=dict(type='str', required=True),
        device_type=dict(type='str'),
        description=dict(type='str'),
        options=dict(type='dict'),
        local=dict(type='bool'),
        replace=dict(type='bool', default=False),
        state=dict(type='str', default='present', choices=list(STATES)),
    )

    def __init__(self, api, params):
        super(AuditDevice, self).__init__(api, params)
        self._user = None
        self._current = None

    @property
    def name(self):
        return mount_path(self.params.get('path'))

    @property
    def state(self):
        return self.params.get('state') or 'present'

    def api_path(self):
        return '%s/%s' % (self.table, self.name.rstrip('/'))

    def validate(self):
        if not self.name:
            raise FieldError('path must name the audit device, for example "file", got %r'
                             % self.params.get('path'))
        if not self.params.get('_listed'):
            checked_path(self.name, 'path')
        if self.state not in STATES:
            raise FieldError('state must be present or absent, got %r' % self.state)
        if self.state == 'present' and not self.params.get('device_type'):
            raise FieldError('device_type is required when state=present: name the audit device type, '
                             'for example file, socket or syslog')
        self._user = self.user_fields()

    def user_fields(self):
        out = {}
        if self.params.get('device_type'):
            out['device_type'] = str(self.params['device_type']).strip()
        if self.params.get('description') is not None:
            out['description'] = normalise('str', self.params['description'])
        if self.params.get('options') is not None:
            out['options'] = options_of(self.params['options'])
        if self.params.get('local') is not None:
            out['local'] = bool(self.params['local'])
        return out

    @classmethod
    def list_prunable(cls, api, entries):
        return [{'path': path, 'state': 'absent', '_listed': True} for path in sorted(cls.read_table(api))]

    def read(self):
        entry = self.table_entry()
        if entry is None:
            return None
        current = {
            'device_type': entry.get('type'),
            'description': normalise('str', entry.get('description')),
            'options': options_of(entry.get('options')),
            'local': bool(entry.get('local')),
        }
        wanted_type = (self._user or {}).get('device_type')
        if self.state == 'absent' and wanted_type and wanted_type != current['device_type']:
            raise FieldError("audit device at %r is of type %s, not %s as device_type says; refusing to "
                             "disable it: fix device_type or leave it out"
                             % (self.name, current['device_type'], wanted_type))
        self._current = current
        return current

    def desired(self):
        wanted = dict(self._user if self._user is not None else self.user_fields())
        if 'options' in wanted and self._current:
            # Options the user did not name are kept as the device has them.
            merged = dict(self._current['options'])
            merged.update(wanted['options'])
            wanted['options'] = merged
        return wanted

    def changes(self, current, wanted):
        changed = differences(current, wanted)
        if changed and not self.params.get('replace'):
            raise FieldError("audit device at %r differs in %s; audit devices cannot be tuned: set "
                             "replace: true to disable and re-enable it (requests in between are not "
                             "audited), or choose another path" % (self.name, ', '.join(changed)))
        return changed

    def create(self, wanted):
        self.enable(wanted)

    def enable(self, state):
        body = {'type': state['device_type']}
        for field in ('description', 'options', 'local'):
            if field in state:
                body[field] = state[field]
        try:
            self.api.write(self.api_path(), body)
        except VaultRequestError as exc:
            if 'declarative' in str(exc):
                raise VaultRequestError('%s (%s)' % (exc, DECLARATIVE_HINT), status=exc.status,
                                        errors=exc.errors)
            raise

    def update(self, current, wanted, changed_fields):
        replacement = dict(current)
        replacement.update(wanted)
        self.remove(current)
        try:
            self.enable(replacement)
        except VaultRequestError as exc:
            # Put the old device back, so that a rejected option does not leave Vault unaudited.
            try:
                self.enable(current)
                outcome = 'the previous device was re-enabled unchanged'
            except VaultRequestError:
                outcome = 're-enabling the previous device failed too: it is now disabled'
            raise VaultRequestError('%s (%s)' % (exc, outcome), status=exc.status, errors=exc.errors)

    def remove(self, current):
        self.api.delete(self.api_path())

    def diff_view(self, state, other=None):
        view = super(AuditDevice, self).diff_view(state, other)
        options = view.get('options')
        if options:
            view['options'] = dict((key, HIDDEN if key in SECRET_OPTIONS else value)
                                   for key, value in options.items())
        return view

    def extra_result(self):
        return {'path': self.name}
