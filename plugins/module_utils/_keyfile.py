# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The file that holds Vault's unseal keys and root token.

Internal. ``vault_init`` writes it and ``vault_unseal`` reads it. By default it
is encrypted in the ansible-vault 1.1 AES256 format, so ``ansible-vault view``
and ``include_vars`` read it with the same password. The format is implemented
here (with ``cryptography``) because modules run on hosts where Ansible's
controller-side ``ansible.parsing.vault`` is not importable.

ansible-vault 1.1 AES256, as ``ansible.parsing.vault.VaultAES256`` writes it::

    $ANSIBLE_VAULT;1.1;AES256
    hexlify( hexlify(salt) \\n hexlify(hmac) \\n hexlify(ciphertext) ) in 80-character lines

    key1 (32) | key2 (32) | iv (16) = PBKDF2-HMAC-SHA256(password, salt, 10000 iterations)
    ciphertext = AES-256-CTR(key1, iv, PKCS7-pad(plaintext))
    hmac = HMAC-SHA256(key2, ciphertext)
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import json
import os
import tempfile
import traceback

CRYPTOGRAPHY_IMPORT_ERROR = None
try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.backends import default_backend
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.hmac import HMAC
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
except ImportError:  # pragma: no cover - exercised only without cryptography
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

VAULT_HEADER = '$ANSIBLE_VAULT'
FORMAT_HEADER = '$ANSIBLE_VAULT;1.1;AES256'
SALT_BYTES = 32
KEY_BYTES = 32
IV_BYTES = 16
PBKDF2_ITERATIONS = 10000
LINE_WIDTH = 80


class KeyFileError(Exception):
    """An expected failure reading or writing the key file, worded as one line."""


def _password_bytes(password):
    if password is None or password == '':
        raise KeyFileError('the ansible-vault password must not be empty')
    return password.encode('utf-8') if not isinstance(password, bytes) else password


def _derive_keys(password, salt):
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=2 * KEY_BYTES + IV_BYTES, salt=salt,
                     iterations=PBKDF2_ITERATIONS, backend=default_backend())
    derived = kdf.derive(_password_bytes(password))
    return derived[:KEY_BYTES], derived[KEY_BYTES:2 * KEY_BYTES], derived[2 * KEY_BYTES:]


def _hmac(key, data):
    mac = HMAC(key, hashes.SHA256(), backend=default_backend())
    mac.update(data)
    return mac


def vault_encrypt(plaintext, password, salt=None):
    """ansible-vault 1.1 AES256 text (str, newline-terminated) for bytes or text."""
    if CRYPTOGRAPHY_IMPORT_ERROR:
        raise KeyFileError('the cryptography Python library is required to encrypt the key file')
    if not isinstance(plaintext, bytes):
        plaintext = plaintext.encode('utf-8')
    salt = salt or os.urandom(SALT_BYTES)
    cipher_key, mac_key, iv = _derive_keys(password, salt)
    # CTR needs no padding, but ansible-vault pads with PKCS7 and strips it on
    # decryption, so we must too for the files to be interchangeable.
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(cipher_key), modes.CTR(iv), backend=default_backend()).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    digest = _hmac(mac_key, ciphertext).finalize()
    inner = b'\n'.join([binascii.hexlify(salt), binascii.hexlify(digest), binascii.hexlify(ciphertext)])
    body = binascii.hexlify(inner).decode('ascii')
    lines = [FORMAT_HEADER] + [body[i:i + LINE_WIDTH] for i in range(0, len(body), LINE_WIDTH)]
    return '\n'.join(lines) + '\n'


def is_vault_encrypted(text):
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    return text.lstrip().startswith(VAULT_HEADER + ';')


def _split_envelope(text):
    lines = text.strip().splitlines()
    header = [part.strip() for part in lines[0].split(';')]
    # 1.2 only adds a vault id to the header; the payload is the same.
    if len(header) < 3 or header[0] != VAULT_HEADER or header[1] not in ('1.1', '1.2') or header[2] != 'AES256':
        raise KeyFileError('unsupported ansible-vault header %r: expected %s' % (lines[0][:40], FORMAT_HEADER))
    try:
        inner = binascii.unhexlify(''.join(line.strip() for line in lines[1:]))
        salt_hex, digest_hex, cipher_hex = inner.split(b'\n', 2)
        return binascii.unhexlify(salt_hex), binascii.unhexlify(digest_hex), binascii.unhexlify(cipher_hex)
    except (binascii.Error, TypeError, ValueError):
        raise KeyFileError('the ansible-vault payload is damaged (not the hex layout ansible-vault writes)')


def vault_decrypt(text, password):
    """Plaintext bytes of ansible-vault AES256 text; wrong password -> KeyFileError."""
    if CRYPTOGRAPHY_IMPORT_ERROR:
        raise KeyFileError('the cryptography Python library is required to decrypt the key file')
    if isinstance(text, bytes):
        text = text.decode('ascii', 'replace')
    salt, digest, ciphertext = _split_envelope(text)
    cipher_key, mac_key, iv = _derive_keys(password, salt)
    try:
        _hmac(mac_key, ciphertext).verify(digest)
    except InvalidSignature:
        raise KeyFileError('the ansible-vault password is wrong (HMAC check failed)')
    decryptor = Cipher(algorithms.AES(cipher_key), modes.CTR(iv), backend=default_backend()).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise KeyFileError('the ansible-vault payload is damaged (bad padding)')


class NewFile(object):
    """A file that is created once, atomically, and never replaces another.

    :meth:`reserve` checks the path and creates the temporary file next to it
    *before* anything irreversible happens (Vault's sys/init), so an existing
    file or an unwritable directory fails early. :meth:`commit` writes, fsyncs
    and moves the temporary file into place.
    """

    def __init__(self, path, mode=0o600):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.mode = mode
        self.directory = os.path.dirname(self.path)
        self._fd = None
        self._temp = None

    def check_absent(self):
        if os.path.lexists(self.path):
            raise KeyFileError('output_file %s already exists: it may hold the keys of another Vault; '
                               'move it away or choose another path' % self.path)
        if not os.path.isdir(self.directory):
            raise KeyFileError('output_file directory %s does not exist' % self.directory)

    def reserve(self):
        self.check_absent()
        try:
            # mkstemp creates the file with mode 0600 already: no window where
            # the keys sit in a world-readable file.
            self._fd, self._temp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(self.path),
                                                    suffix='.tmp', dir=self.directory)
        except (IOError, OSError) as exc:
            raise KeyFileError('cannot create a file in %s: %s' % (self.directory, exc.strerror))
        return self

    def commit(self, data):
        if self._fd is None:
            self.reserve()
        if not isinstance(data, bytes):
            data = data.encode('utf-8')
        try:
            os.fchmod(self._fd, self.mode)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        except (IOError, OSError) as exc:
            self.discard()
            raise KeyFileError('writing %s failed: %s' % (self.path, exc.strerror))
        os.close(self._fd)
        self._fd = None
        self._move_into_place()
        self._sync_directory()
        return self.path

    def _move_into_place(self):
        # A hard link is the rename that refuses to replace: it fails with EEXIST
        # if someone created the file since reserve(), where rename would clobber it.
        try:
            os.link(self._temp, self.path)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                raise KeyFileError('output_file %s appeared while Vault was being initialised; the keys '
                                   'were kept in %s' % (self.path, self._temp))
            if os.path.lexists(self.path):
                raise KeyFileError('output_file %s already exists; the keys were kept in %s'
                                   % (self.path, self._temp))
            # File systems without hard links: fall back to a plain rename.
            os.rename(self._temp, self.path)
        else:
            os.unlink(self._temp)
        self._temp = None

    def _sync_directory(self):
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass  # not every file system can fsync a directory; the file itself is synced
        finally:
            os.close(fd)

    def discard(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._temp and os.path.exists(self._temp):
            os.unlink(self._temp)
        self._temp = None


def serialise(content, password=None):
    """Text of a key file: JSON, ansible-vault encrypted unless password is None."""
    text = json.dumps(content, indent=2, sort_keys=True) + '\n'
    return vault_encrypt(text, password) if password is not None else text


def parse(text, password=None, source='keys_file'):
    """The JSON content of a key file, decrypting it when it is encrypted."""
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    if is_vault_encrypted(text):
        if not password:
            raise KeyFileError('%s is ansible-vault encrypted: set its vault password' % source)
        try:
            text = vault_decrypt(text, password).decode('utf-8')
        except KeyFileError as exc:
            raise KeyFileError('%s cannot be decrypted: %s' % (source, exc))
    try:
        content = json.loads(text)
    except ValueError:
        raise KeyFileError('%s is not JSON as written by vault_init (nor ansible-vault encrypted JSON)'
                           % source)
    if not isinstance(content, dict):
        raise KeyFileError('%s must hold a JSON object with "keys" as written by vault_init' % source)
    return content


def read_key_file(path, password=None):
    try:
        with open(path, 'rb') as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        raise KeyFileError('keys_file %s cannot be read: %s' % (path, exc.strerror))
    return parse(text, password, source='keys_file %s' % path)
