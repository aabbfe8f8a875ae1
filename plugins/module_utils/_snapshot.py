# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Raft snapshots: saved encrypted, verified, kept by retention, restored.

Internal. A snapshot is streamed from ``GET sys/storage/raft/snapshot`` through an
encryptor to disk, never held whole in memory and never written in clear. The file is the
ansible-vault 1.1 AES256 format (``ansible-vault view`` and ``decrypt`` read it with the same
password; see ``_keyfile`` for the layout). Its HMAC precedes the ciphertext in that format,
so the ciphertext goes to a temporary file first (0600, in the destination directory) and the
envelope is written from it in a second pass.

Files of a snapshot called NAME, taken at a UTC second::

    NAME-20261206T181500Z.snap.vault          the encrypted snapshot (0600)
    NAME-20261206T181500Z.snap.vault.sha256   "<sha256>  <file name>" (sha256sum -c reads it)
    NAME-20261206T181500Z.snap.json           metadata: time, sizes, server version, raft index

Retention only ever selects files whose whole name matches that pattern for the NAME given
(a NAME is one path segment of letters, digits, ``.``, ``_`` and ``-``); nothing else in the
directory is a candidate, whatever NAME is.

A verification reads the file back: the checksum file, a size above zero, the HMAC (the
password), and the decrypted content as the gzip'd tar Vault writes, whose members are checked
against the snapshot's own ``SHA256SUMS``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import datetime
import hashlib
import json
import os
import re
import tarfile
import tempfile
import traceback

from ansible_collections.vaultkube.platform.plugins.module_utils._keyfile import (
    CRYPTOGRAPHY_IMPORT_ERROR, FORMAT_HEADER, LINE_WIDTH, SALT_BYTES,
    VAULT_HEADER, KeyFileError, _derive_keys)

try:
    from cryptography.hazmat.backends import default_backend
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.hmac import HMAC
    from cryptography.exceptions import InvalidSignature
except ImportError:  # pragma: no cover - reported through CRYPTOGRAPHY_IMPORT_ERROR
    pass

REQUESTS_IMPORT_ERROR = None
try:
    import requests
except ImportError:  # pragma: no cover
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

CHUNK = 1 << 20
NAME_RE = re.compile(r'\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z')
STAMP_FORMAT = '%Y%m%dT%H%M%SZ'
SNAPSHOT_SUFFIX = '.snap.vault'
CHECKSUM_SUFFIX = '.sha256'
METADATA_SUFFIX = '.snap.json'
GZIP_MAGIC = b'\x1f\x8b'

SNAPSHOT_ARGUMENT_SPEC = dict(
    state=dict(type='str', choices=['saved', 'verified', 'restored'], default='saved'),
    dest=dict(type='path', no_log=False),
    name=dict(type='str', default='vault', no_log=False),
    path=dict(type='path', no_log=False),
    password=dict(type='str', no_log=True, required=True, aliases=['snapshot_password']),
    retention=dict(type='int'),
    upload_command=dict(type='list', elements='str', no_log=False),
    upload_timeout=dict(type='int', default=600),
)


class SnapshotError(KeyFileError):
    """An expected snapshot failure, worded as one line."""


# -- names and retention (pure) -----------------------------------------------------

def check_name(name):
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SnapshotError('name %r is not a snapshot name: use 1-64 letters, digits, ".", "_" or "-", starting '
                            'with a letter or digit (no "/", no "*")' % (name,))
    return name


def stamp(when):
    """The UTC timestamp of a file name."""
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return when.strftime(STAMP_FORMAT)


def file_name(name, when):
    return '%s-%s%s' % (check_name(name), stamp(when), SNAPSHOT_SUFFIX)


def name_pattern(name):
    """The one pattern retention selects by: NAME-<UTC stamp>.snap.vault, the whole name."""
    return re.compile(r'\A%s-(\d{8}T\d{6}Z)%s\Z' % (re.escape(check_name(name)), re.escape(SNAPSHOT_SUFFIX)))


def parse_stamp(text):
    return datetime.datetime.strptime(text, STAMP_FORMAT).replace(tzinfo=datetime.timezone.utc)


def taken_at(path):
    """The UTC time in a snapshot's file name, or None for another name."""
    match = re.search(r'-(\d{8}T\d{6}Z)%s\Z' % re.escape(SNAPSHOT_SUFFIX), os.path.basename(path))
    if not match:
        return None
    try:
        return parse_stamp(match.group(1))
    except ValueError:
        return None


def companions(snapshot_file):
    """The checksum and metadata file names of a snapshot file name."""
    stem = snapshot_file[:-len(SNAPSHOT_SUFFIX)]
    return snapshot_file + CHECKSUM_SUFFIX, stem + METADATA_SUFFIX


def select_expired(names, name, retention):
    """(kept, expired): the snapshot file names of NAME among names, newest first, split after
    the newest ``retention``. Names that are not NAME's snapshots are in neither list."""
    if retention is None:
        retention = 0
    if retention < 1:
        raise SnapshotError('retention must be 1 or more (the number of snapshots to keep), got %s' % retention)
    pattern = name_pattern(name)
    own = []
    for entry in names:
        match = pattern.match(entry)
        if match:
            try:
                own.append((parse_stamp(match.group(1)), entry))
            except ValueError:
                continue  # 8 digits that are not a date: not ours
    own.sort(reverse=True)
    ordered = [entry for _when, entry in own]
    return ordered[:retention], ordered[retention:]


def expired_files(directory, name, retention):
    """The files to delete in directory: expired snapshots of NAME and their two companions,
    regular files only (a symbolic link or a directory by that name is left alone)."""
    names = os.listdir(directory)
    kept, expired = select_expired(names, name, retention)
    doomed = []
    for entry in expired:
        for candidate in (entry,) + companions(entry):
            full = os.path.join(directory, candidate)
            try:
                if candidate in names and os.path.isfile(full) and not os.path.islink(full):
                    doomed.append(full)
            except OSError:
                continue
    return kept, doomed


# -- ansible-vault 1.1, streamed ---------------------------------------------------------

def _require_crypto():
    if CRYPTOGRAPHY_IMPORT_ERROR:
        raise SnapshotError('the cryptography Python library is required on the host that runs the module')


def _password_bytes(password):
    if not password:
        raise SnapshotError('password is empty: set the snapshot password (an ansible-vault encrypted variable)')
    return password.encode('utf-8') if not isinstance(password, bytes) else password


def _derive(password, salt):
    """The cipher key, HMAC key and IV of ansible-vault 1.1, as the key file derives them."""
    return _derive_keys(_password_bytes(password), salt)


class _HexLines(object):
    """Writes bytes hexlified, in lines of 80 characters, to a descriptor; hashes what it writes."""

    def __init__(self, handle, digest):
        self.handle = handle
        self.digest = digest
        self.pending = b''

    def _out(self, data):
        self.handle.write(data)
        self.digest.update(data)

    def write(self, data):
        self.pending += binascii.hexlify(data)
        whole = len(self.pending) - len(self.pending) % LINE_WIDTH
        if whole:
            block = self.pending[:whole]
            self._out(b''.join(block[i:i + LINE_WIDTH] + b'\n' for i in range(0, whole, LINE_WIDTH)))
            self.pending = self.pending[whole:]

    def close(self):
        if self.pending:
            self._out(self.pending + b'\n')
            self.pending = b''


class Encryptor(object):
    """Plaintext chunks in, ciphertext to a temporary file; then the envelope to the final file."""

    def __init__(self, password, directory):
        _require_crypto()
        self.salt = os.urandom(SALT_BYTES)
        cipher_key, mac_key, iv = _derive(password, self.salt)
        self.encryptor = Cipher(algorithms.AES(cipher_key), modes.CTR(iv), backend=default_backend()).encryptor()
        self.padder = padding.PKCS7(algorithms.AES.block_size).padder()
        self.mac = HMAC(mac_key, hashes.SHA256(), backend=default_backend())
        self.size = 0
        self.head = b''
        fd, self.cipher_path = tempfile.mkstemp(prefix='.snapshot-', suffix='.tmp', dir=directory)
        self.cipher = os.fdopen(fd, 'wb')

    def _emit(self, data):
        if data:
            data = self.encryptor.update(data)
            self.mac.update(data)
            self.cipher.write(data)

    def update(self, chunk):
        if len(self.head) < 2:
            self.head += chunk[:2 - len(self.head)]
        self.size += len(chunk)
        self._emit(self.padder.update(chunk))

    def finish(self, final_path_temp):
        """Write the envelope to an open binary handle; returns its sha256 hex."""
        self._emit(self.padder.finalize())
        tail = self.encryptor.finalize()
        if tail:
            self.mac.update(tail)
            self.cipher.write(tail)
        self.cipher.close()
        digest = hashlib.sha256()
        out = final_path_temp
        header = (FORMAT_HEADER + '\n').encode('ascii')
        out.write(header)
        digest.update(header)
        lines = _HexLines(out, digest)
        lines.write(binascii.hexlify(self.salt) + b'\n' + binascii.hexlify(self.mac.finalize()) + b'\n')
        with open(self.cipher_path, 'rb') as cipher:
            for block in iter(lambda: cipher.read(CHUNK), b''):
                lines.write(binascii.hexlify(block))
        lines.close()
        return digest.hexdigest()

    def discard(self):
        try:
            self.cipher.close()
        except (IOError, OSError):
            pass
        if os.path.exists(self.cipher_path):
            os.unlink(self.cipher_path)


def _ciphertext_stream(handle):
    """(salt, digest) then ciphertext chunks from an open ansible-vault file, streamed."""
    first = handle.readline(256).decode('ascii', 'replace').strip()
    header = [part.strip() for part in first.split(';')]
    if len(header) < 3 or header[0] != VAULT_HEADER or header[1] not in ('1.1', '1.2') or header[2] != 'AES256':
        raise SnapshotError('the file is not ansible-vault 1.1 AES256 text (header %r): not a snapshot this '
                            'collection wrote' % first[:40])
    leftover = b''
    inner = b''
    fields = None
    carry = b''
    while True:
        block = handle.read(CHUNK)
        if not block and not leftover:
            break
        data = leftover + b''.join(block.split())
        cut = len(data) - len(data) % 2
        leftover = data[cut:]
        if not block:
            if leftover:
                raise SnapshotError('the ansible-vault payload is damaged (odd number of hex digits)')
        try:
            decoded = binascii.unhexlify(data[:cut])
        except (binascii.Error, TypeError, ValueError):
            raise SnapshotError('the ansible-vault payload is damaged (not hex)')
        if fields is None:
            inner += decoded
            if inner.count(b'\n') < 2:
                if len(inner) > 512:
                    raise SnapshotError('the ansible-vault payload is damaged (no salt and HMAC lines)')
                if not block:
                    raise SnapshotError('the ansible-vault payload is damaged (truncated)')
                continue
            salt_hex, digest_hex, rest = inner.split(b'\n', 2)
            try:
                fields = (binascii.unhexlify(salt_hex), binascii.unhexlify(digest_hex))
            except (binascii.Error, TypeError, ValueError):
                raise SnapshotError('the ansible-vault payload is damaged (salt or HMAC is not hex)')
            yield fields
            decoded = rest
            inner = None
        carry += decoded
        cut = len(carry) - len(carry) % 2
        if cut:
            try:
                yield binascii.unhexlify(carry[:cut])
            except (binascii.Error, TypeError, ValueError):
                raise SnapshotError('the ansible-vault payload is damaged (ciphertext is not hex)')
            carry = carry[cut:]
        if not block:
            break
    if fields is None:
        raise SnapshotError('the ansible-vault payload is damaged (truncated)')
    if carry:
        raise SnapshotError('the ansible-vault payload is damaged (odd ciphertext)')


WRONG_PASSWORD = ('the snapshot password is wrong, or the file was changed after it was written (HMAC check '
                  'failed): give the password it was saved with')


def check_hmac(handle, password):
    """Read the whole file and check its HMAC: the password is right and nothing was changed."""
    _require_crypto()
    stream = _ciphertext_stream(handle)
    salt, digest = next(stream)
    _cipher_key, mac_key, _iv = _derive(password, salt)
    mac = HMAC(mac_key, hashes.SHA256(), backend=default_backend())
    for chunk in stream:
        mac.update(chunk)
    try:
        mac.verify(digest)
    except InvalidSignature:
        raise SnapshotError(WRONG_PASSWORD)


def decrypt_chunks(handle, password):
    """Plaintext chunks of an open snapshot file. The HMAC is checked at the end (raises then);
    callers that send the plaintext anywhere call :func:`check_hmac` first."""
    _require_crypto()
    stream = _ciphertext_stream(handle)
    fields = next(stream, None)
    if fields is None:
        raise SnapshotError('the ansible-vault payload is damaged (truncated)')
    salt, digest = fields
    cipher_key, mac_key, iv = _derive(password, salt)
    mac = HMAC(mac_key, hashes.SHA256(), backend=default_backend())
    decryptor = Cipher(algorithms.AES(cipher_key), modes.CTR(iv), backend=default_backend()).decryptor()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    for chunk in stream:
        mac.update(chunk)
        out = unpadder.update(decryptor.update(chunk))
        if out:
            yield out
    try:
        mac.verify(digest)
    except InvalidSignature:
        raise SnapshotError(WRONG_PASSWORD)
    try:
        out = unpadder.update(decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        raise SnapshotError('the snapshot is damaged (bad padding after decryption)')
    if out:
        yield out


class _ChunkReader(object):
    """A read()-able object over an iterator of byte chunks (for tarfile's stream mode)."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.buffer = b''
        self.size = 0

    def read(self, size=-1):
        while size < 0 or len(self.buffer) < size:
            try:
                chunk = next(self.chunks)
            except StopIteration:
                break
            self.size += len(chunk)
            self.buffer += chunk
        if size < 0:
            out, self.buffer = self.buffer, b''
        else:
            out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


def read_snapshot_content(chunks):
    """Walk the decrypted content as a gzip'd tar; check every member against SHA256SUMS.

    Returns dict(plaintext_size, raft_index, raft_term, members)."""
    reader = _ChunkReader(chunks)
    head = reader.read(2)
    if head != GZIP_MAGIC:
        raise SnapshotError('the decrypted snapshot is not gzip data (not a raft snapshot)')
    reader.buffer = head + reader.buffer
    sums, digests, meta = None, {}, {}
    members = []
    try:
        archive = tarfile.open(fileobj=reader, mode='r|gz')
        for member in archive:
            members.append(member.name)
            if not member.isfile():
                continue
            extracted = archive.extractfile(member)
            digest = hashlib.sha256()
            small = b''
            for block in iter(lambda: extracted.read(CHUNK), b''):
                digest.update(block)
                if member.name in ('SHA256SUMS', 'meta.json') and len(small) < 65536:
                    small += block
            digests[member.name] = digest.hexdigest()
            if member.name == 'SHA256SUMS':
                sums = small.decode('utf-8', 'replace')
            elif member.name == 'meta.json':
                try:
                    meta = json.loads(small.decode('utf-8'))
                except ValueError:
                    raise SnapshotError('the snapshot\'s meta.json is not JSON')
        archive.close()
        # Drain to the end so that the HMAC at the end of the stream is checked.
        while reader.read(CHUNK):
            pass
    except (tarfile.TarError, EOFError, OSError, IOError, ValueError) as exc:
        if isinstance(exc, SnapshotError):
            raise
        raise SnapshotError('the decrypted snapshot is not a readable gzip\'d tar (%s): damaged or truncated'
                            % ' '.join(str(exc).split()))
    if 'meta.json' not in digests or 'state.bin' not in digests:
        raise SnapshotError('the snapshot lacks meta.json or state.bin: not a raft snapshot')
    if sums is not None:
        for line in sums.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] in digests and digests[parts[1]] != parts[0]:
                raise SnapshotError('the snapshot member %s does not match the snapshot\'s SHA256SUMS: damaged'
                                    % parts[1])
    return dict(plaintext_size=reader.size, raft_index=meta.get('Index'), raft_term=meta.get('Term'),
                members=members)


# -- files ---------------------------------------------------------------------------------

def file_sha256(handle):
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(CHUNK), b''):
        digest.update(block)
    handle.seek(0)
    return digest.hexdigest()


def read_checksum_file(path):
    checksum_path = path + CHECKSUM_SUFFIX
    try:
        with open(checksum_path, 'r') as handle:
            text = handle.read(4096)
    except (IOError, OSError) as exc:
        raise SnapshotError('checksum file %s cannot be read (%s): a snapshot is verified against the checksum '
                            'written beside it' % (checksum_path, exc.strerror))
    parts = text.split()
    if not parts or not re.match(r'\A[0-9a-f]{64}\Z', parts[0]):
        raise SnapshotError('checksum file %s does not hold a sha256 ("<hex>  <file>")' % checksum_path)
    return parts[0]


def checksum_line(sha256, path):
    return '%s  %s\n' % (sha256, os.path.basename(path))


def write_new(path, data, mode=0o600):
    """Write a small file atomically (temp file, fsync, rename into place), mode 0600."""
    directory = os.path.dirname(path)
    fd, temp = tempfile.mkstemp(prefix='.snapshot-', suffix='.tmp', dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data if isinstance(data, bytes) else data.encode('utf-8'))
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temp, path)
    except Exception:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def open_snapshot(path):
    """Open a snapshot file for reading (no symbolic link), with a size above zero."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0))
    except OSError as exc:
        raise SnapshotError('path %s cannot be opened (%s): give an existing snapshot file, not a link'
                            % (path, exc.strerror))
    handle = os.fdopen(fd, 'rb')
    info = os.fstat(fd)
    if not (info.st_mode & 0o170000) == 0o100000:
        handle.close()
        raise SnapshotError('path %s is not a regular file' % path)
    if info.st_size == 0:
        handle.close()
        raise SnapshotError('snapshot %s is empty (size 0): it was not written completely' % path)
    return handle, info


def verify_open(handle, path, password):
    """Checksum, HMAC and content of an open snapshot file. Returns the facts found."""
    expected = read_checksum_file(path)
    actual = file_sha256(handle)
    if actual != expected:
        raise SnapshotError('snapshot %s does not match its checksum file (sha256 %s, expected %s): it was changed '
                            'or damaged; it is not restored' % (path, actual, expected))
    # The HMAC first: a wrong password is named as such, not as content that is no gzip.
    check_hmac(handle, password)
    handle.seek(0)
    facts = read_snapshot_content(decrypt_chunks(handle, password))
    handle.seek(0)
    facts['sha256'] = actual
    return facts


def verify(path, password):
    handle, info = open_snapshot(path)
    try:
        facts = verify_open(handle, path, password)
    finally:
        handle.close()
    facts['size'] = info.st_size
    return facts


def read_metadata(path):
    meta_path = companions(os.path.basename(path))[1]
    meta_path = os.path.join(os.path.dirname(path), meta_path)
    try:
        with open(meta_path, 'r') as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return {}


def age_seconds(path, now, metadata=None):
    """Seconds since the snapshot was taken (its metadata, else its file name); None if unknown."""
    when = None
    created = (metadata or {}).get('created')
    if created:
        try:
            when = datetime.datetime.strptime(created, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            when = None
    when = when or taken_at(path)
    if when is None:
        return None
    return max(0, int((now - when).total_seconds()))


# -- Vault ------------------------------------------------------------------------------

def _session_of(api):
    """A plain session (no retries: a streamed body cannot be sent twice) with the client's TLS."""
    session = requests.Session()
    session.verify = api.client.adapter.session.verify
    return session


def _headers(api):
    headers = {'X-Vault-Token': api.client.token or '', 'X-Vault-Request': 'true'}
    namespace = getattr(api.client.adapter, 'namespace', None)
    if namespace:
        headers['X-Vault-Namespace'] = namespace
    return headers


def _vault_error(method, path, response):
    try:
        errors = response.json().get('errors') or []
    except ValueError:
        errors = []
    detail = '; '.join(' '.join(str(e).split()) for e in errors) or response.reason or 'no message'
    hints = {401: 'check the token', 403: 'the token needs sudo on this path (the root policy or a policy '
                                          'with sudo capability)',
             503: 'Vault is sealed or not active', 307: 'this node is a standby: point url at the active node'}
    hint = hints.get(response.status_code)
    return 'Vault %s %s failed: %s %s%s' % (method, path, response.status_code, detail,
                                            ' (%s)' % hint if hint else '')


def require_active(api):
    """The node at url must be the active one (a standby may redirect; a restore must not)."""
    leader = api.read('sys/leader') or {}
    if leader.get('ha_enabled') and not leader.get('is_self'):
        raise SnapshotError('url %s is a standby node; the active node is %s: point url at the active node (the '
                            'vault_snapshot role finds it)' % (api.url, leader.get('leader_address') or 'unknown'))
    return leader


def stream_snapshot(api, timeout):
    """The response of GET sys/storage/raft/snapshot, streamed; one line when Vault refuses."""
    path = 'sys/storage/raft/snapshot'
    try:
        response = _session_of(api).get(api.url.rstrip('/') + '/v1/' + path, headers=_headers(api), stream=True,
                                        timeout=timeout, allow_redirects=False)
    except requests.exceptions.RequestException as exc:
        raise SnapshotError('GET %s on %s failed: %s' % (path, api.url, type(exc).__name__))
    if response.status_code != 200:
        message = _vault_error('GET', path, response)
        response.close()
        raise SnapshotError(message)
    return response


def restore_snapshot(api, chunks, timeout):
    path = 'sys/storage/raft/snapshot-force'
    try:
        response = _session_of(api).post(api.url.rstrip('/') + '/v1/' + path, data=chunks, headers=_headers(api),
                                         timeout=timeout, allow_redirects=False)
    except requests.exceptions.RequestException as exc:
        raise SnapshotError('POST %s on %s failed: %s (the restore may be incomplete; run it again)'
                            % (path, api.url, ' '.join(str(exc).split())[:300]))
    if response.status_code not in (200, 204):
        raise SnapshotError(_vault_error('POST', path, response))


# -- the three states ---------------------------------------------------------------------

def check_params(params):
    """Bad input, before anything is read or written."""
    state = params['state']
    if not params.get('password'):
        raise SnapshotError('password is required: set the snapshot password (no_log; for example an '
                            'ansible-vault encrypted inventory variable)')
    if state == 'saved':
        if not params.get('dest'):
            raise SnapshotError('dest is required with state=saved: the directory snapshots are written to')
        check_name(params['name'])
        if not os.path.isdir(params['dest']):
            raise SnapshotError('dest %s is not a directory: create it (mode 0700) or fix the path' % params['dest'])
        if params.get('retention') is not None and params['retention'] < 1:
            raise SnapshotError('retention must be 1 or more (snapshots to keep), got %s; omit it to keep all'
                                % params['retention'])
        command = params.get('upload_command')
        if command is not None and (not command or not command[0]):
            raise SnapshotError('upload_command must be an argv list whose first item is the program to run')
    elif not params.get('path'):
        if not params.get('dest'):
            raise SnapshotError('path (the snapshot file) or dest (its directory, for the newest snapshot of name) is '
                                'required with state=%s' % state)
        check_name(params['name'])
        if not os.path.isdir(params['dest']):
            raise SnapshotError('dest %s is not a directory: fix the path' % params['dest'])
    if params.get('upload_timeout') is not None and params['upload_timeout'] <= 0:
        raise SnapshotError('upload_timeout must be a positive number of seconds')


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def save(api, params, check_mode, now=None, version=None):
    """Take, encrypt, verify and store one snapshot; return the result (without deletions)."""
    now = now or utcnow()
    directory = os.path.abspath(params['dest'])
    final = os.path.join(directory, file_name(params['name'], now))
    checksum_name, meta_name = companions(os.path.basename(final))
    result = dict(path=final, sha256=None, size=0, age=0, created=now.strftime('%Y-%m-%dT%H:%M:%SZ'))
    leader = require_active(api)
    if check_mode:
        return result
    if os.path.lexists(final):
        raise SnapshotError('snapshot %s already exists (two runs in the same second?): run again' % final)
    encryptor = Encryptor(params['password'], directory)
    temp_fd, temp_path = None, None
    try:
        response = stream_snapshot(api, params.get('timeout') or 30)
        try:
            for chunk in response.iter_content(CHUNK):
                if chunk:
                    encryptor.update(chunk)
        except requests.exceptions.RequestException as exc:
            raise SnapshotError('the snapshot download from %s broke off: %s' % (api.url, type(exc).__name__))
        finally:
            response.close()
        if encryptor.size == 0:
            raise SnapshotError('Vault sent an empty snapshot (size 0)')
        if encryptor.head != GZIP_MAGIC:
            raise SnapshotError('Vault sent something that is not a gzip\'d raft snapshot')
        temp_fd, temp_path = tempfile.mkstemp(prefix='.snapshot-', suffix='.tmp', dir=directory)
        os.fchmod(temp_fd, 0o600)
        with os.fdopen(temp_fd, 'wb') as out:
            temp_fd = None
            sha256 = encryptor.finish(out)
            out.flush()
            os.fsync(out.fileno())
        encryptor.discard()
        # Verified before it takes its name: a file with the name is a good snapshot.
        with open(temp_path, 'rb') as handle:
            facts = read_snapshot_content(decrypt_chunks(handle, params['password']))
        size = os.path.getsize(temp_path)
        try:
            os.link(temp_path, final)
        except OSError:
            raise SnapshotError('snapshot %s appeared while it was being written: run again' % final)
        os.unlink(temp_path)
        temp_path = None
    finally:
        encryptor.discard()
        if temp_fd is not None:
            os.close(temp_fd)
        if temp_path and os.path.exists(temp_path):
            os.unlink(temp_path)
    write_new(os.path.join(directory, checksum_name), checksum_line(sha256, final))
    metadata = dict(
        name=params['name'], file=os.path.basename(final), created=result['created'], size=size,
        plaintext_size=facts['plaintext_size'], sha256=sha256, raft_index=facts['raft_index'],
        raft_term=facts['raft_term'], server_version=version, cluster_name=leader.get('cluster_name'),
        format='ansible-vault 1.1 AES256 of a raft snapshot (gzip tar)')
    write_new(os.path.join(directory, meta_name), json.dumps(metadata, indent=2, sort_keys=True) + '\n')
    result.update(sha256=sha256, size=size, raft_index=facts['raft_index'], raft_term=facts['raft_term'],
                  plaintext_size=facts['plaintext_size'], server_version=version)
    return result


def newest(directory, name):
    """The path of the newest snapshot of NAME in directory; one line when there is none."""
    kept, _expired = select_expired(os.listdir(directory), name, 1)
    if not kept:
        raise SnapshotError('no snapshot %s-<UTC time>.snap.vault in %s: save one first or give path'
                            % (name, directory))
    return os.path.join(os.path.abspath(directory), kept[0])


def apply_retention(params, check_mode):
    """Delete NAME's snapshots beyond the newest ``retention``; returns (kept, deleted paths)."""
    if params.get('retention') is None:
        return [], []
    kept, doomed = expired_files(os.path.abspath(params['dest']), params['name'], params['retention'])
    if not check_mode:
        for path in doomed:
            os.unlink(path)
    return kept, doomed


def restore(api, params, check_mode):
    """Verify the file (checksum, HMAC, content) and force-restore it into the Vault at url."""
    path = params['path']
    handle, info = open_snapshot(path)
    try:
        facts = verify_open(handle, path, params['password'])
        require_active(api)
        if check_mode:
            return facts, info.st_size
        # The same open file as verified (a rename in between does not swap it); its HMAC is
        # checked again at the end of this pass, so a change in between breaks the upload.
        handle.seek(0)
        restore_snapshot(api, decrypt_chunks(handle, params['password']), max(params.get('timeout') or 30, 300))
    finally:
        handle.close()
    return facts, info.st_size
