# -*- coding: utf-8 -*-
"""The key file: our ansible-vault 1.1 AES256 is Ansible's, both ways; files are created safely."""

import json
import os
import stat

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from ansible_collections.vaultkube.platform.plugins.module_utils import _keyfile
from ansible_collections.vaultkube.platform.plugins.module_utils._keyfile import (
    KeyFileError,
    NewFile,
    parse,
    read_key_file,
    serialise,
    vault_decrypt,
    vault_encrypt,
)

PASSWORD = 'correct horse battery staple'
CONTENT = {'keys': ['a1' * 33, 'b2' * 33], 'keys_base64': ['oaGh', 'srKy'], 'root_token': 's.rootroot'}


def ansible_vault(password=PASSWORD):
    return VaultLib([('default', VaultSecret(password.encode('utf-8')))])


# Lengths around the AES block size: PKCS7 then adds a full block or a partial one.
@pytest.mark.parametrize('plaintext', [b'', b'x', b'y' * 15, b'z' * 16, b'w' * 17,
                                       json.dumps(CONTENT).encode(), u'clé ünïcode'.encode('utf-8')])
def test_ansible_decrypts_what_we_write(plaintext):
    ours = vault_encrypt(plaintext, PASSWORD)
    assert ansible_vault().decrypt(ours) == plaintext


@pytest.mark.parametrize('plaintext', [b'', b'x', b'z' * 16, json.dumps(CONTENT).encode(),
                                       u'clé ünïcode'.encode('utf-8')])
def test_we_decrypt_what_ansible_writes(plaintext):
    theirs = ansible_vault().encrypt(plaintext)
    assert vault_decrypt(theirs, PASSWORD) == plaintext


def test_same_salt_gives_byte_identical_output_to_ansible():
    salt = os.urandom(32)
    ours = vault_encrypt(b'identical?', PASSWORD, salt=salt)
    theirs = ansible_vault().encrypt(b'identical?', salt=salt)
    assert ours.encode('ascii') == theirs


def test_envelope_layout():
    text = vault_encrypt(json.dumps(CONTENT), PASSWORD)
    lines = text.split('\n')
    assert lines[0] == '$ANSIBLE_VAULT;1.1;AES256'
    assert text.endswith('\n') and lines[-1] == ''
    body = lines[1:-1]
    assert all(len(line) == 80 for line in body[:-1]) and 0 < len(body[-1]) <= 80
    assert all(set(line) <= set('0123456789abcdef') for line in body)
    assert json.dumps(CONTENT) not in text and CONTENT['root_token'] not in text


def test_each_encryption_uses_a_new_salt():
    assert vault_encrypt(b'same', PASSWORD) != vault_encrypt(b'same', PASSWORD)


def test_wrong_password_is_one_line():
    text = vault_encrypt(b'secret', PASSWORD)
    with pytest.raises(KeyFileError, match='password is wrong'):
        vault_decrypt(text, 'not the password')


def test_tampered_ciphertext_is_refused():
    text = vault_encrypt(b'secret data that is long enough', PASSWORD)
    lines = text.split('\n')
    last = lines[-2]
    lines[-2] = last[:-1] + ('0' if last[-1] != '0' else '1')
    with pytest.raises(KeyFileError):
        vault_decrypt('\n'.join(lines), PASSWORD)


def test_empty_password_is_refused():
    with pytest.raises(KeyFileError, match='must not be empty'):
        vault_encrypt(b'x', '')


def test_vault_1_2_header_with_vault_id_is_read():
    theirs = VaultLib([('prod', VaultSecret(PASSWORD.encode()))]).encrypt(b'with id', vault_id='prod')
    assert theirs.startswith(b'$ANSIBLE_VAULT;1.2;AES256;prod')
    assert vault_decrypt(theirs, PASSWORD) == b'with id'


def test_unknown_header_is_refused():
    with pytest.raises(KeyFileError, match='unsupported ansible-vault header'):
        vault_decrypt('$ANSIBLE_VAULT;1.0;AES\n00\n', PASSWORD)


def test_serialise_and_parse_both_formats():
    assert parse(serialise(CONTENT, PASSWORD), PASSWORD) == CONTENT
    plain = serialise(CONTENT, None)
    assert json.loads(plain) == CONTENT
    assert parse(plain) == CONTENT


def test_parse_encrypted_without_password_names_the_fix():
    with pytest.raises(KeyFileError, match='encrypted: set its vault password'):
        parse(serialise(CONTENT, PASSWORD), None)


def test_parse_rejects_non_json():
    with pytest.raises(KeyFileError, match='not JSON'):
        parse('keys: [a, b]\n')
    with pytest.raises(KeyFileError, match='JSON object'):
        parse('["a"]')


def test_new_file_is_0600_and_leaves_no_temporary(tmp_path):
    path = tmp_path / 'keys.json'
    written = NewFile(str(path)).reserve().commit(serialise(CONTENT, PASSWORD))
    assert written == str(path)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == ['keys.json']
    assert read_key_file(str(path), PASSWORD) == CONTENT


def test_new_file_mode_ignores_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        path = tmp_path / 'keys.json'
        NewFile(str(path)).commit('{}')
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600


def test_new_file_refuses_an_existing_file(tmp_path):
    path = tmp_path / 'keys.json'
    path.write_text('precious')
    with pytest.raises(KeyFileError, match='already exists'):
        NewFile(str(path)).reserve()
    assert path.read_text() == 'precious'


def test_new_file_created_after_reserve_is_not_clobbered(tmp_path):
    path = tmp_path / 'keys.json'
    reserved = NewFile(str(path)).reserve()
    path.write_text('someone else')
    with pytest.raises(KeyFileError, match='the keys were kept in') as caught:
        reserved.commit('{"keys": []}')
    assert path.read_text() == 'someone else'
    kept = str(caught.value).rsplit(' ', 1)[-1]
    assert open(kept).read() == '{"keys": []}'


def test_new_file_in_a_missing_directory_is_one_line(tmp_path):
    with pytest.raises(KeyFileError, match='does not exist'):
        NewFile(str(tmp_path / 'nope' / 'keys.json')).reserve()


def test_discard_removes_the_temporary(tmp_path):
    reserved = NewFile(str(tmp_path / 'keys.json')).reserve()
    assert len(os.listdir(str(tmp_path))) == 1
    reserved.discard()
    assert os.listdir(str(tmp_path)) == []


def test_unreadable_keys_file_is_one_line(tmp_path):
    with pytest.raises(KeyFileError, match='cannot be read'):
        read_key_file(str(tmp_path / 'missing.json'))


def test_cryptography_is_really_used():
    assert _keyfile.CRYPTOGRAPHY_IMPORT_ERROR is None
