# -*- coding: utf-8 -*-
"""A real PostgreSQL server for the tests: Debian's server binaries, started on loopback.

The server runs in a temporary directory, on a free port, as the ``postgres`` system user
when the tests run as root (PostgreSQL refuses to run as root), and is stopped at the
end. Passwords reach ``initdb`` through a file and ``psql`` through ``PGPASSWORD`` in its
environment: never on a command line, which other processes (and test output) can see.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import subprocess
import time

from vaultkube_testlib import free_port, tmpdir

ADMIN = 'vkadmin'


def _version_key(path):
    match = re.search(r'/(\d+)(?:\.(\d+))?/bin$', path)
    return (int(match.group(1)), int(match.group(2) or 0)) if match else (0, 0)


def postgres_bindir() -> str:
    """Directory of initdb, pg_ctl and psql: Debian keeps them under /usr/lib/postgresql/<v>/bin."""
    override = os.environ.get('VAULTKUBE_PG_BINDIR')
    if override:
        candidates = [override]
    else:
        candidates = sorted(glob.glob('/usr/lib/postgresql/*/bin'), key=_version_key, reverse=True)
    found = shutil.which('pg_ctl')
    if found:
        candidates.append(os.path.dirname(os.path.realpath(found)))
    for bindir in candidates:
        if all(os.access(os.path.join(bindir, name), os.X_OK) for name in ('initdb', 'pg_ctl', 'postgres')):
            return bindir
    raise RuntimeError('PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install the Debian '
                       'package postgresql (.ci/run does when they are missing), or set VAULTKUBE_PG_BINDIR')


def new_password() -> str:
    return 'pw-' + secrets.token_hex(12)


class PostgresServer:
    """One PostgreSQL server on 127.0.0.1 with a superuser (ADMIN) the test keeps for itself."""

    def __init__(self):
        self.bindir = postgres_bindir()
        self.workdir = tmpdir('vaultkube-pg-')
        self.data = self.workdir / 'data'
        self.port = free_port()
        self.admin_password = new_password()
        self.run_as = None
        if os.geteuid() == 0:
            try:
                self.run_as = pwd.getpwnam('postgres')
            except KeyError:
                raise RuntimeError('running as root needs the postgres system user (the Debian package '
                                   'postgresql creates it): PostgreSQL refuses to run as root')
            os.chown(self.workdir, self.run_as.pw_uid, self.run_as.pw_gid)
        self.started = False

    def _server_cmd(self, *argv):
        if self.run_as is None:
            return list(argv)
        return ['runuser', '-u', self.run_as.pw_name, '--'] + list(argv)

    def _run(self, *argv, timeout=120):
        proc = subprocess.run(self._server_cmd(*argv), capture_output=True, text=True, timeout=timeout,
                              check=False, cwd=str(self.workdir))
        if proc.returncode != 0:
            raise RuntimeError('%s failed (rc=%d): %s %s' % (os.path.basename(argv[0]), proc.returncode,
                                                             proc.stdout[-2000:], proc.stderr[-2000:]))
        return proc

    def start(self) -> 'PostgresServer':
        pwfile = self.workdir / 'admin.pw'
        pwfile.write_text(self.admin_password + '\n')
        os.chmod(pwfile, 0o600)
        if self.run_as is not None:
            os.chown(pwfile, self.run_as.pw_uid, self.run_as.pw_gid)
        try:
            self._run(os.path.join(self.bindir, 'initdb'), '-D', str(self.data), '-U', ADMIN,
                      '--pwfile', str(pwfile), '-A', 'scram-sha-256', '-E', 'UTF8', '--no-instructions')
        finally:
            pwfile.unlink()
        options = ('-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off'
                   % (self.port, self.workdir))
        self._run(os.path.join(self.bindir, 'pg_ctl'), '-D', str(self.data), '-l', str(self.workdir / 'server.log'),
                  '-o', options, '-w', '-t', '60', 'start')
        self.started = True
        return self

    def stop(self) -> None:
        if self.started:
            try:
                self._run(os.path.join(self.bindir, 'pg_ctl'), '-D', str(self.data), '-m', 'fast', '-w', 'stop')
            finally:
                self.started = False
        shutil.rmtree(self.workdir, ignore_errors=True)

    def psql(self, user, password, sql, database='postgres') -> subprocess.CompletedProcess:
        """Run SQL as user. The password goes through the environment and the SQL (which may
        set a password) through stdin, so neither is on a command line."""
        psql = os.path.join(self.bindir, 'psql')
        if not os.access(psql, os.X_OK):
            psql = shutil.which('psql') or psql
        env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT='10', PGSSLMODE='disable')
        return subprocess.run([psql, '-h', '127.0.0.1', '-p', str(self.port), '-U', user, '-d', database,
                               '-w', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-f', '-'],
                              input=sql, capture_output=True, text=True, env=env, timeout=60, check=False)

    def admin(self, sql) -> str:
        """Run SQL as the test's own superuser; its output, or an error."""
        proc = self.psql(ADMIN, self.admin_password, sql)
        if proc.returncode != 0:
            raise RuntimeError('SQL as %s failed: %s' % (ADMIN, proc.stderr.strip()))
        return proc.stdout.strip()

    def login_user(self, user, password):
        """current_user after logging in as user, or None when PostgreSQL refuses the password (its
        answer for a wrong password and for a dropped role alike). Any other error fails the test."""
        proc = self.psql(user, password, 'SELECT current_user')
        if proc.returncode == 0:
            return proc.stdout.strip()
        if 'password authentication failed for user "%s"' % user in proc.stderr:
            return None
        raise AssertionError('psql as %s failed, but not with a refused password: %s' % (user, proc.stderr.strip()))

    def role_exists(self, name) -> bool:
        return self.admin("SELECT count(*) FROM pg_roles WHERE rolname = '%s'" % name.replace("'", "''")) == '1'

    def wait_role_gone(self, name, timeout=60.0) -> float:
        """Seconds until the role is dropped; fails after timeout."""
        start = time.time()
        while self.role_exists(name):
            if time.time() - start > timeout:
                raise AssertionError('role %s still exists after %ss' % (name, timeout))
            time.sleep(0.5)
        return time.time() - start

    def create_superuser(self, name, password) -> None:
        """A login superuser for Vault's connection (passwords made by new_password are hex:
        safe to quote)."""
        self.admin("CREATE ROLE %s WITH LOGIN SUPERUSER PASSWORD '%s'" % (name, password))


def connection_url(server: PostgresServer) -> str:
    """Vault's templated URL for the server (the placeholders are Vault's, not Ansible's)."""
    return 'postgresql://{{username}}:{{password}}@127.0.0.1:%d/postgres?sslmode=disable' % server.port


def wait_for(predicate, timeout=30.0, step=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
