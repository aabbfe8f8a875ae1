# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The External Secrets Operator objects of a run, built from the eso_deploy settings.

Internal; used by the ``eso_manifests`` filter. Plain functions so that each
manifest can be read and unit-tested.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

API_VERSION = 'external-secrets.io/v1'
GENERATOR_API_VERSION = 'generators.external-secrets.io/v1alpha1'
MANAGED_BY = {'app.kubernetes.io/managed-by': 'vaultkube.platform'}


class SettingsError(ValueError):
    """A setting that cannot make a valid object; the message names it."""


def _required(entry, field, where):
    value = entry.get(field)
    if not value or not isinstance(value, str):
        raise SettingsError('%s.%s is missing: set it to the object\'s %s' % (where, field, field))
    return value


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
    service_account = {'name': vault['service_account'], 'namespace': vault['service_account_namespace']}
    if vault.get('audiences'):
        service_account['audiences'] = list(vault['audiences'])
    spec = {'provider': {'vault': vault_provider(vault, auth={
        'mountPath': vault['auth_mount_path'], 'role': vault['role'], 'serviceAccountRef': service_account})}}
    if settings.get('cluster_store_conditions'):
        spec['conditions'] = settings['cluster_store_conditions']
    return {'apiVersion': API_VERSION, 'kind': 'ClusterSecretStore',
            'metadata': {'name': settings['cluster_store_name'], 'labels': dict(MANAGED_BY)}, 'spec': spec}


def secret_store(settings, entry, where):
    vault = settings['vault']
    auth = {'mountPath': entry.get('auth_mount_path') or vault['auth_mount_path'],
            'role': entry.get('role') or vault['role'],
            'serviceAccountRef': {'name': entry.get('service_account') or vault['service_account']}}
    return {'apiVersion': API_VERSION, 'kind': 'SecretStore',
            'metadata': {'name': _required(entry, 'name', where), 'namespace': _required(entry, 'namespace', where),
                         'labels': dict(MANAGED_BY)},
            'spec': {'provider': {'vault': vault_provider(vault, path=entry.get('kv_mount'), auth=auth)}}}


def external_secret(settings, entry, where, store=True):
    name = _required(entry, 'name', where)
    target = {'name': entry.get('target_name') or name,
              'creationPolicy': entry.get('creation_policy') or 'Owner',
              'deletionPolicy': entry.get('deletion_policy') or 'Retain'}
    if entry.get('template') is not None:
        target['template'] = entry['template']
    spec = {'refreshInterval': str(entry.get('refresh_interval') or settings.get('refresh_interval') or '1h'),
            'target': target}
    if store:
        spec['secretStoreRef'] = {'kind': entry.get('store_kind') or 'ClusterSecretStore',
                                  'name': entry.get('store_name') or settings['cluster_store_name']}
    if entry.get('data') is not None:
        spec['data'] = entry['data']
    if entry.get('data_from') is not None:
        spec['dataFrom'] = entry['data_from']
    if 'data' not in spec and 'dataFrom' not in spec:
        raise SettingsError('%s needs data or data_from: say which Vault keys the Secret %s gets' % (where, target['name']))
    return {'apiVersion': API_VERSION, 'kind': 'ExternalSecret',
            'metadata': {'name': name, 'namespace': _required(entry, 'namespace', where), 'labels': dict(MANAGED_BY)},
            'spec': spec}


def vault_dynamic_secret(settings, entry, where):
    """ESO's Vault generator for one path (``database/creds/<role>``). No ServiceAccount
    reference: a generator resolves one in its own namespace, so ESO logs in with its own
    token, which the Vault role in ``settings['vault']`` is bound to."""
    vault = settings['vault']
    auth = {'mountPath': vault['auth_mount_path'], 'role': vault['role']}
    return {'apiVersion': GENERATOR_API_VERSION, 'kind': 'VaultDynamicSecret',
            'metadata': {'name': _required(entry, 'name', where), 'namespace': _required(entry, 'namespace', where),
                         'labels': dict(MANAGED_BY)},
            'spec': {'path': _required(entry, 'path', where), 'method': 'GET',
                     'provider': vault_provider(vault, auth=auth)}}


def generated_secret(settings, entry, where):
    """The generator of one entry and the ExternalSecret that writes what it generates into a Secret."""
    generator = vault_dynamic_secret(settings, entry, where)
    source = {'sourceRef': {'generatorRef': {'apiVersion': GENERATOR_API_VERSION, 'kind': generator['kind'],
                                             'name': generator['metadata']['name']}}}
    external = external_secret(settings, dict(entry, data=None, data_from=[source]), where, store=False)
    return [generator, external]


def namespace(name, labels):
    metadata = {'name': name}
    if labels:
        metadata['labels'] = dict(labels)
    return {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': metadata}


def manifests(settings):
    """Every object of a run, in the order to apply them: namespaces, stores, generators, ExternalSecrets."""
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
    if settings.get('cluster_store_enabled', True):
        objects.append(cluster_secret_store(settings))
    return objects + stores + generated + externals
