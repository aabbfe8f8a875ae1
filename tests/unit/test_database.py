# -*- coding: utf-8 -*-
"""Pure logic of the database modules: URL checks, statements, the password policy, write bodies."""

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError
from ansible_collections.vaultkube.platform.plugins.module_utils._config import Section, secret_values
from ansible_collections.vaultkube.platform.plugins.module_utils._database import (
    PASSWORD_WRITTEN,
    DatabaseConnection,
    DatabaseRole,
    clear_passwords,
    statements,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import reconcile
from vault_fakes import FakeAPI

URL = 'postgresql://{{username}}:{{password}}@db:5432/postgres'
PASSWORD = 'root-password-value'
CREATE = 'CREATE ROLE "{{name}}" WITH LOGIN PASSWORD \'{{password}}\';'


def connection(api=None, **params):
    base = {'mount_path': 'database', 'name': 'pg', 'state': 'present', 'plugin_name': 'postgresql-database-plugin',
            'connection_url': URL, 'username': 'vault', 'password': PASSWORD, 'password_update': 'on_create',
            'password_authentication': None, 'allowed_roles': ['app'], 'verify_connection': True,
            'rotate_root': False}
    base.update(params)
    return DatabaseConnection(api or FakeAPI(), base)


def vault_connection(**details):
    data = {'connection_url': URL, 'username': 'vault'}
    data.update(details)
    return FakeAPI({'database/config/pg': {'data': {
        'plugin_name': 'postgresql-database-plugin', 'allowed_roles': ['app'], 'connection_details': data,
        'password_policy': '', 'plugin_version': '', 'root_credentials_rotate_statements': []}}})


def role(api=None, **params):
    base = {'mount_path': 'database', 'name': 'app', 'state': 'present', 'db_name': 'pg',
            'creation_statements': [CREATE], 'revocation_statements': None, 'rollback_statements': None,
            'renew_statements': None, 'default_ttl': '1h', 'max_ttl': '24h'}
    base.update(params)
    return DatabaseRole(api or FakeAPI(), base)


def vault_role(**fields):
    data = {'creation_statements': [CREATE], 'credential_type': 'password', 'db_name': 'pg', 'default_ttl': 3600,
            'max_ttl': 86400, 'renew_statements': [], 'revocation_statements': [], 'rollback_statements': []}
    data.update(fields)
    return FakeAPI({'database/roles/app': {'data': data}})


def refusal(obj, *words):
    """The error validate() raises for obj; each of words must be in it."""
    with pytest.raises(FieldError) as err:
        obj.validate()
    message = str(err.value)
    for word in words:
        assert word in message, message
    return message


# -- connection URL --------------------------------------------------------------------------

@pytest.mark.parametrize('url,found', [
    (URL, []),
    ('postgresql://{{username}}@db/postgres', []),
    ('postgresql://admin:s3cret@db:5432/postgres', ['s3cret']),
    ('postgres://{{username}}:hunter2@db/x?sslmode=disable', ['hunter2']),
    ('host=db user={{username}} password={{password}} dbname=x', []),
    ("host=db user=admin password='a b' dbname=x", ['a b']),
    ('host=db user=admin password=plain dbname=x', ['plain']),
])
def test_clear_passwords_in_urls_and_dsns(url, found):
    assert clear_passwords(url) == found


def test_a_clear_password_is_refused_without_repeating_it():
    message = refusal(connection(connection_url='postgresql://admin:s3cret@db/postgres'))
    assert 'password in clear' in message and 's3cret' not in message


def test_a_clear_password_is_masked_even_in_a_refused_vault_config_entry():
    section = Section('database_connections', DatabaseConnection, DatabaseConnection.argument_spec)
    found = secret_values([section], {'database_connections': [
        {'name': 'pg', 'connection_url': 'postgresql://admin:s3cret@db/postgres', 'password': PASSWORD}]})
    assert {'s3cret', PASSWORD} <= found


@pytest.mark.parametrize('params,words', [
    ({'connection_url': None}, ['connection_url']),
    ({'connection_url': '  '}, ['connection_url']),
    ({'connection_url': 'postgresql://{{username}}@db/x'}, ['{{password}}']),
    ({'connection_url': 'postgresql://admin:{{password}}@db/x'}, ['{{username}}']),
    ({'password': ' '}, ['password is empty']),
    ({'plugin_name': ' '}, ['plugin_name']),
    ({'plugin_name': 'mysql-database-plugin', 'password_authentication': 'scram-sha-256'},
     ['password_authentication', 'mysql-database-plugin']),
    ({'rotate_root': True, 'username': None, 'connection_url': 'postgresql://u:{{password}}@db/x'},
     ['rotate_root', 'username']),
    ({'rotate_root': True, 'password': None}, ['rotate_root', 'password']),
    ({'rotate_root': True, 'password_update': 'always'}, ['rotate_root', 'password_update=always']),
    ({'name': 'a/b'}, ['name']),
    ({'name': '-x'}, ['name']),
    ({'mount_path': '/'}, ['mount_path']),
])
def test_connection_refusals_name_the_field(params, words):
    refusal(connection(**params), *words)


def test_absent_needs_no_url():
    connection(state='absent', connection_url=None, password=None).validate()


# -- password policy -------------------------------------------------------------------------

def test_create_sends_everything_and_the_password_once():
    api = FakeAPI()
    obj = connection(api, allowed_roles=['b', 'a'], password_authentication='scram-sha-256', verify_connection=False)
    outcome = reconcile(obj, 'present')
    assert outcome['action'] == 'create' and 'password' in outcome['changed_fields']
    assert outcome['diff']['after']['password'] == '(hidden)'
    assert PASSWORD not in repr(outcome) and PASSWORD_WRITTEN not in repr(outcome['diff'])
    (call,) = api.mutations()
    assert call[:2] == ('write', 'database/config/pg')
    body = call[2]
    assert body == {'plugin_name': 'postgresql-database-plugin', 'connection_url': URL, 'username': 'vault',
                    'password': PASSWORD, 'password_authentication': 'scram-sha-256', 'allowed_roles': ['a', 'b'],
                    'verify_connection': False}


def test_on_create_leaves_the_stored_password_alone():
    api = vault_connection()
    assert reconcile(connection(api, password='another'), 'present')['changed'] is False
    assert api.mutations() == []


def test_an_update_sends_only_what_differs_and_no_password():
    api = vault_connection()
    outcome = reconcile(connection(api, allowed_roles=['app', 'other']), 'present')
    assert outcome['changed_fields'] == ['allowed_roles']
    assert api.mutations() == [('write', 'database/config/pg',
                                {'allowed_roles': ['app', 'other'], 'verify_connection': True})]


def test_unset_password_authentication_is_vaults_default():
    api = vault_connection()
    assert reconcile(connection(api, password_authentication='password'), 'present')['changed'] is False


def test_always_writes_the_password_every_run_and_masks_it():
    api = vault_connection()
    outcome = reconcile(connection(api, password_update='always'), 'present')
    assert outcome['changed_fields'] == ['password']
    assert outcome['diff']['after']['password'] == '(hidden, changed)' and 'password' not in outcome['diff']['before']
    assert api.mutations() == [('write', 'database/config/pg',
                                {'password': PASSWORD, 'username': 'vault', 'verify_connection': True})]


def test_a_new_username_comes_with_its_password():
    api = vault_connection()
    outcome = reconcile(connection(api, username='vault2'), 'present')
    assert outcome['changed_fields'] == ['password', 'username']
    body = api.mutations()[0][2]
    assert body['username'] == 'vault2' and body['password'] == PASSWORD


def test_check_mode_writes_nothing():
    api = FakeAPI()
    assert reconcile(connection(api, rotate_root=True), 'present', check_mode=True)['changed'] is True
    assert api.mutations() == []


# -- rotation --------------------------------------------------------------------------------

def test_rotate_root_follows_the_creating_write():
    api = FakeAPI()
    outcome = reconcile(connection(api, rotate_root=True), 'present')
    assert 'rotate_root' in outcome['changed_fields'] and outcome['diff']['after']['rotate_root'] is True
    assert [call[:2] for call in api.mutations()] == [('write', 'database/config/pg'),
                                                      ('write', 'database/rotate-root/pg')]


def test_rotate_root_does_not_rotate_an_existing_connection_again():
    api = vault_connection()
    assert reconcile(connection(api, rotate_root=True), 'present')['changed'] is False
    assert reconcile(connection(api, rotate_root=True, allowed_roles=['x']), 'present')['changed_fields'] == \
        ['allowed_roles']
    assert [call[1] for call in api.mutations()] == ['database/config/pg']
    assert 'password' not in api.mutations()[0][2]


def test_a_failed_rotation_of_a_new_connection_removes_it_again():
    error = VaultRequestError('Vault POST database/rotate-root/pg failed: 500 no username in configuration', 500)
    api = FakeAPI(errors={'database/rotate-root/pg': error})
    with pytest.raises(VaultRequestError) as err:
        reconcile(connection(api, rotate_root=True), 'present')
    assert 'removed' in str(err.value) and 'no username' in str(err.value)
    assert [call[:2] for call in api.mutations()] == [('write', 'database/config/pg'),
                                                      ('write', 'database/rotate-root/pg'),
                                                      ('delete', 'database/config/pg')]


def test_a_failed_removal_after_a_failed_rotation_says_both():
    error = VaultRequestError('rotate failed', 500)
    api = FakeAPI(errors={'database/rotate-root/pg': error,
                          'DELETE database/config/pg': VaultRequestError('delete failed', 403)})
    with pytest.raises(VaultRequestError) as err:
        reconcile(connection(api, rotate_root=True), 'present')
    message = str(err.value)
    assert 'rotate failed' in message and 'delete failed' in message and 'database/rotate-root/pg' in message


def test_a_failed_rotation_after_a_new_username_keeps_the_connection():
    api = vault_connection()
    api.errors['database/rotate-root/pg'] = VaultRequestError('rotate failed', 500)
    with pytest.raises(VaultRequestError) as err:
        reconcile(connection(api, username='vault2', rotate_root=True), 'present')
    assert 'rotate it with a write to database/rotate-root/pg' in str(err.value)
    assert [call[0] for call in api.mutations()] == ['write', 'write']


# -- mounts and plugins ----------------------------------------------------------------------

class Declared(object):
    def __init__(self, engine):
        self.engine = engine

    def declared_type(self):
        return self.engine, None


def test_a_kv_mount_is_refused_before_any_write():
    api = FakeAPI({'sys/internal/ui/mounts/database': {'data': {'type': 'kv', 'path': 'database/'}}})
    with pytest.raises(FieldError) as err:
        connection(api).preflight({}, {})
    assert 'kv secrets engine, not database' in str(err.value)
    with pytest.raises(FieldError) as err:
        connection(FakeAPI()).preflight({('secrets', 'database'): Declared('kv')}, {})
    assert 'declared in this document as a kv' in str(err.value)


def test_an_unknown_plugin_is_refused_and_a_403_catalog_is_skipped():
    mounts = {'sys/internal/ui/mounts/database': {'data': {'type': 'database', 'path': 'database/'}}}
    with pytest.raises(FieldError) as err:
        connection(FakeAPI(dict(mounts)), plugin_name='nosuch').preflight({}, {})
    assert "plugin_name 'nosuch'" in str(err.value)
    forbidden = VaultRequestError('403', status=403)
    connection(FakeAPI(dict(mounts), errors={'sys/plugins/catalog/database/nosuch': forbidden}),
               plugin_name='nosuch').preflight({}, {})


# -- statements and roles --------------------------------------------------------------------

def test_statements_keep_one_string_whole_and_trim_items():
    assert statements('GRANT SELECT, INSERT ON t TO "{{name}}";', 'creation_statements') == \
        ['GRANT SELECT, INSERT ON t TO "{{name}}";']
    assert statements(['  a; ', '', ' ', 'b'], 'creation_statements') == ['a;', 'b']
    assert statements(None, 'x') is None
    for bad in ({'sql': 'a'}, [1], 5):
        with pytest.raises(FieldError):
            statements(bad, 'creation_statements')


@pytest.mark.parametrize('params,words', [
    ({'db_name': None}, ['db_name']),
    ({'db_name': 'a/b'}, ['db_name']),
    ({'creation_statements': None}, ['creation_statements']),
    ({'creation_statements': ['', ' ']}, ['creation_statements']),
    ({'default_ttl': -5}, ['default_ttl']),
    ({'max_ttl': 'soon'}, ['max_ttl']),
    ({'default_ttl': '2h', 'max_ttl': '1h'}, ['default_ttl', 'max_ttl']),
    ({'name': 'r\u00f4le'}, ['name']),
])
def test_role_refusals_name_the_field(params, words):
    refusal(role(**params), *words)


def test_role_equal_meaning_is_no_change():
    api = vault_role()
    obj = role(api, default_ttl=3600, max_ttl='1440m', creation_statements=['  ' + CREATE + '\n', ''])
    assert reconcile(obj, 'present')['changed'] is False
    assert api.mutations() == []


def test_role_update_sends_only_what_differs():
    api = vault_role(revocation_statements=['DROP ROLE "{{name}}";'])
    outcome = reconcile(role(api, max_ttl='12h'), 'present')
    assert outcome['changed_fields'] == ['max_ttl']
    assert api.mutations() == [('write', 'database/roles/app', {'max_ttl': 43200})]


def test_role_needs_its_connection_unless_the_document_declares_it():
    mounts = {'sys/internal/ui/mounts/database': {'data': {'type': 'database', 'path': 'database/'}}}
    with pytest.raises(FieldError) as err:
        role(FakeAPI(dict(mounts)), db_name='missing').preflight({}, {})
    assert "db_name 'missing'" in str(err.value)
    api = FakeAPI()
    role(api).preflight({('secrets', 'database'): Declared('database'),
                         ('database connection', 'database/pg'): object()}, {})
    assert api.calls == []


def test_role_list_prunable_covers_the_named_mounts():
    api = FakeAPI({'LIST database/roles': ['app', 'stray'], 'LIST other/roles': ['x']})
    entries = [{'mount_path': 'database'}, {'mount_path': '/other/'}]
    assert DatabaseRole.list_prunable(api, entries) == [
        {'mount_path': 'database', 'name': 'app', 'state': 'absent'},
        {'mount_path': 'database', 'name': 'stray', 'state': 'absent'},
        {'mount_path': 'other', 'name': 'x', 'state': 'absent'}]
