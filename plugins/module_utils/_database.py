# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Database secrets engine: connections (<mount>/config/<name>) and roles (<mount>/roles/<name>).

Facts about OpenBao 2.7 this relies on (checked against a real server and PostgreSQL 15):

* A connection read never returns the password. ``connection_url``, ``username``
  and ``password_authentication`` come back under ``connection_details``
  (``password_authentication`` only once set; unset means ``password``);
  ``verify_connection`` is not returned at all.
* A write to an existing connection or role is an update that keeps every field
  it leaves out, the password included. So an update sends only what changed,
  and the password only when it has to be written.
* A password written in clear inside ``connection_url`` is stored, read back as
  ``xxxxx`` and cannot be rotated: refused here before it reaches Vault.
* With ``verify_connection`` (the default) a connection write logs in to the
  database first and is refused, storing nothing, when that fails.
* ``rotate-root/<name>`` changes the root password in the database to one only
  Vault knows; it answers 500 "no username in configuration" without a username.
* An unknown ``plugin_name`` is refused by the write with a multi-line error;
  ``sys/plugins/catalog/database/<plugin>`` answers 404 for it (403 without sudo).
* A role write accepts a ``db_name`` that names no connection, no creation
  statements and a ``default_ttl`` above ``max_ttl``; all three only fail when
  credentials are requested, so they are checked here. Negative TTLs are refused.
* Statements are stored trimmed, one list item each, empty items kept.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.six import string_types, text_type

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError, checked_path, normalise
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import MountKind, VaultObject, cached_check

DEFAULT_MOUNT = 'database'
POSTGRES_PLUGIN = 'postgresql-database-plugin'
PASSWORD_AUTHENTICATION = ('password', 'scram-sha-256')

# Vault's framework.GenericNameRegex for config/<name> and roles/<name> (Go's \w is ASCII only).
OBJECT_NAME = re.compile(r'[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?')

# What the compared state holds instead of the password, which never leaves the module:
# the password is written by this run (created, rewritten, or sent with a new username).
PASSWORD_WRITTEN = 'written'

# A password in clear in a URL (scheme://user:password@host) or a key/value DSN (password=...).
_URL_PASSWORD = re.compile(r'://[^/@\s]*?:([^@\s]*)@')
_DSN_PASSWORD = re.compile(r'(?:^|\s)password\s*=\s*(\'(?:[^\'\\]|\\.)*\'|\S+)')
USERNAME_TEMPLATE = '{{username}}'
PASSWORD_TEMPLATE = '{{password}}'


def mount_of(params):
    return (params.get('mount_path') or DEFAULT_MOUNT).strip().strip('/')


def validate_name(value, field, example):
    if not value or not isinstance(value, str) or not OBJECT_NAME.fullmatch(value):
        raise FieldError('%s must be ASCII letters, digits and _ - . (starting and ending with a letter, digit or _), '
                         'as Vault accepts them, for example %r; got %r' % (field, example, value))


def validate_mount(mount):
    if not mount:
        raise FieldError('mount_path must name the database secrets engine mount, for example "database"')
    checked_path(mount, 'mount_path')


def clear_passwords(url):
    """Passwords written in clear in a connection URL or DSN (not the {{password}} template)."""
    if not isinstance(url, string_types):
        return []
    found = []
    for pattern in (_URL_PASSWORD, _DSN_PASSWORD):
        for match in pattern.finditer(url):
            value = match.group(1).strip("'")
            if value and value != PASSWORD_TEMPLATE:
                found.append(value)
    return found


def connection_secret_values(params):
    """Values to mask beside the no_log options: a password found in clear in connection_url,
    so that even the refusal of such a URL never prints it (module invocation at -vvv)."""
    return clear_passwords((params or {}).get('connection_url'))


def statements(value, field):
    """A statement list as Vault stores it: items trimmed; empty ones dropped (they run nothing).

    One string is one item: Ansible's own list conversion would split it at every comma,
    which is inside most GRANT statements."""
    if value is None:
        return None
    if isinstance(value, string_types):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise FieldError('%s must be a SQL statement or a list of them, got %s' % (field, type(value).__name__))
    out = []
    for item in value:
        if not isinstance(item, string_types):
            raise FieldError('%s must hold SQL statements as text, got %s' % (field, type(item).__name__))
        if item.strip():
            out.append(text_type(item).strip())
    return out


DATABASE_MOUNT = MountKind('secrets', 'database', '%s', '%s/config', {
    'missing': 'mount_path %(mount)r: no secrets engine is mounted at %(mount)s/; enable the database secrets engine '
               'there first (vault_secrets_engine with engine_type: database) or fix mount_path (%(exc)s)',
    'declared': 'mount_path %(mount)r is declared in this document as a %(found)s secrets engine, not database',
    'unknown': 'cannot tell whether %(mount)s/ is a database secrets engine: %(exc)s',
    'inside': 'mount_path %(mount)r is not a mount point: it lies in the %(found)s secrets engine %(at)r; set '
              'mount_path to the database mount itself',
    'wrong': 'mount_path %(mount)r is a %(found)s secrets engine, not database: nothing was written; point '
             'mount_path at a database secrets engine',
})


def _check_plugin(api, plugin):
    try:
        entry = api.read('sys/plugins/catalog/database/%s' % plugin)
    except VaultRequestError as exc:
        if exc.status == 403:
            # Reading the catalog needs sudo; without it Vault's own write error has to do.
            return True
        raise
    if entry is None:
        raise FieldError('plugin_name %r is not a database plugin in Vault\'s catalog: use %s (built in) or '
                         'register the plugin first' % (plugin, POSTGRES_PLUGIN))
    return True


# --------------------------------------------------------------------------- connection

CONNECTION_KINDS = {
    'plugin_name': 'str',
    'connection_url': 'str',
    'username': 'str',
    'password_authentication': 'str',
    'allowed_roles': 'set',
}
# Fields Vault keeps under connection_details, and sends back there.
CONNECTION_DETAILS = ('connection_url', 'username', 'password_authentication')


class _OnDatabaseMount(VaultObject):
    """An object at <mount>/<collection>/<name> of a database secrets engine."""

    collection = None

    @property
    def mount(self):
        return mount_of(self.params)

    @property
    def object_name(self):
        return (self.params.get('name') or '').strip()

    @property
    def name(self):
        return '%s/%s' % (self.mount, self.object_name)

    @property
    def path(self):
        return '%s/%s/%s' % (self.mount, self.collection, self.object_name)

    @property
    def present(self):
        return (self.params.get('state') or 'present') == 'present'

    @classmethod
    def list_existing(cls, api, objects):
        """Names (mount/name) of the objects that exist, one LIST per mount."""
        found = set()
        for mount in sorted(set(obj.mount for obj in objects)):
            for name in DATABASE_MOUNT.call(mount, api.list, '%s/%s' % (mount, cls.collection)):
                found.add('%s/%s' % (mount, name))
        return found


class DatabaseConnection(_OnDatabaseMount):
    """<mount>/config/<name>."""

    kind = 'database connection'
    secret_fields = ('password',)
    argument_spec = dict(
        mount_path=dict(type='str', default=DEFAULT_MOUNT, no_log=False),
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        plugin_name=dict(type='str', default=POSTGRES_PLUGIN),
        connection_url=dict(type='str'),
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
        password_update=dict(type='str', default='on_create', choices=['on_create', 'always'], no_log=False),
        password_authentication=dict(type='str', choices=list(PASSWORD_AUTHENTICATION), no_log=False),
        allowed_roles=dict(type='list', elements='str'),
        verify_connection=dict(type='bool', default=True),
        rotate_root=dict(type='bool', default=False),
    )
    required_if = [('state', 'present', ['connection_url'])]
    #: values to mask beside the no_log options (vault_config collects them over the document)
    extra_secret_values = staticmethod(connection_secret_values)

    def __init__(self, api, params):
        super(DatabaseConnection, self).__init__(api, params)
        self._current = None

    collection = 'config'

    @property
    def connection(self):
        return self.object_name

    def validate(self):
        validate_mount(self.mount)
        validate_name(self.params.get('name'), 'name', 'postgres')
        if not self.present:
            return
        url = self.params.get('connection_url')
        if not (url or '').strip():
            raise FieldError('connection_url must be given when state=present, for example '
                             'postgresql://{{username}}:{{password}}@db.example.com:5432/postgres')
        if clear_passwords(url):
            # The value is not repeated: it is a password.
            raise FieldError('connection_url holds a password in clear: write {{password}} in its place and give '
                             'the password in the password option (Vault keeps a clear one readable and cannot '
                             'rotate it)')
        password = self.params.get('password')
        if password is not None and not password.strip():
            raise FieldError('password is empty: give the root password or leave the option out')
        if password and PASSWORD_TEMPLATE not in url:
            raise FieldError('connection_url must contain {{password}} where the password goes when password is '
                             'given: Vault substitutes it only there, for example '
                             'postgresql://{{username}}:{{password}}@db.example.com:5432/postgres')
        if self.params.get('username') and USERNAME_TEMPLATE not in url:
            raise FieldError('connection_url must contain {{username}} where the user goes when username is given: '
                             'Vault substitutes it only there')
        plugin = (self.params.get('plugin_name') or '').strip()
        if not plugin:
            raise FieldError('plugin_name must name a database plugin, for example %s' % POSTGRES_PLUGIN)
        if self.params.get('password_authentication') and plugin != POSTGRES_PLUGIN:
            raise FieldError('password_authentication applies to %s only, plugin_name is %s'
                             % (POSTGRES_PLUGIN, plugin))
        if self.params.get('rotate_root'):
            if not (self.params.get('username') and password):
                raise FieldError('rotate_root needs username and password: Vault rotates the password of the user '
                                 'named in username')
            if self.params.get('password_update') == 'always':
                raise FieldError('rotate_root cannot be combined with password_update=always: after the rotation only '
                                 'Vault knows the root password, and writing the old one on every run would break '
                                 'the connection')

    def preflight(self, declared_mounts, cache):
        DATABASE_MOUNT.check(self.api, self.mount, declared_mounts, cache)
        if self.present:
            plugin = self.params['plugin_name'].strip()
            cached_check(cache, ('database plugin', plugin), lambda: _check_plugin(self.api, plugin))

    def read(self):
        body = DATABASE_MOUNT.call(self.mount, self.api.read, self.path)
        if body is None:
            return None
        raw = body.get('data') or {}
        details = raw.get('connection_details') or {}
        current = {
            'plugin_name': normalise('str', raw.get('plugin_name')),
            'connection_url': normalise('str', details.get('connection_url')),
            'username': normalise('str', details.get('username')),
            # Unset is Vault's default, which is "password".
            'password_authentication': normalise('str', details.get('password_authentication')) or 'password',
            'allowed_roles': normalise('set', raw.get('allowed_roles')),
        }
        self._current = current
        return current

    def desired(self):
        wanted = {}
        for field, kind in CONNECTION_KINDS.items():
            value = self.params.get(field)
            if value is not None:
                wanted[field] = normalise(kind, value.strip() if isinstance(value, string_types) else value, field)
        if self._writes_password(wanted):
            wanted['password'] = PASSWORD_WRITTEN
            if self.params.get('rotate_root'):
                wanted['rotate_root'] = True
        return wanted

    def _writes_password(self, wanted):
        """Whether this run sends the password: Vault never says which one it holds.

        Always when the connection is created; on every run with password_update=always;
        and with a new username, which comes with its own password. Otherwise an update
        leaves the stored password alone - the one given first, or the one only Vault knows
        after rotate_root."""
        if not self.params.get('password'):
            return False
        current = self._current
        if current is None:
            return True
        if self.params.get('password_update') == 'always':
            return True
        return 'username' in wanted and wanted['username'] != current.get('username')

    def _body(self, wanted, fields):
        body = dict((field, wanted[field]) for field in fields if field in CONNECTION_KINDS and field in wanted)
        if 'password' in wanted:
            body['password'] = self.params['password']
            # Vault checks the login with the username it holds; send it along with the password.
            if self.params.get('username'):
                body['username'] = wanted['username']
        body['verify_connection'] = bool(self.params.get('verify_connection'))
        return body

    def create(self, wanted):
        self.api.write(self.path, self._body(wanted, CONNECTION_KINDS))
        if wanted.get('rotate_root'):
            self._rotate(created=True)

    def update(self, current, wanted, changed_fields):
        self.api.write(self.path, self._body(wanted, changed_fields))
        if wanted.get('rotate_root'):
            self._rotate(created=False)

    def _rotate(self, created):
        try:
            self.api.write('%s/rotate-root/%s' % (self.mount, self.connection))
        except VaultRequestError as exc:
            if created:
                # Remove what was just written, so that the next run creates the connection
                # and rotates again instead of finding it and never rotating.
                try:
                    self.api.delete(self.path)
                except VaultRequestError as removal:
                    raise VaultRequestError('rotating the root password of %s failed (%s), and removing the '
                                            'connection again failed too (%s): delete it, or rotate it with a write '
                                            'to %s/rotate-root/%s' % (self.name, exc, removal, self.mount,
                                                                      self.connection),
                                            status=exc.status, errors=exc.errors)
                raise VaultRequestError('rotating the root password of %s failed, so the connection was removed '
                                        'again (a re-run creates it and rotates): %s' % (self.name, exc),
                                        status=exc.status, errors=exc.errors)
            raise VaultRequestError('the connection %s was written with the given password but rotating it failed; '
                                    'rotate it with a write to %s/rotate-root/%s: %s'
                                    % (self.name, self.mount, self.connection, exc),
                                    status=exc.status, errors=exc.errors)

    def remove(self, current):
        self.api.delete(self.path)


# --------------------------------------------------------------------------- role

ROLE_KINDS = {
    'db_name': 'str',
    'creation_statements': 'statements',
    'revocation_statements': 'statements',
    'rollback_statements': 'statements',
    'renew_statements': 'statements',
    'default_ttl': 'ttl',
    'max_ttl': 'ttl',
}


def normalise_role_field(field, value):
    kind = ROLE_KINDS[field]
    if kind == 'statements':
        return statements(value, field)
    if kind == 'str':
        return normalise('str', value.strip() if isinstance(value, string_types) else value, field)
    result = normalise(kind, value, field)
    if kind == 'ttl' and result < 0:
        raise FieldError('%s must be 0 (the mount default) or a positive duration, got %r' % (field, value))
    return result


class DatabaseRole(_OnDatabaseMount):
    """<mount>/roles/<name>: a dynamic role."""

    kind = 'database role'
    argument_spec = dict(
        mount_path=dict(type='str', default=DEFAULT_MOUNT, no_log=False),
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        db_name=dict(type='str'),
        # raw: one string is one statement block; a list conversion would split it at commas.
        creation_statements=dict(type='raw'),
        revocation_statements=dict(type='raw'),
        rollback_statements=dict(type='raw'),
        renew_statements=dict(type='raw'),
        default_ttl=dict(type='raw', no_log=False),
        max_ttl=dict(type='raw', no_log=False),
    )
    required_if = [('state', 'present', ['db_name', 'creation_statements'])]

    collection = 'roles'

    @property
    def role(self):
        return self.object_name

    @classmethod
    def list_prunable(cls, api, entries):
        """Every dynamic role of the mounts the document names, as absent entries (vault_config prune)."""
        prunable = []
        for mount in sorted(set(mount_of(entry) for entry in entries)):
            for role in DATABASE_MOUNT.call(mount, api.list, '%s/roles' % mount):
                prunable.append({'mount_path': mount, 'name': role, 'state': 'absent'})
        return prunable

    def validate(self):
        validate_mount(self.mount)
        validate_name(self.params.get('name'), 'name', 'app-readonly')
        if not self.present:
            return
        db_name = (self.params.get('db_name') or '').strip()
        if not db_name:
            raise FieldError('db_name must name the connection (vault_database_connection) the role creates '
                             'users in when state=present')
        validate_name(db_name, 'db_name', 'postgres')
        wanted = self.desired()
        if not wanted.get('creation_statements'):
            raise FieldError('creation_statements must hold at least one SQL statement when state=present, for '
                             'example CREATE ROLE "{{name}}" WITH LOGIN PASSWORD \'{{password}}\' VALID UNTIL '
                             '\'{{expiration}}\'')
        ttl, max_ttl = wanted.get('default_ttl'), wanted.get('max_ttl')
        if ttl and max_ttl and ttl > max_ttl:
            raise FieldError('default_ttl (%ds) cannot be greater than max_ttl (%ds)' % (ttl, max_ttl))

    def preflight(self, declared_mounts, cache):
        DATABASE_MOUNT.check(self.api, self.mount, declared_mounts, cache)
        if self.present:
            db_name = self.params['db_name'].strip()
            if declared_mounts.get(('database connection', '%s/%s' % (self.mount, db_name))) is None:
                cached_check(cache, ('database connection', self.mount, db_name), lambda: self._check_db(db_name))

    def _check_db(self, db_name):
        if DATABASE_MOUNT.call(self.mount, self.api.read, '%s/config/%s' % (self.mount, db_name)) is None:
            raise FieldError('db_name %r names no connection of the %s/ mount: create it first '
                             '(vault_database_connection) or fix db_name' % (db_name, self.mount))
        return True

    def read(self):
        body = DATABASE_MOUNT.call(self.mount, self.api.read, self.path)
        if body is None:
            return None
        raw = body.get('data') or {}
        current = {}
        for field, kind in ROLE_KINDS.items():
            value = raw.get(field)
            current[field] = normalise_role_field(field, [] if value is None and kind == 'statements' else value)
        return current

    def desired(self):
        return dict((field, normalise_role_field(field, self.params[field]))
                    for field in ROLE_KINDS if self.params.get(field) is not None)

    def create(self, wanted):
        self.api.write(self.path, wanted)

    def update(self, current, wanted, changed_fields):
        # Vault keeps the fields an update leaves out: send what differs.
        self.api.write(self.path, dict((field, wanted[field]) for field in changed_fields))

    def remove(self, current):
        self.api.delete(self.path)
