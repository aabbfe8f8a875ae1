# -*- coding: utf-8 -*-
"""Life cycle modules against real, non-dev OpenBao servers with raft storage.

vault_status_info, vault_init, vault_unseal and vault_raft_join; every state
change is read back from OpenBao (hvac or plain HTTP), never taken from
``changed``.

"Nothing written" is read from a file audit log where one can show it. Neither
server audits before it is initialised and unsealed, and both answer sys/init,
sys/unseal and sys/seal-status outside the audit log even then (checked on
OpenBao 2.x and HashiCorp Vault 1.21; sys/seal and sys/step-down are logged):
for those claims the test reads the seal status and the keys file's bytes
instead, and says so where it does.
"""

import base64
import json
import os
import shutil
import stat
import subprocess
import textwrap
import time

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from vaultkube_testlib import (
    FastRaftServer,
    assert_failed_cleanly,
    make_tls,
    run_module,
    run_playbook,
    tmpdir,
    wait_active,
)

PASSWORD = 'keys-file-password-for-tests'
WRONG_KEY = 'ab' * 33  # well-formed, 33 bytes like a real share, but not a share


@pytest.fixture
def new_node():
    """Factory of fresh, uninitialised raft nodes, stopped and removed after the test."""
    started = []

    def start(node_id='node1', tls=None, audit=False):
        server = FastRaftServer(tmpdir('vaultkube-raft-'), node_id=node_id, tls=tls, audit=audit).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        shutil.rmtree(str(server.workdir), ignore_errors=True)


@pytest.fixture(scope='module')
def tls_material():
    work = tmpdir('vaultkube-tls-')
    yield {'right': make_tls(work / 'right'), 'other': make_tls(work / 'other')}
    shutil.rmtree(str(work), ignore_errors=True)


def log_tail(path, lines=40):
    """The last lines of a server's log, for a failure message."""
    try:
        with open(path, errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:])
    except OSError as exc:
        return 'no log: %s' % exc


def seal_status(node):
    return node.client().sys.read_seal_status()


def is_initialized(node):
    return node.client().sys.is_initialized()


def raft_servers(node, token):
    body = node.client(token).adapter.get('/v1/sys/storage/raft/configuration')
    return body['data']['config']['servers']


def decrypt_key_file(path, password=PASSWORD):
    vault = VaultLib([('default', VaultSecret(password.encode()))])
    with open(str(path), 'rb') as handle:
        return json.loads(vault.decrypt(handle.read()))


def secrets_of(content):
    return [s for s in content['keys'] + content['keys_base64'] + [content['root_token']] if s]


def assert_no_secret(text, secrets):
    for secret in secrets:
        assert secret not in text, 'a key or the root token appears in the output'


def init_with_hvac(node, shares=5, threshold=3):
    return node.client().sys.initialize(secret_shares=shares, secret_threshold=threshold)


# ------------------------------------------------------------------------------
def test_status_init_unseal_of_a_new_node(new_node, tmp_path):
    node = new_node(audit=True)
    conn = {'url': node.url}
    key_file = tmp_path / 'vault-init.vault'
    init_args = dict(conn, output_file=str(key_file), output_vault_password=PASSWORD)

    # A new node: uninitialised and sealed is information, not a failure.
    status = run_module('vault_status_info', conn)
    assert not status.get('failed'), status.get('msg')
    assert status['initialized'] is False and status['sealed'] is True and status['active'] is False
    assert status['storage_type'] == 'raft' and status['version']
    assert 'raft_peers' not in status

    # Uninitialised: no audit log yet. Check mode is read from the server's init status and the directory.
    checked = run_module('vault_init', init_args, check=True, diff=True)
    assert checked['changed'] is True and checked['initialized'] is False
    assert checked['diff'] == {'before': {'initialized': False}, 'after': {'initialized': True}}
    assert is_initialized(node) is False, 'check mode initialised Vault'
    assert os.listdir(str(tmp_path)) == [], 'check mode wrote a file'

    # An existing output file: refused before sys/init, so the node stays new.
    existing = tmp_path / 'existing.vault'
    existing.write_text('precious')
    refused = run_module('vault_init', dict(init_args, output_file=str(existing)))
    assert_failed_cleanly(refused, 'output_file', str(existing), 'already exists')
    assert is_initialized(node) is False
    assert existing.read_text() == 'precious'
    assert sorted(os.listdir(str(tmp_path))) == ['existing.vault'], 'a temporary file was left behind'
    existing.unlink()

    created = run_module('vault_init', init_args)
    assert created['changed'] is True and created['initialized'] is True
    assert created['output_file'] == str(key_file)
    assert (created['secret_shares'], created['secret_threshold']) == (5, 3)
    assert not {'keys', 'keys_base64', 'root_token'} & set(created)
    assert is_initialized(node) is True
    assert os.listdir(str(tmp_path)) == ['vault-init.vault']
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().startswith('$ANSIBLE_VAULT;1.1;AES256\n')
    content = decrypt_key_file(key_file)
    assert len(content['keys']) == 5 and len(set(content['keys'])) == 5
    assert len(content['keys_base64']) == 5 and content['root_token']
    assert_no_secret(created['_stdout'] + created['_stderr'], secrets_of(content))

    # The re-run on the initialised, still sealed server: a sealed server audits nothing, so the
    # claim is read from the seal status (still sealed, no unseal progress) and the file's bytes.
    key_bytes = key_file.read_bytes()
    again = run_module('vault_init', init_args)
    assert again['changed'] is False and again['initialized'] is True
    assert not {'keys', 'keys_base64', 'root_token'} & set(again)
    assert key_file.read_bytes() == key_bytes, 'the key file was touched'
    assert (seal_status(node)['sealed'], seal_status(node)['progress']) == (True, 0)

    unseal_args = dict(conn, keys_file=str(key_file), keys_file_vault_password=PASSWORD)
    # Sealed: no audit log. Check mode is read from the seal status (no progress).
    check_unseal = run_module('vault_unseal', unseal_args, check=True, diff=True)
    assert check_unseal['changed'] is True and check_unseal['keys_submitted'] == 0
    assert check_unseal['diff'] == {'before': {'sealed': True}, 'after': {'sealed': False}}
    assert seal_status(node)['sealed'] is True and seal_status(node)['progress'] == 0

    # Too few keys (two of the threshold of three): one line with the progress.
    too_few = run_module('vault_unseal', dict(conn, keys=content['keys'][3:5]))
    assert_failed_cleanly(too_few, 'still sealed after submitting 2 keys: progress 2/3')
    assert_no_secret(too_few['_stdout'] + too_few['_stderr'], secrets_of(content))
    assert (seal_status(node)['sealed'], seal_status(node)['progress']) == (True, 2)

    # reset=true discards that progress: three keys are needed again, and no
    # more than three are sent (without the reset one key would have done).
    unsealed = run_module('vault_unseal', dict(unseal_args, reset=True))
    assert not unsealed.get('failed'), unsealed.get('msg')
    assert unsealed['changed'] is True and unsealed['sealed'] is False
    assert unsealed['keys_submitted'] == 3
    assert seal_status(node)['sealed'] is False
    assert_no_secret(unsealed['_stdout'] + unsealed['_stderr'], secrets_of(content))

    # The root token in the file is the one of this Vault.
    wait_active(node)
    assert node.client(content['root_token']).is_authenticated()

    # From here the server audits (HashiCorp Vault: the device is enabled now, with the root token).
    node.enable_audit(content['root_token'])
    # The unseal and init re-runs: no write request in the audit log (a seal or a step-down would be
    # logged there). sys/unseal, sys/init and sys/seal-status are answered outside the log, so these
    # runs may leave no entry at all: whether they unsealed or initialised again is read from the
    # seal status (no unseal progress) and the keys file's bytes.
    with node.no_writes('the unseal re-run'):
        unchanged = run_module('vault_unseal', unseal_args)
    assert unchanged['changed'] is False and unchanged['keys_submitted'] == 0
    assert (seal_status(node)['sealed'], seal_status(node)['progress']) == (False, 0)
    with node.no_writes('the init re-run on the unsealed server'):
        again = run_module('vault_init', init_args)
    assert again['changed'] is False and again['initialized'] is True
    assert key_file.read_bytes() == key_bytes, 'the key file was touched'

    full = run_module('vault_status_info', dict(conn, token=content['root_token']))
    assert full['initialized'] is True and full['sealed'] is False and full['active'] is True
    assert full['standby'] is False and full['ha_enabled'] is True
    assert full['leader_address'] == node.url
    assert (full['threshold'], full['shares'], full['progress']) == (3, 5, 0)
    assert full['cluster_id'] == node.client(content['root_token']).sys.read_health_status(
        method='GET')['cluster_id']
    assert full['raft_peers'] == [{'node_id': 'node1', 'address': '127.0.0.1:%d' % node.cluster_port,
                                   'leader': True, 'voter': True}]
    no_token = run_module('vault_status_info', conn)
    assert no_token['sealed'] is False and 'raft_peers' not in no_token


def test_bad_keys_and_a_sealed_vault(new_node, tmp_path):
    node = new_node()
    conn = {'url': node.url}
    answer = init_with_hvac(node)

    # Three well-formed but wrong keys: Vault accepts two, rejects the third
    # (the combination) and starts over.
    wrong = run_module('vault_unseal', dict(conn, keys=[WRONG_KEY, 'cd' * 33, 'ef' * 33]))
    msg = assert_failed_cleanly(wrong, 'sys/unseal', '400', 'progress was 2/3 when key 3 of 3 was rejected')
    for key in (WRONG_KEY, 'cd' * 33, 'ef' * 33):
        assert key not in wrong['_stdout'] + wrong['_stderr']
    assert 'invalid key' in msg
    assert (seal_status(node)['sealed'], seal_status(node)['progress']) == (True, 0)

    # A key that is not hex or base64 at all, after a good one.
    malformed = run_module('vault_unseal', dict(conn, keys=[answer['keys'][0], 'not-a-key!']))
    assert_failed_cleanly(malformed, 'must be a valid hex or base64 string', 'progress was 1/3 when key 2 of 2')
    assert answer['keys'][0] not in malformed['_stdout'] + malformed['_stderr']
    assert seal_status(node)['progress'] == 1

    # Bad input is refused before Vault is asked anything.
    missing = run_module('vault_unseal', dict(conn, keys_file=str(tmp_path / 'missing.vault')))
    assert_failed_cleanly(missing, 'keys_file', 'cannot be read')
    encrypted = tmp_path / 'enc.vault'
    encrypted.write_text(VaultLib([('default', VaultSecret(PASSWORD.encode()))]).encrypt(
        json.dumps({'keys': answer['keys']})).decode())
    no_password = run_module('vault_unseal', dict(conn, keys_file=str(encrypted)))
    assert_failed_cleanly(no_password, 'is ansible-vault encrypted', 'password')
    bad_password = run_module('vault_unseal', dict(conn, keys_file=str(encrypted),
                                                   keys_file_vault_password='nope'))
    assert_failed_cleanly(bad_password, 'cannot be decrypted', 'password is wrong')
    assert seal_status(node)['progress'] == 1, 'a failed task changed the unseal progress'

    # A file written by ansible-vault itself (not by vault_init) unseals too:
    # the unseal started above continues (key 1 again is ignored by Vault).
    done = run_module('vault_unseal', dict(conn, keys_file=str(encrypted), keys_file_vault_password=PASSWORD))
    assert done['sealed'] is False and seal_status(node)['sealed'] is False

    # Object modules on a sealed Vault: one line naming the 503 and the seal.
    wait_active(node)
    node.client(answer['root_token']).sys.seal()
    policy = dict(conn, token=answer['root_token'], retries=0, name='p',
                  policy='path "x" { capabilities = ["read"] }')
    sealed = run_module('vault_policy', policy)
    assert_failed_cleanly(sealed, '503', 'sealed')
    status = run_module('vault_status_info', dict(conn, token=answer['root_token']))
    assert not status.get('failed') and status['sealed'] is True and status['initialized'] is True
    assert 'raft_peers' not in status

    # vault_init refuses bad input before anything else.
    bad_threshold = run_module('vault_init', dict(conn, secret_shares=3, secret_threshold=4,
                                                  output_file=str(tmp_path / 'k')))
    assert_failed_cleanly(bad_threshold, 'secret_threshold must be between 1 and secret_shares (3)')
    no_output = run_module('vault_init', conn)
    assert_failed_cleanly(no_output, 'output_file is required')
    no_password = run_module('vault_init', dict(conn, output_file=str(tmp_path / 'k')))
    assert_failed_cleanly(no_password, 'output_vault_password is required', 'output_encryption=none')


def gpg_public_key(home):
    """A real public key (base64 of the binary export), made by gpg in a private GNUPGHOME."""
    env = dict(os.environ, GNUPGHOME=str(home))
    os.makedirs(str(home), mode=0o700, exist_ok=True)
    subprocess.run(['gpg', '--batch', '--passphrase', '', '--quick-gen-key', 'Key Holder <holder@example.com>',
                    'rsa2048', 'encr', 'never'], env=env, check=True, capture_output=True)
    exported = subprocess.run(['gpg', '--export', 'holder@example.com'], env=env, check=True,
                              capture_output=True).stdout
    armored = subprocess.run(['gpg', '--export', '--armor', 'holder@example.com'], env=env, check=True,
                             capture_output=True, text=True).stdout
    return base64.b64encode(exported).decode(), armored


def gpg_decrypt(home, encrypted_base64):
    """A PGP message (base64, as Vault returns it) decrypted with the private key in home."""
    env = dict(os.environ, GNUPGHOME=str(home))
    return subprocess.run(['gpg', '--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '',
                           '--decrypt'], input=base64.b64decode(encrypted_base64), env=env, check=True,
                          capture_output=True).stdout.decode().strip()


def test_pgp_keys_are_checked_before_sys_init(new_node, tmp_path):
    """OpenBao parses root_token_pgp_key only after it has initialised itself: a bad one
    there would leave Vault initialised with its keys never returned (issue 10). With good keys the
    custody is real: the encrypted share, decrypted with the holder's private key, unseals."""
    node = new_node()
    good, armored = gpg_public_key(tmp_path / 'gnupg')
    base = {'url': node.url, 'secret_shares': 1, 'secret_threshold': 1,
            'output_file': str(tmp_path / 'init.vault'), 'output_vault_password': PASSWORD}
    cases = [
        (dict(base, root_token_pgp_key=base64.b64encode(b'not a key').decode()), 'root_token_pgp_key',
         'public-key packet'),
        (dict(base, root_token_pgp_key=armored), 'root_token_pgp_key', 'not ASCII-armored'),
        (dict(base, pgp_keys=['%%%not base64']), 'pgp_keys[0]', 'not valid base64'),
        (dict(base, pgp_keys=[good[:len(good) // 2 // 4 * 4]]), 'pgp_keys[0]', 'base64-encoded binary public'),
    ]
    for args, field, words in cases:
        result = run_module('vault_init', args)
        assert_failed_cleanly(result, field, words)
        assert is_initialized(node) is False, 'Vault was initialised by a call with %s' % field
        assert not os.path.exists(base['output_file'])

    done = run_module('vault_init', dict(base, pgp_keys=[good], root_token_pgp_key=good))
    assert done.get('changed') and not done.get('failed'), done.get('msg')
    assert is_initialized(node) is True
    content = decrypt_key_file(base['output_file'])
    # The share and the root token came back encrypted for the holder: decrypted with the test's
    # private key, the share unseals the server and the token is the server's root token.
    share = gpg_decrypt(tmp_path / 'gnupg', content['keys_base64'][0])
    assert share not in content['keys'] + content['keys_base64']
    assert seal_status(node)['sealed'] is True
    assert node.client().sys.submit_unseal_key(share)['sealed'] is False
    root_token = gpg_decrypt(tmp_path / 'gnupg', content['root_token'])
    wait_active(node)
    assert node.client(root_token).auth.token.lookup_self()['data']['policies'] == ['root']


def test_initialised_vault_without_its_key_file_is_a_failure(new_node, tmp_path):
    """Already initialised and output_file missing: not "ok" (issue 10, bug 2)."""
    node = new_node()
    key_file = tmp_path / 'init.vault'
    args = {'url': node.url, 'secret_shares': 3, 'secret_threshold': 2, 'output_file': str(key_file),
            'output_vault_password': PASSWORD}
    init_with_hvac(node, shares=3, threshold=2)  # the keys went elsewhere

    for check in (False, True):
        missing = run_module('vault_init', args, check=check)
        assert_failed_cleanly(missing, 'already initialised', str(key_file), 'does not exist')
    assert not key_file.exists()

    key_file.write_text('{"note": "no keys here"}')
    empty = run_module('vault_init', dict(args, output_encryption='none'))
    assert_failed_cleanly(empty, 'holds no keys')
    key_file.unlink()

    # The file written when this module initialised Vault: ok, unchanged, the real path.
    other = new_node('node2')
    other_args = dict(args, url=other.url)
    assert run_module('vault_init', other_args)['changed'] is True
    # Initialised and sealed: no audit log. The re-run is read from the seal status and the file's bytes.
    key_bytes = key_file.read_bytes()
    again = run_module('vault_init', other_args)
    assert not again.get('failed'), again.get('msg')
    assert again['changed'] is False and again['output_file'] == str(key_file)
    assert key_file.read_bytes() == key_bytes
    assert (seal_status(other)['initialized'], seal_status(other)['sealed'], seal_status(other)['progress']) == (
        True, True, 0)
    wrong_password = run_module('vault_init', dict(other_args, output_vault_password='not-it'))
    assert_failed_cleanly(wrong_password, 'cannot be decrypted')


def test_plain_output_and_returned_keys(new_node, tmp_path):
    node = new_node()
    plain = tmp_path / 'init.json'
    created = run_module('vault_init', {'url': node.url, 'secret_shares': 3, 'secret_threshold': 2,
                                        'output_file': str(plain), 'output_encryption': 'none',
                                        'return_keys': True})
    assert created['changed'] is True
    content = json.loads(plain.read_text())
    assert stat.S_IMODE(plain.stat().st_mode) == 0o600
    assert (content['secret_shares'], content['secret_threshold']) == (3, 2)
    # return_keys=true is the documented way to get the keys in the result.
    assert created['keys'] == content['keys'] and created['root_token'] == content['root_token']
    assert created['keys_base64'] == content['keys_base64']
    unsealed = run_module('vault_unseal', {'url': node.url, 'keys_file': str(plain)})
    assert unsealed['keys_submitted'] == 2 and seal_status(node)['sealed'] is False


def test_three_node_raft_cluster_over_tls(new_node, tls_material, tmp_path):
    tls = tls_material['right']
    # One audit log for the cluster: whichever node is active records the requests.
    audit_log = tmp_path / 'cluster-audit.log'
    node1, node2, node3 = (new_node('node%d' % i, tls=tls, audit=audit_log) for i in (1, 2, 3))
    key_file = tmp_path / 'cluster.vault'
    keys = dict(keys_file=str(key_file), keys_file_vault_password=PASSWORD)

    def conn(node):
        return {'url': node.url, 'ca_cert': tls['ca']}

    assert run_module('vault_init', dict(conn(node1), output_file=str(key_file),
                                         output_vault_password=PASSWORD))['changed'] is True
    assert run_module('vault_unseal', dict(conn(node1), **keys))['sealed'] is False
    root = decrypt_key_file(key_file)['root_token']
    wait_active(node1)
    node1.enable_audit(root)
    # Test speed only: autopilot promotes a follower to voter after it has been
    # healthy this long (10 s by default).
    node1.client(root).adapter.post('/v1/sys/storage/raft/autopilot/configuration',
                                    json={'server_stabilization_time': '2s'})

    join2 = dict(conn(node2), leader_api_addr=node1.url, leader_ca_cert_file=tls['ca'])
    # node2 is new and audits nothing: check mode is read from its init status and from the
    # leader's audit log (a join answers the leader's challenge there).
    with node1.no_writes('the check-mode join'):
        checked = run_module('vault_raft_join', join2, check=True, diff=True)
    assert checked['changed'] is True and checked['joined'] is False
    assert checked['diff'] == {'before': {'initialized': False}, 'after': {'initialized': True}}
    assert is_initialized(node2) is False, 'check mode joined'

    unreachable = run_module('vault_raft_join', dict(join2, leader_api_addr='https://127.0.0.1:1', retries=0))
    assert_failed_cleanly(unreachable, 'sys/storage/raft/join', 'failed to join raft cluster')
    assert is_initialized(node2) is False

    not_pem = run_module('vault_raft_join', dict(conn(node2), leader_api_addr=node1.url,
                                                 leader_ca_cert='/etc/ssl/ca.pem'))
    assert_failed_cleanly(not_pem, 'leader_ca_cert must be PEM text', 'leader_ca_cert_file')

    mark = node1.mark()
    joined = run_module('vault_raft_join', join2)
    assert not joined.get('failed'), joined.get('msg')
    assert joined['changed'] is True and joined['joined'] is True
    assert is_initialized(node2) is True and seal_status(node2)['sealed'] is True
    # The join is visible in the leader's audit log: so is a re-run's, if it joins again.
    assert any('raft/bootstrap' in line for line in node1.write_requests(mark)), node1.requests_since(mark)
    # node2 is sealed (it audits nothing): its seal status and the leader's log show the re-run.
    before = seal_status(node2)
    with node1.no_writes('the join re-run'):
        assert run_module('vault_raft_join', join2)['changed'] is False
    after = seal_status(node2)
    assert (after['initialized'], after['sealed'], after['progress']) == (
        before['initialized'], before['sealed'], before['progress']) == (True, True, 0)

    with open(tls['ca']) as handle:
        ca_pem = handle.read()
    joined3 = run_module('vault_raft_join', dict(conn(node3), leader_api_addr=node1.url, leader_ca_cert=ca_pem))
    assert joined3['changed'] is True and is_initialized(node3) is True

    # A follower finishes unsealing in the background after answering the
    # leader's challenge; the module waits for it.
    # The wait is longer than the module's default: on a loaded 2-core CI machine a
    # follower's challenge round-trip with its leader has taken over 60 s.
    for follower in (node2, node3):
        unsealed = run_module('vault_unseal', dict(conn(follower), wait_timeout=180, **keys))
        assert not unsealed.get('failed'), '%s\n--- %s log tail ---\n%s' % (
            unsealed.get('msg'), follower.node_id, log_tail(follower.log))
        assert unsealed['changed'] is True and unsealed['sealed'] is False
        assert unsealed['keys_submitted'] == 3, 'more keys than the threshold were sent'
        assert seal_status(follower)['sealed'] is False

    # New followers are non-voters until autopilot finds them stable.
    deadline = time.time() + 90
    while True:
        servers = raft_servers(node1, root)
        if len(servers) == 3 and all(s['voter'] for s in servers):
            break
        assert time.time() < deadline, 'raft configuration never showed 3 voters: %r' % servers
        time.sleep(1)
    assert sorted(s['node_id'] for s in servers) == ['node1', 'node2', 'node3']

    status = run_module('vault_status_info', dict(conn(node2), token=root))
    assert status['standby'] is True and status['active'] is False
    assert status['leader_address'] == node1.url
    assert sorted(p['node_id'] for p in status['raft_peers']) == ['node1', 'node2', 'node3']
    assert all(p['voter'] for p in status['raft_peers'])


def test_tls_verification(new_node, tls_material):
    tls, other = tls_material['right'], tls_material['other']
    node = new_node(tls=tls)
    base = {'url': node.url, 'retries': 0}

    right = run_module('vault_status_info', dict(base, ca_cert=tls['ca']))
    assert not right.get('failed'), right.get('msg')
    assert right['initialized'] is False

    wrong_ca = run_module('vault_status_info', dict(base, ca_cert=other['ca']))
    assert_failed_cleanly(wrong_ca, 'TLS verification of %s failed' % node.url, 'CERTIFICATE_VERIFY_FAILED',
                          'ca_cert')

    # VAULT_SKIP_VERIFY is read as a real boolean: "false" keeps verification
    # on (a non-empty string test would turn it off), "true" turns it off.
    assert_failed_cleanly(run_module('vault_status_info', base, env={'VAULT_SKIP_VERIFY': 'false'}),
                          'TLS verification', 'CERTIFICATE_VERIFY_FAILED')
    skipped = run_module('vault_status_info', base, env={'VAULT_SKIP_VERIFY': 'true'})
    assert not skipped.get('failed'), skipped.get('msg')

    unverified = run_module('vault_status_info', dict(base, ca_cert=other['ca'], validate_certs=False))
    assert not unverified.get('failed'), unverified.get('msg')
    assert unverified['sealed'] is True

    unreachable = run_module('vault_status_info', {'url': 'https://127.0.0.1:1', 'retries': 0})
    assert_failed_cleanly(unreachable, 'cannot connect to Vault at https://127.0.0.1:1')


def test_tls_hostname_mismatch_names_the_real_reason(new_node, tmp_path):
    """Right CA, wrong name: the message says mismatch, not "set ca_cert" (issue 10, bug 9)."""
    tls = make_tls(tmp_path / 'tls', hosts=('127.0.0.2', 'vault.example.internal'))
    node = new_node(tls=tls)
    for url, words in ((node.url, 'IP address mismatch'),
                       (node.url.replace('127.0.0.1', 'localhost'), 'Hostname mismatch')):
        result = run_module('vault_status_info', {'url': url, 'ca_cert': tls['ca'], 'retries': 0})
        msg = assert_failed_cleanly(result, 'TLS verification of %s failed' % url, words, 'subjectAltName')
        assert 'set ca_cert' not in msg, msg


PLAYBOOK = textwrap.dedent('''\
    - hosts: localhost
      gather_facts: false
      connection: local
      vars:
        conn: {url: "{{ vault_url }}"}
      tasks:
        - name: Initialise
          vaultkube.platform.vault_init:
            url: "{{ vault_url }}"
            secret_shares: 3
            secret_threshold: 2
            output_file: "{{ key_file }}"
            output_vault_password: "{{ keys_password }}"

        - name: Load the keys for later tasks
          ansible.builtin.include_vars:
            file: "{{ key_file }}"
            name: vault_init_keys
          no_log: true

        - name: One key is not enough (the failure message must not leak either)
          vaultkube.platform.vault_unseal:
            url: "{{ vault_url }}"
            keys: "{{ vault_init_keys['keys'][:1] }}"
          ignore_errors: true

        - name: Unseal from the key file
          vaultkube.platform.vault_unseal:
            url: "{{ vault_url }}"
            keys_file: "{{ key_file }}"
            keys_file_vault_password: "{{ keys_password }}"

        - name: Second unseal is unchanged
          vaultkube.platform.vault_unseal:
            url: "{{ vault_url }}"
            keys: "{{ vault_init_keys['keys_base64'] }}"

        - name: Status with the root token
          vaultkube.platform.vault_status_info:
            url: "{{ vault_url }}"
            token: "{{ vault_init_keys.root_token }}"
    ''')


def test_no_key_or_token_in_verbose_output(new_node, tmp_path):
    node = new_node()
    key_file = tmp_path / 'init.vault'
    playbook = tmp_path / 'lifecycle.yml'
    playbook.write_text(PLAYBOOK)
    password_file = tmp_path / 'vault-pass'
    password_file.write_text(PASSWORD + '\n')
    proc = run_playbook(playbook, extra_vars={'vault_url': node.url, 'key_file': str(key_file),
                                              'keys_password': PASSWORD},
                        verbosity=3, json_output=False,
                        extra_args=['--vault-password-file', str(password_file)])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    # The tasks really ran: the failure and the unseal are in the output.
    assert 'still sealed after submitting 1 keys: progress 1/2' in output
    assert seal_status(node)['sealed'] is False
    content = decrypt_key_file(key_file)
    assert_no_secret(output, secrets_of(content) + [PASSWORD])
