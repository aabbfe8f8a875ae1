# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A Bank-Vaults ``externalConfig`` block as a vault_config document.

Internal; used by the ``bank_vaults_config`` filter. Bank-Vaults (the Vault operator) keeps
a Vault's configuration as data in its Vault resource; moving to this collection keeps that
data and changes its shape only. What this collection cannot manage fails with the path of
the entry and the key, instead of being dropped silently.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.six import string_types

from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes_auth import (
    KubernetesAuthConfig,
    KubernetesAuthRole,
)

SECTIONS = ('policies', 'auth', 'secrets', 'startupSecrets', 'audit')
# Bank-Vaults' (and older Vault releases') names for settings this collection spells otherwise.
KUBERNETES_CONFIG_RENAMES = {'disable_issuer_verification': 'disable_iss_validation'}
GITHUB_CONFIG = ('organization', 'organization_id', 'base_url', 'token_policies', 'token_ttl', 'token_max_ttl')
MOUNT_CONFIG = ('default_lease_ttl', 'max_lease_ttl', 'description', 'listing_visibility',
                'audit_non_hmac_request_keys', 'audit_non_hmac_response_keys', 'passthrough_request_headers')


class ConversionError(ValueError):
    """One line: the externalConfig path of the entry and what to change."""


def _mapping(value, where):
    if not isinstance(value, dict):
        raise ConversionError('%s must be a mapping, got %s' % (where, type(value).__name__))
    return value


def _list(value, where):
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConversionError('%s must be a list, got %s' % (where, type(value).__name__))
    return value


def _text(entry, key, where):
    value = entry.get(key)
    if not isinstance(value, string_types) or not value.strip():
        raise ConversionError('%s.%s must be a non-empty string, got %r' % (where, key, value))
    return value


def _names(value):
    """Bank-Vaults accepts "a,b" where Vault takes a list of policy names."""
    if isinstance(value, string_types):
        return [item.strip() for item in value.split(',') if item.strip()]
    return list(value or [])


def _only(entry, allowed, where):
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise ConversionError('%s has key(s) %s that vault_config cannot manage; known: %s'
                              % (where, ', '.join(unknown), ', '.join(sorted(allowed))))


def _policies(entries, out):
    for index, entry in enumerate(entries):
        where = 'externalConfig.policies[%d]' % index
        _mapping(entry, where)
        _only(entry, ('name', 'rules'), where)
        out.setdefault('policies', []).append({'name': _text(entry, 'name', where),
                                               'policy': _text(entry, 'rules', where)})


def _kubernetes(entry, path, where, out):
    config = dict(_mapping(entry.get('config') or {}, where + '.config'))
    for old, new in KUBERNETES_CONFIG_RENAMES.items():
        if old in config:
            config[new] = config.pop(old)
    allowed = [key for key in KubernetesAuthConfig.argument_spec if key != 'mount_path']
    _only(config, allowed, where + '.config')
    if config:
        out.setdefault('kubernetes_auth_configs', []).append(dict(config, mount_path=path))
    role_keys = [key for key in KubernetesAuthRole.argument_spec if key != 'mount_path']
    for number, role in enumerate(_list(entry.get('roles'), where + '.roles')):
        role_where = '%s.roles[%d]' % (where, number)
        role = dict(_mapping(role, role_where))
        _only(role, role_keys, role_where)
        for key in ('token_policies', 'policies'):
            if key in role:
                role[key] = _names(role[key])
        for key in ('bound_service_account_names', 'bound_service_account_namespaces'):
            if isinstance(role.get(key), string_types):
                role[key] = _names(role[key])
        out.setdefault('kubernetes_auth_roles', []).append(dict(role, mount_path=path))


def _github(entry, path, where, out):
    config = _mapping(entry.get('config') or {}, where + '.config')
    _only(config, GITHUB_CONFIG, where + '.config')
    maps = _mapping(entry.get('map') or {}, where + '.map')
    _only(maps, ('teams', 'users'), where + '.map')
    github = dict(config, mount_path=path)
    if 'token_policies' in github:
        github['token_policies'] = _names(github['token_policies'])
    for kind in ('teams', 'users'):
        github[kind] = dict((key, _names(value)) for key, value in
                            _mapping(maps.get(kind) or {}, '%s.map.%s' % (where, kind)).items())
    out.setdefault('github_auth', []).append(github)


def _auth(entries, out):
    for index, entry in enumerate(entries):
        where = 'externalConfig.auth[%d]' % index
        _mapping(entry, where)
        method = _text(entry, 'type', where)
        path = (entry.get('path') or method).strip('/')
        known = {'kubernetes': ('type', 'path', 'description', 'config', 'roles', 'options'),
                 'github': ('type', 'path', 'description', 'config', 'map', 'options')}
        if method not in known:
            raise ConversionError('%s.type %r: this conversion handles kubernetes and github auth methods; '
                                  'manage the %s method with vaultkube.platform.vault_auth_method' % (where, method, method))
        _only(entry, known[method], where)
        mount = {'path': path, 'method_type': method}
        if entry.get('description'):
            mount['description'] = entry['description']
        options = _mapping(entry.get('options') or {}, where + '.options')
        _only(options, MOUNT_CONFIG, where + '.options')
        mount.update(options)
        out.setdefault('auth_methods', []).append(mount)
        if method == 'kubernetes':
            _kubernetes(entry, path, where, out)
        else:
            _github(entry, path, where, out)


def _secrets(entries, out):
    for index, entry in enumerate(entries):
        where = 'externalConfig.secrets[%d]' % index
        _mapping(entry, where)
        _only(entry, ('type', 'path', 'description', 'options', 'config'), where)
        engine = {'path': _text(entry, 'path', where).strip('/'), 'engine_type': _text(entry, 'type', where)}
        if entry.get('description'):
            engine['description'] = entry['description']
        options = dict(_mapping(entry.get('options') or {}, where + '.options'))
        if 'version' in options:
            engine['version'] = int(options.pop('version'))
        if options:
            engine['options'] = options
        config = _mapping(entry.get('config') or {}, where + '.config')
        _only(config, MOUNT_CONFIG, where + '.config')
        engine.update(config)
        out.setdefault('secrets_engines', []).append(engine)


def _startup_secrets(entries, out):
    for index, entry in enumerate(entries):
        where = 'externalConfig.startupSecrets[%d]' % index
        _mapping(entry, where)
        _only(entry, ('type', 'path', 'data'), where)
        if entry.get('type') != 'kv':
            raise ConversionError('%s.type %r: only kv startup secrets are converted' % (where, entry.get('type')))
        path = _text(entry, 'path', where).strip('/')
        mount, marker, inside = path.partition('/data/')
        if not marker or not mount or not inside:
            raise ConversionError('%s.path %r is not a KV v2 data path (<mount>/data/<path>)' % (where, path))
        data = _mapping(entry.get('data') or {}, where + '.data')
        values = data.get('data') if set(data) <= {'data', 'options'} and 'data' in data else None
        if not isinstance(values, dict) or not values:
            raise ConversionError('%s.data must hold the values under data.data, as Bank-Vaults writes KV v2 '
                                  'secrets' % where)
        out.setdefault('kv_secrets', []).append({'mount_path': mount, 'path': inside, 'data': dict(values)})


def _audit(entries, out):
    for index, entry in enumerate(entries):
        where = 'externalConfig.audit[%d]' % index
        _mapping(entry, where)
        _only(entry, ('type', 'path', 'description', 'options', 'local'), where)
        device = {'path': (entry.get('path') or _text(entry, 'type', where)).strip('/'),
                  'device_type': _text(entry, 'type', where)}
        for key in ('description', 'options', 'local'):
            if entry.get(key) is not None:
                device[key] = entry[key]
        out.setdefault('audit_devices', []).append(device)


def convert(document):
    """The vault_config document of a Bank-Vaults externalConfig (or of a whole Vault resource spec)."""
    document = _mapping(document, 'the input')
    if 'externalConfig' in document:
        document = _mapping(document['externalConfig'], 'externalConfig')
    elif 'spec' in document and isinstance(document['spec'], dict) and 'externalConfig' in document['spec']:
        document = _mapping(document['spec']['externalConfig'], 'spec.externalConfig')
    _only(document, SECTIONS, 'externalConfig')
    out = {}
    _secrets(_list(document.get('secrets'), 'externalConfig.secrets'), out)
    _policies(_list(document.get('policies'), 'externalConfig.policies'), out)
    _auth(_list(document.get('auth'), 'externalConfig.auth'), out)
    _startup_secrets(_list(document.get('startupSecrets'), 'externalConfig.startupSecrets'), out)
    _audit(_list(document.get('audit'), 'externalConfig.audit'), out)
    return out
