# -*- coding: utf-8 -*-
"""vault_database_connection, vault_database_role and their vault_config sections against a
real OpenBao dev server and a real PostgreSQL server started by the test on loopback.

Every claim is read back: the connection and role from Vault, the credentials by logging
in to PostgreSQL with them (psql, password in its environment) and by looking the user up
in pg_roles as the test's own superuser. Vault's placeholders ({{username}}, {{name}}...)
reach the modules as !unsafe strings, as a playbook has to write them.
"""

import json
import shutil
import time
import uuid

import pytest
import yaml

from vaultkube_postgres import PostgresServer, connection_url, new_password
from vaultkube_testlib import (assert_failed_cleanly, first_result, fresh_mount, read_or_none, run_playbook, task_results,
                               tmpdir)

CREATE = ['CREATE ROLE "{{name}}" WITH LOGIN PASSWORD \'{{password}}\' VALID UNTIL \'{{expiration}}\';',
          'GRANT CONNECT ON DATABASE postgres TO "{{name}}";']


class Unsafe(str):
    """A string the playbook marks !unsafe, so Ansible leaves Vault's {{...}} alone."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Unsafe, lambda dumper, value: dumper.represent_scalar('!unsafe', str(value)))


def _unsafe(value):
    if isinstance(value, dict):
        return dict((key, _unsafe(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_unsafe(item) for item in value]
    if isinstance(value, str) and '{' in value:
        return Unsafe(value)
    return value


def playbook_text(tasks):
    """A playbook of (module, args[, task keywords]) tasks, every argument holding "{" !unsafe."""
    body = []
    for task in tasks:
        module, args = task[0], task[1]
        name = module if '.' in module else 'vaultkube.platform.' + module
        entry = {'name': 'task %d' % len(body), name: _unsafe(args)}
        if len(task) > 2:
            entry.update(task[2])
        body.append(entry)
    play = [{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False, 'tasks': body}]
    return yaml.dump(play, Dumper=_Dumper, sort_keys=False, width=1000)


def run_tasks(tasks, check=False, diff=False, verbosity=0, json_output=True):
    work = tmpdir('vaultkube-dbplay-')
    try:
        playbook = work / 'play.yml'
        playbook.write_text(playbook_text(tasks))
        return run_playbook(playbook, check=check, diff=diff, verbosity=verbosity, json_output=json_output)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_task(module, args, check=False, diff=False):
    """One module run; its result with the whole output under _stdout/_stderr (like run_module)."""
    return first_result(run_tasks([(module, args)], check=check, diff=diff))


def run_task_without_writes(server, module, args, **kw):
    """run_task that fails unless Vault's audit log shows no write request from the run."""
    with server.no_writes('%s%s' % (module, ' in check mode' if kw.get('check') else '')):
        return run_task(module, args, **kw)


def assert_hidden(result, *values):
    for value in values:
        assert value not in result['_stdout'] and value not in result['_stderr'], 'a password leaked'


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope='module')
def pg():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope='module')
def root_user(pg):
    """The privileged user Vault's connections log in as."""
    user, password = 'vault_root', new_password()
    pg.create_superuser(user, password)
    return {'username': user, 'password': password}


@pytest.fixture
def mount(vault):
    """A fresh database secrets engine, enabled directly (vault_secrets_engine is another module's job)."""
    yield from fresh_mount(vault, 'database', 'db-')


def read_connection(vault, mount, name):
    return read_or_none(vault, '%s/config/%s' % (mount, name))


def read_role(vault, mount, name):
    return read_or_none(vault, '%s/roles/%s' % (mount, name))


def connection_args(conn, mount, pg, root_user, **extra):
    args = dict(conn, mount_path=mount, name='pg', connection_url=connection_url(pg),
                username=root_user['username'], password=root_user['password'], allowed_roles=['app'])
    args.update(extra)
    return args


def role_args(conn, mount, **extra):
    args = dict(conn, mount_path=mount, name='app', db_name='pg', creation_statements=CREATE,
                default_ttl='1h', max_ttl='24h')
    args.update(extra)
    return args


def issue(vault, mount, role):
    """Credentials of a role, read with hvac as an application would."""
    body = vault.read('%s/creds/%s' % (mount, role))
    return body['lease_id'], body['data']['username'], body['data']['password']


# --------------------------------------------------------------------------- life cycle

def test_connection_and_role_lifecycle(conn, vault, mount, pg, root_user, bao_dev):
    root_pw = root_user['password']
    args = connection_args(conn, mount, pg, root_user)

    checked = run_task_without_writes(bao_dev, 'vault_database_connection', args, check=True, diff=True)
    assert checked['changed'] is True and checked['operation'] == 'create'
    assert read_connection(vault, mount, 'pg') is None, 'check mode wrote to Vault'
    assert checked['diff']['after']['password'] == '(hidden)'
    assert checked['diff']['after']['username'] == 'vault_root'
    assert_hidden(checked, root_pw)

    created = run_task('vault_database_connection', args, diff=True)
    assert created['changed'] is True and created['operation'] == 'create'
    assert sorted(created['changed_fields']) == [
        'allowed_roles', 'connection_url', 'password', 'plugin_name', 'username']
    stored = read_connection(vault, mount, 'pg')
    assert stored['plugin_name'] == 'postgresql-database-plugin'
    assert stored['connection_details']['connection_url'] == connection_url(pg)
    assert stored['connection_details']['username'] == 'vault_root'
    assert stored['allowed_roles'] == ['app']
    assert 'password' not in stored['connection_details'] and root_pw not in json.dumps(stored)
    assert_hidden(created, root_pw)

    again = run_task_without_writes(bao_dev, 'vault_database_connection', args, diff=True)
    assert again['changed'] is False and again['operation'] == 'none'
    assert 'password' not in again['diff']['after']
    assert_hidden(again, root_pw)

    update = dict(args, allowed_roles=['app', 'short'], password_authentication='scram-sha-256')
    check_update = run_task_without_writes(bao_dev, 'vault_database_connection', update, check=True, diff=True)
    assert check_update['changed'] is True
    assert check_update['changed_fields'] == ['allowed_roles', 'password_authentication']
    assert check_update['diff']['before']['password_authentication'] == 'password'
    assert check_update['diff']['after']['allowed_roles'] == ['app', 'short']
    assert 'password' not in check_update['diff']['after']
    assert read_connection(vault, mount, 'pg')['allowed_roles'] == ['app'], 'check mode wrote to Vault'
    updated = run_task('vault_database_connection', update)
    assert updated['changed'] is True
    stored = read_connection(vault, mount, 'pg')
    assert sorted(stored['allowed_roles']) == ['app', 'short']
    assert stored['connection_details']['password_authentication'] == 'scram-sha-256'
    assert run_task_without_writes(bao_dev, 'vault_database_connection', update)['changed'] is False
    # Only what differs is sent: an entry without the password keeps the one Vault holds.
    no_password = dict(update)
    del no_password['password']
    assert run_task_without_writes(bao_dev, 'vault_database_connection', no_password)['changed'] is False

    role = role_args(conn, mount)
    check_role = run_task_without_writes(bao_dev, 'vault_database_role', role, check=True, diff=True)
    assert check_role['changed'] is True and check_role['operation'] == 'create'
    assert read_role(vault, mount, 'app') is None, 'check mode wrote to Vault'
    assert check_role['diff']['after']['default_ttl'] == 3600
    created_role = run_task('vault_database_role', role)
    assert created_role['changed'] is True
    stored = read_role(vault, mount, 'app')
    assert stored['db_name'] == 'pg' and stored['creation_statements'] == CREATE
    assert stored['default_ttl'] == 3600 and stored['max_ttl'] == 86400
    # Equal meaning is no change: seconds for "1h", minutes for "24h", padded and empty statements.
    same = role_args(conn, mount, default_ttl=3600, max_ttl='1440m',
                     creation_statements=['  ' + CREATE[0] + '\n', '', CREATE[1] + '  '])
    assert run_task_without_writes(bao_dev, 'vault_database_role', same, diff=True)['changed'] is False

    shorter = role_args(conn, mount, max_ttl='12h')
    check_short = run_task_without_writes(bao_dev, 'vault_database_role', shorter, check=True, diff=True)
    assert check_short['changed_fields'] == ['max_ttl']
    assert check_short['diff']['before']['max_ttl'] == 86400 and check_short['diff']['after']['max_ttl'] == 43200
    assert read_role(vault, mount, 'app')['max_ttl'] == 86400, 'check mode wrote to Vault'
    assert run_task('vault_database_role', shorter)['changed'] is True
    stored = read_role(vault, mount, 'app')
    assert stored['max_ttl'] == 43200 and stored['creation_statements'] == CREATE

    # The credentials open PostgreSQL, and revoking the lease drops the user.
    lease, user, password = issue(vault, mount, 'app')
    assert pg.login_user(user, password) == user
    assert pg.role_exists(user)
    vault.sys.revoke_lease(lease)
    pg.wait_role_gone(user, timeout=30)
    assert pg.login_user(user, password) is None

    gone = run_task('vault_database_role', dict(conn, mount_path=mount, name='app', state='absent'), diff=True)
    assert gone['changed'] is True and gone['operation'] == 'delete'
    assert read_role(vault, mount, 'app') is None
    gone_again = run_task_without_writes(bao_dev, 'vault_database_role',
                                         dict(conn, mount_path=mount, name='app', state='absent'))
    assert gone_again['changed'] is False
    dropped = run_task_without_writes(bao_dev, 'vault_database_connection',
                                      dict(conn, mount_path=mount, name='pg', state='absent'), check=True)
    assert dropped['changed'] is True and read_connection(vault, mount, 'pg') is not None
    assert run_task('vault_database_connection', dict(conn, mount_path=mount, name='pg', state='absent'))['changed']
    assert read_connection(vault, mount, 'pg') is None


def test_short_ttl_lease_expires(conn, vault, mount, pg, root_user):
    assert run_task('vault_database_connection', connection_args(conn, mount, pg, root_user,
                                                                 allowed_roles=['short']))['changed']
    assert run_task('vault_database_role', role_args(conn, mount, name='short', default_ttl='3s',
                                                     max_ttl='3s'))['changed']
    assert read_role(vault, mount, 'short')['default_ttl'] == 3
    _lease, user, password = issue(vault, mount, 'short')
    issued = time.time()
    assert pg.login_user(user, password) == user
    # Vault revokes at lease end: the user is dropped, not merely past its VALID UNTIL.
    pg.wait_role_gone(user, timeout=60)
    assert time.time() - issued >= 2.5
    assert pg.login_user(user, password) is None


def test_password_update_policy(conn, vault, mount, pg, bao_dev):
    user, first = 'vault_pw', new_password()
    pg.create_superuser(user, first)
    args = dict(conn, mount_path=mount, name='pw', connection_url=connection_url(pg), username=user,
                password=first, allowed_roles=['*'])
    assert run_task('vault_database_connection', args)['changed'] is True

    # Vault never returns the password: a new one alone is not a change with on_create...
    second = new_password()
    pg.admin("ALTER ROLE %s WITH PASSWORD '%s'" % (user, second))
    quiet = run_task_without_writes(bao_dev, 'vault_database_connection', dict(args, password=second))
    assert quiet['changed'] is False
    assert_hidden(quiet, first, second)

    # ...and is written on every run with always. Vault logs in with it before storing it,
    # so a wrong one is refused and a right one proves the write carried it.
    always = dict(args, password=second, password_update='always')
    rewritten = run_task('vault_database_connection', always, diff=True)
    assert rewritten['changed'] is True and rewritten['changed_fields'] == ['password']
    assert rewritten['diff']['after']['password'] == '(hidden, changed)'
    assert_hidden(rewritten, first, second)
    assert run_task('vault_database_connection', always)['changed'] is True
    wrong = new_password()
    refused = run_task('vault_database_connection', dict(always, password=wrong))
    assert_failed_cleanly(refused, 'password authentication failed')
    assert_hidden(refused, wrong, second)
    # verify_connection=false stores it unchecked; the true one is written back after.
    unchecked = run_task('vault_database_connection', dict(always, password=wrong, verify_connection=False))
    assert unchecked['changed'] is True
    assert run_task('vault_database_connection', always)['changed'] is True


def test_rotate_root(conn, vault, mount, pg, bao_dev):
    user, password = 'vault_rot', new_password()
    pg.create_superuser(user, password)
    args = dict(conn, mount_path=mount, name='rot', connection_url=connection_url(pg), username=user,
                password=password, allowed_roles=['rotapp'], rotate_root=True)

    checked = run_task_without_writes(bao_dev, 'vault_database_connection', args, check=True, diff=True)
    assert 'rotate_root' in checked['changed_fields'] and checked['diff']['after']['rotate_root'] is True
    assert read_connection(vault, mount, 'rot') is None and pg.login_user(user, password) == user

    rotated = run_task('vault_database_connection', args)
    assert rotated['changed'] is True
    assert sorted(rotated['changed_fields']) == [
        'allowed_roles', 'connection_url', 'password', 'plugin_name', 'rotate_root', 'username']
    # Only Vault knows the root password now; it still issues working credentials.
    assert pg.login_user(user, password) is None
    assert run_task('vault_database_role', role_args(conn, mount, name='rotapp', db_name='rot'))['changed']
    lease, dyn_user, dyn_password = issue(vault, mount, 'rotapp')
    assert pg.login_user(dyn_user, dyn_password) == dyn_user
    vault.sys.revoke_lease(lease)
    pg.wait_role_gone(dyn_user, timeout=30)

    # Rotated once: the re-run neither writes the old password nor rotates again.
    again = run_task_without_writes(bao_dev, 'vault_database_connection', args)
    assert again['changed'] is False
    lease, dyn_user, dyn_password = issue(vault, mount, 'rotapp')
    assert pg.login_user(dyn_user, dyn_password) == dyn_user
    vault.sys.revoke_lease(lease)

    refused = run_task('vault_database_connection', dict(args, password_update='always'))
    assert_failed_cleanly(refused, 'rotate_root', 'password_update=always')
    no_user = dict(args, name='rot2')
    del no_user['username']
    assert_failed_cleanly(run_task('vault_database_connection', no_user), 'rotate_root', 'username')
    assert read_connection(vault, mount, 'rot2') is None


# --------------------------------------------------------------------------- bad input

def test_bad_input_is_one_line_and_writes_nothing(conn, vault, mount, pg, root_user, bao_dev):
    """Every case fails with one line naming the field, in one playbook run (ignore_errors)."""
    assert run_task('vault_database_connection', connection_args(conn, mount, pg, root_user))['changed']
    kv = 'kv-' + uuid.uuid4().hex[:6]
    vault.sys.enable_secrets_engine('kv', path=kv, options={'version': '2'})
    base = connection_args(conn, mount, pg, root_user, name='bad')
    no_url = dict(base)
    del no_url['connection_url']
    role = role_args(conn, mount, name='badrole')
    no_statements = dict(role)
    del no_statements['creation_statements']
    clear, wrong = 'clear-' + uuid.uuid4().hex, new_password()
    cases = [
        ('vault_database_connection', dict(base, plugin_name='nosuch-database-plugin'),
         ['plugin_name', 'nosuch-database-plugin', 'catalog']),
        ('vault_database_connection', no_url, ['connection_url']),
        ('vault_database_connection',
         dict(base, connection_url='postgresql://vault_root:%s@127.0.0.1:%d/postgres' % (clear, pg.port)),
         ['connection_url', 'password in clear']),
        ('vault_database_connection', dict(base, connection_url='postgresql://{{username}}@127.0.0.1:%d/x' % pg.port),
         ['connection_url', '{{password}}']),
        # Vault logs in before storing: a wrong root password is its one-line refusal.
        ('vault_database_connection', dict(base, password=wrong), ['password authentication failed']),
        ('vault_database_connection', dict(base, mount_path=kv), ['mount_path', 'kv secrets engine, not database']),
        ('vault_database_connection', dict(base, mount_path='no-such-db'), ['mount_path', 'no secrets engine']),
        ('vault_database_connection', dict(base, name='a/b'), ['name']),
        ('vault_database_connection', dict(base, password_authentication='md5'), ['password_authentication']),
        ('vault_database_role', dict(role, default_ttl=-5), ['default_ttl']),
        ('vault_database_role', dict(role, max_ttl='soon'), ['max_ttl']),
        ('vault_database_role', dict(role, default_ttl='2h', max_ttl='1h'), ['default_ttl', 'max_ttl']),
        ('vault_database_role', dict(role, db_name='nosuch'), ['db_name', 'nosuch', 'no connection']),
        ('vault_database_role', no_statements, ['creation_statements']),
        ('vault_database_role', dict(role, creation_statements=['  ']), ['creation_statements']),
        ('vault_database_role', dict(role, creation_statements=[{'sql': 'x'}]), ['creation_statements']),
        ('vault_database_role', dict(role, mount_path=kv), ['mount_path', 'not database']),
    ]
    mark = bao_dev.mark()
    try:
        proc = run_tasks([(module, args, {'ignore_errors': True}) for module, args, _words in cases])
    finally:
        sent = bao_dev.write_requests(mark)
        vault.sys.disable_secrets_engine(kv)
    # From Vault's audit log: one write request only, the wrong root password that Vault itself
    # refuses (it logs in before storing); every other case failed before any write was sent.
    assert sent == ['create %s/config/bad' % mount], sent
    results = [result for _name, result in task_results(proc)]
    assert len(results) == len(cases)
    for case, result in zip(cases, results):
        assert_failed_cleanly(result, *case[2])
    output = proc.stdout + proc.stderr
    for secret in (clear, wrong, root_user['password']):
        assert secret not in output, 'a password leaked'
    assert read_connection(vault, mount, 'bad') is None, 'a refused connection was written'
    assert read_role(vault, mount, 'badrole') is None, 'a refused role was written'


# --------------------------------------------------------------------------- vault_config

def test_vault_config_sections(conn, vault, pg, root_user, bao_dev):
    mount = 'dbcfg-' + uuid.uuid4().hex[:6]
    # Roles listed before the connection and the mount: sections still apply in dependency order.
    document = {
        'database_roles': [
            {'mount_path': mount, 'name': 'reader', 'db_name': 'main', 'creation_statements': CREATE,
             'default_ttl': '30m', 'max_ttl': '2h'},
            {'mount_path': mount, 'name': 'writer', 'db_name': 'main', 'creation_statements': CREATE},
        ],
        'database_connections': [
            {'mount_path': mount, 'name': 'main', 'connection_url': connection_url(pg),
             'username': root_user['username'], 'password': root_user['password'],
             'allowed_roles': ['reader', 'writer']},
        ],
        'secrets_engines': [{'path': mount, 'engine_type': 'database'}],
    }
    args = dict(conn, config=document)
    try:
        checked = run_task_without_writes(bao_dev, 'vault_config', args, check=True, diff=True)
        assert checked['changed'] is True and checked['summary']['create'] == 4
        assert mount + '/' not in vault.sys.list_mounted_secrets_engines()['data'], 'check mode wrote to Vault'
        connection_diff = [d for d in checked['diff'] if d['before_header'].startswith('database connection')]
        assert connection_diff[0]['after']['password'] == '(hidden)'
        assert_hidden(checked, root_user['password'])

        applied = run_task('vault_config', args, diff=True)
        assert applied['changed'] is True and applied['summary'] == {'create': 4, 'update': 0, 'delete': 0,
                                                                     'none': 0}
        assert [o['kind'] for o in applied['objects']] == ['secrets engine', 'database connection',
                                                           'database role', 'database role']
        assert_hidden(applied, root_user['password'])
        assert read_connection(vault, mount, 'main')['connection_details']['username'] == 'vault_root'
        assert read_role(vault, mount, 'reader')['default_ttl'] == 1800
        lease, user, password = issue(vault, mount, 'reader')
        assert pg.login_user(user, password) == user
        vault.sys.revoke_lease(lease)

        again = run_task_without_writes(bao_dev, 'vault_config', args, diff=True)
        assert again['changed'] is False and again['requests']['write'] == 0 and again['requests']['delete'] == 0
        assert again['summary']['none'] == 4

        # Prune removes roles the document does not list, never connections.
        vault.write('%s/roles/stray' % mount, db_name='main', creation_statements=CREATE)
        vault.write('%s/config/other' % mount, plugin_name='postgresql-database-plugin',
                    connection_url=connection_url(pg), username=root_user['username'],
                    password=root_user['password'])
        pruned = run_task('vault_config', dict(args, prune=True))
        assert [(o['name'], o['pruned']) for o in pruned['objects']] == [('%s/stray' % mount, True)]
        assert read_role(vault, mount, 'stray') is None and read_role(vault, mount, 'reader') is not None
        assert read_connection(vault, mount, 'other') is not None
        assert_hidden(pruned, root_user['password'])

        # A connection Vault refuses (wrong password): one line, the password masked, and the
        # objects written before it listed.
        wrong = new_password()
        failing = json.loads(json.dumps(document))
        failing['database_connections'].append({'mount_path': mount, 'name': 'zz-bad',
                                                'connection_url': connection_url(pg),
                                                'username': root_user['username'], 'password': wrong})
        failing['database_roles'][0]['max_ttl'] = '3h'
        refused = run_task('vault_config', dict(conn, config=failing, parallelism=1))
        assert_failed_cleanly(refused, 'password authentication failed')
        assert_hidden(refused, wrong, root_user['password'])
        assert read_connection(vault, mount, 'zz-bad') is None
        assert read_role(vault, mount, 'reader')['max_ttl'] == 7200, 'roles come after connections'

        # Bad entries fail before any write and name the entry.
        bad = json.loads(json.dumps(document))
        bad['database_roles'][1]['db_name'] = 'missing'
        assert_failed_cleanly(run_task('vault_config', dict(conn, config=bad)),
                              'config.database_roles[1]', 'db_name', 'missing')
        clear = 'clear-' + uuid.uuid4().hex
        bad = json.loads(json.dumps(document))
        bad['database_connections'][0]['connection_url'] = 'postgresql://u:%s@127.0.0.1:%d/x' % (clear, pg.port)
        in_clear = run_task('vault_config', dict(conn, config=bad))
        assert_failed_cleanly(in_clear, 'config.database_connections[0]', 'password in clear')
        assert_hidden(in_clear, clear)
        bad = json.loads(json.dumps(document))
        bad['database_connections'][0]['mount_path'] = 'declared-kv'
        bad['database_roles'] = []
        bad['secrets_engines'].append({'path': 'declared-kv', 'engine_type': 'kv', 'version': 2})
        assert_failed_cleanly(run_task('vault_config', dict(conn, config=bad)),
                              'config.database_connections[0]', 'declared in this document as a kv')
        assert 'declared-kv/' not in vault.sys.list_mounted_secrets_engines()['data']
    finally:
        if mount + '/' in vault.sys.list_mounted_secrets_engines()['data']:
            vault.sys.disable_secrets_engine(mount)


# --------------------------------------------------------------------------- leaks

def test_no_password_in_verbose_output(conn, vault, mount, pg, root_user):
    """-vvv with diff: the root password and a dynamic password (used as a second connection's
    credentials, so that it passes through the module too) appear nowhere in the output."""
    assert run_task('vault_database_connection', connection_args(conn, mount, pg, root_user,
                                                                 allowed_roles=['leak']))['changed']
    assert run_task('vault_database_role', role_args(conn, mount, name='leak'))['changed']
    lease, dyn_user, dyn_password = issue(vault, mount, 'leak')
    root = root_user['password']
    wrong = new_password()
    tasks = [
        ('vault_database_connection', connection_args(conn, mount, pg, root_user, allowed_roles=['leak'],
                                                      password_update='always'), {'diff': True}),
        ('vault_database_connection', dict(conn, mount_path=mount, name='dynamic', connection_url=connection_url(pg),
                                           username=dyn_user, password=dyn_password), {'diff': True}),
        ('vault_config', dict(conn, config={'database_connections': [
            dict(connection_args({}, mount, pg, root_user, allowed_roles=['leak']), password_update='always'),
            {'mount_path': mount, 'name': 'dynamic', 'connection_url': connection_url(pg), 'username': dyn_user,
             'password': dyn_password, 'password_update': 'always'}]}), {'diff': True}),
        ('vault_database_connection', connection_args(conn, mount, pg, root_user, name='refused', password=wrong),
         {'diff': True, 'ignore_errors': True}),
        ('vault_config', dict(conn, config={'database_connections': [
            connection_args({}, mount, pg, root_user, name='refused2', password=wrong)]}),
         {'diff': True, 'ignore_errors': True}),
    ]
    proc = run_tasks(tasks, verbosity=3, json_output=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert 'password authentication failed' in output, 'the failing tasks did not run'
    assert output.count('changed: [localhost]') == 3
    for secret in (root, dyn_password, wrong):
        assert secret not in output, 'a database password leaked at -vvv'
    assert read_connection(vault, mount, 'dynamic')['connection_details']['username'] == dyn_user
    # The connection logged in as the dynamic user: remove it before the user is dropped.
    vault.delete('%s/config/dynamic' % mount)
    vault.sys.revoke_lease(lease)
    pg.wait_role_gone(dyn_user, timeout=30)
