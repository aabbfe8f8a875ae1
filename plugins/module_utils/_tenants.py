# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Tenants from one list: the Vault document and the Kubernetes objects of each.

Internal; used by the ``tenant_objects`` filter (the ``vault_tenants`` role). Each tenant
gets a policy that reads only its KV folder, a Kubernetes auth role bound to its namespace
and ServiceAccount, the ServiceAccount, a namespaced SecretStore presenting it, and its
ExternalSecrets. Everything is checked before anything is built, so a bad list fails in
one line naming the entry and the field, before the first write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vaultkube.platform.plugins.module_utils._eso import (
    MANAGED_BY,
    SettingsError,
    audiences,
    condition_matches,
    external_secret,
    namespace,
    secret_store,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._names import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    InvalidName,
    kv_reader_rules,
    matches,
    policy_hcl,
    vault_name,
    vault_path,
)

TENANT_LABEL = 'vaultkube.platform/tenant'
AUTH_MODES = ('reviewer_jwt', 'client_jwt', 'local_jwt')


def _text(entry, field, where, default=None):
    value = entry.get(field, default)
    if value is None or value == '':
        value = default
    if not isinstance(value, str) or not value:
        raise SettingsError('%s.%s must be a non-empty string, got %r' % (where, field, value))
    return value


def _name(entry, field, where, pattern, default=None, limit=63):
    value = _text(entry, field, where, default)
    if len(value) > limit or not matches(pattern, value):
        raise SettingsError('%s.%s must be a Kubernetes name (lower-case letters, digits and -, at most %d '
                            'characters), got %r' % (where, field, limit, value))
    return value


def kv_folder(value, where):
    """The KV folder a tenant reads, without slashes at either end."""
    if not isinstance(value, str) or not value.strip('/'):
        raise SettingsError('%s.kv_prefix must name the KV folder the tenant may read, for example '
                            '"tenants/team-a"; got %r' % (where, value))
    try:
        segments = vault_path(value, '%s.kv_prefix' % where).split('/')
    except InvalidName as exc:
        raise SettingsError(str(exc))
    if segments[0] in ('data', 'metadata'):
        raise SettingsError('%s.kv_prefix %r starts with %s/: give the folder inside the mount, the role adds '
                            'data/ and metadata/ itself' % (where, value, segments[0]))
    return '/'.join(segments)


def _inside(folder, other):
    return folder == other or folder.startswith(other + '/')


def tenant_policy(kv_mount, folder, name, extra=None):
    text = policy_hcl(kv_reader_rules(kv_mount, folder),
                      comment='Tenant %s (vaultkube.platform vault_tenants): its own KV folder, read only.' % name)
    if extra:
        text += extra if extra.endswith('\n') else extra + '\n'
    return text


def delegator_binding(prefix, name):
    return 'vault-%s%s-auth-delegator' % (prefix, name)


def _labelled(obj, tenant):
    labels = obj['metadata'].setdefault('labels', {})
    labels.update(MANAGED_BY)
    labels[TENANT_LABEL] = tenant
    return obj


class Tenant(object):
    def __init__(self, settings, entry, index):
        where = 'vault_tenants_list[%d]' % index
        if not isinstance(entry, dict):
            raise SettingsError('%s must be a mapping with name, kv_prefix and optional namespace, service_account, '
                                'store_name, extra_policy, extra_policies, external_secrets' % where)
        known = ('name', 'kv_prefix', 'namespace', 'service_account', 'store_name', 'extra_policy',
                 'extra_policies', 'external_secrets')
        unknown = sorted(set(entry) - set(known))
        if unknown:
            raise SettingsError('%s has unknown key(s) %s; known: %s' % (where, ', '.join(unknown), ', '.join(known)))
        self.where = where
        prefix = settings.get('name_prefix') or ''
        self.name = _name(entry, 'name', where, DNS_LABEL, limit=63 - len(prefix) - len('vault--auth-delegator'))
        self.vault_name = prefix + self.name
        self.namespace = _name(entry, 'namespace', where, DNS_LABEL, default=self.name)
        self.service_account = _name(entry, 'service_account', where, DNS_SUBDOMAIN,
                                     default=settings.get('service_account'), limit=253)
        self.store_name = _name(entry, 'store_name', where, DNS_SUBDOMAIN, default=settings.get('store_name'),
                                limit=253)
        self.folder = kv_folder(entry.get('kv_prefix'), where)
        extra = entry.get('extra_policy')
        if extra is not None and not isinstance(extra, str):
            raise SettingsError('%s.extra_policy must be HCL text added to the tenant\'s policy' % where)
        self.extra_policy = extra or ''
        extra_policies = entry.get('extra_policies') or []
        if not isinstance(extra_policies, list) or not all(isinstance(p, str) and p for p in extra_policies):
            raise SettingsError('%s.extra_policies must be a list of policy names' % where)
        for number, policy in enumerate(extra_policies):
            try:
                vault_name(policy, '%s.extra_policies[%d]' % (where, number))
            except InvalidName as exc:
                raise SettingsError(str(exc))
        self.extra_policies = list(extra_policies)
        externals = entry.get('external_secrets') or []
        if not isinstance(externals, list) or not all(isinstance(e, dict) for e in externals):
            raise SettingsError('%s.external_secrets must be a list of ExternalSecret entries' % where)
        for number, item in enumerate(externals):
            if item.get('namespace') not in (None, '', self.namespace):
                raise SettingsError('%s.external_secrets[%d].namespace is %r: a tenant\'s ExternalSecrets live in its '
                                    'namespace %r, where its SecretStore is'
                                    % (where, number, item['namespace'], self.namespace))
        self.external_secrets = externals


def plan(settings):
    """Checked tenants of the settings, or SettingsError naming the first bad field."""
    tenants_in = settings.get('tenants')
    if tenants_in is None:
        tenants_in = []
    if not isinstance(tenants_in, list):
        raise SettingsError('vault_tenants_list must be a list of tenants, got %s' % type(tenants_in).__name__)
    mode = settings.get('auth_mode') or 'client_jwt'
    if mode not in AUTH_MODES:
        raise SettingsError('vault_tenants_auth_mode must be one of %s, got %r' % (', '.join(AUTH_MODES), mode))
    for field in ('kv_mount', 'auth_mount_path'):
        if not isinstance(settings.get(field), str) or not settings[field].strip('/'):
            raise SettingsError('vault_tenants_%s must name a mount, got %r' % (field, settings.get(field)))
        try:
            vault_path(settings[field], 'vault_tenants_%s' % field)
        except InvalidName as exc:
            raise SettingsError(str(exc))
    prefix = settings.get('name_prefix') or ''
    if prefix and not matches(DNS_LABEL, prefix.rstrip('-') or 'x'):
        raise SettingsError('vault_tenants_name_prefix must be lower-case letters, digits and -, got %r' % prefix)
    if not isinstance(settings.get('audience'), str) or not settings['audience']:
        raise SettingsError('vault_tenants_audience must name the audience every tenant token carries (for example '
                            '"vault"), got %r' % (settings.get('audience'),))
    audiences(settings.get('audiences'), 'vault_tenants_audiences')
    if settings['audience'] not in settings['audiences']:
        raise SettingsError('vault_tenants_audiences %r must hold vault_tenants_audience %r: the stores would '
                            'request tokens the roles refuse' % (settings['audiences'], settings['audience']))
    tenants = [Tenant(settings, entry, index) for index, entry in enumerate(tenants_in)]
    # The platform ClusterSecretStore's conditions (eso_deploy publishes them): no tenant namespace may match.
    conditions = settings.get('cluster_store_conditions')
    if conditions:
        for tenant in tenants:
            if condition_matches(conditions, tenant.namespace, settings.get('namespace_labels')):
                raise SettingsError('%s.namespace %r may use the platform ClusterSecretStore (its conditions %r match '
                                    'it): give the tenant another namespace or narrow eso_deploy_cluster_store_namespaces'
                                    % (tenant.where, tenant.namespace, conditions))
    seen, namespaces = {}, {}
    for tenant in tenants:
        if tenant.name in seen:
            raise SettingsError('%s.name %r is already the name of %s' % (tenant.where, tenant.name, seen[tenant.name]))
        seen[tenant.name] = tenant.where
        # Whoever may create a SecretStore in a namespace may present any of its ServiceAccounts:
        # the namespace is what keeps tenants apart.
        if tenant.namespace in namespaces:
            raise SettingsError('%s.namespace %r is already %s\'s: tenants are kept apart by namespace, give each '
                                'its own' % (tenant.where, tenant.namespace, namespaces[tenant.namespace]))
        namespaces[tenant.namespace] = tenant.where
    for tenant in tenants:
        for other in tenants:
            if other is not tenant and _inside(other.folder, tenant.folder):
                raise SettingsError('%s.kv_prefix %r contains %s.kv_prefix %r: one tenant would read the other\'s '
                                    'secrets; give each its own folder' % (tenant.where, tenant.folder, other.where,
                                                                           other.folder))
    return tenants


def vault_document(settings, tenants):
    kv_mount = settings['kv_mount'].strip('/')
    policies, roles = [], []
    for tenant in tenants:
        policies.append({'name': tenant.vault_name,
                         'policy': tenant_policy(kv_mount, tenant.folder, tenant.name, tenant.extra_policy)})
        role = {'mount_path': settings['auth_mount_path'].strip('/'), 'name': tenant.vault_name,
                'bound_service_account_names': [tenant.service_account],
                'bound_service_account_namespaces': [tenant.namespace],
                'token_policies': [tenant.vault_name] + tenant.extra_policies}
        for field in ('token_ttl', 'token_max_ttl', 'audience'):
            if settings.get(field):
                role[field] = settings[field]
        roles.append(role)
    return {'policies': policies, 'kubernetes_auth_roles': roles}


def kubernetes_objects(settings, tenants):
    """Namespaces, ServiceAccounts, TokenReview bindings, SecretStores, ExternalSecrets: in the order to apply."""
    vault = dict(settings.get('vault') or {})
    vault.setdefault('auth_mount_path', settings['auth_mount_path'])
    eso_settings = {'vault': vault, 'refresh_interval': settings.get('refresh_interval')}
    namespaces, accounts, bindings, stores, externals = [], [], [], [], []
    client_jwt = (settings.get('auth_mode') or 'client_jwt') == 'client_jwt'
    for tenant in tenants:
        if settings.get('create_namespaces', True) and tenant.namespace not in [n['metadata']['name'] for n in namespaces]:
            namespaces.append(namespace(tenant.namespace, settings.get('namespace_labels')))
        accounts.append(_labelled({'apiVersion': 'v1', 'kind': 'ServiceAccount',
                                   'metadata': {'name': tenant.service_account, 'namespace': tenant.namespace}},
                                  tenant.name))
        if client_jwt:
            bindings.append(_labelled({
                'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding',
                'metadata': {'name': delegator_binding(settings.get('name_prefix') or '', tenant.name)},
                'roleRef': {'apiGroup': 'rbac.authorization.k8s.io', 'kind': 'ClusterRole',
                            'name': 'system:auth-delegator'},
                'subjects': [{'kind': 'ServiceAccount', 'name': tenant.service_account,
                              'namespace': tenant.namespace}]}, tenant.name))
        stores.append(_labelled(secret_store(eso_settings, {
            'name': tenant.store_name, 'namespace': tenant.namespace, 'role': tenant.vault_name,
            'service_account': tenant.service_account, 'audiences': settings['audiences'],
            'kv_mount': settings['kv_mount'].strip('/'),
            'auth_mount_path': settings['auth_mount_path'].strip('/')}, tenant.where), tenant.name))
        for number, item in enumerate(tenant.external_secrets):
            entry = dict(item, namespace=tenant.namespace, store_kind='SecretStore', store_name=tenant.store_name)
            externals.append(_labelled(external_secret(eso_settings, entry, '%s.external_secrets[%d]'
                                                       % (tenant.where, number)), tenant.name))
    return namespaces + accounts + bindings + stores + externals


def _ref(obj, namespaced=True):
    ref = {'apiVersion': obj['apiVersion'], 'kind': obj['kind'], 'name': obj['metadata']['name']}
    if namespaced:
        ref['namespace'] = obj['metadata']['namespace']
    return ref


def _owner(metadata):
    """The tenant an object was made for by this role, or None."""
    labels = metadata.get('labels') or {}
    if labels.get('app.kubernetes.io/managed-by') != MANAGED_BY['app.kubernetes.io/managed-by']:
        return None
    return labels.get(TENANT_LABEL)


def absent_objects(settings, tenants):
    """What to delete: the TokenReview bindings of a mode that does not need them and, with prune,
    the ExternalSecrets no tenant declares any more and the SecretStore, ServiceAccount and binding
    of every tenant no longer listed (found through the objects labelled with a tenant,
    ``settings['existing_external_secrets']`` and ``settings['existing_stores']``)."""
    prefix = settings.get('name_prefix') or ''
    listed = set(tenant.name for tenant in tenants)
    # A tenant renamed in place keeps its namespace: what the new entry declares stays.
    declared = set((t.namespace, 'SecretStore', t.store_name) for t in tenants)
    declared.update((t.namespace, 'ServiceAccount', t.service_account) for t in tenants)
    declared.update((t.namespace, 'ExternalSecret', e.get('name')) for t in tenants for e in t.external_secrets)
    absent = []

    def binding(name):
        return {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding',
                'name': delegator_binding(prefix, name)}

    if (settings.get('auth_mode') or 'client_jwt') != 'client_jwt':
        absent.extend(binding(tenant.name) for tenant in tenants)
    if not settings.get('prune'):
        return absent
    # ExternalSecrets first: their store is about to go. Also those a listed tenant no longer declares.
    for external in settings.get('existing_external_secrets') or []:
        metadata = external.get('metadata') or {}
        if _owner(metadata) and (metadata.get('namespace'), 'ExternalSecret', metadata.get('name')) not in declared:
            absent.append(_ref({'apiVersion': external.get('apiVersion') or 'external-secrets.io/v1',
                                'kind': 'ExternalSecret', 'metadata': metadata}))
    for store in settings.get('existing_stores') or []:
        metadata = store.get('metadata') or {}
        name = _owner(metadata)
        if not name or name in listed:
            continue
        if (metadata.get('namespace'), 'SecretStore', metadata.get('name')) not in declared:
            absent.append(_ref({'apiVersion': store.get('apiVersion') or 'external-secrets.io/v1',
                                'kind': 'SecretStore', 'metadata': metadata}))
        account = (((((store.get('spec') or {}).get('provider') or {}).get('vault') or {}).get('auth') or {})
                   .get('kubernetes') or {}).get('serviceAccountRef', {}).get('name')
        if account and (metadata.get('namespace'), 'ServiceAccount', account) not in declared:
            absent.append({'apiVersion': 'v1', 'kind': 'ServiceAccount', 'name': account,
                           'namespace': metadata['namespace']})
        if binding(name) not in absent:
            absent.append(binding(name))
    return absent


def tenant_objects(settings):
    tenants = plan(settings)
    return {'vault': vault_document(settings, tenants),
            'kubernetes': kubernetes_objects(settings, tenants),
            'absent': absent_objects(settings, tenants),
            'names': [tenant.name for tenant in tenants]}
