# -*- coding: utf-8 -*-
"""Pure logic of kubernetes_objects: comparison after the API server's normalisation,
the applied-declaration hash, readiness rules and the ESO manifests."""
import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import (
    go_duration_ns, go_duration_string, object_differences, quantity_value)
from ansible_collections.vaultkube.platform.plugins.module_utils._eso import SettingsError, manifests
from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes import object_readiness
from ansible_collections.vaultkube.platform.plugins.modules import kubernetes_objects


@pytest.mark.parametrize('written,stored', [
    ('1h', '1h0m0s'), ('30s', '30s'), ('90m', '1h30m0s'), ('2m', '2m0s'), ('1.5s', '1.5s'),
    ('500ms', '500ms'), ('0', '0s'), ('1h0m0s', '1h0m0s'), ('36h', '36h0m0s'), ('1m30s', '1m30s'),
])
def test_go_duration_canonical_form(written, stored):
    assert go_duration_string(go_duration_ns(written)) == stored


@pytest.mark.parametrize('text', ['', '1d', 'h', '1h x', 'abc', '1hh', None, 5])
def test_not_a_go_duration(text):
    assert go_duration_ns(text) is None


def test_quantities():
    assert quantity_value('1Gi') == quantity_value('1024Mi') == 2 ** 30
    assert quantity_value('500m') == 0.5
    assert quantity_value('1e3') == 1000
    assert quantity_value('lots') is None


def test_defaults_and_canonical_spellings_are_no_difference():
    live = {'apiVersion': 'external-secrets.io/v1', 'kind': 'ExternalSecret',
            'metadata': {'name': 'a', 'namespace': 'n', 'uid': 'x', 'labels': {'l': '1', 'extra': '2'}},
            'spec': {'refreshInterval': '1h0m0s', 'refreshPolicy': 'Periodic',
                     'target': {'name': 'a', 'creationPolicy': 'Owner', 'deletionPolicy': 'Retain'},
                     'data': [{'secretKey': 'k', 'remoteRef': {'key': 'p', 'conversionStrategy': 'Default'}}]},
            'status': {'conditions': []}}
    wanted = {'apiVersion': 'external-secrets.io/v1', 'kind': 'ExternalSecret',
              'metadata': {'name': 'a', 'namespace': 'n', 'labels': {'l': '1'}},
              'spec': {'refreshInterval': '1h', 'target': {'name': 'a'},
                       'data': [{'secretKey': 'k', 'remoteRef': {'key': 'p'}}]}}
    assert object_differences(live, wanted) == []


def test_real_changes_are_found_by_path():
    live = {'spec': {'refreshInterval': '1h0m0s', 'data': [{'secretKey': 'k'}], 'target': {'name': 'a'}}}
    assert object_differences(live, {'spec': {'refreshInterval': '30m'}}) == ['spec.refreshInterval']
    assert object_differences(live, {'spec': {'data': [{'secretKey': 'k'}, {'secretKey': 'j'}]}}) == ['spec.data']
    assert object_differences(live, {'spec': {'data': [{'secretKey': 'j'}]}}) == ['spec.data[0].secretKey']
    assert object_differences(live, {'spec': {'target': {'name': 'b'}}}) == ['spec.target.name']
    assert object_differences(live, {'spec': {'template': {'type': 'Opaque'}}}) == ['spec.template']


def test_a_duration_looking_string_is_only_equal_to_the_servers_spelling():
    assert object_differences({'v': '3600s'}, {'v': '1h'}) == ['v']
    assert object_differences({'v': '1h0m0s'}, {'v': '1h'}) == []


def test_quantities_compare_by_value_only_under_resource_keys():
    assert object_differences({'limits': {'memory': '1Gi'}}, {'limits': {'memory': '1024Mi'}}) == []
    assert object_differences({'env': {'memory': '1Gi'}}, {'env': {'memory': '1024Mi'}}) == ['env.memory']


def test_the_applied_hash_changes_with_the_declaration_only():
    first, digest = kubernetes_objects._with_hash({'kind': 'X', 'metadata': {'name': 'a'}, 'spec': {'a': 1}})
    again, same = kubernetes_objects._with_hash({'spec': {'a': 1}, 'metadata': {'name': 'a'}, 'kind': 'X'})
    _changed, other = kubernetes_objects._with_hash({'kind': 'X', 'metadata': {'name': 'a'}, 'spec': {}})
    assert digest == same != other
    assert first['metadata']['annotations'][kubernetes_objects.HASH_ANNOTATION] == digest


def test_later_definitions_replace_earlier_ones_in_first_seen_order():
    a1 = {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'a'}}
    b = {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'b'}}
    a2 = {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'a', 'labels': {'x': 'y'}}}
    declared = kubernetes_objects._declared([a1, b, a2])
    assert [item[1] for item in declared] == [a2, b]


@pytest.mark.parametrize('manifest,field', [
    ({'kind': 'X', 'metadata': {'name': 'a'}}, 'definitions[0].apiVersion'),
    ({'apiVersion': 'v1', 'kind': 'X', 'metadata': {}}, 'definitions[0].metadata.name'),
    ('text', 'definitions[0] must be a mapping'),
    ({'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': '..', 'namespace': 'a'}}, 'definitions[0].metadata.name'),
    ({'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'a/b', 'namespace': 'a'}},
     'definitions[0].metadata.name'),
    ({'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'a%2f', 'namespace': 'a'}},
     'definitions[0].metadata.name'),
    ({'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'a\n', 'namespace': 'a'}},
     'definitions[0].metadata.name'),
    ({'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'a', 'namespace': 'team-a\n'}},
     'definitions[0].metadata.namespace'),
    ({'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 'a', 'namespace': '..'}},
     'definitions[0].metadata.namespace'),
])
def test_bad_definitions_name_the_field(manifest, field):
    with pytest.raises(kubernetes_objects.KubernetesError) as exc:
        kubernetes_objects._check_definitions([manifest])
    assert field in str(exc.value)


def _es(status, generation=2):
    return {'kind': 'ExternalSecret', 'metadata': {'generation': generation}, 'status': status}


def test_readiness_rules():
    ready = {'conditions': [{'type': 'Ready', 'status': 'True', 'reason': 'SecretSynced', 'message': 'ok'}],
             'syncedResourceVersion': '2-abc'}
    assert object_readiness(_es(ready))[0] is True
    assert object_readiness(_es(dict(ready, syncedResourceVersion='1-abc'))) == (False, 'generation 2 not synced yet')
    failing = {'conditions': [{'type': 'Ready', 'status': 'False', 'reason': 'SecretSyncedError',
                               'message': 'could not get secret data from provider'}]}
    assert object_readiness(_es(failing)) == (False, 'SecretSyncedError: could not get secret data from provider')
    assert object_readiness(None) == (False, 'not found on the server')
    assert object_readiness({'kind': 'ConfigMap'}) == (None, '')
    rolling = {'kind': 'Deployment', 'metadata': {'generation': 3}, 'spec': {'replicas': 2},
               'status': {'observedGeneration': 3, 'updatedReplicas': 2, 'readyReplicas': 1, 'availableReplicas': 1}}
    assert object_readiness(rolling) == (False, 'readyReplicas 1 of 2')
    rolling['status'].update(readyReplicas=2, availableReplicas=2)
    assert object_readiness(rolling)[0] is True


SETTINGS = {
    'cluster_store_enabled': True, 'cluster_store_name': 'vault-backend', 'cluster_store_conditions': [],
    'create_namespaces': True, 'namespace_labels': {'team': 'x'}, 'refresh_interval': '1h',
    'vault': {'server': 'https://vault:8200', 'path': 'secret', 'version': 'v2', 'ca_bundle': 'Q0E=',
              'auth_mount_path': 'kubernetes', 'role': 'external-secrets', 'service_account': 'vault-platform-reader',
              'service_account_namespace': 'external-secrets', 'audiences': ['vault']},
    'secret_stores': [{'name': 'team-a', 'namespace': 'team-a', 'role': 'team-a', 'kv_mount': 'team-a-kv'}],
    'external_secrets': [
        {'name': 'db', 'namespace': 'shop', 'data_from': [{'extract': {'key': 'prod/shop/db'}}]},
        {'name': 'api', 'namespace': 'team-a', 'store_kind': 'SecretStore', 'store_name': 'team-a',
         'refresh_interval': '30s', 'target_name': 'api-secret', 'template': {'type': 'Opaque'},
         'data': [{'secretKey': 'k', 'remoteRef': {'key': 'team-a/api', 'property': 'k'}}]},
    ],
}


def test_eso_manifests_in_apply_order():
    objects = manifests(SETTINGS)
    assert [(o['kind'], o['metadata'].get('namespace'), o['metadata']['name']) for o in objects] == [
        ('Namespace', None, 'team-a'), ('Namespace', None, 'shop'),
        ('ClusterSecretStore', None, 'vault-backend'), ('SecretStore', 'team-a', 'team-a'),
        ('ExternalSecret', 'shop', 'db'), ('ExternalSecret', 'team-a', 'api')]
    assert objects[0]['metadata']['labels'] == {'team': 'x'}
    cluster_store = objects[2]['spec']['provider']['vault']
    assert cluster_store['caBundle'] == 'Q0E='
    assert cluster_store['auth']['kubernetes']['serviceAccountRef'] == {
        'name': 'vault-platform-reader', 'namespace': 'external-secrets', 'audiences': ['vault']}
    # Only the namespaces of the ExternalSecrets that use the cluster store may use it.
    assert objects[2]['spec']['conditions'] == [{'namespaces': ['shop']}]
    store = objects[3]['spec']['provider']['vault']
    assert store['path'] == 'team-a-kv' and store['auth']['kubernetes']['role'] == 'team-a'
    assert 'namespace' not in store['auth']['kubernetes']['serviceAccountRef']
    db, api = objects[4]['spec'], objects[5]['spec']
    assert db == {'refreshInterval': '1h', 'secretStoreRef': {'kind': 'ClusterSecretStore', 'name': 'vault-backend'},
                  'target': {'name': 'db', 'creationPolicy': 'Owner', 'deletionPolicy': 'Retain'},
                  'dataFrom': [{'extract': {'key': 'prod/shop/db'}}]}
    assert api['refreshInterval'] == '30s' and api['target']['name'] == 'api-secret'
    assert api['target']['template'] == {'type': 'Opaque'}
    assert api['secretStoreRef'] == {'kind': 'SecretStore', 'name': 'team-a'}


def test_eso_manifests_without_namespaces_or_cluster_store():
    objects = manifests(dict(SETTINGS, create_namespaces=False, cluster_store_enabled=False))
    assert [o['kind'] for o in objects] == ['SecretStore', 'ExternalSecret', 'ExternalSecret']


@pytest.mark.parametrize('entry,message', [
    ({'namespace': 'x', 'data': []}, 'eso_deploy_external_secrets[0].name is missing'),
    ({'name': 'x', 'data': []}, 'eso_deploy_external_secrets[0].namespace is missing'),
    ({'name': 'x', 'namespace': 'y'}, 'eso_deploy_external_secrets[0] needs data or data_from'),
])
def test_eso_manifests_bad_entries_name_the_field(entry, message):
    with pytest.raises(SettingsError) as exc:
        manifests(dict(SETTINGS, secret_stores=[], external_secrets=[entry]))
    assert message in str(exc.value)


DYNAMIC = {'create_namespaces': True, 'cluster_store_enabled': False, 'refresh_interval': '30m',
           'vault_dynamic_secrets_origin': 'vault_database_credentials_secrets',
           'vault': {'server': 'https://vault:8200', 'ca_bundle': 'Q0E=', 'auth_mount_path': 'k8s',
                     'role': 'external-secrets-database', 'service_account': 'vault-database-reader',
                     'audiences': ['vault']},
           'vault_dynamic_secrets': [{'name': 'app-db', 'namespace': 'shop', 'path': 'database/creds/app',
                                      'role': 'app', 'target_name': 'app-db-creds'}]}


def test_vault_dynamic_secret_generator_and_its_external_secret():
    namespace, generator, external = manifests(DYNAMIC)
    assert namespace == {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'shop'}}
    assert generator['apiVersion'] == 'generators.external-secrets.io/v1alpha1'
    assert generator['kind'] == 'VaultDynamicSecret' and generator['metadata']['namespace'] == 'shop'
    # No KV path; the ServiceAccount of its own namespace, named, with its audiences.
    assert generator['spec'] == {'path': 'database/creds/app', 'method': 'GET', 'provider': {
        'server': 'https://vault:8200', 'version': 'v2', 'caBundle': 'Q0E=',
        'auth': {'kubernetes': {'mountPath': 'k8s', 'role': 'external-secrets-database',
                                'serviceAccountRef': {'name': 'vault-database-reader', 'audiences': ['vault']}}}}}
    assert external['spec'] == {
        'refreshInterval': '30m',
        'target': {'name': 'app-db-creds', 'creationPolicy': 'Owner', 'deletionPolicy': 'Retain'},
        'dataFrom': [{'sourceRef': {'generatorRef': {
            'apiVersion': 'generators.external-secrets.io/v1alpha1', 'kind': 'VaultDynamicSecret', 'name': 'app-db'}}}]}


@pytest.mark.parametrize('field', ['name', 'namespace', 'path'])
def test_vault_dynamic_secret_entries_name_the_missing_field(field):
    entry = dict(DYNAMIC['vault_dynamic_secrets'][0])
    del entry[field]
    with pytest.raises(SettingsError) as exc:
        manifests(dict(DYNAMIC, vault_dynamic_secrets=[entry]))
    assert 'vault_database_credentials_secrets[0].%s is missing' % field in str(exc.value)


def test_absent_entries_are_checked_and_never_declared():
    declared = {('v1', 'Namespace', '', 'keep')}
    keys = kubernetes_objects._absent_keys([{'apiVersion': 'v1', 'kind': 'Namespace', 'name': 'old'}], declared)
    assert keys == [('v1', 'Namespace', '', 'old')]
    with pytest.raises(kubernetes_objects.KubernetesError) as exc:
        kubernetes_objects._absent_keys([{'apiVersion': 'v1', 'kind': 'Namespace', 'name': 'keep'}], declared)
    assert 'absent[0] (Namespace keep) is also in definitions' in str(exc.value)
    with pytest.raises(kubernetes_objects.KubernetesError) as exc:
        kubernetes_objects._absent_keys([{'kind': 'Namespace', 'name': 'x'}], declared)
    assert 'absent[0] needs apiVersion, kind and name' in str(exc.value)


@pytest.mark.parametrize('item,field', [
    ({'apiVersion': 'v1', 'kind': 'Secret', 'namespace': 'a', 'name': '..'}, 'absent[0].name'),
    ({'apiVersion': 'v1', 'kind': 'Secret', 'namespace': '../x', 'name': 'a'}, 'absent[0].namespace'),
])
def test_absent_names_that_would_widen_a_delete_are_refused(item, field):
    with pytest.raises(kubernetes_objects.KubernetesError) as exc:
        kubernetes_objects._absent_keys([item], set())
    assert field in str(exc.value)


def test_names_kinds_allow_are_kept():
    manifest = {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding',
                'metadata': {'name': 'vault:auth-delegator'}}
    kubernetes_objects._check_definitions([manifest])


class _StoreClient:
    """Test double for the pure force-sync logic: stores by path, PATCH requests recorded."""

    def __init__(self, stores):
        self.stores = stores
        self.patches = []
        self.gets = []

    def object_path(self, api_version, kind, name, namespace=None):
        return '/%s/%s/%s/%s' % (api_version, kind, namespace or '-', name)

    def request(self, method, path, query=None, body=None, content_type=None, missing_ok=False):
        if method == 'GET':
            self.gets.append(path)
            return self.stores.get(path)
        self.patches.append((path, query, body, content_type))
        return {}


def _failing_es(name, status, store='vault-backend', kind='ClusterSecretStore', namespace='shop',
                since='1970-01-01T00:01:30Z'):
    conditions = [] if status is None else [{'type': 'Ready', 'status': status, 'reason': 'SecretSyncedError',
                                             'lastTransitionTime': since}]
    return {'apiVersion': 'external-secrets.io/v1', 'kind': 'ExternalSecret',
            'metadata': {'name': name, 'namespace': namespace, 'generation': 1},
            'spec': {'secretStoreRef': {'kind': kind, 'name': store}}, 'status': {'conditions': conditions}}


def _store(ready):
    return {'kind': 'ClusterSecretStore', 'status': {'conditions': [{'type': 'Ready', 'status': ready}]}}


def test_force_sync_only_failed_external_secrets_of_a_ready_store():
    from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes import (
        FORCE_SYNC_ANNOTATION, FORCE_SYNC_FIELD_MANAGER, ForceSync, store_of, sync_failed)
    client = _StoreClient({'/external-secrets.io/v1/ClusterSecretStore/-/vault-backend': _store('True'),
                           '/external-secrets.io/v1/ClusterSecretStore/-/broken': _store('False')})
    live = {'a': _failing_es('a', 'False'), 'b': _failing_es('b', None), 'c': _failing_es('c', 'True'),
            'd': _failing_es('d', 'False', store='broken'), 'e': _failing_es('e', 'False', store='gone'),
            'f': {'kind': 'Deployment', 'metadata': {'name': 'f'}}}
    assert sync_failed(live['a']) and not sync_failed(live['b']) and not sync_failed(live['c'])
    assert store_of(_failing_es('x', 'False', kind='SecretStore', store='own')) == (
        'external-secrets.io/v1', 'SecretStore', 'own', 'shop')
    now = [100.0]
    forcer = ForceSync(client, clock=lambda: now[0])
    assert forcer.nudge(live, sorted(live)) == 1
    path, query, body, content_type = client.patches[0]
    assert path == '/external-secrets.io/v1/ExternalSecret/shop/a'
    assert query == [('fieldManager', FORCE_SYNC_FIELD_MANAGER)] and content_type == 'application/merge-patch+json'
    assert body == {'metadata': {'annotations': {FORCE_SYNC_ANNOTATION: '100.000'}}}
    # One GET per store and poll, however many objects use it.
    assert sorted(set(client.gets)) == sorted(client.gets)
    # Not again before its interval (5 s, then 10 s, 20 s ...).
    now[0] = 104.0
    assert forcer.nudge(live, ['a']) == 0
    now[0] = 105.0
    assert forcer.nudge(live, ['a']) == 1
    now[0] = 114.0
    assert forcer.nudge(live, ['a']) == 0
    now[0] = 115.0
    assert forcer.nudge(live, ['a']) == 1
    assert forcer.forced == ['shop/a'] and forcer.writes == 3
    # A failure younger than 5 s is left to ESO's own quick retry.
    fresh = {'g': _failing_es('g', 'False', since='1970-01-01T00:01:58Z')}
    now[0] = 120.0
    assert forcer.nudge(fresh, ['g']) == 0
    now[0] = 123.0
    assert forcer.nudge(fresh, ['g']) == 1
    values = [p[2]['metadata']['annotations'][FORCE_SYNC_ANNOTATION] for p in client.patches]
    assert len(set(values)) == len(values) == 4, values
