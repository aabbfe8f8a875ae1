# -*- coding: utf-8 -*-
"""module_utils _eso: every store and generator names its identity; names are checked whole."""
import copy

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.filter.checked_names import checked_names
from ansible_collections.vaultkube.platform.plugins.filter.eso_manifests import eso_manifests
from ansible_collections.vaultkube.platform.plugins.module_utils._eso import (
    SettingsError,
    condition_matches,
    manifests,
)

VAULT = {'server': 'https://vault:8200', 'path': 'secret', 'version': 'v2', 'ca_bundle': '',
         'auth_mount_path': 'lab-kubernetes', 'role': 'external-secrets', 'service_account': 'vault-platform-reader',
         'service_account_namespace': 'external-secrets', 'audiences': ['vault', 'https://kubernetes.default.svc']}
BASE = {'cluster_store_enabled': True, 'cluster_store_name': 'vault-backend', 'cluster_store_conditions': [],
        'create_namespaces': False, 'refresh_interval': '1h', 'vault': VAULT,
        'external_secrets': [{'name': 'a', 'namespace': 'demo', 'data_from': [{'extract': {'key': 'lab/a'}}]},
                             {'name': 'b', 'namespace': 'shop', 'data_from': [{'extract': {'key': 'lab/b'}}]},
                             {'name': 'c', 'namespace': 'demo', 'data_from': [{'extract': {'key': 'lab/c'}}]},
                             {'name': 'd', 'namespace': 'own', 'store_kind': 'SecretStore', 'store_name': 'own',
                              'data_from': [{'extract': {'key': 'lab/d'}}]}]}


def settings(**extra):
    out = copy.deepcopy(BASE)
    out.update(extra)
    return out


def cluster_store(objects):
    return [o for o in objects if o['kind'] == 'ClusterSecretStore'][0]


def test_cluster_store_names_its_service_account_namespace_and_audiences():
    store = cluster_store(manifests(settings()))
    assert store['spec']['provider']['vault']['auth']['kubernetes'] == {
        'mountPath': 'lab-kubernetes', 'role': 'external-secrets', 'serviceAccountRef': {
            'name': 'vault-platform-reader', 'namespace': 'external-secrets',
            'audiences': ['vault', 'https://kubernetes.default.svc']}}


def test_cluster_store_conditions_default_to_the_namespaces_of_its_external_secrets():
    assert cluster_store(manifests(settings()))['spec']['conditions'] == [{'namespaces': ['demo', 'shop']}]
    listed = manifests(settings(cluster_store_namespaces=['apps']))
    assert cluster_store(listed)['spec']['conditions'] == [{'namespaces': ['apps']}]
    given = [{'namespaceSelector': {'matchLabels': {'tier': 'platform'}}}]
    assert cluster_store(manifests(settings(cluster_store_conditions=given)))['spec']['conditions'] == given
    # No ExternalSecret uses it: a condition no namespace matches, never "no conditions" (every namespace).
    none = cluster_store(manifests(settings(external_secrets=[])))['spec']['conditions']
    assert none == [{'namespaces': []}] and not condition_matches(none, 'anything')


def test_condition_matches_like_eso():
    assert condition_matches([], 'x')
    assert condition_matches([{'namespaces': ['a']}], 'a') and not condition_matches([{'namespaces': ['a']}], 'b')
    assert condition_matches([{'namespaceRegexes': ['team']}], 'my-team-x')
    assert condition_matches([{'namespaceSelector': {'matchLabels': {'k': 'v'}}}], 'x', {'k': 'v'})
    assert not condition_matches([{'namespaceSelector': {'matchLabels': {'k': 'v'}}}], 'x', {})


def test_secret_store_and_generator_name_their_service_account_and_audiences():
    objects = manifests(settings(
        secret_stores=[{'name': 'own', 'namespace': 'own', 'service_account': 'own-reader', 'role': 'own',
                        'audiences': ['vault']}],
        create_service_accounts=True, creds_mount='database', create_namespaces=True,
        vault_dynamic_secrets=[{'name': 'pg', 'namespace': 'demo', 'role': 'app'}],
        vault=dict(VAULT, service_account='vault-database-reader', role='external-secrets-database')))
    kinds = [(o['kind'], o['metadata'].get('namespace'), o['metadata']['name']) for o in objects]
    assert ('ServiceAccount', 'demo', 'vault-database-reader') in kinds
    assert kinds.index(('ServiceAccount', 'demo', 'vault-database-reader')) < kinds.index(
        ('VaultDynamicSecret', 'demo', 'pg'))
    store = [o for o in objects if o['kind'] == 'SecretStore'][0]
    assert store['spec']['provider']['vault']['auth']['kubernetes']['serviceAccountRef'] == {
        'name': 'own-reader', 'audiences': ['vault']}
    generator = [o for o in objects if o['kind'] == 'VaultDynamicSecret'][0]
    assert generator['spec']['path'] == 'database/creds/app'
    assert generator['spec']['provider']['auth']['kubernetes'] == {
        'mountPath': 'lab-kubernetes', 'role': 'external-secrets-database', 'serviceAccountRef': {
            'name': 'vault-database-reader', 'audiences': ['vault', 'https://kubernetes.default.svc']}}


@pytest.mark.parametrize('change, message', [
    ({'vault': dict(VAULT, audiences=[])}, 'eso_deploy_auth.audiences must be a non-empty list'),
    ({'vault': dict(VAULT, service_account='')}, 'eso_deploy_auth.service_account must be a Kubernetes name'),
    ({'vault': dict(VAULT, service_account='a"b')}, 'eso_deploy_auth.service_account must be a Kubernetes name'),
    ({'vault': dict(VAULT, service_account_namespace='ns\n')}, 'eso_deploy_auth.service_account_namespace'),
    ({'vault': dict(VAULT, auth_mount_path='k8s/+')}, "eso_deploy_vault.auth_mount_path 'k8s/+' has the segment"),
    ({'vault': dict(VAULT, role='*')}, 'eso_deploy_vault.role must be a Vault name'),
    ({'cluster_store_name': 'Vault', 'external_secrets': []}, 'eso_deploy_cluster_store_name must be a Kubernetes name'),
    ({'cluster_store_namespaces': ['ok', 'a"b']}, 'eso_deploy_cluster_store_namespaces[1]'),
    ({'cluster_store_conditions': [{'bogus': 1}]}, 'eso_deploy_cluster_store_conditions must be a list'),
    ({'external_secrets': [{'name': 'a', 'namespace': 'Demo', 'data': []}]},
     'eso_deploy_external_secrets[0].namespace must be a Kubernetes name'),
    ({'external_secrets': [{'name': 'a', 'namespace': 'd', 'store_kind': 'Other', 'data': []}]},
     'eso_deploy_external_secrets[0].store_kind'),
    ({'secret_stores': [{'name': 's', 'namespace': 'd', 'kv_mount': '../x'}]},
     "eso_deploy_secret_stores[0].kv_mount '../x' has the segment '..'"),
    ({'vault_dynamic_secrets': [{'name': 'g', 'namespace': 'd', 'path': 'database/creds/*'}]},
     "vault_dynamic_secrets[0].path 'database/creds/*' has the segment '*'"),
    ({'creds_mount': 'database', 'vault_dynamic_secrets': [{'name': 'g', 'namespace': 'd', 'role': '+'}]},
     'vault_dynamic_secrets[0].role must be a Vault name'),
])
def test_bad_settings_fail_in_one_line_naming_the_field(change, message):
    with pytest.raises(SettingsError) as failure:
        manifests(settings(**change))
    assert message in str(failure.value) and '\n' not in str(failure.value), str(failure.value)
    with pytest.raises(AnsibleFilterError):
        eso_manifests(settings(**change))


def test_checked_names_filter():
    assert checked_names([['ns', 'dns_label', 'demo'], ['kv', 'vault_path', '/lab/'], ['role', 'vault_name', 'r.1'],
                          ['sa', 'dns_subdomain', 'a.b']]) == {'ns': 'demo', 'kv': 'lab', 'role': 'r.1', 'sa': 'a.b'}
    for fields, message in [([['x_prefix', 'vault_path', 'a/+']], "x_prefix 'a/+' has the segment '+'"),
                            ([['x_env', 'dns_label', 'lab"x']], 'x_env must be a Kubernetes name'),
                            ([['x_env', 'dns_label', 'lab\n']], 'x_env must be a Kubernetes name'),
                            ([['x', 'unknown', 'a']], "unknown kind 'unknown'")]:
        with pytest.raises(AnsibleFilterError) as failure:
            checked_names(fields, role='my_role')
        assert message in str(failure.value) and '\n' not in str(failure.value).rstrip(), str(failure.value)
