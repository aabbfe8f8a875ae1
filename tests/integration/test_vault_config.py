# -*- coding: utf-8 -*-
"""vault_config against a real OpenBao: one document, read back object by object."""

import uuid

import pytest

from vaultkube_testlib import assert_failed_cleanly, make_tls, read_or_none as read, run_module, tmpdir


@pytest.fixture
def names(vault):
    tag = uuid.uuid4().hex[:6]
    kv, k8s = 'kv-' + tag, 'k8s-' + tag
    ca = make_tls(tmpdir('vaultkube-cfg-ca-'))['ca']
    with open(ca) as handle:
        pem = handle.read()
    yield dict(tag=tag, kv=kv, k8s=k8s, ca=pem)
    for path in (kv,):
        vault.sys.disable_secrets_engine(path)
    vault.sys.disable_auth_method(k8s)


def document(n, secret_value):
    return {
        'secrets_engines': [{'path': n['kv'], 'engine_type': 'kv', 'version': 2,
                             'max_lease_ttl': '24h'}],
        'auth_methods': [{'path': n['k8s'], 'method_type': 'kubernetes', 'description': 'cluster a'}],
        'policies': [{'name': 'cfg-%s-%d' % (n['tag'], i),
                      'policy': 'path "%s/data/app%d/*" {\n  capabilities = ["read"]\n}\n' % (n['kv'], i)}
                     for i in range(3)],
        'kubernetes_auth_configs': [{'mount_path': n['k8s'], 'kubernetes_host': 'https://127.0.0.1:6443',
                                     'kubernetes_ca_cert': n['ca']}],
        'kubernetes_auth_roles': [{'mount_path': n['k8s'], 'name': 'eso-%d' % i,
                                   'bound_service_account_names': ['external-secrets'],
                                   'bound_service_account_namespaces': ['ns-%d' % i],
                                   'token_policies': ['cfg-%s-%d' % (n['tag'], i)], 'token_ttl': '1h'}
                                  for i in range(2)],
        'kv_secrets': [{'mount_path': n['kv'], 'path': 'app%d/config' % i,
                        'data': {'user': 'svc-user-%d' % i, 'password': '%s-%d' % (secret_value, i)}}
                       for i in range(3)],
    }


def test_document_converges_and_reruns_without_writes(conn, vault, names, bao_dev):
    secret = 'cfgsecret-' + uuid.uuid4().hex
    doc = document(names, secret)
    args = dict(conn, config=doc)

    with bao_dev.no_writes('check mode'):
        check = run_module('vault_config', args, check=True, diff=True)
    assert check['changed'] and check['summary']['create'] == 11
    assert read(vault, 'sys/policies/acl/cfg-%s-0' % names['tag']) is None, 'check mode wrote'
    assert names['kv'] + '/' not in vault.sys.list_mounted_secrets_engines()['data']
    assert secret not in check['_stdout'], 'a KV value is in the diff output'

    first = run_module('vault_config', args, diff=True)
    assert first['changed'] and first['summary']['create'] == 11, first.get('msg')
    assert secret not in first['_stdout']
    headers = [d['before_header'] for d in first['diff']]
    assert 'policy cfg-%s-0 (before)' % names['tag'] in headers
    mounts = vault.sys.list_mounted_secrets_engines()['data']
    assert mounts[names['kv'] + '/']['options']['version'] == '2'
    assert read(vault, 'auth/%s/config' % names['k8s'])['kubernetes_host'] == 'https://127.0.0.1:6443'
    role = read(vault, 'auth/%s/role/eso-1' % names['k8s'])
    assert role['token_ttl'] == 3600 and role['bound_service_account_namespaces'] == ['ns-1']
    stored = vault.secrets.kv.v2.read_secret_version('app2/config', mount_point=names['kv'],
                                                     raise_on_deleted_version=True)['data']
    assert stored['data']['password'] == secret + '-2' and stored['metadata']['version'] == 1

    with bao_dev.no_writes('the re-run'):
        again = run_module('vault_config', args)
    assert again['changed'] is False and again['summary']['none'] == 11
    assert again['requests']['write'] == 0 and again['requests']['delete'] == 0
    assert vault.secrets.kv.v2.read_secret_version('app2/config', mount_point=names['kv'],
                                                   raise_on_deleted_version=True)['data']['metadata']['version'] == 1

    # One changed policy and one changed secret: only they are written.
    doc['policies'][1]['policy'] += 'path "x" {\n  capabilities = ["list"]\n}\n'
    doc['kv_secrets'][0]['data']['password'] = secret + '-rotated'
    mark = bao_dev.mark()
    update = run_module('vault_config', dict(conn, config=doc), diff=True)
    # Read from the audit log: exactly the changed policy and the changed secret's new version.
    assert sorted(bao_dev.write_requests(mark)) == sorted([
        'update sys/policies/acl/cfg-%s-1' % names['tag'], 'update %s/data/app0/config' % names['kv']])
    changed = sorted((o['kind'], o['name']) for o in update['objects'])
    assert changed == [('kv2 secret', '%s/app0/config' % names['kv']), ('policy', 'cfg-%s-1' % names['tag'])]
    assert update['requests']['write'] == 2
    assert 'capabilities = ["list"]' in read(vault, 'sys/policies/acl/cfg-%s-1' % names['tag'])['policy']
    assert secret not in update['_stdout']


def test_prune_removes_only_unlisted_objects(conn, vault, names, bao_dev):
    doc = document(names, 'prune-' + uuid.uuid4().hex)
    assert run_module('vault_config', dict(conn, config=doc))['changed']
    # Objects the document does not list.
    vault.sys.create_or_update_acl_policy('cfg-%s-stray' % names['tag'], 'path "y" { capabilities = ["read"] }')
    vault.adapter.post('/v1/auth/%s/role/stray' % names['k8s'],
                       json={'bound_service_account_names': ['x'], 'bound_service_account_namespaces': ['y']})
    vault.secrets.kv.v2.create_or_update_secret('stray/deep/secret', {'a': 'b'}, mount_point=names['kv'])

    with bao_dev.no_writes('a run without prune'):
        plain = run_module('vault_config', dict(conn, config=doc))
    assert plain['changed'] is False, 'pruning happened without prune: true'

    pruned_doc = {k: doc[k] for k in ('kubernetes_auth_roles', 'kv_secrets')}
    pruned_doc['policies'] = doc['policies']  # "default" is not listed, and must survive
    # No scope: every undeclared object of the shared server, whatever other tests left there.
    unlimited = {'max_deletions': 10000}
    with bao_dev.no_writes('prune in check mode'):
        check = run_module('vault_config', dict(conn, config=pruned_doc, prune=True, prune_scope=unlimited), check=True)
    assert not check.get('failed'), check.get('msg')
    pruned = sorted((o['kind'], o['name']) for o in check['objects'] if o['pruned'])
    assert ('kubernetes auth role', '%s/stray' % names['k8s']) in pruned
    assert ('kv2 secret', '%s/stray/deep/secret' % names['kv']) in pruned
    assert ('policy', 'cfg-%s-stray' % names['tag']) in pruned
    assert read(vault, 'sys/policies/acl/cfg-%s-stray' % names['tag']) is not None, 'check mode pruned'

    run_module('vault_config', dict(conn, config=pruned_doc, prune=True, prune_scope=unlimited))
    assert read(vault, 'sys/policies/acl/cfg-%s-stray' % names['tag']) is None
    assert read(vault, 'auth/%s/role/stray' % names['k8s']) is None
    assert read(vault, 'sys/policies/acl/cfg-%s-0' % names['tag']) is not None
    assert read(vault, 'auth/%s/role/eso-0' % names['k8s']) is not None
    # Soft delete: the metadata and the version stay, recoverable.
    meta = vault.secrets.kv.v2.read_secret_metadata('stray/deep/secret', mount_point=names['kv'])['data']
    assert meta['versions']['1']['deletion_time']
    assert vault.secrets.kv.v2.read_secret_version('app1/config', mount_point=names['kv'],
                                                   raise_on_deleted_version=True)['data']['data']
    assert read(vault, 'sys/policies/acl/default') is not None


def policies_of(vault):
    return set(vault.sys.list_acl_policies()['data']['keys'])


@pytest.mark.parametrize('scope,words', [
    ({'name_prefix': ['']}, ['prune_scope.name_prefix[0]', 'empty']),
    ({'name_prefix': ['  ']}, ['prune_scope.name_prefix[0]', 'blank']),
    ({'name_prefix': ['De']}, ['prune_scope.name_prefix[0]', "'default'"]),
    ({'name_prefix': ['root']}, ['prune_scope.name_prefix[0]', "'root'"]),
    ({'name_prefix': []}, ['prune_scope.name_prefix', 'empty list']),
])
def test_prune_scope_that_matches_too_much_is_refused_and_nothing_changes(conn, vault, names, scope, words, bao_dev):
    tag = names['tag']
    for name in ('pg-%s-a' % tag, 'unrelated-%s-1' % tag, 'unrelated-%s-2' % tag):
        vault.sys.create_or_update_acl_policy(name, 'path "x" { capabilities = ["read"] }')
    before = policies_of(vault)
    doc = {'policies': [{'name': 'pg-%s-new' % tag, 'policy': 'path "y" { capabilities = ["read"] }'}]}
    for check in (True, False):
        with bao_dev.no_writes('a refused prune scope'):
            refused = run_module('vault_config', dict(conn, config=doc, prune=True, prune_scope=scope), check=check)
        assert_failed_cleanly(refused, *words)
        assert policies_of(vault) == before, 'a refused prune changed the policies'
    assert {'default', 'unrelated-%s-1' % tag, 'unrelated-%s-2' % tag} <= before
    # The same scope is not looked at without prune.
    plain = run_module('vault_config', dict(conn, config=doc, prune_scope=scope))
    assert not plain.get('failed'), plain.get('msg')
    assert policies_of(vault) == before | {'pg-%s-new' % tag}


def test_prune_above_max_deletions_is_refused_whole_and_within_it_deletes_exactly_the_undeclared(
        conn, vault, names, bao_dev):
    tag = names['tag']
    owned = ['pg-%s-%d' % (tag, i) for i in range(4)]
    others = ['unrelated-%s-%d' % (tag, i) for i in range(2)]
    for name in owned + others:
        vault.sys.create_or_update_acl_policy(name, 'path "x" { capabilities = ["read"] }')
    secret = 'prune-guard-' + uuid.uuid4().hex
    vault.sys.enable_secrets_engine('kv', path=names['kv'], options={'version': '2'})
    vault.secrets.kv.v2.create_or_update_secret('pg-%s-stray' % tag, {'password': secret}, mount_point=names['kv'])
    doc = {'policies': [{'name': 'pg-%s-new' % tag, 'policy': 'path "y" { capabilities = ["read"] }'}],
           'kv_secrets': [{'mount_path': names['kv'], 'path': 'pg-%s-kept' % tag,
                           'data': {'k': 'kept-' + uuid.uuid4().hex}}]}
    expected = sorted([('policy', name) for name in owned] + [('kv2 secret', '%s/pg-%s-stray' % (names['kv'], tag))])
    before = policies_of(vault)

    scope = {'name_prefix': ['pg-%s-' % tag], 'max_deletions': 4}
    with bao_dev.no_writes('a prune refused by max_deletions'):
        refused = run_module('vault_config', dict(conn, config=doc, prune=True, prune_scope=scope))
    msg = assert_failed_cleanly(refused, 'prune would delete 5 objects', 'prune_scope.max_deletions (4)',
                                'nothing was written')
    for kind, name in expected:
        assert '%s %s' % (kind, name) in msg
    assert sorted((o['kind'], o['name']) for o in refused['prune_candidates']) == expected
    assert refused['objects'] == [] and refused['changed'] is False
    assert policies_of(vault) == before, 'a refused prune changed the policies'
    assert read(vault, '%s/data/pg-%s-kept' % (names['kv'], tag)) is None, 'a refused prune wrote'
    stray = vault.secrets.kv.v2.read_secret_version('pg-%s-stray' % tag, mount_point=names['kv'],
                                                    raise_on_deleted_version=True)
    assert stray['data']['data'] == {'password': secret}
    assert secret not in refused['_stdout']

    scope['max_deletions'] = 5
    with bao_dev.no_writes('prune in check mode'):
        check = run_module('vault_config', dict(conn, config=doc, prune=True, prune_scope=scope), check=True, diff=True)
    assert not check.get('failed'), check.get('msg')
    assert sorted((o['kind'], o['name']) for o in check['prune_candidates']) == expected
    assert sorted((o['kind'], o['name']) for o in check['objects'] if o['pruned']) == expected
    assert 'kv2 secret %s/pg-%s-stray (before)' % (names['kv'], tag) in [d['before_header'] for d in check['diff']]
    assert secret not in check['_stdout'], 'check mode showed a value of what prune would delete'
    assert policies_of(vault) == before, 'check mode deleted'

    done = run_module('vault_config', dict(conn, config=doc, prune=True, prune_scope=scope))
    assert not done.get('failed'), done.get('msg')
    assert sorted((o['kind'], o['name']) for o in done['objects'] if o['pruned']) == expected
    assert policies_of(vault) == (before - set(owned)) | {'pg-%s-new' % tag}
    assert set(others) | {'default'} <= policies_of(vault)
    meta = vault.secrets.kv.v2.read_secret_metadata('pg-%s-stray' % tag, mount_point=names['kv'])['data']
    assert meta['versions']['1']['deletion_time'], 'the stray secret was not soft-deleted'
    with bao_dev.no_writes('the pruning re-run'):
        again = run_module('vault_config', dict(conn, config=doc, prune=True, prune_scope=scope))
    assert again['changed'] is False and again['prune_candidates'] == []


def test_prune_scope_prunes_only_the_owners_objects(conn, vault, names, bao_dev):
    tag = names['tag']
    owned = 'tenant-%s-' % tag

    def tenants_doc(*tenants):
        return {
            # Declared under another spelling than Vault stores: never pruned.
            'policies': [{'name': ('%s%s' % (owned, t)).upper(), 'policy': 'path "x/%s" { capabilities = ["read"] }' % t}
                         for t in tenants],
            'kubernetes_auth_roles': [{'mount_path': names['k8s'], 'name': owned + t,
                                       'bound_service_account_names': [t], 'bound_service_account_namespaces': [t],
                                       'token_policies': [owned + t]} for t in tenants],
        }

    base = {'auth_methods': [{'path': names['k8s'], 'method_type': 'kubernetes'}]}
    assert run_module('vault_config', dict(conn, config=dict(base, **tenants_doc('a', 'b'))))['changed']
    # Another owner's objects in the same Vault and the same mount.
    vault.sys.create_or_update_acl_policy('cfg-%s-other' % tag, 'path "y" { capabilities = ["read"] }')
    vault.adapter.post('/v1/auth/%s/role/eso-other' % names['k8s'],
                       json={'bound_service_account_names': ['x'], 'bound_service_account_namespaces': ['y']})
    scope = {'name_prefix': [owned.upper()]}

    dropped = run_module('vault_config', dict(conn, config=tenants_doc('a'), prune=True, prune_scope=scope))
    assert not dropped.get('failed'), dropped.get('msg')
    assert read(vault, 'sys/policies/acl/%sb' % owned) is None
    assert read(vault, 'auth/%s/role/%sb' % (names['k8s'], owned)) is None
    assert read(vault, 'sys/policies/acl/%sa' % owned) is not None
    assert read(vault, 'auth/%s/role/%sa' % (names['k8s'], owned)) is not None
    assert read(vault, 'sys/policies/acl/cfg-%s-other' % tag) is not None, 'pruned outside the scope'
    assert read(vault, 'auth/%s/role/eso-other' % names['k8s']) is not None, 'pruned outside the scope'

    # The last tenant removed: no role names the mount any more, the scope does.
    empty = tenants_doc()
    no_mount = run_module('vault_config', dict(conn, config=empty, prune=True, prune_scope=scope))
    assert read(vault, 'auth/%s/role/%sa' % (names['k8s'], owned)) is not None
    assert [o['name'] for o in no_mount['objects']] == ['%sa' % owned]
    emptied = run_module('vault_config', dict(conn, config=empty, prune=True,
                                              prune_scope=dict(scope, kubernetes_auth_mounts=[names['k8s']])))
    assert not emptied.get('failed'), emptied.get('msg')
    assert read(vault, 'auth/%s/role/%sa' % (names['k8s'], owned)) is None
    assert read(vault, 'sys/policies/acl/%sa' % owned) is None
    assert read(vault, 'auth/%s/role/eso-other' % names['k8s']) is not None
    with bao_dev.no_writes('the pruning re-run'):
        again = run_module('vault_config', dict(conn, config=empty, prune=True,
                                                prune_scope=dict(scope, kubernetes_auth_mounts=[names['k8s']])))
    assert again['changed'] is False and again['requests'].get('delete', 0) == 0


def test_prune_scope_disables_only_owned_auth_mounts(conn, vault, names, bao_dev):
    tag = names['tag']
    mounts = ['cl-%s-%d' % (tag, i) for i in range(2)] + ['keep-%s' % tag]
    doc = {'auth_methods': [{'path': m, 'method_type': 'kubernetes'} for m in mounts]}
    try:
        assert run_module('vault_config', dict(conn, config=doc))['changed']
        refused = run_module('vault_config', dict(conn, config={'auth_methods': []}, prune=True,
                                                  prune_scope={'auth_methods': True}))
        assert_failed_cleanly(refused, 'prune_scope.auth_methods needs prune_scope.name_prefix')
        kept = {'auth_methods': doc['auth_methods'][:1]}
        scope = {'name_prefix': ['cl-%s-' % tag], 'auth_methods': True}
        with bao_dev.no_writes('prune in check mode'):
            check = run_module('vault_config', dict(conn, config=kept, prune=True, prune_scope=scope), check=True)
        assert [(o['name'], o['pruned']) for o in check['objects']] == [('cl-%s-1/' % tag, True)], check['objects']
        assert 'cl-%s-1/' % tag in vault.sys.list_auth_methods()['data'], 'check mode disabled a mount'
        run_module('vault_config', dict(conn, config=kept, prune=True, prune_scope=scope))
        listed = vault.sys.list_auth_methods()['data']
        assert 'cl-%s-1/' % tag not in listed
        assert 'cl-%s-0/' % tag in listed and 'keep-%s/' % tag in listed and 'token/' in listed
        # Without the flag, mounts stay out of prune even in scope.
        run_module('vault_config', dict(conn, config={'auth_methods': []}, prune=True,
                                        prune_scope={'name_prefix': ['cl-%s-' % tag]}))
        assert 'cl-%s-0/' % tag in vault.sys.list_auth_methods()['data']
    finally:
        for mount in mounts:
            vault.sys.disable_auth_method(mount)


def test_bad_entry_fails_before_any_write(conn, vault, names, bao_dev):
    doc = document(names, 'bad-' + uuid.uuid4().hex)
    doc['kubernetes_auth_roles'][1]['token_ttl'] = 'soon'
    with bao_dev.no_writes('a document with a bad entry'):
        bad = run_module('vault_config', dict(conn, config=doc))
    assert_failed_cleanly(bad, 'config.kubernetes_auth_roles[1]', 'token_ttl')
    assert read(vault, 'sys/policies/acl/cfg-%s-0' % names['tag']) is None
    assert names['kv'] + '/' not in vault.sys.list_mounted_secrets_engines()['data']

    unknown = run_module('vault_config', dict(conn, config={'polices': []}))
    assert_failed_cleanly(unknown, 'unknown section', 'polices')
    missing = run_module('vault_config', dict(conn, config={'policies': [{'name': 'x'}]}))
    assert_failed_cleanly(missing, 'config.policies[0]', 'policy')
    twice = run_module('vault_config', dict(conn, config={'policies': [{'name': 'x', 'policy': 'path "a" {}'},
                                                                       {'name': 'x', 'policy': 'path "b" {}'}]}))
    assert_failed_cleanly(twice, 'config.policies[1]', 'repeats')


@pytest.mark.only_on('openbao', 'OpenBao has no GitHub auth plugin; test_github_auth runs it on Vault')
def test_github_auth_without_the_plugin_fails_cleanly(conn):
    # OpenBao ships no GitHub auth plugin: the document must fail in one line, not half-apply.
    doc = {'github_auth': [{'organization': 'acme', 'teams': {'dev': ['dev-read']}}]}
    bad = run_module('vault_config', dict(conn, config=doc))
    assert_failed_cleanly(bad, 'github auth method is not enabled')


def test_thousand_objects_converge_and_rerun_with_zero_writes(conn, vault, names, bao_dev):
    vault.sys.enable_secrets_engine('kv', path=names['kv'], options={'version': '2'})
    vault.sys.enable_auth_method('kubernetes', path=names['k8s'])
    doc = {
        'kv_secrets': [{'mount_path': names['kv'], 'path': 'team%02d/app%04d' % (i // 50, i),
                        'data': {'password': 'pw-%04d' % i}} for i in range(600)],
        'policies': [{'name': 'bulk-%s-%04d' % (names['tag'], i), 'policy': 'path "p/%d" { capabilities = ["read"] }' % i}
                     for i in range(200)],
        'kubernetes_auth_roles': [{'mount_path': names['k8s'], 'name': 'r%04d' % i,
                                   'bound_service_account_names': ['sa%d' % i],
                                   'bound_service_account_namespaces': ['ns'], 'token_ttl': '1h'}
                                  for i in range(200)],
    }
    first = run_module('vault_config', dict(conn, config=doc))
    assert first['summary']['create'] == 1000, first.get('msg')
    assert len(vault.secrets.kv.v2.list_secrets('team11', mount_point=names['kv'])['data']['keys']) == 50
    assert len(vault.sys.list_acl_policies()['data']['keys']) >= 200
    with bao_dev.no_writes('the re-run of 1000 objects'):
        again = run_module('vault_config', dict(conn, config=doc))
    assert again['changed'] is False and again['summary']['none'] == 1000
    assert again['requests']['write'] == 0 and again['requests']['delete'] == 0
