# -*- coding: utf-8 -*-
"""Raft snapshots on real servers (issue 24 items 1 and 2, hosts): playbooks/snapshot.yml saves
encrypted, verified snapshots and keeps its own by retention; playbooks/restore-drill.yml restores
one into a fresh server, unseals it with the custody of snapshot time and checks it; the canary
is read back from the restored server here. A tampered file or a wrong password is refused before
anything is sent; check mode writes nothing."""

import json
import os
import shutil
import stat
import time

import pytest

from vaultkube_testlib import (REPO, FastRaftServer, admin_token, assert_failed_cleanly, read_or_none, run_module,
                               run_playbook, task_result, tmpdir, wait_active)

KEYS_PASSWORD = 'keys-password-for-tests'
SNAP_PASSWORD = 'snapshot-password-for-tests'
CANARY = 'secret/vaultkube/snapshot-canary'


def initialised(work, name):
    """A raft server initialised with vault_init (keys file custody, encrypted) and unsealed."""
    server = FastRaftServer(work / name).start()
    keys_file = str(work / ('%s-keys.vault' % name))
    for module, args in (('vault_init', {'url': server.url, 'secret_shares': 1, 'secret_threshold': 1,
                                         'output_file': keys_file, 'output_vault_password': KEYS_PASSWORD}),
                         ('vault_unseal', {'url': server.url, 'keys_file': keys_file,
                                           'keys_file_vault_password': KEYS_PASSWORD})):
        result = run_module(module, args)
        assert not result.get('failed'), result.get('msg')
    wait_active(server)
    server.keys_file = keys_file
    server.token = admin_token(server.url, keys_file, KEYS_PASSWORD)
    return server


@pytest.fixture(scope='module')
def source():
    """The Vault snapshots are taken of: a KV mount with a secret, a policy, an auth mount."""
    work = tmpdir('vaultkube-snap-')
    server = initialised(work, 'source')
    client = server.client(server.token)
    client.sys.enable_secrets_engine('kv', path='secret', options={'version': '2'})
    client.sys.create_or_update_policy('drill-policy', 'path "secret/data/app/*" { capabilities = ["read"] }')
    client.sys.enable_auth_method('userpass', path='drill-userpass')
    deadline = time.time() + 30
    while True:
        try:
            client.secrets.kv.v2.create_or_update_secret('app/config', secret={'colour': 'blue'}, mount_point='secret')
            break
        except Exception:  # the new KV mount upgrades for a moment
            if time.time() > deadline:
                raise
            time.sleep(0.5)
    server.work = work
    yield server
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def target(source):
    """A fresh, initialised and unsealed server to restore into (refusal tests)."""
    server = initialised(source.work, 'target-%s' % os.urandom(3).hex())
    yield server
    server.stop()


def snapshot_vars(source, dest, **extra):
    values = {'vault_snapshot_url': source.url, 'vault_snapshot_dest': str(dest),
              'vault_snapshot_password': SNAP_PASSWORD, 'vault_snapshot_keys_file': source.keys_file,
              'vault_snapshot_keys_password': KEYS_PASSWORD, 'vault_snapshot_name': 'lab'}
    values.update(extra)
    return values


def play_result(proc):
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)


def save(source, dest, **extra):
    args = {'url': source.url, 'token': source.token, 'dest': str(dest), 'password': SNAP_PASSWORD, 'name': 'lab'}
    args.update(extra)
    result = run_module('vault_raft_snapshot', args)
    assert not result.get('failed'), result.get('msg')
    return result


def test_playbooks_save_keep_and_drill_round_trip(source):
    dest = source.work / 'snapshots'
    dest.mkdir()
    # Files retention must never touch: another name that starts like ours, a copy, a note.
    strangers = ['lab-eu-20200101T000000Z.snap.vault', 'lab-20200101T000000Z.snap.vault.bak', 'notes.txt',
                 'lab-latest.snap.vault']
    for name in strangers:
        (dest / name).write_text('not a snapshot of this run')
    paths = []
    for _run in range(3):
        doc = play_result(run_playbook(REPO / 'playbooks' / 'snapshot.yml', snapshot_vars(
            source, dest, vault_snapshot_retention=2, vault_snapshot_canary=CANARY), extra_args=['--tags', 'snapshot']))
        saved = task_result(doc, 'Save an encrypted, verified snapshot from the active node')
        assert saved['changed'] and saved['size'] > 0 and saved['raft_index'] > 0
        paths.append(saved['path'])
        time.sleep(1.1)  # one snapshot per UTC second
    own = sorted(p for p in os.listdir(dest) if p.startswith('lab-2') and not p.endswith('.bak')
                 and p not in strangers)
    # The newest two, each with its checksum and metadata file; the first one deleted with its files.
    expected = []
    for path in paths[1:]:
        base = os.path.basename(path)
        expected += [base, base + '.sha256', base[:-len('.snap.vault')] + '.snap.json']
    assert own == sorted(expected)
    for name in strangers:
        assert (dest / name).read_text() == 'not a snapshot of this run'
    for name in own:
        assert stat.S_IMODE(os.stat(dest / name).st_mode) == 0o600
    metadata = json.loads((dest / (os.path.basename(paths[-1])[:-len('.snap.vault')] + '.snap.json')).read_text())
    assert metadata['raft_index'] > 0 and metadata['server_version'] and SNAP_PASSWORD not in json.dumps(metadata)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o700
    # The token the role made is revoked: no vaultkube-snapshot token is left.
    canary = source.client(source.token).secrets.kv.v2.read_secret_version(
        'vaultkube/snapshot-canary', mount_point='secret', raise_on_deleted_version=True)['data']['data']

    # The drill: a fresh, uninitialised server.
    fresh = FastRaftServer(source.work / 'fresh').start()
    try:
        proc = run_playbook(REPO / 'playbooks' / 'restore-drill.yml', {
            'vault_snapshot_drill_url': fresh.url, 'vault_snapshot_dest': str(dest), 'vault_snapshot_name': 'lab',
            'vault_snapshot_password': SNAP_PASSWORD, 'vault_snapshot_drill_keys_file': source.keys_file,
            'vault_snapshot_drill_keys_password': KEYS_PASSWORD, 'vault_snapshot_drill_canary': CANARY,
            'vault_snapshot_drill_policies': ['drill-policy'], 'vault_snapshot_drill_auth_mounts': ['drill-userpass']},
            extra_args=['--tags', 'drill'])
        doc = play_result(proc)
        figures = task_result(doc, 'RPO and RTO')['msg']
        print(figures)
        assert 'restore drill passed' in figures and 'RPO' in figures and 'RTO' in figures
        assert SNAP_PASSWORD not in proc.stdout and KEYS_PASSWORD not in proc.stdout
        assert not os.path.exists(dest / '.restore-drill-init.vault')
        # Read back from the restored server itself: the canary of the last snapshot, the configuration.
        token = admin_token(fresh.url, source.keys_file, KEYS_PASSWORD)
        restored = fresh.client(token)
        assert read_or_none(restored, 'secret/data/vaultkube/snapshot-canary')['data'] == canary
        assert read_or_none(restored, 'secret/data/app/config')['data'] == {'colour': 'blue'}
        assert 'drill-policy' in restored.sys.list_acl_policies()['data']['keys']
        assert 'drill-userpass/' in restored.sys.list_auth_methods()['data']
        # A second drill into the same (now initialised) server is refused in one line.
        proc = run_playbook(REPO / 'playbooks' / 'restore-drill.yml', {
            'vault_snapshot_drill_url': fresh.url, 'vault_snapshot_dest': str(dest), 'vault_snapshot_name': 'lab',
            'vault_snapshot_password': SNAP_PASSWORD, 'vault_snapshot_drill_keys_file': source.keys_file,
            'vault_snapshot_drill_keys_password': KEYS_PASSWORD}, extra_args=['--tags', 'drill'])
        assert proc.returncode != 0 and 'is initialised; a drill restores into a fresh Vault only' in proc.stdout
    finally:
        fresh.stop()


def test_tampered_file_is_refused_before_restore(source, target):
    dest = source.work / ('tamper-%s' % os.urandom(3).hex())
    dest.mkdir()
    path = save(source, dest)['path']
    data = bytearray(open(path, 'rb').read())
    data[len(data) // 2] = ord('0') if data[len(data) // 2] != ord('0') else ord('1')
    with open(path, 'wb') as handle:
        handle.write(bytes(data))
    result = run_module('vault_raft_snapshot', {'state': 'restored', 'url': target.url, 'token': target.token,
                                                'path': path, 'password': SNAP_PASSWORD})
    assert_failed_cleanly(result, 'does not match its checksum file', 'not restored')
    # Nothing reached the target: its own token still works and it has no secret/ mount of the source.
    assert target.client(target.token).is_authenticated()
    assert 'secret/' not in target.client(target.token).sys.list_mounted_secrets_engines()['data']


def test_wrong_password_is_refused_before_restore(source, target):
    dest = source.work / ('password-%s' % os.urandom(3).hex())
    dest.mkdir()
    path = save(source, dest)['path']
    result = run_module('vault_raft_snapshot', {'state': 'restored', 'url': target.url, 'token': target.token,
                                                'path': path, 'password': 'not-the-password'})
    msg = assert_failed_cleanly(result, 'password is wrong')
    assert 'not-the-password' not in result['_stdout']
    assert target.client(target.token).is_authenticated()
    assert 'secret/' not in target.client(target.token).sys.list_mounted_secrets_engines()['data']
    verified = run_module('vault_raft_snapshot', {'state': 'verified', 'path': path, 'password': 'another-one'})
    assert_failed_cleanly(verified, 'password is wrong')
    assert msg


def test_check_mode_writes_nothing(source, target):
    dest = source.work / ('check-%s' % os.urandom(3).hex())
    dest.mkdir()
    first = save(source, dest)
    time.sleep(1.1)
    save(source, dest)
    before = sorted(os.listdir(dest))
    args = {'url': source.url, 'token': source.token, 'dest': str(dest), 'password': SNAP_PASSWORD, 'name': 'lab',
            'retention': 1, 'upload_command': ['touch', str(dest / 'uploaded')]}
    result = run_module('vault_raft_snapshot', args, check=True)
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] and result['deleted'] == [first['path'], first['path'] + '.sha256',
                                                       first['path'][:-len('.snap.vault')] + '.snap.json']
    assert result['path'].startswith(str(dest)) and not os.path.exists(result['path'])
    assert sorted(os.listdir(dest)) == before
    # A restore in check mode verifies the file and sends nothing.
    restored = run_module('vault_raft_snapshot', {'state': 'restored', 'url': target.url, 'token': target.token,
                                                  'path': first['path'], 'password': SNAP_PASSWORD}, check=True)
    assert not restored.get('failed') and not restored['changed'] and restored['sha256'] == first['sha256']
    assert 'secret/' not in target.client(target.token).sys.list_mounted_secrets_engines()['data']


def test_rerun_verify_and_upload_hook(source):
    dest = source.work / ('rerun-%s' % os.urandom(3).hex())
    dest.mkdir()
    log = dest.parent / ('%s-upload.log' % dest.name)
    saved = save(source, dest, upload_command=['sh', '-c', 'ls -l "$1" > "$0"', str(log)])
    assert saved['uploaded'] and os.path.basename(saved['path']) in log.read_text()
    for _run in range(2):  # verifying is read-only: changed=false every time
        verified = run_module('vault_raft_snapshot', {'state': 'verified', 'dest': str(dest), 'name': 'lab',
                                                      'password': SNAP_PASSWORD})
        assert not verified.get('failed') and not verified['changed']
        assert verified['path'] == saved['path'] and verified['sha256'] == saved['sha256']
        assert verified['raft_index'] == saved['raft_index'] and verified['age'] >= 0
    # A save is a new backup each run (changed), never a rewrite of an earlier file.
    time.sleep(1.1)
    again = save(source, dest)
    assert again['changed'] and again['path'] != saved['path'] and os.path.exists(saved['path'])
    failing = run_module('vault_raft_snapshot', {'url': source.url, 'token': source.token, 'dest': str(dest),
                                                 'password': SNAP_PASSWORD, 'upload_command': ['false']})
    assert_failed_cleanly(failing, 'upload_command false exited with 1', 'the snapshot is kept')


@pytest.mark.parametrize('args, fragment', [
    ({'dest': '/nonexistent-snapshot-dir'}, 'dest /nonexistent-snapshot-dir is not a directory'),
    ({'name': '../escape'}, 'is not a snapshot name'),
    ({'retention': 0}, 'retention must be 1 or more'),
    ({'password': ''}, 'password is required'),
])
def test_bad_input_one_line_before_any_write(source, args, fragment):
    dest = source.work / ('bad-%s' % os.urandom(3).hex())
    dest.mkdir()
    full = {'url': source.url, 'token': source.token, 'dest': str(dest), 'password': SNAP_PASSWORD}
    full.update(args)
    assert_failed_cleanly(run_module('vault_raft_snapshot', full), fragment)
    assert os.listdir(dest) == []
