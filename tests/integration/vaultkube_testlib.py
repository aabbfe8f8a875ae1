# -*- coding: utf-8 -*-
"""Helpers for the integration tests: real OpenBao servers and real Ansible runs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import hvac
import requests

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


# The server the suite runs on: OpenBao (default) or HashiCorp Vault (VAULTKUBE_TEST_SERVER=vault,
# binary from VAULTKUBE_VAULT_BINARY or the lab's cache, built by tests/lab/build.sh vault).
SERVER = os.environ.get('VAULTKUBE_TEST_SERVER', 'openbao')
if SERVER not in ('openbao', 'vault'):
    raise RuntimeError('VAULTKUBE_TEST_SERVER must be openbao or vault, got %r' % SERVER)
ON_VAULT = SERVER == 'vault'


def bao_binary() -> str:
    if ON_VAULT:
        return vault_binary()
    found = shutil.which('bao') or str(VENV_BIN / 'bao')
    if not os.path.exists(found):
        raise RuntimeError('the OpenBao "bao" binary is missing: run bash tests/setup.sh')
    return found


def vault_binary() -> str:
    cache = os.environ.get('VAULTKUBE_CACHE') or os.path.expanduser('~/.cache/vaultkube')
    found = os.environ.get('VAULTKUBE_VAULT_BINARY') or os.path.join(cache, 'lab', 'bin', 'vault')
    if not os.path.exists(found):
        raise RuntimeError('the HashiCorp Vault binary is missing (%s): run bash tests/lab/build.sh vault' % found)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, verify=True) -> None:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            requests.get(url + '/v1/sys/seal-status', timeout=2, verify=verify)
            return
        except requests.exceptions.SSLError:
            return  # it answered the handshake: listening (a test may give it a mismatching name)
        except requests.RequestException as exc:  # still starting
            last = exc
            time.sleep(0.2)
    raise RuntimeError('OpenBao at %s did not start: %s' % (url, last))


class BaoServer:
    """One real OpenBao process on loopback (dev mode or raft storage)."""

    def __init__(self, workdir: Path, dev: bool = False, node_id: str = 'node1',
                 tls: dict | None = None, extra_config: str = '', audit=False):
        self.workdir = Path(workdir)
        # audit=True: a file audit device "raft" writing workdir/audit.log; audit=<path>: writing
        # that file (the nodes of one cluster share one: whichever is active records the requests).
        # OpenBao declares it in the configuration; HashiCorp Vault ignores an audit stanza there
        # (checked on 1.21: no device, no warning), so on Vault enable_audit(token) adds it after init.
        self.audit_log = None
        if audit and not dev:
            self.audit_log = Path(audit) if audit is not True else self.workdir / 'audit.log'
        # Server configuration added to the generated one (dev mode: loaded with -config).
        self.extra_config = extra_config
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.dev = dev
        self.node_id = node_id
        self.tls = tls
        self.port = free_port()
        self.cluster_port = free_port()
        scheme = 'https' if tls else 'http'
        self.url = '%s://127.0.0.1:%d' % (scheme, self.port)
        self.root_token = None
        self.proc = None
        self.log = self.workdir / 'bao.log'

    def config_text(self) -> str:
        data = self.workdir / 'data'
        data.mkdir(exist_ok=True)
        if self.tls:
            listener = ('tls_cert_file = "%s"\n    tls_key_file = "%s"'
                        % (self.tls['cert'], self.tls['key']))
        else:
            listener = 'tls_disable = true'
        scheme = 'https' if self.tls else 'http'
        return textwrap.dedent('''\
            storage "raft" {
              path = "%s"
              node_id = "%s"
            }
            listener "tcp" {
              address = "127.0.0.1:%d"
              cluster_address = "127.0.0.1:%d"
              %s
            }
            api_addr = "%s://127.0.0.1:%d"
            cluster_addr = "https://127.0.0.1:%d"
            disable_mlock = true
            ''') % (data, self.node_id, self.port, self.cluster_port, listener,
                    scheme, self.port, self.cluster_port) + self.audit_stanza()

    def audit_stanza(self) -> str:
        """The declared file audit device (OpenBao), or nothing."""
        if self.audit_log is None or ON_VAULT:
            return ''
        return textwrap.dedent('''\
            audit "file" "raft" {
              options {
                file_path = "%s"
                hmac_accessor = "false"
              }
            }
            ''') % self.audit_log

    def enable_audit(self, token: str | None = None) -> None:
        """On HashiCorp Vault, enable the file audit device through the API (once per cluster, with
        a token of the initialised, unsealed server); on OpenBao it is declared already: nothing."""
        if self.audit_log is None or not ON_VAULT:
            return
        client = self.client(token)
        if 'raft/' not in client.sys.list_enabled_audit_devices()['data']:
            client.sys.enable_audit_device('file', path='raft', options={'file_path': str(self.audit_log),
                                                                         'hmac_accessor': 'false'})

    def start(self) -> 'BaoServer':
        if self.dev:
            self.root_token = 'root-' + os.urandom(8).hex()
            cmd = [bao_binary(), 'server', '-dev', '-dev-no-store-token',
                   '-dev-root-token-id=' + self.root_token,
                   '-dev-listen-address=127.0.0.1:%d' % self.port]
            if self.extra_config:
                extra = self.workdir / 'extra.hcl'
                extra.write_text(self.extra_config)
                cmd.append('-config=%s' % extra)
        else:
            config = self.workdir / 'config.hcl'
            config.write_text(self.config_text() + self.extra_config)
            cmd = [bao_binary(), 'server', '-config=%s' % config]
        env = dict(os.environ, HOME=str(self.workdir))
        with open(self.log, 'ab') as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        wait_http(self.url, verify=self.tls['ca'] if self.tls else True)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def client(self, token: str | None = None) -> hvac.Client:
        verify = self.tls['ca'] if self.tls else True
        return hvac.Client(url=self.url, token=token or self.root_token, verify=verify)

    # --- the file audit device (AuditedDevServer, or a raft server started with audit=...) ---
    def mark(self) -> int:
        """Where the audit log ends now: write_requests(mark) reads what was logged after."""
        assert self.audit_log is not None, 'this server has no audit device'
        return os.path.getsize(self.audit_log) if os.path.exists(self.audit_log) else 0

    def write_requests(self, mark: int) -> list:
        """Every create, update and delete REQUEST logged since MARK, answered or refused, as
        "operation path" (reads and lists left out): what was sent to write in between."""
        assert os.path.exists(self.audit_log), 'the audit log %s was never written' % self.audit_log
        return write_requests(self.audit_log, mark)

    def requests_since(self, mark: int) -> list:
        """Every request entry logged since MARK, as "operation path" (reads too)."""
        return audit_requests(self.audit_log, mark)

    @contextlib.contextmanager
    def no_writes(self, what: str, min_entries: int = 0):
        """with server.no_writes('the re-run'): ... fails unless the server's audit log shows no
        write request from the block (whatever the module reports about itself). min_entries: the
        block must also have left that many request entries (its reads): the device was recording it."""
        mark = self.mark()
        yield
        sent = self.write_requests(mark)
        assert sent == [], '%s sent %d write requests (audit log): %s' % (what, len(sent), sent[:20])
        logged = self.requests_since(mark)
        assert len(logged) >= min_entries, '%s left %d request entries in the audit log, expected at least %d' % (
            what, len(logged), min_entries)


class FastRaftServer(BaoServer):
    """A raft node with the low-latency raft timings (init in ~2 s instead of ~8 s)."""

    def config_text(self):
        marker = 'node_id = "%s"' % self.node_id
        return super().config_text().replace(marker, marker + '\n  performance_multiplier = 1', 1)


class AuditedDevServer(BaoServer):
    """A dev server with a file audit device (audit_log) that logs token accessors in clear."""

    def start(self):
        self.audit_log = self.workdir / 'audit.log'
        options = {'file_path': str(self.audit_log), 'hmac_accessor': 'false'}
        if ON_VAULT:
            # HashiCorp Vault has no audit stanza in its configuration: through the API.
            super().start()
            self.client().sys.enable_audit_device('file', path='corpus', options=options)
            return self
        self.extra_config = textwrap.dedent('''\
            audit "file" "corpus" {
              options {
                file_path = "%s"
                hmac_accessor = "false"
              }
            }
            ''') % self.audit_log
        return super().start()


def enable_audit_on_cluster(nodes, token) -> None:
    """HashiCorp Vault: enable the nodes' file audit device on the active node (the audit table is
    the cluster's; the nodes share one log file). OpenBao: declared in each node's configuration."""
    if not ON_VAULT:
        return
    deadline = time.time() + 60
    while time.time() < deadline:
        for node in nodes:
            try:
                if node.client(token).sys.read_leader_status().get('is_self'):
                    node.enable_audit(token)
                    return
            except Exception:  # noqa: BLE001 - sealed or electing
                pass
        time.sleep(0.5)
    raise AssertionError('no active node to enable the audit device on')


# The write a vault_unseal run sends for its own short-lived admin token (an orphan token made from
# the key custody; the role alone leaves it to its TTL, site.yml revokes it with tasks_from: revoke):
# the only write a converged re-run of the role may send.
RUN_TOKEN_WRITES = ['update auth/token/create-orphan']


def run_without_writes(server, module: str, args: dict, what='', **kw) -> dict:
    """run_module that also fails unless the server's audit log shows no write request from the run
    (a re-run of converged state, a check-mode run, a refused input): Vault's record, not the module's."""
    with server.no_writes(what or '%s%s' % (module, ' in check mode' if kw.get('check') else '')):
        return run_module(module, args, **kw)


def audit_entries(audit_log, mark=0):
    """Every complete entry of a file audit log from byte offset MARK, as dicts. The server may be
    writing a line right now: a last line without its newline is left for the next read."""
    with open(audit_log, 'rb') as handle:
        handle.seek(mark)
        text = handle.read()
    complete = text[:text.rfind(b'\n') + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def audit_requests(audit_log, mark=0):
    """Every request entry of a file audit log from byte offset MARK, as "operation path"
    (a request entry is logged before the server handles it: refused ones too)."""
    return ['%s %s' % ((entry.get('request') or {}).get('operation'), (entry.get('request') or {}).get('path'))
            for entry in audit_entries(audit_log, mark) if entry.get('type') == 'request']


def write_requests(audit_log, mark=0):
    """Every create/update/delete request entry of a file audit log from byte offset MARK, as
    "operation path" (a request entry is logged before the server handles it: refused ones too)."""
    return [line for line in audit_requests(audit_log, mark)
            if line.split(' ', 1)[0] in ('create', 'update', 'delete')]


def successful_writes(audit_log):
    """{token accessor: ["update sys/policies/acl/x", ...]}: every create, update and delete
    request that succeeded, from the audit log of an AuditedDevServer."""
    found = {}
    for entry in audit_entries(audit_log):
        request = entry.get('request') or {}
        if entry.get('type') != 'response' or entry.get('error'):
            continue
        if request.get('operation') not in ('create', 'update', 'delete'):
            continue
        accessor = (entry.get('auth') or {}).get('accessor')
        found.setdefault(accessor, []).append('%s %s' % (request['operation'], request.get('path')))
    return found


def descendants(pid: int) -> list:
    """Every live process below pid (by parent id; ansible's workers leave its session)."""
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(')') + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int) -> int:
    """SIGKILL pid and every process below it; returns how many were killed.

    ansible-playbook's workers call setsid(), so killing its process group misses them
    and the modules they run. The tree is stopped first (SIGSTOP, repeated until no new
    process appears) so that nothing forks away while it is being killed."""
    stopped = set()
    while True:
        tree = [pid] + descendants(pid)
        new = [p for p in tree if p not in stopped]
        if not new:
            break
        for member in new:
            try:
                os.kill(member, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            stopped.add(member)
    for member in stopped:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(stopped)


def make_tls(workdir: Path, hosts=('127.0.0.1', 'localhost')) -> dict:
    """A CA and a server certificate made with openssl."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = workdir / 'ca.key', workdir / 'ca.crt'
    key, csr, crt = workdir / 'server.key', workdir / 'server.csr', workdir / 'server.crt'
    ext = workdir / 'ext.cnf'
    san = ','.join(('IP:%s' % h) if h[0].isdigit() else ('DNS:%s' % h) for h in hosts)
    ext.write_text('subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' % san)

    def run(*argv):
        subprocess.run(argv, check=True, capture_output=True)

    run('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
        '-subj', '/CN=vaultkube-test-ca', '-keyout', str(ca_key), '-out', str(ca_crt))
    run('openssl', 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
        '-keyout', str(key), '-out', str(csr))
    run('openssl', 'x509', '-req', '-in', str(csr), '-CA', str(ca_crt), '-CAkey', str(ca_key),
        '-CAcreateserial', '-days', '2', '-extfile', str(ext), '-out', str(crt))
    return {'ca': str(ca_crt), 'cert': str(crt), 'key': str(key)}


def _ansible_env(extra=None) -> dict:
    env = dict(os.environ)
    env.update({
        'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1',
        'ANSIBLE_STDOUT_CALLBACK': 'ansible.posix.json',
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
        'ANSIBLE_HOST_KEY_CHECKING': 'False',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_NOCOLOR': '1',
    })
    # Tests pass connection options explicitly; never inherit a developer's Vault.
    for name in ('VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_CACERT', 'VAULT_SKIP_VERIFY', 'VAULT_NAMESPACE'):
        env.pop(name, None)
    env.update(extra or {})
    return env


def run_module(module: str, args: dict, check=False, diff=False, env=None) -> dict:
    """Run one module of the collection through ``ansible`` and return its result."""
    name = module if '.' in module else 'vaultkube.platform.' + module
    cmd = ['ansible', 'localhost', '-i', 'localhost,', '-c', 'local', '-m', name,
           '-a', json.dumps(args)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_ansible_env(env), timeout=300,
                          check=False)
    try:
        doc = json.loads(proc.stdout)
        result = doc['plays'][0]['tasks'][0]['hosts']['localhost']
    except (ValueError, KeyError, IndexError):
        raise AssertionError('ansible produced no JSON result (rc=%s):\n%s\n%s'
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    result['_stdout'] = proc.stdout
    result['_stderr'] = proc.stderr
    return result


def run_playbook(playbook: str | Path, extra_vars: dict | None = None, check=False, diff=False,
                 verbosity=0, env=None, inventory='localhost,', json_output=True,
                 extra_args=()) -> subprocess.CompletedProcess:
    """Run a playbook; with ``json_output`` the stdout is the json callback's document."""
    cmd = ['ansible-playbook', '-i', inventory, str(playbook)]
    if extra_vars:
        cmd += ['-e', json.dumps(extra_vars)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    if verbosity:
        cmd.append('-' + 'v' * verbosity)
    cmd += list(extra_args)
    run_env = _ansible_env(env)
    if not json_output:
        run_env['ANSIBLE_STDOUT_CALLBACK'] = 'default'
    return subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=1800,
                          check=False)


def read_or_none(vault, path):
    """The data of a Vault GET, or None when Vault answers 404 (any other status fails)."""
    response = vault.adapter.get('/v1/' + path, raise_exception=False)
    if isinstance(response, dict):
        return response.get('data')
    assert response.status_code == 404, response.text
    return None


def assert_failed_cleanly(result: dict, *fragments: str) -> str:
    """The task failed with one line (no traceback) containing the fragments."""
    assert result.get('failed'), 'expected a failure, got %r' % {k: v for k, v in result.items()
                                                                 if not k.startswith('_')}
    msg = result.get('msg', '')
    assert '\n' not in msg.strip(), 'message is not one line: %r' % msg
    # ansible-core 2.19 always adds an 'exception' key; it must hold no traceback.
    assert 'Traceback' not in msg and 'Traceback' not in str(result.get('exception', '')), \
        'traceback in result: %r' % result
    for fragment in fragments:
        assert fragment.lower() in msg.lower(), '%r not in %r' % (fragment, msg)
    return msg


# Tests that need root carry @pytest.mark.needs_root(reason) (or a module pytestmark). The conftests
# of the integration, e2e and fault stages call fail_unless_root from pytest_runtest_setup: as
# another user such a test FAILS with one line (before its fixtures start anything), never skips,
# so no stage reports passed with its root tests left out. CI runs as root.
NEEDS_ROOT_MARKER = 'needs_root(reason): fails with one line when not run as root (never skipped)'


def fail_unless_root(item) -> None:
    marker = item.get_closest_marker('needs_root')
    if marker is not None and os.geteuid() != 0:
        import pytest
        pytest.fail('needs root: %s (run this stage as root, as CI does)' % marker.args[0], pytrace=False)


def tmpdir(prefix='vaultkube-') -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


_ADMIN_TOKENS = {}


def admin_token(url, keys_file, password, ca_cert=None, display_name='vaultkube-tests', ttl='2h'):
    """A test's admin token: the role leaves no root token (issue 22), so one is made from the keys
    file with vault_admin_token (the initial root token kept if custody still holds it), cached while
    it is valid."""
    import hvac  # pylint: disable=import-outside-toplevel
    key = (url, keys_file)
    token = _ADMIN_TOKENS.get(key)
    if token and hvac.Client(url=url, verify=ca_cert or True, token=token, timeout=10).is_authenticated():
        return token
    args = {'url': url, 'keys_file': keys_file, 'keys_file_vault_password': password, 'ttl': ttl,
            'display_name': display_name, 'revoke_initial': False}
    if ca_cert:
        args['ca_cert'] = ca_cert
    result = run_module('vault_admin_token', args)
    assert not result.get('failed') and result.get('token'), result.get('msg')
    _ADMIN_TOKENS[key] = result['token']
    return result['token']


# The play the tests run vault_unseal alone with (variables given with -e).
VAULT_UNSEAL_PLAYBOOK = """\
- name: vault_unseal alone
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: vaultkube.platform.vault_unseal
"""
