# -*- coding: utf-8 -*-
"""vault_rekey on a real server (issue 22, item 3): new unseal or recovery keys, custody always
holding a set that unseals.

Every test reads the server back: the node is sealed through the API and unsealed with the
shares custody holds, the old shares must be refused. The kill points end the module's process
(os._exit, no clean-up) right after each step of its state machine (test hook
VAULTKUBE_REKEY_TEST_KILL_AT); custody must then hold a set that unseals, and the next run must
converge.
"""

import base64
import subprocess
import uuid

import pytest
import requests

from test_root_token import auto_unsealed_node, init_server, read_keys, root_node
from vaultkube_testlib import (ON_VAULT, REPO, admin_token, audit_entries, run_module, run_playbook, task_results,
                               wait_active)

KILL_ENV = 'VAULTKUBE_REKEY_TEST_KILL_AT'
STEPS = ('initialised', 'update_share', 'updated', 'pending_written', 'verify_share', 'verified',
         'promoted', 'check_share', 'retired')
# Killed at or after this step, the rekey had switched the server: the next run keeps the new set.
# check_share: killed inside the check attempt after the promotion (an attempt left started).
SWITCHED = ('verified', 'promoted', 'check_share', 'retired')


def seal(server, token):
    if requests.get(server.url + '/v1/sys/seal-status', timeout=5).json()['sealed']:
        return
    requests.put(server.url + '/v1/sys/seal', headers={'X-Vault-Token': token}, timeout=10).raise_for_status()
    assert requests.get(server.url + '/v1/sys/seal-status', timeout=5).json()['sealed'] is True


def unseals(server, shares):
    """Whether shares unseal the sealed node (a refused set is reset and leaves it sealed). Refused
    means Vault's 400 for a wrong key; any other answer fails the test."""
    requests.put(server.url + '/v1/sys/unseal', json={'reset': True}, timeout=10).raise_for_status()
    for share in shares:
        answer = requests.put(server.url + '/v1/sys/unseal', json={'key': share}, timeout=10)
        if answer.status_code != 200:
            assert answer.status_code == 400, (answer.status_code, answer.text[:300])
            requests.put(server.url + '/v1/sys/unseal', json={'reset': True}, timeout=10)
            return False
        if not answer.json()['sealed']:
            wait_active(server)
            return True
    requests.put(server.url + '/v1/sys/unseal', json={'reset': True}, timeout=10)
    return False


def custody_sets(content, kind='unseal'):
    field = 'keys' if kind == 'unseal' else 'recovery_keys'
    found = {'current': content.get(field) or []}
    for name in ('pending', 'previous'):
        if content.get(name):
            found[name] = content[name].get(field) or []
    return found


def recovery_accepted(server, token, shares):
    """Whether the server's recovery key is made of shares: a rekey attempt with verification, cancelled."""
    base = server.url + '/v1/' + ('sys/rekey-recovery-key' if ON_VAULT else 'sys/rotate/recovery')
    headers = {'X-Vault-Token': token}
    status = requests.get(server.url + '/v1/sys/seal-status', timeout=5).json()
    started = requests.put(base + '/init', headers=headers, timeout=10, json={
        'secret_shares': status['n'], 'secret_threshold': status['t'], 'require_verification': True})
    started.raise_for_status()
    body = started.json()
    nonce = (body.get('data') or body)['nonce']
    try:
        for share in shares:
            answer = requests.put(base + '/update', headers=headers, timeout=10, json={'key': share, 'nonce': nonce})
            if answer.status_code != 200:
                # Refused means Vault's 400 for shares of another key; any other answer fails the test.
                assert answer.status_code == 400, (answer.status_code, answer.text[:300])
                return False
            body = answer.json()
            if (body.get('data') or body).get('complete'):
                return True
        return False
    finally:
        requests.delete(base + '/init', headers=headers, timeout=10, json={'nonce': nonce})


def rekey_args(server, keys_file, password, token, **extra):
    return dict(dict(url=server.url, token=token, keys_file=str(keys_file), keys_file_vault_password=password),
                **extra)


@pytest.fixture
def node():
    yield from root_node('vaultkube-rekey-')


def test_rekey_unseal_keys(node):
    server, work = node
    keys_file, password = work / 'init.vault', uuid.uuid4().hex
    init = init_server(server, keys_file, password)
    token = init['root_token']
    args = rekey_args(server, keys_file, password, token)

    checked = run_module('vault_rekey', dict(args, secret_shares=5, secret_threshold=3), check=True)
    assert checked.get('changed') and not checked.get('failed') and checked['steps'] == [], checked
    assert read_keys(keys_file, password)['keys'] == init['keys']

    done = run_module('vault_rekey', dict(args, secret_shares=5, secret_threshold=3, rotate_encryption_key=True))
    assert done.get('changed') and not done.get('failed'), done
    assert done['rekeyed'] is True and done['target'] == 'unseal' and done['resumed'] is None, done
    assert done['endpoint'] == ('sys/rekey' if ON_VAULT else 'sys/rotate/root'), done
    assert done['key_term'] == 2 and done['encryption_key_rotated'] is True, done
    after = read_keys(keys_file, password)
    assert len(after['keys']) == 5 and not set(after['keys']) & set(init['keys']), 'new shares expected'
    assert (after['secret_shares'], after['secret_threshold']) == (5, 3)
    assert 'pending' not in after and 'previous' not in after, sorted(after)
    assert after['root_token'] == token  # the rest of custody is kept
    assert (keys_file.stat().st_mode & 0o777) == 0o600
    status = requests.get(server.url + '/v1/sys/seal-status', timeout=5).json()
    assert (status['n'], status['t']) == (5, 3), status
    output = done['_stdout'] + done['_stderr']
    for share in after['keys'] + after['keys_base64'] + init['keys']:
        assert share not in output

    # Read back: sealed, the old shares are refused, the new ones unseal.
    seal(server, token)
    assert not unseals(server, init['keys'])
    assert unseals(server, after['keys'][:3])

    # rekey=false: nothing to finish, nothing done.
    again = run_module('vault_rekey', dict(args, rekey=False))
    assert not again.get('changed') and not again.get('failed') and again['steps'] == [], again
    assert read_keys(keys_file, password)['keys'] == after['keys']

    # Too few keys to reach the threshold: one line, nothing changed, no attempt left.
    few = run_module('vault_rekey', dict(args, keys=after['keys'][:2]))
    assert few.get('failed') and 'did not complete' in few['msg'] and '\n' not in few['msg'], few
    assert read_keys(keys_file, password)['keys'] == after['keys']
    started = requests.get(server.url + '/v1/' + done['endpoint'] + '/init',
                           headers={'X-Vault-Token': token}, timeout=5).json()
    assert (started.get('data') or started)['started'] is False
    # Shares that are not the server's: refused in one line, custody untouched, no attempt left.
    wrong_keys = [uuid.uuid4().hex + uuid.uuid4().hex + '%02x' % i for i in (1, 2, 3)]
    refused = run_module('vault_rekey', dict(args, keys=wrong_keys))
    assert refused.get('failed') and '\n' not in refused['msg'], refused
    assert 'refuses' in refused['msg'] or 'did not complete' in refused['msg'], refused['msg']
    assert read_keys(keys_file, password)['keys'] == after['keys']
    started = requests.get(server.url + '/v1/' + done['endpoint'] + '/init',
                           headers={'X-Vault-Token': token}, timeout=5).json()
    assert (started.get('data') or started)['started'] is False
    bad = run_module('vault_rekey', dict(args, secret_shares=3, secret_threshold=4))
    assert bad.get('failed') and 'secret_threshold' in bad['msg'], bad
    wrong = run_module('vault_rekey', dict(args, target='recovery'))
    assert wrong.get('failed') and 'target' in wrong['msg'], wrong


def test_bad_input_and_no_token(node):
    server, work = node
    keys_file, password = work / 'init.vault', uuid.uuid4().hex
    init_server(server, keys_file, password)
    result = run_module('vault_rekey', dict(url=server.url, keys_file=str(keys_file), keys_file_vault_password=password))
    assert result.get('failed') and 'token is required' in result['msg'], result
    missing = run_module('vault_rekey', dict(url=server.url, token='x', keys_file=str(work / 'nope.vault'),
                                             keys_file_vault_password=password))
    assert missing.get('failed') and 'custody holds no keys' in missing['msg'], missing


@pytest.mark.parametrize('restart', [False, True], ids=['running', 'restarted'])
@pytest.mark.parametrize('step', STEPS)
def test_kill_point(node, step, restart):
    """Killed right after step: custody holds a set that unseals; the next run converges."""
    server, work = node
    keys_file, password = work / 'init.vault', uuid.uuid4().hex
    init = init_server(server, keys_file, password)
    token = init['root_token']
    args = rekey_args(server, keys_file, password, token, secret_shares=4, secret_threshold=3)

    killed = run_module('vault_rekey', args, env={KILL_ENV: step})
    assert killed.get('failed'), killed
    content = read_keys(keys_file, password)
    sets = custody_sets(content)
    if restart:
        # The node restarts now: one of custody's sets unseals it (found here, sealed again for the module).
        opened = []
        for name, shares in sets.items():
            seal(server, token)
            if shares and unseals(server, shares):
                opened.append(name)
        assert len(opened) == 1, (step, sorted(sets), opened)
        seal(server, token)

    rerun = run_module('vault_rekey', dict(args, rekey=False))
    assert not rerun.get('failed'), (step, rerun.get('msg'))
    assert rerun['unsealed'] is restart, rerun
    final = read_keys(keys_file, password)
    assert 'pending' not in final and 'previous' not in final, (step, sorted(final))
    if step in SWITCHED:
        assert final['keys'] != init['keys'] and len(final['keys']) == 4, step
    elif step in ('initialised', 'update_share', 'updated'):
        # The new shares never reached custody: the attempt is cancelled, the old set stays.
        assert final['keys'] == init['keys'], step
    endpoint = rerun['endpoint']
    started = requests.get(server.url + '/v1/' + endpoint + '/init', headers={'X-Vault-Token': token}, timeout=5).json()
    assert (started.get('data') or started)['started'] is False, (step, started)

    # Read back: custody's current set unseals, any other set is refused.
    seal(server, token)
    for old in (init['keys'],) if final['keys'] != init['keys'] else ():
        assert not unseals(server, old), step
    assert unseals(server, final['keys'])

    # And a later full run still rekeys cleanly.
    last = run_module('vault_rekey', dict(args, secret_shares=3, secret_threshold=2))
    assert last.get('changed') and last['rekeyed'] is True, (step, last.get('msg'))
    newest = read_keys(keys_file, password)
    seal(server, token)
    assert not unseals(server, final['keys'])
    assert unseals(server, newest['keys'][:2])


@pytest.fixture
def auto_node():
    yield from auto_unsealed_node('vaultkube-rekey-')


def test_recovery_keys_with_transit_seal(auto_node):
    server, keys_file, password, init = auto_node
    token = init['root_token']
    args = rekey_args(server, keys_file, password, token)
    # A kill after the verification: the rerun finds the server takes the pending set.
    killed = run_module('vault_rekey', dict(args, secret_shares=4, secret_threshold=3),
                        env={KILL_ENV: 'verified'})
    assert killed.get('failed')
    pending = read_keys(keys_file, password)['pending']['recovery_keys']
    assert recovery_accepted(server, token, pending) and not recovery_accepted(server, token, init['recovery_keys'])
    rerun = run_module('vault_rekey', dict(args, rekey=False))
    assert rerun.get('changed') and rerun['resumed'] == 'promotion' and rerun['target'] == 'recovery', rerun
    assert rerun['endpoint'] == ('sys/rekey-recovery-key' if ON_VAULT else 'sys/rotate/recovery'), rerun
    middle = read_keys(keys_file, password)
    assert middle['recovery_keys'] == pending and 'pending' not in middle and 'previous' not in middle

    done = run_module('vault_rekey', dict(args, secret_shares=5, secret_threshold=2))
    assert done.get('changed') and done['rekeyed'] is True, done
    after = read_keys(keys_file, password)
    assert len(after['recovery_keys']) == 5 and (after['recovery_shares'], after['recovery_threshold']) == (5, 2)
    # Restarted (auto-unsealed by transit): the new recovery set is the one the server takes.
    server.stop()
    server.start()
    wait_active(server)
    assert recovery_accepted(server, token, after['recovery_keys'][:2])
    assert not recovery_accepted(server, token, pending)
    assert not recovery_accepted(server, token, init['recovery_keys'])
    output = done['_stdout'] + done['_stderr']
    assert not [k for k in after['recovery_keys'] + after['recovery_keys_base64'] if k in output]


def audit_rekey_secrets(server):
    """Every share and nonce the rekey endpoints answered, from the raw audit log."""
    found = set()
    for entry in audit_entries(server.audit_log):
        path = (entry.get('request') or {}).get('path', '')
        if 'rekey' not in path and 'rotate/root' not in path and 'rotate/recovery' not in path:
            continue
        for part in ((entry.get('response') or {}).get('data') or {}, (entry.get('request') or {}).get('data') or {}):
            for field in ('keys', 'keys_base64'):
                found.update(part.get(field) or [])
            for field in ('nonce', 'verification_nonce', 'key'):
                if isinstance(part.get(field), str) and part.get(field):
                    found.add(part[field])
    return found


def test_playbook_no_secret_at_vvv(node):
    """playbooks/rekey.yml at -vvv: the admin token from custody, the rekey, nothing secret printed."""
    server, work = node
    keys_file, password = work / 'init.vault', uuid.uuid4().hex
    init = init_server(server, keys_file, password)
    proc = run_playbook(REPO / 'playbooks' / 'rekey.yml', dict(
        vault_rekey_url=server.url, vault_rekey_keys_file=str(keys_file), vault_rekey_keys_password=password,
        vault_rekey_secret_shares=4, vault_rekey_secret_threshold=2, vault_rekey_rotate_encryption_key=True),
        verbosity=3, json_output=False, extra_args=('--tags', 'rekey'))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    after = read_keys(keys_file, password)
    assert len(after['keys']) == 4 and 'pending' not in after
    secrets = audit_rekey_secrets(server)
    # HashiCorp Vault serves sys/rekey/* from HTTP handlers that are not audited: its nonces are not
    # known to the test there (the shares are, from custody). OpenBao audits sys/rotate/root/*.
    assert ON_VAULT or len(secrets) > 8, 'the raw audit log shows the rekey'
    secrets.update(after['keys'] + after['keys_base64'] + init['keys'] + [password, init['root_token']])
    leaked = [s for s in secrets if s and s in output]
    assert not leaked, 'printed at -vvv: %d secret(s)' % len(leaked)
    # --tags rotate-keys: the encryption key only (its admin token generated from the new set).
    rotated = run_playbook(REPO / 'playbooks' / 'rekey.yml', dict(
        vault_rekey_url=server.url, vault_rekey_keys_file=str(keys_file), vault_rekey_keys_password=password),
        extra_args=('--tags', 'rotate-keys'))
    assert rotated.returncode == 0, rotated.stdout[-3000:]
    result = [r for name, r in task_results(rotated) if name.startswith('New key shares')][0]
    assert result['rekeyed'] is False and result['encryption_key_rotated'] is True and result['key_term'] == 3, result
    assert read_keys(keys_file, password)['keys'] == after['keys']
    # A run that fails on purpose (a threshold above the shares) at -vvv, holding the new set: one line, no leak.
    failing = run_playbook(REPO / 'playbooks' / 'rekey.yml', dict(
        vault_rekey_url=server.url, vault_rekey_keys_file=str(keys_file), vault_rekey_keys_password=password,
        vault_rekey_secret_shares=2, vault_rekey_secret_threshold=3), verbosity=3, json_output=False,
        extra_args=('--tags', 'rekey'))
    assert failing.returncode != 0 and 'secret_threshold must be between' in failing.stdout, failing.stdout[-3000:]
    leaked = [s for s in after['keys'] + after['keys_base64'] + [password] if s in failing.stdout + failing.stderr]
    assert not leaked, 'printed at -vvv by a failing run: %d secret(s)' % len(leaked)
    # The initial root token was revoked by the playbook's admin token step: a token made from the new set.
    token = admin_token(server.url, str(keys_file), password)
    seal(server, token)
    assert not unseals(server, init['keys'])
    assert unseals(server, after['keys'][:2])


def gpg(home, *argv, data=None):
    return subprocess.run(['gpg', '--homedir', str(home), '--batch', '--yes', '--pinentry-mode', 'loopback',
                           '--passphrase', ''] + list(argv), input=data, capture_output=True, check=True).stdout


def test_pgp_rekey_awaits_the_holders(node):
    """pgp_keys: the new shares are encrypted for their holders; the server keeps the old set until a run
    gets the holders' decrypted shares (new_keys), which verifies, promotes and retires."""
    server, work = node
    keys_file, password = work / 'init.vault', uuid.uuid4().hex
    init = init_server(server, keys_file, password)
    token = init['root_token']
    home = work / 'gnupg'
    home.mkdir(mode=0o700)
    gpg(home, '--quick-generate-key', 'holder@example.com', 'rsa2048', 'encrypt', 'never')
    public = base64.b64encode(gpg(home, '--export', 'holder@example.com')).decode()
    args = rekey_args(server, keys_file, password, token)
    started = run_module('vault_rekey', dict(args, secret_shares=4, secret_threshold=3, pgp_keys=[public] * 4))
    assert started.get('changed') and started['awaiting_holders'] is True and started['rekeyed'] is True, started
    content = read_keys(keys_file, password)
    assert content['keys'] == init['keys'] and len(content['pending']['keys']) == 4
    # The encrypted shares: keys hex-encoded, keys_base64 base64; decrypted, a share in hex.
    decrypted = [gpg(home, '--decrypt', data=base64.b64decode(k)).decode().strip()
                 for k in content['pending']['keys_base64']]
    # Still the old set on the server (3 shares, 2 needed); not sealed here: a seal drops the attempt.
    status = requests.get(server.url + '/v1/sys/seal-status', timeout=5).json()
    assert (status['n'], status['t']) == (3, 2), status
    # Without new_keys nothing more happens; with them the rekey completes.
    waiting = run_module('vault_rekey', dict(args, rekey=False))
    assert waiting['awaiting_holders'] is True and not waiting.get('failed'), waiting
    done = run_module('vault_rekey', dict(args, rekey=False, new_keys=decrypted[:3]))
    assert not done.get('failed') and done['awaiting_holders'] is False, done.get('msg')
    assert done['resumed'] in ('verification', 'promotion'), done
    final = read_keys(keys_file, password)
    assert final['keys'] == content['pending']['keys'] and 'pending' not in final and 'previous' not in final
    for share in decrypted:
        assert share not in done['_stdout'] + done['_stderr']
    seal(server, token)
    assert not unseals(server, init['keys'])
    assert unseals(server, decrypted[1:])
