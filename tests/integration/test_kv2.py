# -*- coding: utf-8 -*-
"""vault_kv2_secret against a real OpenBao: versions, masking, cas, soft delete and destroy, bad mounts."""

import uuid

import hvac
import pytest

from vaultkube_testlib import assert_failed_cleanly, run_module, run_without_writes

# Values that cannot appear in any output by accident.
PASSWORD_1 = 'pw-' + uuid.uuid4().hex
PASSWORD_2 = 'pw-' + uuid.uuid4().hex
USERNAME = 'user-' + uuid.uuid4().hex


def read_live(vault, path, mount='secret'):
    """Latest readable data and version, or (None, None) when Vault answers 404 (absent, deleted or
    destroyed); any other error fails the test."""
    try:
        body = vault.secrets.kv.v2.read_secret_version(path=path, mount_point=mount,
                                                       raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath:
        return None, None
    return body['data']['data'], body['data']['metadata']['version']


def current_version(vault, path, mount='secret'):
    """The current version, or None when Vault answers 404 (no metadata); any other error fails."""
    try:
        return vault.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)['data']['current_version']
    except hvac.exceptions.InvalidPath:
        return None


def assert_no_secret_in(result, *values):
    for value in values:
        assert value not in result['_stdout'], 'secret value leaked into the output'
        assert value not in result['_stderr'], 'secret value leaked into stderr'


def test_kv2_lifecycle(conn, vault, bao_dev):
    path = 'it/' + uuid.uuid4().hex[:8]
    data_v1 = {'username': USERNAME, 'password': PASSWORD_1}
    args = dict(conn, path=path, data=data_v1)

    checked = run_without_writes(bao_dev, 'vault_kv2_secret', args, check=True, diff=True)
    assert checked['changed'] is True and checked['operation'] == 'create'
    assert current_version(vault, path) is None, 'check mode wrote to Vault'
    assert checked['diff']['after'] == {'data': {'username': '(hidden, changed)', 'password': '(hidden, changed)'}}
    assert checked['version'] is None
    assert_no_secret_in(checked, USERNAME, PASSWORD_1)

    created = run_module('vault_kv2_secret', args)
    assert created['changed'] is True and created['version'] == 1
    assert created['changed_keys'] == ['password', 'username']
    assert read_live(vault, path) == (data_v1, 1)
    assert_no_secret_in(created, USERNAME, PASSWORD_1)

    # Equal data: no new version.
    again = run_without_writes(bao_dev, 'vault_kv2_secret', args, diff=True)
    assert again['changed'] is False and again['operation'] == 'none' and again['version'] == 1
    assert current_version(vault, path) == 1
    assert_no_secret_in(again, USERNAME, PASSWORD_1)

    update = dict(conn, path=path, data={'username': USERNAME, 'password': PASSWORD_2, 'port': '5432'})
    check_update = run_without_writes(bao_dev, 'vault_kv2_secret', update, check=True, diff=True)
    assert check_update['changed'] is True
    assert read_live(vault, path) == (data_v1, 1), 'check mode wrote to Vault'
    assert check_update['diff'] == {
        'before': {'data': {'username': '(hidden)', 'password': '(hidden, changed)'}},
        'after': {'data': {'username': '(hidden)', 'password': '(hidden, changed)', 'port': '(hidden, changed)'}},
    }
    assert check_update['changed_keys'] == ['password', 'port']
    assert_no_secret_in(check_update, USERNAME, PASSWORD_1, PASSWORD_2)

    updated = run_module('vault_kv2_secret', update, diff=True)
    assert updated['changed'] is True and updated['version'] == 2
    assert read_live(vault, path) == (update['data'], 2)
    assert_no_secret_in(updated, USERNAME, PASSWORD_1, PASSWORD_2)

    delete = dict(conn, path=path, state='absent')
    check_delete = run_without_writes(bao_dev, 'vault_kv2_secret', delete, check=True, diff=True)
    assert check_delete['changed'] is True and check_delete['operation'] == 'delete'
    assert read_live(vault, path) == (update['data'], 2), 'check mode deleted'
    assert check_delete['diff']['after'] == {}
    assert_no_secret_in(check_delete, USERNAME, PASSWORD_2)

    deleted = run_module('vault_kv2_secret', delete)
    assert deleted['changed'] is True and deleted['version'] is None
    assert read_live(vault, path) == (None, None)
    assert current_version(vault, path) == 2, 'soft delete must keep the metadata'
    assert run_without_writes(bao_dev, 'vault_kv2_secret', delete)['changed'] is False

    # A soft-deleted latest version counts as absent: present writes version 3.
    recreated = run_module('vault_kv2_secret', args)
    assert recreated['changed'] is True and recreated['operation'] == 'create' and recreated['version'] == 3
    assert read_live(vault, path) == (data_v1, 3)

    destroy = dict(delete, destroy=True)
    assert run_module('vault_kv2_secret', destroy)['changed'] is True
    assert current_version(vault, path) is None, 'destroy must remove the metadata and all versions'
    assert run_without_writes(bao_dev, 'vault_kv2_secret', destroy)['changed'] is False


def test_destroy_removes_a_soft_deleted_secret(conn, vault, bao_dev):
    path = 'it/' + uuid.uuid4().hex[:8]
    vault.secrets.kv.v2.create_or_update_secret(path=path, secret={'a': 'b'}, mount_point='secret')
    vault.secrets.kv.v2.delete_latest_version_of_secret(path=path, mount_point='secret')
    # Soft delete: already absent. Destroy: metadata remains, so still something to remove.
    assert run_without_writes(bao_dev, 'vault_kv2_secret', dict(conn, path=path, state='absent'))['changed'] is False
    destroyed = run_module('vault_kv2_secret', dict(conn, path=path, state='absent', destroy=True))
    assert destroyed['changed'] is True
    assert current_version(vault, path) is None


def test_json_types_are_compared_as_stored(conn, vault, bao_dev):
    path = 'it/' + uuid.uuid4().hex[:8]
    args = dict(conn, path=path, data={'count': 7, 'ratio': 2.0, 'enabled': True, 'label': 'x-' + PASSWORD_1})
    assert run_module('vault_kv2_secret', args)['version'] == 1
    # 2.0 reads back as 2 from Vault: still equal, no new version.
    assert run_without_writes(bao_dev, 'vault_kv2_secret', dict(args, data=dict(args['data'], ratio=2)))['changed'] is False
    as_string = run_module('vault_kv2_secret', dict(args, data=dict(args['data'], count='7')))
    assert as_string['changed'] is True and as_string['changed_keys'] == ['count']
    assert read_live(vault, path)[0]['count'] == '7'


def test_cas_mismatch_fails_and_keeps_the_data(conn, vault):
    path = 'it/' + uuid.uuid4().hex[:8]
    vault.secrets.kv.v2.create_or_update_secret(path=path, secret={'password': PASSWORD_1}, mount_point='secret')
    args = dict(conn, path=path, data={'password': PASSWORD_2}, cas=5)
    bad = run_module('vault_kv2_secret', args)
    assert_failed_cleanly(bad, 'cas=5', 'current version 1', 'secret/' + path)
    assert read_live(vault, path) == ({'password': PASSWORD_1}, 1)
    assert_no_secret_in(bad, PASSWORD_1, PASSWORD_2)

    # cas=0 means "create only": an existing secret is not overwritten.
    assert_failed_cleanly(run_module('vault_kv2_secret', dict(args, cas=0)), 'cas=0', 'current version 1')
    assert read_live(vault, path) == ({'password': PASSWORD_1}, 1)

    good = run_module('vault_kv2_secret', dict(args, cas=1))
    assert good['changed'] is True and good['version'] == 2
    assert read_live(vault, path) == ({'password': PASSWORD_2}, 2)


def test_missing_mount_is_one_line(conn):
    bad = run_module('vault_kv2_secret', dict(conn, mount_path='no-such-kv', path='a', data={'k': PASSWORD_1}))
    assert_failed_cleanly(bad, "mount_path 'no-such-kv'", 'no secrets engine is mounted', 'kv version 2')


def test_kv_version_1_mount_is_refused_before_writing(conn, vault):
    mount = 'kv1-' + uuid.uuid4().hex[:6]
    vault.sys.enable_secrets_engine('kv', path=mount, options={'version': '1'})
    try:
        bad = run_module('vault_kv2_secret', dict(conn, mount_path=mount, path='app', data={'k': PASSWORD_1}))
        assert_failed_cleanly(bad, mount, 'kv version 1', 'needs a kv version 2 mount')
        # Nothing at all was stored in the kv v1 mount (a write would create "data/app").
        assert vault.list('%s/' % mount) is None
    finally:
        vault.sys.disable_secrets_engine(mount)


@pytest.mark.parametrize('args,fragments', [
    ({'path': '/', 'data': {'k': PASSWORD_1}}, ('path must name the secret',)),
    ({'path': 'x'}, ('data',)),
])
def test_bad_input_is_one_line(conn, args, fragments):
    assert_failed_cleanly(run_module('vault_kv2_secret', dict(conn, **args)), *fragments)


def test_works_with_a_token_limited_to_the_secret(conn, vault, bao_dev):
    """The mount check must not need more than the secret's own policy."""
    folder = 'lp-' + uuid.uuid4().hex[:6]
    policy = ('path "secret/data/%s/*" { capabilities = ["create", "read", "update"] }\n'
              'path "secret/metadata/%s/*" { capabilities = ["read"] }\n' % (folder, folder))
    vault.sys.create_or_update_policy(name=folder, policy=policy)
    token = vault.auth.token.create(policies=[folder], ttl='10m')['auth']['client_token']
    args = dict(conn, token=token, path=folder + '/db', data={'password': PASSWORD_1})
    assert run_module('vault_kv2_secret', args)['changed'] is True
    assert run_without_writes(bao_dev, 'vault_kv2_secret', args)['changed'] is False
    assert read_live(vault, folder + '/db') == ({'password': PASSWORD_1}, 1)
