# -*- coding: utf-8 -*-
"""vault_secrets_engine and vault_auth_method against a real OpenBao.

State is always read back from the mount tables (sys/mounts, sys/auth) with hvac,
never taken from the module's ``changed``.
"""

import uuid

from vaultkube_testlib import assert_failed_cleanly, run_module, run_without_writes


def mounts(vault):
    return vault.adapter.get('/v1/sys/mounts')['data']


def auths(vault):
    return vault.adapter.get('/v1/sys/auth')['data']


def kv_config(vault, path):
    return vault.adapter.get('/v1/%s/config' % path)['data']


def without(entry, *config_keys):
    """A table entry with some config keys left out, to compare the rest."""
    out = dict(entry, config=dict(entry['config']))
    for key in config_keys:
        out['config'].pop(key, None)
    return out


def unique(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


def test_secrets_engine_lifecycle(conn, vault, bao_dev):
    path = unique('kv')
    key = path + '/'
    args = dict(conn, path=path, engine_type='kv', version=2, description='app secrets',
                default_lease_ttl='1h', kv_config={'max_versions': 5})

    checked = run_without_writes(bao_dev, 'vault_secrets_engine', args, check=True, diff=True)
    assert checked['changed'] is True and checked['operation'] == 'create'
    assert key not in mounts(vault), 'check mode enabled the engine'
    assert checked['diff']['before'] == {}
    assert checked['diff']['after'] == {'engine_type': 'kv', 'version': '2', 'description': 'app secrets',
                                        'default_lease_ttl': 3600, 'kv_config': {'max_versions': 5}}

    created = run_module('vault_secrets_engine', args)
    assert created['changed'] is True and created['path'] == key
    entry = mounts(vault)[key]
    assert entry['type'] == 'kv' and entry['options'] == {'version': '2'}
    assert entry['description'] == 'app secrets'
    assert entry['config']['default_lease_ttl'] == 3600 and entry['config']['max_lease_ttl'] == 0
    assert created['accessor'] == entry['accessor']
    assert kv_config(vault, path)['max_versions'] == 5

    # Vault stored 3600; "1h" again is no change.
    again = run_without_writes(bao_dev, 'vault_secrets_engine', args)
    assert again['changed'] is False and again['operation'] == 'none'

    # Tune two fields, with the path written another way and the TTL another way.
    tune = dict(args, path='/%s/' % path, default_lease_ttl='60m', max_lease_ttl='2h',
                kv_config={'max_versions': 7})
    planned = run_without_writes(bao_dev, 'vault_secrets_engine', tune, check=True, diff=True)
    assert planned['changed'] is True and planned['changed_fields'] == ['kv_config', 'max_lease_ttl']
    assert planned['diff']['before']['max_lease_ttl'] == 0
    assert planned['diff']['after']['max_lease_ttl'] == 7200
    assert planned['diff']['after']['kv_config']['max_versions'] == 7
    assert mounts(vault)[key] == entry, 'check mode tuned the engine'
    assert kv_config(vault, path)['max_versions'] == 5

    kv_before = kv_config(vault, path)
    tuned = run_module('vault_secrets_engine', tune)
    assert tuned['changed'] is True and tuned['operation'] == 'update'
    after = mounts(vault)[key]
    assert after['config']['max_lease_ttl'] == 7200
    # Nothing but the tuned field moved: same mount (uuid), same TTL, description, options.
    assert without(after, 'max_lease_ttl') == without(entry, 'max_lease_ttl')
    assert kv_config(vault, path) == dict(kv_before, max_versions=7)

    delete = dict(conn, path=path, state='absent')
    assert run_without_writes(bao_dev, 'vault_secrets_engine', delete, check=True)['changed'] is True
    assert key in mounts(vault), 'check mode disabled the engine'
    deleted = run_module('vault_secrets_engine', delete, diff=True)
    assert deleted['changed'] is True and deleted['diff']['after'] == {}
    assert key not in mounts(vault)
    assert run_without_writes(bao_dev, 'vault_secrets_engine', delete)['changed'] is False


def test_kv_version_mismatch_is_refused_and_data_survives(conn, vault):
    path = unique('kv1')
    vault.sys.enable_secrets_engine('kv', path=path, options={'version': '1'})
    vault.secrets.kv.v1.create_or_update_secret('app', {'password': 'keep-me'}, mount_point=path)
    uuid_before = mounts(vault)[path + '/']['uuid']

    wrong_version = run_module('vault_secrets_engine', dict(conn, path=path, engine_type='kv', version=2))
    assert_failed_cleanly(wrong_version, "secrets engine at '%s/' is kv version 1, wanted kv version 2" % path,
                          'refusing to remount because that would lose its data',
                          'disable it first or choose another path')

    wrong_type = run_module('vault_secrets_engine', dict(conn, path=path, engine_type='transit'))
    assert_failed_cleanly(wrong_type, "secrets engine at '%s/' is of type kv, wanted transit" % path)

    entry = mounts(vault)[path + '/']
    assert entry['uuid'] == uuid_before and entry['options'] == {'version': '1'}
    secret = vault.secrets.kv.v1.read_secret('app', mount_point=path)
    assert secret['data'] == {'password': 'keep-me'}


def test_unknown_engine_type_reports_vaults_message(conn, vault):
    path = unique('nope')
    result = run_module('vault_secrets_engine', dict(conn, path=path, engine_type='no-such-engine'))
    assert_failed_cleanly(result, 'sys/mounts/' + path, '400', 'no-such-engine')
    assert path + '/' not in mounts(vault)


def test_bad_ttl_names_the_field_before_any_write(conn, vault):
    path = unique('ttl')
    result = run_module('vault_secrets_engine', dict(conn, path=path, engine_type='kv', max_lease_ttl='abc'))
    assert_failed_cleanly(result, 'max_lease_ttl', "'abc'")
    assert path + '/' not in mounts(vault)


def test_wrong_token_is_403(conn):
    engine = run_module('vault_secrets_engine', dict(conn, token='not-a-token', path='x', engine_type='kv'))
    assert_failed_cleanly(engine, '403', 'sys/mounts')
    method = run_module('vault_auth_method', dict(conn, token='not-a-token', path='x', method_type='approle'))
    assert_failed_cleanly(method, '403', 'sys/auth')


def test_builtin_mounts_are_refused(conn, vault):
    cubbyhole = run_module('vault_secrets_engine', dict(conn, path='cubbyhole/', state='absent'))
    assert_failed_cleanly(cubbyhole, "'cubbyhole/' is built into Vault and cannot be disabled")
    sys_tune = run_module('vault_secrets_engine', dict(conn, path='sys', engine_type='system',
                                                       description='mine now'))
    assert_failed_cleanly(sys_tune, "'sys/' is built into Vault; refusing to tune it")
    token = run_module('vault_auth_method', dict(conn, path='token', state='absent'))
    assert_failed_cleanly(token, "'token/' is built into Vault and cannot be disabled")
    assert {'cubbyhole/', 'sys/'} <= set(mounts(vault)) and 'token/' in auths(vault)
    assert mounts(vault)['sys/']['description'] != 'mine now'


def test_auth_method_lifecycle(conn, vault, bao_dev):
    path = unique('k8s')
    key = path + '/'
    args = dict(conn, path=path, method_type='kubernetes', description='ESO in cluster a',
                default_lease_ttl='1h', listing_visibility='unauth',
                passthrough_request_headers=['X-B', 'X-A'])

    checked = run_without_writes(bao_dev, 'vault_auth_method', args, check=True, diff=True)
    assert checked['changed'] is True and checked['operation'] == 'create'
    assert checked['diff']['after']['passthrough_request_headers'] == ['X-A', 'X-B']
    assert key not in auths(vault), 'check mode enabled the auth method'

    created = run_module('vault_auth_method', args)
    assert created['changed'] is True
    entry = auths(vault)[key]
    assert entry['type'] == 'kubernetes' and entry['description'] == 'ESO in cluster a'
    assert entry['config']['default_lease_ttl'] == 3600
    assert entry['config']['listing_visibility'] == 'unauth'
    assert sorted(entry['config']['passthrough_request_headers']) == ['X-A', 'X-B']
    assert created['accessor'] == entry['accessor']

    # Same meaning, other spelling: list order and duration unit do not matter.
    again = run_without_writes(bao_dev, 'vault_auth_method', dict(args, path=key, default_lease_ttl=3600,
                                                                  passthrough_request_headers=['X-A', 'X-B']))
    assert again['changed'] is False

    update = dict(args, token_type='batch', passthrough_request_headers=[])
    updated = run_module('vault_auth_method', update, diff=True)
    assert updated['changed'] is True
    assert updated['changed_fields'] == ['passthrough_request_headers', 'token_type']
    assert updated['diff']['before']['token_type'] == 'default-service'
    assert updated['diff']['after']['token_type'] == 'batch'
    after = auths(vault)[key]
    assert after['config']['token_type'] == 'batch'
    assert [h for h in after['config'].get('passthrough_request_headers') or [] if h] == []
    assert without(after, 'token_type', 'passthrough_request_headers') == \
        without(entry, 'token_type', 'passthrough_request_headers')
    assert run_without_writes(bao_dev, 'vault_auth_method', update)['changed'] is False

    other = run_module('vault_auth_method', dict(conn, path=path, method_type='approle'))
    assert_failed_cleanly(other, "auth method at '%s' is of type kubernetes, wanted approle" % key,
                          'would delete its roles and configuration')
    assert auths(vault)[key]['accessor'] == entry['accessor']

    delete = dict(conn, path=path, state='absent')
    assert run_module('vault_auth_method', delete)['changed'] is True
    assert key not in auths(vault)
    assert run_without_writes(bao_dev, 'vault_auth_method', delete)['changed'] is False
