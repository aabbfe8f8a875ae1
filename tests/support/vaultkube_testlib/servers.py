# -*- coding: utf-8 -*-
"""Real OpenBao or HashiCorp Vault servers on loopback (dev mode or raft storage), and their TLS material."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import textwrap
import time
import uuid
from pathlib import Path

import hvac
import requests

from .audit import audit_requests, write_requests
from .paths import VENV_BIN, tmpdir
from .ports import free_port


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


def wait_active(server, timeout: float = 60.0) -> None:
    """Until SERVER (a BaoServer) answers sys/leader as the active node itself: an unsealed raft
    node first elects itself, a restarted one first unseals (503 or no answer in between)."""
    client = server.client()
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if client.sys.read_leader_status().get('is_self'):
                return
        except Exception:  # noqa: BLE001 - sealed, electing or still starting
            pass
        time.sleep(0.2)
    raise AssertionError('%s did not become active' % server.url)


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


def read_or_none(vault, path):
    """The data of a Vault GET, or None when Vault answers 404 (any other status fails)."""
    response = vault.adapter.get('/v1/' + path, raise_exception=False)
    if isinstance(response, dict):
        return response.get('data')
    assert response.status_code == 404, response.text
    return None


def scratch_server(prefix, server_class=None, folder=None, **options):
    """SERVER_CLASS (BaoServer unless given) made with OPTIONS and started in a scratch folder of its
    own (in its subfolder FOLDER when given), as (server, scratch folder); stopped and the folder
    removed after: a generator for fixtures (``yield from``)."""
    work = tmpdir(prefix)
    server = (server_class or BaoServer)(work / folder if folder else work, **options).start()
    try:
        yield server, work
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


TRANSIT_POLICY = """\
path "transit/encrypt/autounseal" { capabilities = ["update"] }
path "transit/decrypt/autounseal" { capabilities = ["update"] }
"""


def transit_unsealer(prefix='vaultkube-transit-', tls=False):
    """A dev server holding the transit key "autounseal" and a periodic token whose policy may only
    encrypt and decrypt with it, as {url, token, root: a client with the root token}; with TLS, the
    url is that of a second listener with a certificate of its own CA (ca: the CA file). Stopped and
    removed after: a generator for fixtures (``yield from``)."""
    work = tmpdir(prefix)
    listener = ''
    if tls:
        material = make_tls(work / 'tls')
        tls_port = free_port()
        listener = ('listener "tcp" {\n  address = "127.0.0.1:%d"\n  tls_cert_file = "%s"\n'
                    '  tls_key_file = "%s"\n}\n' % (tls_port, material['cert'], material['key']))
    server = BaoServer(work, dev=True, extra_config=listener).start()
    root = server.client()
    root.sys.enable_secrets_engine('transit', path='transit')
    root.secrets.transit.create_key('autounseal')
    root.sys.create_or_update_policy('autounseal', TRANSIT_POLICY)
    token = root.auth.token.create(policies=['autounseal'], no_parent=True, period='24h')['auth']['client_token']
    found = dict(url=server.url, token=token, root=root)
    if tls:
        found.update(url='https://127.0.0.1:%d' % tls_port, ca=material['ca'])
    try:
        yield found
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def transit_seal(url, token, ca=None) -> str:
    """The seal stanza of a server auto-unsealed with a transit_unsealer's key (tls_ca_cert = CA when given)."""
    stanza = textwrap.dedent('''\
        seal "transit" {
          address     = "%s"
          token       = "%s"
          key_name    = "autounseal"
          mount_path  = "transit/"
        ''') % (url, token)
    if ca:
        stanza += '  tls_ca_cert = "%s"\n' % ca
    return stanza + '}\n'


def fresh_mount(vault, kind, prefix, auth=False):
    """A secrets engine of KIND (an auth method with AUTH) enabled directly at PREFIX and eight random
    hex digits, through the hvac client VAULT, and disabled after: a generator for fixtures
    (``yield from``), yielding the path."""
    path = prefix + uuid.uuid4().hex[:8]
    if auth:
        vault.sys.enable_auth_method(kind, path=path)
    else:
        vault.sys.enable_secrets_engine(kind, path=path)
    yield path
    if auth:
        vault.sys.disable_auth_method(path)
    else:
        vault.sys.disable_secrets_engine(path)
