# -*- coding: utf-8 -*-
"""Nothing lost, nothing half done (issue 10): names Vault normalises, the KV v2 API
prefix, checks before the first write, and an exact account of what a failed
vault_config wrote. Every assertion reads Vault back."""

import json
import uuid

import pytest

from vaultkube_testlib import assert_failed_cleanly, read_or_none as read, run_module, run_without_writes


def listing(vault, path):
    response = vault.adapter.request('LIST', '/v1/' + path, raise_exception=False)
    if isinstance(response, dict):
        return sorted(response['data']['keys'])
    assert response.status_code == 404, response.text
    return []


VALUE = 'value-' + uuid.uuid4().hex  # long enough that masking it hides nothing else
POLICY = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n'


@pytest.fixture
def mounts(vault):
    """A kv v2, a kv v1, a kubernetes and an approle mount of this test alone."""
    tag = uuid.uuid4().hex[:6]
    names = dict(tag=tag, kv2='kv2-' + tag, kv1='kv1-' + tag, k8s='K8s-' + tag, approle='ar-' + tag)
    vault.sys.enable_secrets_engine('kv', path=names['kv2'], options={'version': '2'})
    vault.sys.enable_secrets_engine('kv', path=names['kv1'], options={'version': '1'})
    vault.sys.enable_auth_method('kubernetes', path=names['k8s'])
    vault.sys.enable_auth_method('approle', path=names['approle'])
    yield names
    for path in (names['kv2'], names['kv1']):
        vault.sys.disable_secrets_engine(path)
    for path in (names['k8s'], names['approle']):
        vault.sys.disable_auth_method(path)
    for name in listing(vault, 'sys/policies/acl'):
        if tag in name:
            vault.sys.delete_policy(name)


def role(mount, name, namespace='eso'):
    return {'mount_path': mount, 'name': name, 'bound_service_account_names': ['external-secrets'],
            'bound_service_account_namespaces': [namespace]}


# -- bug 6: names as Vault stores them --------------------------------------------
def test_mixed_case_names_converge_and_prune_never_removes_them(conn, vault, mounts, bao_dev):
    m = mounts
    doc = {
        'policies': [{'name': 'AppReaders-' + m['tag'], 'policy': POLICY}],
        'kubernetes_auth_roles': [role(m['k8s'], 'ESO-Reader')],
        'kv_secrets': [{'mount_path': m['kv2'] + '/', 'path': '/app//config/', 'data': {'user': VALUE}}],
    }
    first = run_module('vault_config', dict(conn, config=doc))
    assert not first.get('failed'), first.get('msg')
    assert read(vault, 'sys/policies/acl/appreaders-' + m['tag'])['policy'] == POLICY
    assert listing(vault, 'auth/%s/role' % m['k8s']) == ['eso-reader']
    assert listing(vault, '%s/metadata/app' % m['kv2']) == ['config']

    again = run_without_writes(bao_dev, 'vault_config', dict(conn, config=doc))
    assert not again.get('failed'), again.get('msg')
    assert again['changed'] is False, again['objects']
    assert again['requests']['write'] == 0 and again['requests']['delete'] == 0

    # Scoped to this test's names (given in another case, which prune compares lower-cased):
    # the server is shared with other test files, whose objects this document does not own.
    scope = {'name_prefix': ['APPREADERS-' + m['tag'], 'eso-READER']}
    # The scope covers this test's objects: without them in the document, prune would delete them.
    probe_doc = {'policies': [], 'kubernetes_auth_roles': [], 'kv_secrets': doc['kv_secrets']}
    probe_scope = dict(scope, kubernetes_auth_mounts=[m['k8s']])
    probe = run_without_writes(bao_dev, 'vault_config', dict(conn, config=probe_doc, prune=True, prune_scope=probe_scope),
                               check=True)
    assert not probe.get('failed'), probe.get('msg')
    assert probe['changed'] is True
    assert 'appreaders-' + m['tag'] in json.dumps(probe['objects']) and 'eso-reader' in json.dumps(probe['objects'])
    pruned = run_without_writes(bao_dev, 'vault_config', dict(conn, config=doc, prune=True, prune_scope=scope))
    assert not pruned.get('failed'), pruned.get('msg')
    assert pruned['changed'] is False, pruned['objects']
    assert read(vault, 'sys/policies/acl/appreaders-' + m['tag']) is not None
    assert listing(vault, 'auth/%s/role' % m['k8s']) == ['eso-reader']
    assert read(vault, '%s/data/app/config' % m['kv2'])['data'] == {'user': VALUE}

    # The same policy under two spellings is one policy: refused before any write.
    twice = run_module('vault_config', dict(conn, config={'policies': [
        {'name': 'Dup-' + m['tag'], 'policy': POLICY}, {'name': 'dup-' + m['tag'], 'policy': POLICY}]}))
    assert_failed_cleanly(twice, 'config.policies[1]', 'repeats')
    assert read(vault, 'sys/policies/acl/dup-' + m['tag']) is None


def test_single_modules_compare_names_as_vault_stores_them(conn, vault, mounts, bao_dev):
    m = mounts
    policy = dict(conn, name='MixedCase-' + m['tag'], policy=POLICY)
    assert run_module('vault_policy', policy)['changed'] is True
    assert run_without_writes(bao_dev, 'vault_policy', policy)['changed'] is False
    k8s_role = dict(conn, **role(m['k8s'], 'MixedRole'))
    assert run_module('vault_kubernetes_auth_role', k8s_role)['changed'] is True
    assert run_without_writes(bao_dev, 'vault_kubernetes_auth_role', k8s_role)['changed'] is False
    secret = dict(conn, mount_path='/%s/' % m['kv2'], path='//team/app/', data={'k': VALUE})
    assert run_module('vault_kv2_secret', secret)['changed'] is True
    assert run_without_writes(bao_dev, 'vault_kv2_secret', secret)['changed'] is False
    assert read(vault, '%s/metadata/team/app' % m['kv2'])['current_version'] == 1


# -- bug 5: the KV v2 API prefix ----------------------------------------------------
@pytest.mark.parametrize('path', ['{kv2}/data/app/x', 'data/app/x', '{kv2}/metadata/app/x', 'metadata/app/x'])
def test_kv2_api_prefix_is_refused_never_doubled(conn, vault, mounts, path):
    m = mounts
    path = path.format(**m)
    result = run_module('vault_kv2_secret', dict(conn, mount_path=m['kv2'], path=path, data={'k': VALUE}))
    msg = assert_failed_cleanly(result, 'path %r' % path, 'API prefix', "write path 'app/x'")
    assert 'k' not in result.get('changed_keys', [])
    assert listing(vault, '%s/metadata/' % m['kv2']) == [], msg

    doc = {'policies': [{'name': 'pfx-' + m['tag'], 'policy': POLICY}],
           'kv_secrets': [{'mount_path': m['kv2'], 'path': path, 'data': {'k': VALUE}}]}
    bulk = run_module('vault_config', dict(conn, config=doc))
    assert_failed_cleanly(bulk, 'config.kv_secrets[0]', 'API prefix')
    assert bulk['objects'] == []
    assert listing(vault, '%s/metadata/' % m['kv2']) == []
    assert read(vault, 'sys/policies/acl/pfx-' + m['tag']) is None


def test_a_secret_called_data_is_still_a_secret(conn, vault, mounts):
    """Only a prefix is refused: a secret named "data" (no folder under it) is fine."""
    m = mounts
    result = run_module('vault_kv2_secret', dict(conn, mount_path=m['kv2'], path='data', data={'k': VALUE}))
    assert result.get('changed') and not result.get('failed'), result.get('msg')
    assert read(vault, '%s/data/data' % m['kv2'])['data'] == {'k': VALUE}


# -- bug 7: everything checked before the first write; failures say what was written --
def test_one_bad_policy_writes_nothing(conn, vault, mounts):
    m = mounts
    doc = {'policies': [{'name': 'good-' + m['tag'], 'policy': POLICY},
                        {'name': 'bad-' + m['tag'], 'policy': 'path "x" {\n  capabilities = ["read"]\n'}]}
    result = run_module('vault_config', dict(conn, config=doc))
    assert_failed_cleanly(result, 'config.policies[1]', 'not valid HCL', 'line 3')
    assert result['objects'] == []
    assert read(vault, 'sys/policies/acl/good-' + m['tag']) is None


def test_kv_secret_on_a_kv1_mount_writes_nothing(conn, vault, mounts):
    m = mounts
    doc = {'policies': [{'name': 'good-' + m['tag'], 'policy': POLICY}],
           'kubernetes_auth_roles': [role(m['k8s'], 'before-kv')],
           'kv_secrets': [{'mount_path': m['kv1'], 'path': 'app/x', 'data': {'k': VALUE}}]}
    result = run_module('vault_config', dict(conn, config=doc))
    assert_failed_cleanly(result, 'config.kv_secrets[0]', 'kv version 1')
    assert result['objects'] == []
    assert read(vault, 'sys/policies/acl/good-' + m['tag']) is None
    assert listing(vault, 'auth/%s/role' % m['k8s']) == []
    assert listing(vault, m['kv1']) == []

    # The same when the document itself declares the mount as kv version 1.
    doc['secrets_engines'] = [{'path': 'new-' + m['kv1'], 'engine_type': 'kv', 'version': 1}]
    doc['kv_secrets'][0]['mount_path'] = 'new-' + m['kv1']
    declared = run_module('vault_config', dict(conn, config=doc))
    assert_failed_cleanly(declared, 'config.kv_secrets[0]', 'declared in this document', 'kv version 1')
    assert 'new-%s/' % m['kv1'] not in vault.sys.list_mounted_secrets_engines()['data']


def test_failure_after_writes_lists_every_write(conn, vault, mounts):
    """Vault refuses the second role (the token may write only roles named ok-*): the
    first role was written and is reported; nothing after the failure is started."""
    m = mounts
    limited = 'limited-' + m['tag']
    vault.sys.create_or_update_policy(limited, '''
path "auth/%(k8s)s/role/ok-*" { capabilities = ["create", "update", "read", "list"] }
path "auth/%(k8s)s/role" { capabilities = ["list"] }
path "auth/%(k8s)s/role/*" { capabilities = ["read", "list"] }
path "%(kv2)s/*" { capabilities = ["create", "update", "read", "list"] }
''' % m)
    token = vault.auth.token.create(policies=[limited], ttl='10m')['auth']['client_token']
    doc = {'kubernetes_auth_roles': [role(m['k8s'], 'ok-first'), role(m['k8s'], 'denied-second')],
           'kv_secrets': [{'mount_path': m['kv2'], 'path': 'after/failure', 'data': {'k': VALUE}}]}
    result = run_module('vault_config', dict(conn, token=token, config=doc, parallelism=1))
    assert_failed_cleanly(result, '403', 'auth/%s/role/denied-second' % m['k8s'])
    assert result['changed'] is True
    assert [(o['kind'], o['name'], o['action']) for o in result['objects']] == [
        ('kubernetes auth role', '%s/ok-first' % m['k8s'], 'create')]
    assert listing(vault, 'auth/%s/role' % m['k8s']) == ['ok-first']
    assert listing(vault, '%s/metadata/' % m['kv2']) == []


# -- bug 8: the mount type of Kubernetes auth objects -------------------------------
def test_kubernetes_role_on_an_approle_mount_is_refused(conn, vault, mounts, bao_dev):
    m = mounts
    single = run_module('vault_kubernetes_auth_role', dict(conn, **role(m['approle'], 'eso')))
    assert_failed_cleanly(single, 'mount_path %r is a approle auth method, not kubernetes' % m['approle'])
    assert listing(vault, 'auth/%s/role' % m['approle']) == []
    check = run_without_writes(bao_dev, 'vault_kubernetes_auth_role', dict(conn, **role(m['approle'], 'eso')), check=True)
    assert_failed_cleanly(check, 'not kubernetes')

    config = run_module('vault_kubernetes_auth_config', dict(conn, mount_path=m['approle'],
                                                             kubernetes_host='https://127.0.0.1:6443'))
    assert_failed_cleanly(config, 'is a approle auth method, not kubernetes')

    doc = {'policies': [{'name': 'p-' + m['tag'], 'policy': POLICY}],
           'kubernetes_auth_roles': [role(m['approle'], 'eso')]}
    bulk = run_module('vault_config', dict(conn, config=doc))
    assert_failed_cleanly(bulk, 'config.kubernetes_auth_roles[0]', 'not kubernetes')
    assert bulk['objects'] == []
    assert read(vault, 'sys/policies/acl/p-' + m['tag']) is None
    assert listing(vault, 'auth/%s/role' % m['approle']) == []

    # Declared in the same document as an approle mount: refused before that mount is enabled.
    declared = dict(doc, auth_methods=[{'path': 'new-' + m['approle'], 'method_type': 'approle'}],
                    kubernetes_auth_roles=[role('new-' + m['approle'], 'eso')])
    bulk = run_module('vault_config', dict(conn, config=declared))
    assert_failed_cleanly(bulk, 'config.kubernetes_auth_roles[0]', 'declared in this document', 'approle')
    assert 'new-%s/' % m['approle'] not in vault.sys.list_auth_methods()['data']


def test_kubernetes_role_under_a_mount_is_not_a_mount(conn, vault, mounts):
    m = mounts
    result = run_module('vault_kubernetes_auth_role', dict(conn, **role(m['k8s'] + '/role', 'x')))
    assert_failed_cleanly(result, 'is not an auth mount', m['k8s'])
    assert listing(vault, 'auth/%s/role' % m['k8s']) == []
