# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Mount-like objects: secrets engines (sys/mounts) and auth methods (sys/auth).

Both are entries of a mount table with a type, a description, create-only
flags (local, seal_wrap) and a tunable ``config`` block, so one base class
holds the logic and the subclasses name the table, the type option and what
Vault will not let go of.

The current state is read from the mount *table* (``GET sys/mounts`` /
``GET sys/auth``), not from ``sys/mounts/<path>``: Vault answers the latter by
longest-prefix match, so reading ``secret/team`` would return the ``secret/``
mount and a tune would then hit the wrong mount. The table also reports TTLs
as configured (0 = system default) where ``.../tune`` reports effective values.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.six import integer_types, string_types

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import (
    FieldError,
    checked_path,
    differences,
    normalise,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import TableEntryObject

STATES = ('present', 'absent')
LISTING_VISIBILITY = ('hidden', 'unauth')
TOKEN_TYPES = ('default-service', 'default-batch', 'service', 'batch')
# Vault applies these only when a mount is enabled; a tune silently ignores them.
CREATE_ONLY = ('local', 'seal_wrap')
KV_CONFIG_KINDS = {'max_versions': 'int', 'cas_required': 'bool', 'delete_version_after': 'ttl'}

_COMMON_SPEC = dict(
    path=dict(type='str', required=True),
    description=dict(type='str'),
    default_lease_ttl=dict(type='raw'),
    max_lease_ttl=dict(type='raw'),
    local=dict(type='bool'),
    seal_wrap=dict(type='bool'),
    listing_visibility=dict(type='str', choices=list(LISTING_VISIBILITY)),
    audit_non_hmac_request_keys=dict(type='list', elements='str', no_log=False),
    audit_non_hmac_response_keys=dict(type='list', elements='str', no_log=False),
    passthrough_request_headers=dict(type='list', elements='str', no_log=False),
    state=dict(type='str', default='present', choices=list(STATES)),
)


def mount_path(value):
    """The table key of a mount: "secret", "secret/" and "/secret/" are all "secret/"."""
    text = (value or '').strip().strip('/')
    return text + '/' if text else ''


def option_value(value, field):
    """Vault keeps mount and audit options as strings; send them as it will store them."""
    if isinstance(value, bool):
        # Vault would store a JSON true as "1": send the word so a re-run compares equal.
        return 'true' if value else 'false'
    if isinstance(value, (dict, list, tuple)) or value is None:
        raise FieldError('%s must map option names to plain values (text, numbers, booleans), got %r'
                         % (field, value))
    return str(value)


def options_of(value, field='options'):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldError('%s must be a mapping of option names to values, got %r' % (field, value))
    return dict((str(key), option_value(item, '%s.%s' % (field, key))) for key, item in value.items())


def string_set(value, field='value'):
    """An order-insensitive list of strings, without the blank entry a cleared list leaves behind."""
    if isinstance(value, string_types):
        return normalise('set', value, field)
    return normalise('set', [item for item in (value or []) if str(item).strip()], field)


def duration(value, field):
    seconds = normalise('ttl', value, field)
    if seconds < 0:
        raise FieldError('%s must be 0 (the system default) or a positive duration, got %r' % (field, value))
    return seconds


class Mount(TableEntryObject):
    """One entry of a mount table. Subclasses fill in the class attributes."""

    kind = 'mount'
    #: the mount table: ``sys/mounts`` or ``sys/auth``
    table = None
    #: the option naming the plugin type: ``engine_type`` or ``method_type``
    type_option = None
    type_example = ''
    #: paths that may not be disabled
    undeletable = ()
    #: paths that may not be tuned either
    untunable = ()
    #: what is lost when a mount is disabled, for the refusal messages
    holds = 'its data'
    #: option name -> normalisation kind for every compared field but the type
    fields = {
        'description': 'str',
        'default_lease_ttl': 'duration',
        'max_lease_ttl': 'duration',
        'local': 'bool',
        'seal_wrap': 'bool',
        'listing_visibility': 'str',
        'audit_non_hmac_request_keys': 'strings',
        'audit_non_hmac_response_keys': 'strings',
        'passthrough_request_headers': 'strings',
    }
    #: fields sent under ``config`` when enabling, and as themselves when tuning
    config_fields = ('default_lease_ttl', 'max_lease_ttl', 'listing_visibility',
                     'audit_non_hmac_request_keys', 'audit_non_hmac_response_keys',
                     'passthrough_request_headers')

    def __init__(self, api, params):
        super(Mount, self).__init__(api, params)
        self._user = None
        self._entry = None
        self._current = None
        self._created = False

    # -- identity ------------------------------------------------------------
    @property
    def name(self):
        return mount_path(self.params.get('path'))

    @property
    def state(self):
        return self.params.get('state') or 'present'

    def api_path(self, suffix=''):
        return '%s/%s%s' % (self.table, self.name.rstrip('/'), suffix)

    # -- input -----------------------------------------------------------------
    def validate(self):
        if not self.name:
            raise FieldError('path must name the mount, for example "secret", got %r' % self.params.get('path'))
        if not self.params.get('_listed'):
            checked_path(self.name, 'path')
        if self.state not in STATES:
            raise FieldError('state must be present or absent, got %r' % self.state)
        if self.state == 'absent' and self.name in self.undeletable:
            raise FieldError("%s %r is built into Vault and cannot be disabled" % (self.kind, self.name))
        if self.state == 'present' and not self.params.get(self.type_option):
            raise FieldError('%s is required when state=present: name the %s type, for example %s'
                             % (self.type_option, self.kind, self.type_example))
        visibility = self.params.get('listing_visibility')
        if visibility is not None and visibility not in LISTING_VISIBILITY:
            raise FieldError('listing_visibility must be hidden or unauth, got %r' % visibility)
        self._user = self.user_fields()

    def declared_type(self):
        """(type, kv version or None) this entry declares; after :meth:`validate`."""
        user = self._user or {}
        return user.get(self.type_option), user.get('version')

    def user_fields(self):
        """The fields the user set, normalised; :class:`FieldError` for bad values."""
        out = {}
        plugin = self.params.get(self.type_option)
        if plugin:
            out[self.type_option] = str(plugin).strip()
        for field, kind in self.fields.items():
            value = self.params.get(field)
            if value is not None:
                out[field] = self.normalise_field(field, kind, value)
        return out

    def normalise_field(self, field, kind, value):
        if kind == 'duration':
            return duration(value, field)
        if kind == 'strings':
            return string_set(value, field)
        if kind == 'options':
            return options_of(value, field)
        return normalise(kind, value, field)

    # -- reading -----------------------------------------------------------------
    @classmethod
    def list_prunable(cls, api, entries):
        keep = set(cls.undeletable) | set(cls.untunable)
        return [{'path': path, 'state': 'absent', '_listed': True} for path in sorted(cls.read_table(api))
                if path not in keep]

    def read(self):
        entry = self.table_entry()
        if entry is None:
            return None
        self._entry = entry
        current = self.state_of(entry)
        self.refuse_other_type(current)
        self._current = current
        return current

    def state_of(self, entry):
        """The comparable state of a table entry, in the shape of :meth:`user_fields`."""
        config = entry.get('config') or {}
        return {
            self.type_option: entry.get('type'),
            'description': normalise('str', entry.get('description')),
            'local': bool(entry.get('local')),
            'seal_wrap': bool(entry.get('seal_wrap')),
            # 0 is what Vault reports for "the system default".
            'default_lease_ttl': normalise('ttl', config.get('default_lease_ttl')),
            'max_lease_ttl': normalise('ttl', config.get('max_lease_ttl')),
            # Unset and "hidden" behave the same: the mount is not listed to unauthenticated users.
            'listing_visibility': config.get('listing_visibility') or 'hidden',
            'audit_non_hmac_request_keys': string_set(config.get('audit_non_hmac_request_keys')),
            'audit_non_hmac_response_keys': string_set(config.get('audit_non_hmac_response_keys')),
            'passthrough_request_headers': string_set(config.get('passthrough_request_headers')),
        }

    def refuse_other_type(self, current):
        wanted = (self._user or {}).get(self.type_option)
        if wanted and current[self.type_option] != wanted:
            raise FieldError(self.type_mismatch(current[self.type_option], wanted))

    def type_mismatch(self, found, wanted):
        if self.state == 'absent':
            return ("%s at %r is of type %s, not %s as %s says; refusing to disable a mount of another "
                    "type: fix %s or leave it out"
                    % (self.kind, self.name, found, wanted, self.type_option, self.type_option))
        return ("%s at %r is of type %s, wanted %s; %s: disable it first or choose another path"
                % (self.kind, self.name, found, wanted, self.replace_refusal))

    @property
    def replace_refusal(self):
        return 'refusing to replace it because that would lose %s' % self.holds

    # -- wanting -------------------------------------------------------------------
    def desired(self):
        wanted = dict(self._user if self._user is not None else self.user_fields())
        # Keys of a mapping the user did not name are left as Vault has them.
        for field in ('options', 'kv_config'):
            if field in wanted and self._current and field in self._current:
                merged = dict(self._current[field])
                merged.update(wanted[field])
                wanted[field] = merged
        return wanted

    def changes(self, current, wanted):
        changed = differences(current, wanted)
        fixed = [field for field in changed if field in CREATE_ONLY]
        if fixed:
            field = fixed[0]
            raise FieldError("%s at %r has %s=%s, wanted %s; Vault sets %s only when enabling a mount: "
                             "disable it first (that loses %s) or choose another path"
                             % (self.kind, self.name, field, _word(current.get(field)),
                                _word(wanted[field]), field, self.holds))
        if changed and self.name in self.untunable:
            raise FieldError("%s %r is built into Vault; refusing to tune it (%s differ)"
                             % (self.kind, self.name, ', '.join(changed)))
        return changed

    # -- writing -------------------------------------------------------------------
    def create(self, wanted):
        body = {'type': wanted[self.type_option]}
        for field in ('description', 'local', 'seal_wrap'):
            if field in wanted:
                body[field] = wanted[field]
        config = dict((field, wanted[field]) for field in self.config_fields
                      if field in wanted and wanted[field] != [])
        if config:
            body['config'] = config
        options = self.options_to_enable(wanted)
        if options:
            body['options'] = options
        self.api.write(self.api_path(), body)
        self._created = True

    def options_to_enable(self, wanted):
        return wanted.get('options') or {}

    def update(self, current, wanted, changed_fields):
        tune = {}
        for field in changed_fields:
            if field == 'description':
                tune[field] = wanted[field]
            elif field in self.config_fields:
                tune[field] = self.tune_value(wanted[field])
            elif field == 'options':
                tune[field] = _changed_keys(current.get(field), wanted[field])
        if tune:
            self.api.write(self.api_path('/tune'), tune)

    @staticmethod
    def tune_value(value):
        # A tune ignores an empty list; one blank entry is how Vault is told to clear one.
        return [''] if value == [] else value

    def remove(self, current):
        self.api.delete(self.api_path())

    def extra_result(self):
        entry = self._entry
        if self._created:
            # One more read, so that a new mount's accessor is known to the caller.
            entry = self.read_table(self.api).get(self.name)
        return {'path': self.name, 'accessor': (entry or {}).get('accessor')}


class SecretsEngine(Mount):
    kind = 'secrets engine'
    table = 'sys/mounts'
    type_option = 'engine_type'
    type_example = 'kv, pki or transit'
    undeletable = ('sys/', 'identity/', 'cubbyhole/')
    untunable = ('sys/', 'identity/', 'cubbyhole/')
    fields = dict(Mount.fields, options='options', kv_config='kv_config', version='str')

    argument_spec = dict(
        _COMMON_SPEC,
        engine_type=dict(type='str'),
        version=dict(type='int', choices=[1, 2]),
        options=dict(type='dict'),
        kv_config=dict(type='dict', options=dict(
            max_versions=dict(type='int'),
            cas_required=dict(type='bool'),
            delete_version_after=dict(type='raw'),
        )),
    )

    def user_fields(self):
        out = super(SecretsEngine, self).user_fields()
        options = out.get('options', {})
        versions = set()
        if 'version' in out:
            versions.add(out['version'])
        if 'version' in options:
            versions.add(options.pop('version'))
        if out.get('engine_type') in ('kv-v2', 'kv-v1'):
            # Aliases Vault itself accepts: it stores them as type kv with options.version.
            versions.add(out['engine_type'][-1])
            out['engine_type'] = 'kv'
        if len(versions) > 1:
            raise FieldError('version, options.version and engine_type disagree on the kv version (%s): '
                             'set it once' % ', '.join(sorted(versions)))
        if versions:
            version = versions.pop()
            if version not in ('1', '2'):
                raise FieldError('version must be 1 or 2, got %r' % version)
            if out.get('engine_type', 'kv') != 'kv':
                raise FieldError('version applies to kv secrets engines only, engine_type is %s'
                                 % out['engine_type'])
            out['version'] = version
        if 'kv_config' in out and not (out.get('engine_type', 'kv') == 'kv' and out.get('version') == '2'):
            raise FieldError('kv_config applies to kv version 2 only: set engine_type: kv and version: 2')
        return out

    def normalise_field(self, field, kind, value):
        if kind == 'kv_config':
            return dict((key, duration(item, 'kv_config.' + key) if KV_CONFIG_KINDS[key] == 'ttl'
                         else normalise(KV_CONFIG_KINDS[key], item, 'kv_config.' + key))
                        for key, item in value.items() if item is not None and key in KV_CONFIG_KINDS)
        if field == 'version':
            return str(value)
        return super(SecretsEngine, self).normalise_field(field, kind, value)

    def read(self):
        current = super(SecretsEngine, self).read()
        if current is not None and 'kv_config' in (self._user or {}):
            current['kv_config'] = self.read_kv_config()
        return current

    def state_of(self, entry):
        state = super(SecretsEngine, self).state_of(entry)
        options = options_of(entry.get('options'))
        if entry.get('type') == 'kv':
            # A kv mount without options.version is version 1.
            state['version'] = options.pop('version', '1')
        state['options'] = options
        return state

    def refuse_other_type(self, current):
        super(SecretsEngine, self).refuse_other_type(current)
        wanted = (self._user or {}).get('version')
        found = current.get('version')
        if wanted and found and wanted != found:
            if self.state == 'absent':
                raise FieldError("secrets engine at %r is kv version %s, not %s as version says; refusing "
                                 "to disable it: fix version or leave it out" % (self.name, found, wanted))
            raise FieldError("secrets engine at %r is kv version %s, wanted kv version %s; refusing to "
                             "remount because that would lose its data: disable it first or choose "
                             "another path" % (self.name, found, wanted))

    def read_kv_config(self):
        data = (self.api.read(self.name + 'config') or {}).get('data') or {}
        return {
            'max_versions': normalise('int', data.get('max_versions')),
            'cas_required': normalise('bool', data.get('cas_required')),
            'delete_version_after': normalise('ttl', data.get('delete_version_after')),
        }

    def options_to_enable(self, wanted):
        options = dict(wanted.get('options') or {})
        if 'version' in wanted:
            options['version'] = wanted['version']
        return options

    def create(self, wanted):
        super(SecretsEngine, self).create(wanted)
        if wanted.get('kv_config'):
            self.api.write(self.name + 'config', wanted['kv_config'])

    def update(self, current, wanted, changed_fields):
        super(SecretsEngine, self).update(current, wanted, changed_fields)
        if 'kv_config' in changed_fields:
            self.api.write(self.name + 'config', _changed_keys(current.get('kv_config'), wanted['kv_config']))


class AuthMethod(Mount):
    kind = 'auth method'
    table = 'sys/auth'
    type_option = 'method_type'
    type_example = 'kubernetes, approle or userpass'
    # Vault refuses to disable token/ itself; refusing first gives the reason in our words.
    undeletable = ('token/',)
    holds = 'its roles and configuration'
    fields = dict(Mount.fields, token_type='str')
    config_fields = Mount.config_fields + ('token_type',)

    argument_spec = dict(
        _COMMON_SPEC,
        method_type=dict(type='str'),
        token_type=dict(type='str', choices=list(TOKEN_TYPES), no_log=False),
    )

    @property
    def replace_refusal(self):
        return 'refusing to disable and re-enable it because that would delete %s' % self.holds

    def validate(self):
        if self.name.startswith('auth/'):
            raise FieldError("path is relative to auth/: write %r, not %r"
                             % (self.name[len('auth/'):].rstrip('/'), self.params.get('path')))
        token_type = self.params.get('token_type')
        if token_type is not None and token_type not in TOKEN_TYPES:
            raise FieldError('token_type must be one of %s, got %r' % (', '.join(TOKEN_TYPES), token_type))
        super(AuthMethod, self).validate()

    def state_of(self, entry):
        state = super(AuthMethod, self).state_of(entry)
        state['token_type'] = (entry.get('config') or {}).get('token_type') or 'default-service'
        return state


def _changed_keys(current, wanted):
    current = current or {}
    return dict((key, value) for key, value in wanted.items() if current.get(key) != value)


def _word(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, integer_types):
        return str(value)
    return value
