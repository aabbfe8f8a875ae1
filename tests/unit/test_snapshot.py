# -*- coding: utf-8 -*-
"""Raft snapshot files: names, retention selection, the streamed ansible-vault format (Ansible's
own VaultLib reads ours and we read its), verification and its one-line errors. Pure logic; the
real server round trip is in tests/integration/test_snapshot.py."""

import datetime
import hashlib
import io
import json
import os
import stat
import tarfile

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.vaultkube.platform.plugins.module_utils import _snapshot
from ansible_collections.vaultkube.platform.plugins.module_utils._snapshot import (
    Encryptor, SnapshotError, age_seconds, check_params, companions, decrypt_chunks, expired_files, file_name,
    name_pattern, read_snapshot_content, select_expired, taken_at, verify)

PASSWORD = 'snapshot password'
UTC = datetime.timezone.utc


def raft_snapshot(state=b'state' * 1000, index=42, term=3, bad_sum=False):
    """A gzip'd tar laid out as Vault's raft snapshot (meta.json, state.bin, SHA256SUMS)."""
    meta = json.dumps({'Version': 1, 'Index': index, 'Term': term}).encode()
    members = [('meta.json', meta), ('state.bin', state)]
    sums = ''.join('%s  %s\n' % (hashlib.sha256(data).hexdigest() if not (bad_sum and name == 'state.bin')
                                 else '0' * 64, name) for name, data in members)
    members.append(('SHA256SUMS', sums.encode()))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w:gz') as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def encrypt_to(path, plaintext, password=PASSWORD, chunk=4096):
    """Our streamed encryption, fed in small chunks; writes the file and its checksum file."""
    encryptor = Encryptor(password, os.path.dirname(path))
    for start in range(0, len(plaintext), chunk):
        encryptor.update(plaintext[start:start + chunk])
    with open(path, 'wb') as out:
        sha256 = encryptor.finish(out)
    encryptor.discard()
    with open(path + '.sha256', 'w') as out:
        out.write('%s  %s\n' % (sha256, os.path.basename(path)))
    return sha256


def ansible_vault(password=PASSWORD):
    return VaultLib([('default', VaultSecret(password.encode('utf-8')))])


# -- names ------------------------------------------------------------------------------

def test_file_name_is_utc_and_parsed_back():
    when = datetime.datetime(2026, 12, 6, 19, 15, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    name = file_name('prod', when)
    assert name == 'prod-20261206T181500Z.snap.vault'
    assert taken_at(name) == datetime.datetime(2026, 12, 6, 18, 15, 0, tzinfo=UTC)
    assert companions(name) == ('prod-20261206T181500Z.snap.vault.sha256', 'prod-20261206T181500Z.snap.json')


@pytest.mark.parametrize('name', ['', '.', '..', '*', 'a/b', '../x', '-x', 'a b', 'x' * 65, '.hidden', 'a*'])
def test_bad_names_are_refused_in_one_line(name):
    with pytest.raises(SnapshotError) as err:
        file_name(name, datetime.datetime.now(UTC))
    assert 'name' in str(err.value) and '\n' not in str(err.value)


def test_pattern_is_anchored_and_literal():
    pattern = name_pattern('a.b')
    assert pattern.match('a.b-20261206T181500Z.snap.vault')
    assert not pattern.match('axb-20261206T181500Z.snap.vault')  # the dot is literal
    assert not pattern.match('a.b-20261206T181500Z.snap.vault.sha256')
    assert not pattern.match('x-a.b-20261206T181500Z.snap.vault')
    assert not pattern.match('a.b-20261206T181500Z.snap.vault.bak')


# -- retention --------------------------------------------------------------------------

STAMPS = ['20261201T020000Z', '20261203T020000Z', '20261202T020000Z', '20261204T020000Z']


def test_retention_keeps_the_newest_by_time_in_the_name():
    names = ['prod-%s.snap.vault' % s for s in STAMPS]
    kept, expired = select_expired(names, 'prod', 2)
    assert kept == ['prod-20261204T020000Z.snap.vault', 'prod-20261203T020000Z.snap.vault']
    assert expired == ['prod-20261202T020000Z.snap.vault', 'prod-20261201T020000Z.snap.vault']


def test_retention_never_selects_other_files():
    others = ['prod-eu-20261201T020000Z.snap.vault',      # another name that starts like ours
              'prod-20261201T020000Z.snap.vault.bak',     # a copy
              'prod-latest.snap.vault',                   # no time
              'prod-99999999T999999Z.snap.vault',         # digits that are no date
              'notes.txt', 'vault-20261201T020000Z.snap.vault', '.prod-20261201T020000Z.snap.vault']
    kept, expired = select_expired(others + ['prod-20261204T020000Z.snap.vault'], 'prod', 1)
    assert kept == ['prod-20261204T020000Z.snap.vault'] and expired == []


@pytest.mark.parametrize('retention', [0, -1])
def test_retention_below_one_is_refused(retention):
    with pytest.raises(SnapshotError, match='retention must be 1 or more'):
        select_expired([], 'prod', retention)


def test_odd_names_cannot_widen_retention(tmp_path):
    (tmp_path / 'precious.db').write_text('x')
    for name in ['', '*', '.*', '..', 'a|b']:
        with pytest.raises(SnapshotError):
            expired_files(str(tmp_path), name, 1)
    assert (tmp_path / 'precious.db').exists()


def test_expired_files_take_companions_and_skip_links(tmp_path):
    for stamp in STAMPS:
        for entry in ('prod-%s.snap.vault' % stamp,) + companions('prod-%s.snap.vault' % stamp):
            (tmp_path / entry).write_text('x')
    (tmp_path / 'unrelated.snap.vault').write_text('x')
    (tmp_path / 'prod-20261130T020000Z.snap.vault').symlink_to(tmp_path / 'unrelated.snap.vault')
    kept, doomed = expired_files(str(tmp_path), 'prod', 3)
    assert [os.path.basename(p) for p in sorted(doomed)] == [
        'prod-20261201T020000Z.snap.json', 'prod-20261201T020000Z.snap.vault',
        'prod-20261201T020000Z.snap.vault.sha256']
    assert len(kept) == 3  # the link is selected as expired but never deleted
    assert (tmp_path / 'unrelated.snap.vault').exists()


# -- the format ---------------------------------------------------------------------------

@pytest.mark.parametrize('size', [1, 15, 16, 17, 4095, 4096, 100000])
def test_ansible_vault_reads_our_streamed_file(tmp_path, size):
    plaintext = os.urandom(size)
    path = str(tmp_path / 'x.snap.vault')
    encrypt_to(path, plaintext, chunk=1000)
    with open(path, 'rb') as handle:
        text = handle.read()
    assert text.startswith(b'$ANSIBLE_VAULT;1.1;AES256\n')
    assert all(len(line) <= 80 for line in text.splitlines())
    assert ansible_vault().decrypt(text) == plaintext


@pytest.mark.parametrize('size', [1, 16, 33, 70000])
def test_we_read_ansible_vaults_file(tmp_path, size):
    plaintext = os.urandom(size)
    path = tmp_path / 'x'
    path.write_bytes(ansible_vault().encrypt(plaintext))
    with open(path, 'rb') as handle:
        assert b''.join(decrypt_chunks(handle, PASSWORD)) == plaintext


def test_encryption_leaves_no_temporary_file(tmp_path):
    encrypt_to(str(tmp_path / 'x.snap.vault'), raft_snapshot())
    assert sorted(os.listdir(tmp_path)) == ['x.snap.vault', 'x.snap.vault.sha256']


# -- verification ---------------------------------------------------------------------------

def test_verify_reads_the_raft_index(tmp_path):
    path = str(tmp_path / 'prod-20261206T181500Z.snap.vault')
    sha256 = encrypt_to(path, raft_snapshot(index=1293, term=7))
    facts = verify(path, PASSWORD)
    assert facts['sha256'] == sha256 and facts['raft_index'] == 1293 and facts['raft_term'] == 7
    assert facts['size'] == os.path.getsize(path) and facts['plaintext_size'] == len(raft_snapshot(index=1293, term=7))


def test_wrong_password_is_refused(tmp_path):
    path = str(tmp_path / 'a.snap.vault')
    encrypt_to(path, raft_snapshot())
    with pytest.raises(SnapshotError, match='password is wrong'):
        verify(path, 'not the password')


def test_tampered_file_fails_the_checksum(tmp_path):
    path = tmp_path / 'a.snap.vault'
    encrypt_to(str(path), raft_snapshot())
    data = bytearray(path.read_bytes())
    data[200] = ord('0') if data[200] != ord('0') else ord('1')
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match='does not match its checksum file'):
        verify(str(path), PASSWORD)


def test_tampered_file_with_matching_checksum_fails_the_hmac(tmp_path):
    path = tmp_path / 'a.snap.vault'
    encrypt_to(str(path), raft_snapshot())
    data = bytearray(path.read_bytes())
    data[-20] = ord('0') if data[-20] != ord('0') else ord('1')
    path.write_bytes(bytes(data))
    (tmp_path / 'a.snap.vault.sha256').write_text(hashlib.sha256(bytes(data)).hexdigest() + '  a.snap.vault\n')
    with pytest.raises(SnapshotError) as err:
        verify(str(path), PASSWORD)
    assert '\n' not in str(err.value)


def test_missing_checksum_file_and_empty_file(tmp_path):
    path = tmp_path / 'a.snap.vault'
    encrypt_to(str(path), raft_snapshot())
    os.unlink(str(path) + '.sha256')
    with pytest.raises(SnapshotError, match='checksum file'):
        verify(str(path), PASSWORD)
    empty = tmp_path / 'e.snap.vault'
    empty.write_bytes(b'')
    with pytest.raises(SnapshotError, match='empty'):
        verify(str(empty), PASSWORD)


def test_symlink_is_not_followed(tmp_path):
    path = tmp_path / 'a.snap.vault'
    encrypt_to(str(path), raft_snapshot())
    (tmp_path / 'l.snap.vault').symlink_to(path)
    with pytest.raises(SnapshotError, match='cannot be opened'):
        verify(str(tmp_path / 'l.snap.vault'), PASSWORD)


def test_content_must_be_a_raft_snapshot():
    with pytest.raises(SnapshotError, match='not gzip'):
        read_snapshot_content(iter([b'plain text']))
    with pytest.raises(SnapshotError, match='SHA256SUMS'):
        read_snapshot_content(iter([raft_snapshot(bad_sum=True)]))
    truncated = raft_snapshot(state=os.urandom(50000))[:-500]
    with pytest.raises(SnapshotError, match='damaged or truncated'):
        read_snapshot_content(iter([truncated]))


def test_content_read_in_small_chunks():
    data = raft_snapshot(state=os.urandom(30000), index=9)
    chunks = iter([data[i:i + 7] for i in range(0, len(data), 7)])
    assert read_snapshot_content(chunks)['raft_index'] == 9


def test_age_from_metadata_else_name():
    now = datetime.datetime(2026, 12, 6, 18, 20, 0, tzinfo=UTC)
    assert age_seconds('/x/prod-20261206T181500Z.snap.vault', now) == 300
    assert age_seconds('/x/prod-20261206T181500Z.snap.vault', now, {'created': '2026-12-06T18:19:00Z'}) == 60
    assert age_seconds('/x/other.snap.vault', now) is None


# -- parameters -------------------------------------------------------------------------------

def params(**kw):
    base = dict(state='saved', dest=None, name='vault', path=None, password=PASSWORD, retention=None,
                upload_command=None, upload_timeout=600)
    base.update(kw)
    return base


@pytest.mark.parametrize('kw, fragment', [
    (dict(password=''), 'password is required'),
    (dict(), 'dest is required'),
    (dict(dest='/nonexistent-dir-for-test'), 'is not a directory'),
    (dict(state='verified'), 'path (the snapshot file) or dest'),
    (dict(state='restored'), 'path (the snapshot file) or dest'),
])
def test_bad_parameters_one_line(kw, fragment):
    with pytest.raises(SnapshotError) as err:
        check_params(params(**kw))
    assert fragment in str(err.value) and '\n' not in str(err.value)


def test_bad_parameters_with_a_directory(tmp_path):
    for kw, fragment in [(dict(retention=0), 'retention must be 1 or more'), (dict(name='../x'), 'name'),
                         (dict(upload_command=[]), 'upload_command')]:
        with pytest.raises(SnapshotError, match=fragment):
            check_params(params(dest=str(tmp_path), **kw))


def test_small_files_are_private(tmp_path):
    target = str(tmp_path / 'f.json')
    _snapshot.write_new(target, '{}')
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert os.listdir(tmp_path) == ['f.json']


def test_newest_of_a_name(tmp_path):
    for stamp in STAMPS:
        (tmp_path / ('prod-%s.snap.vault' % stamp)).write_text('x')
    (tmp_path / 'prod-eu-20270101T000000Z.snap.vault').write_text('x')
    assert _snapshot.newest(str(tmp_path), 'prod') == str(tmp_path / 'prod-20261204T020000Z.snap.vault')
    with pytest.raises(SnapshotError, match='no snapshot other-<UTC time>'):
        _snapshot.newest(str(tmp_path), 'other')
