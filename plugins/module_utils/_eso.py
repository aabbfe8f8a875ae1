# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The External Secrets Operator objects of a run, built from the eso_deploy settings.

Internal; used by the ``eso_manifests`` filter. Plain functions so that each
manifest can be read and unit-tested.

Every store and generator names the ServiceAccount it logs in with (``serviceAccountRef``)
and the audiences of its token: without one, ESO logs in with its own controller token,
which must never be what a Vault role trusts. Every name from the settings is checked
whole (``_names``) before an object is built.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.vaultkube.platform.plugins.module_utils._names import (
    InvalidName,
    dns_label,
    dns_subdomain,
    vault_name,
    vault_path,
)

API_VERSION = 'external-secrets.io/v1'
GENERATOR_API_VERSION = 'generators.external-secrets.io/v1alpha1'
MANAGED_BY = {'app.kubernetes.io/managed-by': 'vaultkube.platform'}
CONDITION_KEYS = ('namespaces', 'namespaceRegexes', 'namespaceSelector')


class SettingsError(ValueError):
    """A setting that cannot make a valid object; the message names it."""


def _required(entry, field, where, check=None):
    value = entry.get(field)
    if not value or not isinstance(value, str):
        raise SettingsError('%s.%s is missing: set it to the object\'s %s' % (where, field, field))
    if check is not None:
        try:
            check(value, '%s.%s' % (where, field))
        except InvalidName as exc:
            raise SettingsError(str(exc))
    return value


def _checked(check, value, field, **kwargs):
    try:
        return check(value, field, **kwargs)
    except InvalidName as exc:
        raise SettingsError(str(exc))


def audiences(values, field):
    """The audiences a store requests for its token: a non-empty list of non-empty strings."""
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() == v and v
                                                             for v in values):
        raise SettingsError('%s must be a non-empty list of audiences (the Vault role\'s audience first), got %r'
                            % (field, values))
    return list(values)


def service_account_ref(name, audience_list, field, namespace=None):
    """A ``serviceAccountRef``: always a name and the audiences (a namespace for cluster stores)."""
    ref = {'name': _checked(dns_subdomain, name, field + '.service_account')}
    if namespace is not None:
        ref['namespace'] = _checked(dns_label, namespace, field + '.service_account_namespace')
    ref['audiences'] = audiences(audience_list, field + '.audiences')
    return ref


def _auth(mount_path, role, ref, field):
    return {'mountPath': _checked(vault_path, mount_path, field + '.auth_mount_path'),
            'role': _checked(vault_name, role, field + '.role'), 'serviceAccountRef': ref}


def cluster_store_conditions(settings):
    """The ClusterSecretStore's conditions: those given, else the namespaces listed in
    ``cluster_store_namespaces``, else the namespaces of the ExternalSecrets that use the
    cluster store. Never empty: an empty list would let every namespace use the store."""
    given = settings.get('cluster_store_conditions') or []
    if given:
        if not isinstance(given, list) or not all(isinstance(c, dict) and c and set(c) <= set(CONDITION_KEYS)
                                                  for c in given):
            raise SettingsError('eso_deploy_cluster_store_conditions must be a list of conditions, each with '
                                'namespaces, namespaceRegexes or namespaceSelector, got %r' % (given,))
        return given
    names = settings.get('cluster_store_namespaces') or []
    if not names:
        store = settings.get('cluster_store_name')
        for index, entry in enumerate(settings.get('external_secrets') or []):
            if (entry.get('store_kind') or 'ClusterSecretStore') == 'ClusterSecretStore' \
                    and (entry.get('store_name') or store) == store and entry.get('namespace') not in names:
                names.append(entry.get('namespace'))
    if not isinstance(names, list):
        raise SettingsError('eso_deploy_cluster_store_namespaces must be a list of namespaces, got %r' % (names,))
    for index, name in enumerate(names):
        _checked(dns_label, name, 'eso_deploy_cluster_store_namespaces[%d]' % index)
    return [{'namespaces': sorted(names)}]


def condition_matches(conditions, name, labels=None):
    """True when a namespace ``name`` (with ``labels``) may use a cluster store with these
    ``conditions``, as ESO decides it; a selector with expressions counts as a match (it
    cannot be proved not to). No conditions: every namespace matches."""
    if not conditions:
        return True
    labels = labels or {}
    for condition in conditions:
        if name in (condition.get('namespaces') or []):
            return True
        for pattern in condition.get('namespaceRegexes') or []:
            # ESO uses Go's regexp.MatchString: a match anywhere in the name.
            if re.search(pattern, name):
                return True
        selector = condition.get('namespaceSelector')
        if selector is not None:
            if selector.get('matchExpressions'):
                return True
            wanted = selector.get('matchLabels') or {}
            if all(labels.get(key) == value for key, value in wanted.items()):
                return True
    return False


def vault_provider(vault, path=None, auth=None):
    """The ``provider.vault`` block shared by the ClusterSecretStore, the SecretStores and the
    Vault generators (which read a full path and have no KV mount)."""
    provider = {'server': vault['server'], 'version': vault.get('version', 'v2')}
    if path or vault.get('path'):
        provider['path'] = path or vault['path']
    if vault.get('ca_bundle'):
        provider['caBundle'] = vault['ca_bundle']
    provider['auth'] = {'kubernetes': auth}
    return provider


def cluster_secret_store(settings):
    vault = settings['vault']
    ref = service_account_ref(vault.get('service_account'), vault.get('audiences'), 'eso_deploy_auth',
                              namespace=vault.get('service_account_namespace'))
    spec = {'provider': {'vault': vault_provider(vault, auth=_auth(vault['auth_mount_path'], vault['role'], ref,
                                                                   'eso_deploy_vault'))},
            'conditions': cluster_store_conditions(settings)}
    return {'apiVersion': API_VERSION, 'kind': 'ClusterSecretStore',
            'metadata': {'name': _checked(dns_subdomain, settings['cluster_store_name'], 'eso_deploy_cluster_store_name'),
                         'labels': dict(MANAGED_BY)}, 'spec': spec}


def secret_store(settings, entry, where):
    """A namespaced store: its ServiceAccount (an entry's own, else the settings') is looked up in
    the store's namespace, so a role bound to another namespace refuses it."""
    vault = settings['vault']
    ref = service_account_ref(entry.get('service_account') or vault.get('service_account'),
                              entry.get('audiences') or vault.get('audiences'), where)
    auth = _auth(entry.get('auth_mount_path') or vault['auth_mount_path'], entry.get('role') or vault['role'], ref,
                 where)
    path = entry.get('kv_mount')
    if path:
        path = _checked(vault_path, path, where + '.kv_mount')
    return {'apiVersion': API_VERSION, 'kind': 'SecretStore',
            'metadata': {'name': _required(entry, 'name', where, dns_subdomain),
                         'namespace': _required(entry, 'namespace', where, dns_label),
                         'labels': dict(MANAGED_BY)},
            'spec': {'provider': {'vault': vault_provider(vault, path=path, auth=auth)}}}


def external_secret(settings, entry, where, store=True):
    name = _required(entry, 'name', where, dns_subdomain)
    target = {'name': entry.get('target_name') or name,
              'creationPolicy': entry.get('creation_policy') or 'Owner',
              'deletionPolicy': entry.get('deletion_policy') or 'Retain'}
    if entry.get('template') is not None:
        target['template'] = entry['template']
    spec = {'refreshInterval': str(entry.get('refresh_interval') or settings.get('refresh_interval') or '1h'),
            'target': target}
    if store:
        kind = entry.get('store_kind') or 'ClusterSecretStore'
        if kind not in ('ClusterSecretStore', 'SecretStore'):
            raise SettingsError('%s.store_kind must be ClusterSecretStore or SecretStore, got %r' % (where, kind))
        spec['secretStoreRef'] = {'kind': kind, 'name': _checked(
            dns_subdomain, entry.get('store_name') or settings['cluster_store_name'], where + '.store_name')}
    if entry.get('data') is not None:
        spec['data'] = entry['data']
    if entry.get('data_from') is not None:
        spec['dataFrom'] = entry['data_from']
    if 'data' not in spec and 'dataFrom' not in spec:
        raise SettingsError('%s needs data or data_from: say which Vault keys the Secret %s gets' % (where, target['name']))
    return {'apiVersion': API_VERSION, 'kind': 'ExternalSecret',
            'metadata': {'name': name, 'namespace': _required(entry, 'namespace', where, dns_label),
                         'labels': dict(MANAGED_BY)},
            'spec': spec}


def generator_path(settings, entry, where):
    """The Vault path a generator reads: the entry's ``path``, or ``<creds_mount>/creds/<role>``."""
    if entry.get('path'):
        return _checked(vault_path, entry['path'], where + '.path')
    if settings.get('creds_mount') and entry.get('role'):
        return '%s/creds/%s' % (_checked(vault_path, settings['creds_mount'], 'mount'),
                                _checked(vault_name, entry['role'], where + '.role'))
    return _required(entry, 'path', where)


def vault_dynamic_secret(settings, entry, where):
    """ESO's Vault generator for one path (``database/creds/<role>``). It names its
    ServiceAccount (``vault.service_account``, looked up in the generator's own namespace)
    and audiences: without one, ESO would log in with its own controller token."""
    vault = settings['vault']
    ref = service_account_ref(vault.get('service_account'), vault.get('audiences'), where)
    auth = _auth(vault['auth_mount_path'], vault['role'], ref, where)
    return {'apiVersion': GENERATOR_API_VERSION, 'kind': 'VaultDynamicSecret',
            'metadata': {'name': _required(entry, 'name', where, dns_subdomain),
                         'namespace': _required(entry, 'namespace', where, dns_label),
                         'labels': dict(MANAGED_BY)},
            'spec': {'path': generator_path(settings, entry, where), 'method': 'GET',
                     'provider': vault_provider(vault, auth=auth)}}


def generated_secret(settings, entry, where):
    """The generator of one entry and the ExternalSecret that writes what it generates into a Secret."""
    generator = vault_dynamic_secret(settings, entry, where)
    source = {'sourceRef': {'generatorRef': {'apiVersion': GENERATOR_API_VERSION, 'kind': generator['kind'],
                                             'name': generator['metadata']['name']}}}
    external = external_secret(settings, dict(entry, data=None, data_from=[source]), where, store=False)
    return [generator, external]


def service_account(name, namespace_name, labels=None):
    metadata = {'name': name, 'namespace': namespace_name, 'labels': dict(MANAGED_BY)}
    if labels:
        metadata['labels'].update(labels)
    return {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'metadata': metadata}


def namespace(name, labels):
    metadata = {'name': name}
    if labels:
        metadata['labels'] = dict(labels)
    return {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': metadata}


def manifests(settings):
    """Every object of a run, in the order to apply them: namespaces, the generators' ServiceAccounts
    (``create_service_accounts``), stores, generators, ExternalSecrets."""
    stores = [secret_store(settings, entry, 'eso_deploy_secret_stores[%d]' % index)
              for index, entry in enumerate(settings.get('secret_stores') or [])]
    # The variable the entries come from, for the messages.
    origin = settings.get('vault_dynamic_secrets_origin') or 'vault_dynamic_secrets'
    generated = [item for index, entry in enumerate(settings.get('vault_dynamic_secrets') or [])
                 for item in generated_secret(settings, entry, '%s[%d]' % (origin, index))]
    externals = [external_secret(settings, entry, 'eso_deploy_external_secrets[%d]' % index)
                 for index, entry in enumerate(settings.get('external_secrets') or [])]
    objects = []
    if settings.get('create_namespaces', True):
        seen = []
        for item in stores + generated + externals:
            if item['metadata']['namespace'] not in seen:
                seen.append(item['metadata']['namespace'])
        objects.extend(namespace(name, settings.get('namespace_labels')) for name in seen)
    if settings.get('create_service_accounts'):
        if settings.get('cluster_store_enabled', True):
            vault = settings['vault']
            objects.append(service_account(_checked(dns_subdomain, vault.get('service_account'), 'eso_deploy_auth_service_account'),
                                           _checked(dns_label, vault.get('service_account_namespace'),
                                                    'eso_deploy_auth_service_account_namespace')))
        seen = []
        for item in generated:
            if item['kind'] == 'VaultDynamicSecret' and item['metadata']['namespace'] not in seen:
                seen.append(item['metadata']['namespace'])
        objects.extend(service_account(settings['vault']['service_account'], name) for name in seen)
    if settings.get('cluster_store_enabled', True):
        objects.append(cluster_secret_store(settings))
    return objects + stores + generated + externals
