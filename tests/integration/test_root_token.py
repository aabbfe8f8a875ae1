# -*- coding: utf-8 -*-
"""vault_admin_token on a real server: no standing root token (issue 22, item 2).

A raft server (OpenBao, or HashiCorp Vault with VAULTKUBE_TEST_SERVER=vault) is initialised
and its keys written to an encrypted keys file like vault_init's. Its file audit device logs
raw (log_raw): the test reads from it the secrets the module met (OTP, encoded token, the
generated root token, the admin token) to prove they are revoked and never printed.
"""

import contextlib
import json
import textwrap
import uuid

import pytest
import requests
from ansible.parsing.vault import VaultLib, VaultSecret

from vaultkube_testlib import (ON_VAULT, FastRaftServer, audit_entries, run_module, run_playbook, scratch_server,
                               transit_seal, transit_unsealer, wait_active)

# OpenBao 2.5.3+ answers 405 on sys/generate-root/* unless the listener enables them.
OPENBAO_LISTENER = 'disable_unauthed_generate_root_endpoints = false'


class RootServer(FastRaftServer):
    """A raft node whose listener allows generate-root (OpenBao) and whose audit log is raw."""

    def __init__(self, workdir, seal_config=''):
        self.seal_config = seal_config
        super().__init__(workdir)
        self.audit_log = self.workdir / 'audit.log'

    def config_text(self):
        text = super().config_text()
        if not ON_VAULT:
            text = text.replace('tls_disable = true', 'tls_disable = true\n  ' + OPENBAO_LISTENER, 1)
        return text + self.seal_config

    def audit_stanza(self):
        """The one declared audit device (OpenBao), raw, in place of the base class's HMAC one: two
        devices on one file would log every secret twice, once in clear and once as its HMAC."""
        if ON_VAULT:
            return ''
        return textwrap.dedent('''\
            audit "file" "raw" {
              options {
                file_path = "%s"
                log_raw = "true"
              }
            }
            ''') % self.audit_log


def vault_text(content, password):
    return VaultLib([('default', VaultSecret(password.encode()))]).encrypt(json.dumps(content)).decode()


def read_keys(path, password):
    return json.loads(VaultLib([('default', VaultSecret(password.encode()))]).decrypt(path.read_bytes()))


def lookup(server, token):
    """(status, data) of lookup-self with token."""
    answer = requests.get(server.url + '/v1/auth/token/lookup-self', headers={'X-Vault-Token': token}, timeout=10)
    return answer.status_code, (answer.json().get('data') if answer.status_code == 200 else None)


def init_server(server, keys_file, password, recovery=False):
    """Initialise (and unseal) like vault_init: the keys file holds shares and the root token."""
    client = server.client()
    if recovery:
        init = client.sys.initialize(recovery_shares=3, recovery_threshold=2)
    else:
        init = client.sys.initialize(secret_shares=3, secret_threshold=2)
        for key in init['keys'][:2]:
            client.sys.submit_unseal_key(key)
    wait_active(server)
    if ON_VAULT:
        # HashiCorp Vault takes audit devices through the API only.
        server.client(init['root_token']).sys.enable_audit_device(
            'file', path='raw', options={'file_path': str(server.audit_log), 'log_raw': 'true'})
    content = dict((k, v) for k, v in init.items() if v is not None)
    keys_file.write_text(vault_text(content, password))
    keys_file.chmod(0o600)
    return init


def audit_secrets(server):
    """OTPs, encoded tokens, root tokens used to create admin tokens, and admin tokens, from the raw audit log."""
    found = {'otp': set(), 'encoded': set(), 'generated_root': set(), 'admin': set()}
    for entry in audit_entries(server.audit_log):
        if entry.get('type') != 'response':
            continue
        path = entry['request'].get('path', '')
        data = (entry.get('response') or {}).get('data') or {}
        if path == 'sys/generate-root/attempt' and data.get('otp'):
            found['otp'].add(data['otp'])
        if path == 'sys/generate-root/update' and data.get('encoded_token'):
            found['encoded'].add(data['encoded_token'])
        if path == 'auth/token/create-orphan':
            found['generated_root'].add(entry['request'].get('client_token'))
            found['admin'].add(((entry.get('response') or {}).get('auth') or {}).get('client_token'))
    return found


def root_node(prefix, seal_config=''):
    """A RootServer in a fresh folder, as (server, folder); stopped and removed afterwards."""
    yield from scratch_server(prefix, RootServer, 'node', seal_config=seal_config)


def auto_unsealed_node(prefix):
    """A RootServer auto-unsealed by a transit_unsealer of its own (folders PREFIX transit- and PREFIX
    auto-), initialised with recovery keys by init_server, as (server, keys file, password, init); both
    servers stopped and their folders removed afterwards."""
    with contextlib.contextmanager(transit_unsealer)(prefix + 'transit-') as transit:
        seal = transit_seal(transit['url'], transit['token'])
        with contextlib.contextmanager(root_node)(prefix + 'auto-', seal_config=seal) as (server, work):
            keys_file, password = work / 'init.vault', uuid.uuid4().hex
            yield server, keys_file, password, init_server(server, keys_file, password, recovery=True)


@pytest.fixture
def node():
    yield from root_node('vaultkube-root-')


def custody_args(server, keys_file, password):
    return dict(url=server.url, keys_file=str(keys_file), keys_file_vault_password=password)


def test_initial_then_generated_then_revoked(node):
    server, work = node
    keys_file, password = work / 'init.vault', uuid.uuid4().hex
    init = init_server(server, keys_file, password)
    args = custody_args(server, keys_file, password)

    # 1. Custody still holds the valid initial root token: it is exchanged, revoked, and removed.
    first = run_module('vault_admin_token', dict(args, ttl='30m'))
    assert first.get('changed') and not first.get('failed'), first
    assert (first['generated'], first['revoked_initial']) == (False, True)
    admin = first['token']
    status, data = lookup(server, admin)
    assert status == 200 and data['policies'] == ['root'], data
    assert 0 < data['ttl'] <= 1800 and data['display_name'] == 'token-vaultkube-admin' and data['orphan'], data
    assert data['renewable'] is False and data['explicit_max_ttl'] == 1800
    assert lookup(server, init['root_token'])[0] == 403
    after = read_keys(keys_file, password)
    assert 'root_token' not in after and after['keys'] == init['keys'], sorted(after)
    assert (keys_file.stat().st_mode & 0o777) == 0o600

    # 2. No root token in custody: generate-root from the unseal keys, exchanged, the root revoked.
    second = run_module('vault_admin_token', args)
    assert second.get('changed') and not second.get('failed'), second
    assert (second['generated'], second['revoked_initial']) == (True, False)
    status, data = lookup(server, second['token'])
    assert status == 200 and data['policies'] == ['root'] and 0 < data['ttl'] <= 3600, data
    seen = audit_secrets(server)
    generated_roots = seen['generated_root'] - {init['root_token']}
    assert len(generated_roots) == 1 and len(seen['otp']) == 1 and len(seen['encoded']) == 1, seen
    generated_root = generated_roots.pop()
    assert lookup(server, generated_root)[0] == 403
    for secret in (generated_root, seen['otp'].pop(), seen['encoded'].pop(), init['root_token']) + tuple(init['keys']):
        assert secret not in second['_stdout'] + second['_stderr'] + first['_stdout']
    assert seen['admin'] == {admin, second['token']}
    # Nothing is in progress on the server afterwards.
    assert requests.get(server.url + '/v1/sys/generate-root/attempt', timeout=5).json()['started'] is False

    # Check mode (the module alone): nothing generated, no token.
    checked = run_module('vault_admin_token', args, check=True)
    assert checked.get('changed') and checked['token'] == '' and checked['generated'] is False, checked
    assert len(audit_secrets(server)['otp']) == 1

    # 3. A given token is checked and returned as it is; nothing generated.
    given = run_module('vault_admin_token', dict(url=server.url, token=admin))
    assert given['token'] in (admin, 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER') and given['generated'] is False and not given.get('changed'), given
    assert len(audit_secrets(server)['otp']) == 1
    bad = run_module('vault_admin_token', dict(url=server.url, token='s.' + uuid.uuid4().hex))
    assert bad.get('failed') and 'not valid' in bad['msg'], bad

    # 4. state=absent revokes; a second time is ok and unchanged.
    gone = run_module('vault_admin_token', dict(url=server.url, token=admin, state='absent'))
    assert gone.get('changed') and gone['revoked'] is True, gone
    assert lookup(server, admin)[0] == 403
    again = run_module('vault_admin_token', dict(url=server.url, token=admin, state='absent'))
    assert not again.get('changed') and not again.get('failed'), again
    # VAULT_TOKEN is never what state=absent revokes.
    env_only = run_module('vault_admin_token', dict(url=server.url, state='absent'),
                          env={'VAULT_TOKEN': second['token']})
    assert env_only.get('failed') and 'token is required' in env_only['msg'], env_only
    assert lookup(server, second['token'])[0] == 200  # the other admin token untouched


def test_stale_attempt_cancelled_and_too_few_keys(node):
    server, work = node
    keys_file, password = work / 'init.vault', uuid.uuid4().hex
    init = init_server(server, keys_file, password)
    # An attempt a killed run left half done (one share submitted), and no root token in custody.
    requests.put(server.url + '/v1/sys/generate-root/attempt', json={}, timeout=5).raise_for_status()
    content = dict((k, v) for k, v in init.items() if v is not None and k != 'root_token')
    keys_file.write_text(vault_text(content, password))
    done = run_module('vault_admin_token', custody_args(server, keys_file, password))
    assert done.get('changed') and done['generated'] is True, done
    assert lookup(server, done['token'])[1]['policies'] == ['root']

    # One share for a threshold of 2: a one-line failure, the attempt cancelled, no token.
    result = run_module('vault_admin_token', dict(url=server.url, keys=[init['keys'][0]]))
    assert result.get('failed') and 'needs 2' in result['msg'], result
    assert init['keys'][0] not in result['_stdout']
    assert requests.get(server.url + '/v1/sys/generate-root/attempt', timeout=5).json()['started'] is False


@pytest.fixture
def auto_node():
    yield from auto_unsealed_node('vaultkube-root-')


def test_recovery_keys_with_transit_seal(auto_node):
    server, keys_file, password, init = auto_node
    assert requests.get(server.url + '/v1/sys/seal-status', timeout=5).json()['type'] == 'transit'
    assert init.get('recovery_keys') and not init.get('keys')
    content = dict((k, v) for k, v in init.items() if v is not None and k != 'root_token')
    keys_file.write_text(vault_text(content, password))
    done = run_module('vault_admin_token', custody_args(server, keys_file, password))
    assert done.get('changed') and done['generated'] is True, done
    status, data = lookup(server, done['token'])
    assert status == 200 and data['policies'] == ['root'] and data['ttl'] > 0, data
    generated = audit_secrets(server)['generated_root']
    assert len(generated) == 1 and lookup(server, generated.pop())[0] == 403
    # The initial root token was never touched here: still valid (it is not in custody).
    assert lookup(server, init['root_token'])[0] == 200


LEAK_PLAYBOOK = '''\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: An admin token from custody
      vaultkube.platform.vault_admin_token:
        url: "{{ url }}"
        keys_file: "{{ keys_file }}"
        keys_file_vault_password: "{{ keys_password }}"
      register: admin
      no_log: true

    - name: Use it
      vaultkube.platform.vault_status_info:
        url: "{{ url }}"
        token: "{{ admin.token }}"

    - name: A failing task holding it
      vaultkube.platform.vault_kv2_secret:
        url: "{{ url }}"
        token: "{{ admin.token }}"
        mount_path: no-such-mount
        path: x
        data: {a: b}
      ignore_errors: true

    - name: Revoke it
      vaultkube.platform.vault_admin_token:
        url: "{{ url }}"
        token: "{{ admin.token }}"
        state: absent
'''


def test_no_secret_at_vvv(node):
    server, work = node
    keys_file, password = work / 'init.vault', uuid.uuid4().hex
    init = init_server(server, keys_file, password)
    content = dict((k, v) for k, v in init.items() if v is not None and k != 'root_token')
    keys_file.write_text(vault_text(content, password))
    playbook = work / 'leak.yml'
    playbook.write_text(LEAK_PLAYBOOK)
    proc = run_playbook(playbook, dict(url=server.url, keys_file=str(keys_file), keys_password=password),
                        verbosity=3, json_output=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    seen = audit_secrets(server)
    assert len(seen['otp']) == 1 and len(seen['encoded']) == 1 and len(seen['admin']) == 1, seen
    secrets = {'password': password, 'initial root token': init['root_token']}
    for name in ('otp', 'encoded', 'generated_root', 'admin'):
        for value in seen[name]:
            secrets[name] = value
    for i, key in enumerate(init['keys'] + init['keys_base64']):
        secrets['share %d' % i] = key
    leaked = [name for name, value in secrets.items() if value and value in output]
    assert not leaked, 'printed at -vvv: %s' % ', '.join(leaked)
    assert lookup(server, seen['admin'].pop())[0] == 403
    assert lookup(server, seen['generated_root'].pop())[0] == 403


def test_dead_initial_token_in_custody_is_dropped(node):
    """A run killed after revoking the initial root token and before rewriting custody leaves a dead
    root_token in the keys file: the next run generates from the shares and removes it."""
    server, work = node
    keys_file, password = work / 'init.vault', uuid.uuid4().hex
    init = init_server(server, keys_file, password)
    requests.post(server.url + '/v1/auth/token/revoke-self', headers={'X-Vault-Token': init['root_token']},
                  timeout=5).raise_for_status()
    done = run_module('vault_admin_token', custody_args(server, keys_file, password))
    assert done.get('changed') and (done['generated'], done['revoked_initial']) == (True, False), done
    assert lookup(server, done['token'])[1]['policies'] == ['root']
    after = read_keys(keys_file, password)
    assert 'root_token' not in after and after['keys'] == init['keys']
    # With revoke_initial=false a valid initial token is used and kept (the old behaviour).
    keys_file.write_text(vault_text(dict(after, root_token=done['token']), password))
    kept = run_module('vault_admin_token', dict(custody_args(server, keys_file, password), revoke_initial=False))
    assert (kept['generated'], kept['revoked_initial']) == (False, False), kept
    assert lookup(server, done['token'])[0] == 200 and read_keys(keys_file, password)['root_token'] == done['token']


KILL_ENV = 'VAULTKUBE_ADMIN_TOKEN_TEST_KILL_AT'


# With a valid initial root token in custody nothing is generated: only the later steps apply.
KILLED = [(False, step) for step in ('attempt_started', 'update_share', 'generated', 'exchanged', 'root_revoked')] + [
    (True, 'exchanged'), (True, 'root_revoked')]


@pytest.mark.parametrize('initial,step', KILLED, ids=['%s-%s' % ('initial' if i else 'generated', s) for i, s in KILLED])
def test_a_run_killed_inside_converges(node, step, initial):
    """Killed (the process ends as with SIGKILL) right after each step of the admin token's making:
    custody keeps its shares, the next run returns a working admin token, leaves no attempt in
    progress and no root token in custody; what the killed run left is bounded as documented."""
    server, work = node
    keys_file, password = work / 'init.vault', uuid.uuid4().hex
    init = init_server(server, keys_file, password)
    args = custody_args(server, keys_file, password)
    if not initial:
        dropped = run_module('vault_admin_token', args)  # revokes the initial root token
        assert not dropped.get('failed') and 'root_token' not in read_keys(keys_file, password), dropped
        assert run_module('vault_admin_token', dict(url=server.url, token=dropped['token'], state='absent'))['revoked']

    killed = run_module('vault_admin_token', args, env={KILL_ENV: step})
    assert killed.get('failed') and 'token' not in killed, killed
    assert read_keys(keys_file, password)['keys'] == init['keys']

    rerun = run_module('vault_admin_token', args)
    assert not rerun.get('failed') and rerun['token'], rerun
    status, data = lookup(server, rerun['token'])
    assert status == 200 and data['policies'] == ['root'] and 0 < data['ttl'] <= 3600, data
    after = read_keys(keys_file, password)
    assert 'root_token' not in after and after['keys'] == init['keys'], sorted(after)
    assert lookup(server, init['root_token'])[0] == 403
    assert requests.get(server.url + '/v1/sys/generate-root/attempt', timeout=5).json()['started'] is False

    # What the killed run left: an admin token (TTL-bound), and, killed after the generation and
    # before the revocation of a generated root token, that root token (no TTL): the bound the
    # module's notes document. Counted from every token's accessor.
    seen = audit_secrets(server)
    for admin in seen['admin'] - {rerun['token']}:
        status, data = lookup(server, admin)
        assert status == 403 or (data['explicit_max_ttl'] == 3600 and 0 < data['ttl'] <= 3600), data
    stray = standing_roots(server, rerun['token'])
    bound = 1 if (not initial and step in ('generated', 'exchanged')) else 0
    assert len(stray) == bound, (step, stray)
    for secret in [init['root_token']] + list(init['keys']) + sorted(seen['otp']) + sorted(seen['encoded']):
        assert secret not in killed['_stdout'] + killed['_stderr'] + rerun['_stdout'] + rerun['_stderr']


def standing_roots(server, token):
    """Accessors of valid root-policy tokens without a TTL (initial or generated root tokens)."""
    headers = {'X-Vault-Token': token}
    listed = requests.request('LIST', server.url + '/v1/auth/token/accessors', headers=headers, timeout=10)
    assert listed.status_code == 200, listed.text
    found = []
    for accessor in listed.json()['data']['keys']:
        answer = requests.post(server.url + '/v1/auth/token/lookup-accessor', headers=headers,
                               json={'accessor': accessor}, timeout=10)
        data = answer.json().get('data') or {}
        if answer.status_code == 200 and 'root' in (data.get('policies') or []) and not data.get('ttl'):
            found.append(accessor)
    return found
