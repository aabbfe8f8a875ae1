# -*- coding: utf-8 -*-
"""The tenant_objects filter: what each tenant gets, and the lists it refuses."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.filter.tenant_objects import tenant_objects
from ansible_collections.vaultkube.platform.plugins.module_utils._policy import check_hcl_syntax


def settings(tenants, **extra):
    base = {'tenants': tenants, 'name_prefix': 'tenant-', 'kv_mount': 'secret', 'auth_mount_path': 'lab-kubernetes',
            'auth_mode': 'client_jwt', 'token_ttl': '1h', 'token_max_ttl': '4h', 'audience': 'vault',
            'audiences': ['vault', 'https://kubernetes.default.svc'],
            'service_account': 'vault-secrets', 'store_name': 'vault', 'create_namespaces': True,
            'refresh_interval': '1h', 'vault': {'server': 'https://vault.example.internal:8200', 'ca_bundle': ''}}
    base.update(extra)
    return base


TWO = [{'name': 'team-a', 'kv_prefix': '/tenants/team-a/'},
       {'name': 'team-b', 'kv_prefix': 'tenants/team-b', 'namespace': 'b-prod', 'service_account': 'reader',
        'extra_policies': ['shared-read'], 'extra_policy': 'path "secret/data/shared/*" { capabilities = ["read"] }',
        'external_secrets': [{'name': 'db', 'data_from': [{'extract': {'key': 'tenants/team-b/db'}}]}]}]


def test_each_tenant_gets_a_least_privilege_policy_and_a_bound_role():
    out = tenant_objects(settings(TWO))
    policies = {p['name']: p['policy'] for p in out['vault']['policies']}
    assert sorted(policies) == ['tenant-team-a', 'tenant-team-b']
    assert 'path "secret/data/tenants/team-a/*"' in policies['tenant-team-a']
    assert 'path "secret/metadata/tenants/team-a/*"' in policies['tenant-team-a']
    assert 'team-b' not in policies['tenant-team-a']
    assert 'secret/data/shared/*' in policies['tenant-team-b']
    for text in policies.values():
        check_hcl_syntax(text)
    roles = {r['name']: r for r in out['vault']['kubernetes_auth_roles']}
    assert roles['tenant-team-a']['bound_service_account_names'] == ['vault-secrets']
    assert roles['tenant-team-a']['bound_service_account_namespaces'] == ['team-a']
    assert roles['tenant-team-b']['bound_service_account_namespaces'] == ['b-prod']
    assert roles['tenant-team-b']['token_policies'] == ['tenant-team-b', 'shared-read']
    assert roles['tenant-team-a']['mount_path'] == 'lab-kubernetes' and roles['tenant-team-a']['audience'] == 'vault'
    assert out['names'] == ['team-a', 'team-b'] and out['absent'] == []


def test_cluster_objects_in_apply_order_and_labelled():
    objects = tenant_objects(settings(TWO))['kubernetes']
    kinds = [o['kind'] for o in objects]
    assert kinds == ['Namespace', 'Namespace', 'ServiceAccount', 'ServiceAccount', 'ClusterRoleBinding',
                     'ClusterRoleBinding', 'SecretStore', 'SecretStore', 'ExternalSecret']
    store = objects[7]
    assert store['metadata'] == {'name': 'vault', 'namespace': 'b-prod', 'labels': {
        'app.kubernetes.io/managed-by': 'vaultkube.platform', 'vaultkube.platform/tenant': 'team-b'}}
    auth = store['spec']['provider']['vault']['auth']['kubernetes']
    assert auth == {'mountPath': 'lab-kubernetes', 'role': 'tenant-team-b', 'serviceAccountRef': {
        'name': 'reader', 'audiences': ['vault', 'https://kubernetes.default.svc']}}
    assert store['spec']['provider']['vault']['path'] == 'secret'
    external = objects[8]
    assert external['metadata']['namespace'] == 'b-prod'
    assert external['spec']['secretStoreRef'] == {'kind': 'SecretStore', 'name': 'vault'}
    binding = objects[4]
    assert binding['metadata']['name'] == 'vault-tenant-team-a-auth-delegator'
    assert binding['subjects'] == [{'kind': 'ServiceAccount', 'name': 'vault-secrets', 'namespace': 'team-a'}]


def test_other_modes_need_no_binding_and_remove_old_ones():
    out = tenant_objects(settings(TWO, auth_mode='reviewer_jwt'))
    assert 'ClusterRoleBinding' not in [o['kind'] for o in out['kubernetes']]
    assert [a['name'] for a in out['absent']] == ['vault-tenant-team-a-auth-delegator',
                                                  'vault-tenant-team-b-auth-delegator']


def store(tenant, namespace, account='vault-secrets', managed=True):
    labels = {'vaultkube.platform/tenant': tenant}
    if managed:
        labels['app.kubernetes.io/managed-by'] = 'vaultkube.platform'
    return {'apiVersion': 'external-secrets.io/v1', 'kind': 'SecretStore',
            'metadata': {'name': 'vault', 'namespace': namespace, 'labels': labels},
            'spec': {'provider': {'vault': {'auth': {'kubernetes': {'serviceAccountRef': {'name': account}}}}}}}


def test_prune_removes_only_tenants_no_longer_listed():
    existing = [store('team-a', 'team-a'), store('team-c', 'team-c', 'old-sa'), store('team-x', 'x', managed=False)]
    out = tenant_objects(settings(TWO[:1], prune=True, existing_stores=existing))
    assert out['absent'] == [
        {'apiVersion': 'external-secrets.io/v1', 'kind': 'SecretStore', 'name': 'vault', 'namespace': 'team-c'},
        {'apiVersion': 'v1', 'kind': 'ServiceAccount', 'name': 'old-sa', 'namespace': 'team-c'},
        {'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding',
         'name': 'vault-tenant-team-c-auth-delegator'}]
    # Without prune nothing is removed.
    assert tenant_objects(settings(TWO[:1], existing_stores=existing))['absent'] == []


def test_a_tenant_renamed_in_its_namespace_keeps_the_objects_it_declares():
    renamed = [{'name': 'team-a2', 'kv_prefix': 'tenants/team-a', 'namespace': 'team-a'}]
    out = tenant_objects(settings(renamed, prune=True, existing_stores=[store('team-a', 'team-a')]))
    assert out['absent'] == [{'apiVersion': 'rbac.authorization.k8s.io/v1', 'kind': 'ClusterRoleBinding',
                              'name': 'vault-tenant-team-a-auth-delegator'}]


def test_an_empty_list_builds_empty_sections():
    out = tenant_objects(settings([]))
    assert out['vault'] == {'policies': [], 'kubernetes_auth_roles': []} and out['kubernetes'] == []


@pytest.mark.parametrize('tenants, message', [
    ([{'kv_prefix': 'a'}], 'vault_tenants_list[0].name must be a non-empty string'),
    ([{'name': 'Team_A', 'kv_prefix': 'a'}], 'vault_tenants_list[0].name must be a Kubernetes name'),
    ([{'name': 'a'}], 'vault_tenants_list[0].kv_prefix must name the KV folder'),
    ([{'name': 'a', 'kv_prefix': 'tenants/*'}], "vault_tenants_list[0].kv_prefix 'tenants/*' has the segment '*'"),
    ([{'name': 'a', 'kv_prefix': 'data/a'}], 'starts with data/'),
    ([{'name': 'a', 'kv_prefix': 'x/../y'}], "has the segment '..'"),
    ([{'name': 'a', 'kv_prefix': 'a', 'team': 'x'}], 'vault_tenants_list[0] has unknown key(s) team'),
    ([{'name': 'a', 'kv_prefix': 'a'}, {'name': 'a', 'kv_prefix': 'b'}],
     "vault_tenants_list[1].name 'a' is already the name of vault_tenants_list[0]"),
    ([{'name': 'a', 'kv_prefix': 'a'}, {'name': 'b', 'kv_prefix': 'b', 'namespace': 'a'}],
     "vault_tenants_list[1].namespace 'a' is already vault_tenants_list[0]'s"),
    ([{'name': 'a', 'kv_prefix': 't'}, {'name': 'b', 'kv_prefix': 't/b'}],
     "vault_tenants_list[0].kv_prefix 't' contains vault_tenants_list[1].kv_prefix 't/b'"),
    ([{'name': 'a', 'kv_prefix': 'a', 'extra_policies': 'shared'}], 'extra_policies must be a list'),
    ([{'name': 'a', 'kv_prefix': 'a', 'external_secrets': [{'name': 'x', 'namespace': 'other', 'data': []}]}],
     "external_secrets[0].namespace is 'other'"),
    ([{'name': 'a', 'kv_prefix': 'a', 'external_secrets': [{'name': 'x'}]}], 'needs data or data_from'),
    ('a', 'vault_tenants_list must be a list'),
    # A segment + is a wildcard in Vault's ACL: a tenant folder "+" would read every tenant's folder.
    ([{'name': 'a', 'kv_prefix': '+'}], "vault_tenants_list[0].kv_prefix '+' has the segment '+'"),
    ([{'name': 'a', 'kv_prefix': 'tenants/+'}], "has the segment '+'"),
    ([{'name': 'a', 'kv_prefix': 'a/{{x}}'}], "has the segment '{{x}}'"),
    ([{'name': 'a', 'kv_prefix': 'a\n'}], 'kv_prefix'),
    ([{'name': 'a\n', 'kv_prefix': 'a'}], 'vault_tenants_list[0].name must be a Kubernetes name'),
    ([{'name': 'a', 'kv_prefix': 'a', 'service_account': 'sa\n'}], 'vault_tenants_list[0].service_account'),
    ([{'name': 'a', 'kv_prefix': 'a', 'extra_policies': ['*']}], 'vault_tenants_list[0].extra_policies[0]'),
])
def test_bad_lists_fail_in_one_line_naming_the_field(tenants, message):
    with pytest.raises(AnsibleFilterError) as failure:
        tenant_objects(settings(tenants))
    text = str(failure.value)
    assert message in text and '\n' not in text, text


def test_bad_mode_is_named():
    with pytest.raises(AnsibleFilterError, match='vault_tenants_auth_mode must be one of'):
        tenant_objects(settings(TWO, auth_mode='token'))


def test_prune_removes_external_secrets_no_longer_declared():
    def external(tenant, namespace, name, managed=True):
        item = store(tenant, namespace, managed=managed)
        item['kind'] = 'ExternalSecret'
        item['metadata']['name'] = name
        return item

    existing = [external('team-b', 'b-prod', 'db'), external('team-b', 'b-prod', 'old'),
                external('team-c', 'team-c', 'db'), external('team-a', 'team-a', 'hand-made', managed=False)]
    out = tenant_objects(settings(TWO, prune=True, existing_external_secrets=existing))
    assert [(a['kind'], a['namespace'], a['name']) for a in out['absent']] == [
        ('ExternalSecret', 'b-prod', 'old'), ('ExternalSecret', 'team-c', 'db')]


@pytest.mark.parametrize('extra, message', [
    ({'audience': ''}, 'vault_tenants_audience must name the audience'),
    ({'audiences': []}, 'vault_tenants_audiences must be a non-empty list'),
    ({'audiences': ['other']}, "vault_tenants_audiences ['other'] must hold vault_tenants_audience 'vault'"),
    ({'kv_mount': 'sec+/x'}, "vault_tenants_kv_mount 'sec+/x' has the segment 'sec+'"),
    ({'auth_mount_path': '+'}, "vault_tenants_auth_mount_path '+' has the segment '+'"),
])
def test_bad_settings_fail_in_one_line_naming_the_variable(extra, message):
    with pytest.raises(AnsibleFilterError) as failure:
        tenant_objects(settings(TWO, **extra))
    text = str(failure.value)
    assert message in text and '\n' not in text, text


def test_every_tenant_store_names_its_service_account_and_audiences():
    for obj in tenant_objects(settings(TWO))['kubernetes']:
        if obj['kind'] == 'SecretStore':
            ref = obj['spec']['provider']['vault']['auth']['kubernetes']['serviceAccountRef']
            assert ref['name'] in ('vault-secrets', 'reader') and 'namespace' not in ref
            assert ref['audiences'] == ['vault', 'https://kubernetes.default.svc']


@pytest.mark.parametrize('conditions, refused', [
    ([{'namespaces': ['demo']}], None),
    ([{'namespaces': ['demo', 'team-a']}], 'team-a'),
    ([{'namespaceRegexes': ['^b-']}], 'b-prod'),
    ([{'namespaceSelector': {'matchLabels': {'tier': 'platform'}}}], None),
    ([{'namespaceSelector': {'matchLabels': {'team': 'x'}}}], 'team-a'),
    ([{'namespaceSelector': {'matchExpressions': [{'key': 'a', 'operator': 'Exists'}]}}], 'team-a'),
])
def test_a_tenant_namespace_the_cluster_store_would_serve_is_refused(conditions, refused):
    tenants = settings(TWO, cluster_store_conditions=conditions, namespace_labels={'team': 'x'})
    if refused is None:
        assert tenant_objects(tenants)['names'] == ['team-a', 'team-b']
        return
    with pytest.raises(AnsibleFilterError) as failure:
        tenant_objects(tenants)
    text = str(failure.value)
    assert "namespace %r may use the platform ClusterSecretStore" % refused in text and '\n' not in text, text


def test_tenant_policy_is_rendered_from_data():
    policy = tenant_objects(settings(TWO))['vault']['policies'][0]['policy']
    assert policy.splitlines()[1:] == ['path "secret/data/tenants/team-a/*" {', '  capabilities = ["read"]', '}',
                                       'path "secret/metadata/tenants/team-a/*" {',
                                       '  capabilities = ["read", "list"]', '}']
