# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Where Vault's unseal (or recovery) keys are kept, and how modules read and write them.

Internal. Every module that needs key shares (vault_unseal, vault_root_token, vault_rekey,
vault_key_custody) takes the options of :data:`CUSTODY_ARGUMENT_SPEC` (doc fragment
``custody``) and reads the keys itself, so that the shares never pass through a play's
variables.

Custody content is the JSON object ``vault_init`` writes (``keys``, ``keys_base64``,
``secret_shares``, ``secret_threshold``; ``recovery_keys*`` and ``recovery_*`` with an
auto-unseal seal; ``root_token`` only until the bootstrap token is revoked; ``pending``
during a rekey). It is kept in up to two places, both encrypted in the ansible-vault
1.1 format with the same password:

* the keys file on the controller (0600);
* with Secret custody, the data key ``init.vault`` of a Kubernetes Secret. A Secret
  written by an earlier version holds plain JSON under ``init.json``: it is read, and
  :func:`write_custody` replaces it with the encrypted form.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import os
import tempfile

from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes import (
    CLIENT_ARGUMENT_SPEC, HAS_KUBERNETES, KubernetesError, client_from_params as _client_from_params)
from ansible_collections.vaultkube.platform.plugins.module_utils._keyfile import (
    KeyFileError, parse, serialise)
from ansible_collections.vaultkube.platform.plugins.module_utils._names import InvalidName, dns_label, dns_subdomain

SECRET_KEY = 'init.vault'
LEGACY_SECRET_KEY = 'init.json'
MANAGED_BY = {'app.kubernetes.io/managed-by': 'vaultkube.platform'}

# The options of every module that reads or writes key custody.
CUSTODY_ARGUMENT_SPEC = dict(
    keys=dict(type='list', elements='str', no_log=True, default=[]),
    keys_file=dict(type='path', no_log=False),
    keys_file_vault_password=dict(type='str', no_log=True),
    keys_secret_namespace=dict(type='str', no_log=False),
    keys_secret_name=dict(type='str', no_log=False),
)
CUSTODY_ARGUMENT_SPEC.update(CLIENT_ARGUMENT_SPEC)


class CustodyError(KeyFileError):
    """An expected custody failure, worded as one line."""


# A share Vault hands out is 32 or 33 bytes (hex 64-66, base64 44-46 characters); a share
# encrypted for a PGP holder is a base64 PGP message of several hundred characters.
PGP_SHARE_MIN_LENGTH = 120
BANK_VAULTS_ROOT = 'vault-root'
BANK_VAULTS_UNSEAL_PREFIX = 'vault-unseal-'


def client_from_params(params):
    """The API client for the keys Secret; one line when the kubernetes library is missing."""
    if not HAS_KUBERNETES:
        raise CustodyError('the kubernetes Python library is required on the host that runs the module for '
                           'keys_secret_name (or adopt_bank_vaults): install it, or keep the keys in keys_file only')
    try:
        return _client_from_params(params)
    except KubernetesError as exc:
        raise CustodyError(str(exc))


def custody_argument_spec(**options):
    spec = dict(CUSTODY_ARGUMENT_SPEC)
    spec.update(options)
    return spec


def uses_secret(params):
    return bool(params.get('keys_secret_name'))


def secret_label(params):
    return 'Secret %s/%s' % (params.get('keys_secret_namespace') or 'default', params['keys_secret_name'])


def _secret_path(params):
    namespace = params.get('keys_secret_namespace') or 'default'
    return '/api/v1/namespaces/%s/secrets/%s' % (namespace, params['keys_secret_name'])


def read_secret(params, client=None):
    """(content or None, format) of the keys Secret: format is 'encrypted', 'plain' or None."""
    client = client or client_from_params(params)
    try:
        found = client.request('GET', _secret_path(params), missing_ok=True)
    except KubernetesError as exc:
        raise CustodyError('reading the keys %s failed: %s' % (secret_label(params), exc))
    data = (found or {}).get('data') or {}
    for key, form in ((SECRET_KEY, 'encrypted'), (LEGACY_SECRET_KEY, 'plain')):
        if key in data:
            text = base64.b64decode(data[key]).decode('utf-8', 'replace')
            password = params.get('keys_file_vault_password') if form == 'encrypted' else None
            return parse(text, password, source='the keys %s' % secret_label(params)), form
    return None, None


def read_file(params):
    """The content of the keys file, or None when it does not exist."""
    path = params.get('keys_file')
    if not path:
        return None
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(path):
        return None
    try:
        with open(path, 'rb') as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        raise CustodyError('keys_file %s cannot be read: %s' % (path, exc.strerror or exc))
    return parse(text, params.get('keys_file_vault_password'), source='keys_file %s' % path)


def read_custody(params, client=None):
    """The custody content: the Secret's when Secret custody holds one, else the file's; None when neither."""
    if uses_secret(params):
        content, _form = read_secret(params, client)
        if content is not None:
            return content
    return read_file(params)


def shares_of(content, kind='unseal'):
    """The key shares of one kind ('unseal' or 'recovery') from custody content."""
    if kind == 'recovery':
        return list(content.get('recovery_keys') or content.get('recovery_keys_base64') or [])
    return list(content.get('keys') or content.get('keys_base64') or [])


def load_keys(params, no_log_values, kind='unseal', client=None):
    """The shares to submit: the explicit ``keys`` option, else custody's; registered as no_log values."""
    keys = [k.strip() for k in (params.get('keys') or []) if k and k.strip()]
    if not keys:
        content = read_custody(params, client)
        if content is None:
            path = params.get('keys_file')
            if path and not uses_secret(params):
                raise CustodyError('keys_file %s cannot be read: it does not exist; set keys_file to the file '
                                   'vault_init wrote' % os.path.abspath(os.path.expanduser(path)))
            raise CustodyError('no %s keys: set keys, or keys_file%s holding the keys vault_init wrote'
                               % (kind, ' or keys_secret_name' if not uses_secret(params) else ''))
        keys = shares_of(content, kind)
        if not keys:
            raise CustodyError('the keys in custody hold no %s keys' % kind)
        if is_pgp_encrypted(keys):
            raise CustodyError('the %s keys in custody are PGP-encrypted for their holders: pass the holders\' '
                               'decrypted shares in keys' % kind)
    unique = []
    for key in keys:
        if key not in unique:
            unique.append(key)
    no_log_values.update(unique)
    return unique


def write_file(path, content, password):
    """Replace the keys file atomically (0600, fsync, rename): a kill leaves the old or the new file."""
    path = os.path.abspath(os.path.expanduser(path))
    directory = os.path.dirname(path)
    text = serialise(content, password).encode('utf-8')
    fd, temp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(text)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.rename(temp, path)
    except (IOError, OSError) as exc:
        if fd is not None:
            os.close(fd)
        if os.path.exists(temp):
            os.unlink(temp)
        raise CustodyError('writing keys_file %s failed: %s' % (path, exc.strerror or exc))
    return path


def write_secret(params, content, client=None):
    """Create or replace the keys Secret with the encrypted content (the legacy plain key removed)."""
    client = client or client_from_params(params)
    namespace = params.get('keys_secret_namespace') or 'default'
    encrypted = serialise(content, params['keys_file_vault_password'])
    body = {
        'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque',
        'metadata': {'name': params['keys_secret_name'], 'namespace': namespace, 'labels': dict(MANAGED_BY)},
        'data': {SECRET_KEY: base64.b64encode(encrypted.encode('utf-8')).decode('ascii')},
    }
    try:
        found = client.request('GET', _secret_path(params), missing_ok=True)
        if found is None:
            client.request('POST', '/api/v1/namespaces/%s/secrets' % namespace, body=body)
        else:
            # A replace with the read resourceVersion: a concurrent writer makes this fail, never lose keys.
            body['metadata']['resourceVersion'] = found['metadata']['resourceVersion']
            labels = dict((found['metadata'].get('labels') or {}), **MANAGED_BY)
            body['metadata']['labels'] = labels
            client.request('PUT', _secret_path(params), body=body)
    except KubernetesError as exc:
        raise CustodyError('writing the keys %s failed: %s' % (secret_label(params), exc))


def generation(content):
    """The number of custody writes behind content (0 for what vault_init wrote)."""
    try:
        return int((content or {}).get('generation') or 0)
    except (TypeError, ValueError):
        return 0


def write_custody(params, content, client=None):
    """Write content to every place custody keeps it: the file first, then the Secret.

    The content's ``generation`` goes up by one, so that a run killed between the two writes
    leaves the newer copy recognisable (vault_key_custody finishes the other). Returns what was
    written."""
    if not params.get('keys_file_vault_password'):
        raise CustodyError('keys_file_vault_password must be set: custody is always encrypted')
    content = dict(content, generation=generation(content) + 1)
    if params.get('keys_file'):
        write_file(params['keys_file'], content, params['keys_file_vault_password'])
    if uses_secret(params):
        write_secret(params, content, client)
    return content


def is_pgp_encrypted(shares):
    """Whether shares are PGP messages for their holders (vault_init with pgp_keys), not usable shares."""
    return any(len(share or '') >= PGP_SHARE_MIN_LENGTH for share in shares)


def check_params(params):
    """One line naming the option to fix, before anything is read or written."""
    if uses_secret(params):
        try:
            dns_label(params.get('keys_secret_namespace') or 'default', 'keys_secret_namespace')
            dns_subdomain(params['keys_secret_name'], 'keys_secret_name')
        except InvalidName as exc:
            raise CustodyError(str(exc))
    if not params.get('keys_file') and not uses_secret(params):
        raise CustodyError('set keys_file, keys_secret_name or both: custody needs a place to keep the keys')


def kind_of(content):
    """'recovery' for the content of a Vault with an auto-unseal seal, else 'unseal'."""
    if not shares_of(content, 'unseal') and shares_of(content, 'recovery'):
        return 'recovery'
    return 'unseal'


def summary(content):
    """What may be told about custody content: never a share or a token."""
    if content is None:
        return dict(kind=None, shares=0, threshold=0, holds_root_token=False, pgp=False, pending=False)
    kind = kind_of(content)
    shares = shares_of(content, kind)
    if kind == 'recovery':
        count, threshold = content.get('recovery_shares'), content.get('recovery_threshold')
    else:
        count, threshold = content.get('secret_shares'), content.get('secret_threshold')
    return dict(kind=kind, shares=int(count or len(shares)), threshold=int(threshold or 0),
                holds_root_token=bool(content.get('root_token')), pgp=is_pgp_encrypted(shares),
                pending=bool(content.get('pending')))


# Digests of shares a rekey retired (vault_rekey): a copy of custody that missed the rekey (a keys
# file kept offline, say) still shows as the same Vault's, behind the newer copy.
RETIRED_FIELD = 'retired_share_digests'
RETIRED_KEEP = 64


def share_digest(share):
    return hashlib.sha256(share.encode('utf-8')).hexdigest()


def _all_shares(content):
    found = set()
    for holder in (content, content.get('pending') or {}, content.get('previous') or {}):
        for field in ('keys', 'keys_base64', 'recovery_keys', 'recovery_keys_base64'):
            found.update(holder.get(field) or [])
    return found


def same_vault(one, other):
    """True when two custody copies share a key share, or one holds shares the other's rekey retired."""
    first, second = _all_shares(one), _all_shares(other)
    if first & second:
        return True
    return bool(set(share_digest(s) for s in first) & set(other.get(RETIRED_FIELD) or [])
                or set(share_digest(s) for s in second) & set(one.get(RETIRED_FIELD) or []))


def read_bank_vaults(params, client):
    """Custody content from Bank-Vaults' plain Secret (vault-unseal-N, vault-root)."""
    namespace = params.get('bank_vaults_secret_namespace') or 'default'
    name = params.get('bank_vaults_secret_name')
    label = 'Secret %s/%s' % (namespace, name)
    try:
        found = client.request('GET', '/api/v1/namespaces/%s/secrets/%s' % (namespace, name), missing_ok=True)
    except KubernetesError as exc:
        raise CustodyError('reading Bank-Vaults\' %s failed: %s' % (label, exc))
    data = (found or {}).get('data') or {}
    numbered = []
    for key, value in data.items():
        index = key[len(BANK_VAULTS_UNSEAL_PREFIX):]
        if key.startswith(BANK_VAULTS_UNSEAL_PREFIX) and index.isdigit():
            numbered.append((int(index), base64.b64decode(value).decode('utf-8').strip()))
    if BANK_VAULTS_ROOT not in data or not numbered:
        raise CustodyError('adopt_bank_vaults is on, but %s does not hold Bank-Vaults\' keys (vault-unseal-0.., '
                           'vault-root): set bank_vaults_secret_namespace and bank_vaults_secret_name to the '
                           'Secret the operator wrote' % label)
    keys = [value for _index, value in sorted(numbered)]
    return dict(keys=keys, root_token=base64.b64decode(data[BANK_VAULTS_ROOT]).decode('utf-8').strip(),
                adopted_from='bank-vaults')


def ensure_namespace(params, client, check_mode):
    """Create the namespace of the keys Secret when it is missing; whether it was (or would be) created."""
    namespace = params.get('keys_secret_namespace') or 'default'
    try:
        if client.request('GET', '/api/v1/namespaces/%s' % namespace, missing_ok=True) is not None:
            return False
        if not check_mode:
            client.request('POST', '/api/v1/namespaces', body={
                'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': namespace}})
    except KubernetesError as exc:
        if getattr(exc, 'status', None) == 409:
            return False
        raise CustodyError('creating the namespace %s of the keys Secret failed: %s' % (namespace, exc))
    return True


def _locations(secret_content, file_content):
    return dict(secret=secret_content is not None, file=file_content is not None)


def prepare(params, check_mode, client=None):
    """Before sys/init: every place the keys go is ready, and none holds another Vault's keys."""
    check_params(params)
    client = client or (client_from_params(params) if uses_secret(params) else None)
    secret_content = read_secret(params, client)[0] if uses_secret(params) else None
    path = os.path.abspath(os.path.expanduser(params['keys_file'])) if params.get('keys_file') else None
    if secret_content is not None:
        raise CustodyError('Vault is not initialised, but the %s already holds unseal keys (of another or an earlier '
                           'Vault); nothing was initialised. Delete that Secret if those keys are no longer needed, '
                           'or set keys_secret_name to another name' % secret_label(params))
    if path and os.path.exists(path):
        raise CustodyError('Vault is not initialised, but keys_file %s already exists (it may hold the keys of '
                           'another Vault); nothing was initialised. Move it away if those keys are no longer '
                           'needed, or set keys_file to another path' % path)
    changes = []
    if path and not os.path.isdir(os.path.dirname(path)):
        if not check_mode:
            try:
                os.makedirs(os.path.dirname(path), 0o700)
            except OSError as exc:
                raise CustodyError('creating the directory of keys_file %s failed: %s' % (path, exc.strerror or exc))
        changes.append('directory')
    if uses_secret(params) and ensure_namespace(params, client, check_mode):
        changes.append('namespace')
    after = dict(directory=bool(path), namespace=uses_secret(params))
    before = dict(directory=bool(path) and 'directory' not in changes,
                  namespace=uses_secret(params) and 'namespace' not in changes)
    return dict(changed=bool(changes), created=changes, locations=_locations(None, None),
                diff=dict(before=before, after=after))


def present(params, check_mode, client=None):
    """Once Vault is initialised: custody holds its keys, encrypted, in every place this inventory keeps them."""
    check_params(params)
    client = client or (client_from_params(params) if uses_secret(params) or params.get('adopt_bank_vaults') else None)
    secret_content, secret_format = read_secret(params, client) if uses_secret(params) else (None, None)
    file_content = read_file(params)
    before = _locations(secret_content, file_content)
    adopted = False
    if secret_content is None and file_content is None:
        if not params.get('adopt_bank_vaults'):
            places = ['keys file %s' % params['keys_file']] if params.get('keys_file') else []
            if uses_secret(params):
                places.append(secret_label(params))
            raise CustodyError('Vault%s is initialised, but its unseal keys and root token are in none of the places '
                               'this inventory keeps them (%s): restore them there from where they were kept; Vault '
                               'is never initialised a second time'
                               % (' at %s' % params['url'] if params.get('url') else '', ', '.join(places)))
        desired = read_bank_vaults(params, client)
        adopted = True
    elif secret_content is not None and file_content is not None and secret_content != file_content:
        if not same_vault(secret_content, file_content):
            raise CustodyError('keys_file %s and the %s hold the keys of different Vaults: keep the one that '
                               'unseals this Vault and move the other away'
                               % (params['keys_file'], secret_label(params)))
        # The newer copy wins: the file, written first, when a run stopped before the Secret's
        # write; else the Secret (another controller's keys file may be behind it).
        newer = file_content if generation(file_content) > generation(secret_content) else secret_content
        desired = dict(newer)
    else:
        desired = dict(secret_content if secret_content is not None else file_content)
    if params.get('forget_root_token') and 'root_token' in desired:
        desired.pop('root_token')
        desired['generation'] = generation(desired) + 1
    write_file_needed = bool(params.get('keys_file')) and file_content != desired
    write_secret_needed = uses_secret(params) and (secret_content != desired or secret_format != 'encrypted')
    changed = write_file_needed or write_secret_needed
    if changed and not params.get('keys_file_vault_password'):
        raise CustodyError('keys_file_vault_password must be set: custody is always encrypted')
    if not check_mode:
        if write_file_needed:
            directory = os.path.dirname(os.path.abspath(os.path.expanduser(params['keys_file'])))
            if not os.path.isdir(directory):
                try:
                    os.makedirs(directory, 0o700)
                except OSError as exc:
                    raise CustodyError('creating the directory %s of keys_file failed: %s'
                                       % (directory, exc.strerror or exc))
            write_file(params['keys_file'], desired, params['keys_file_vault_password'])
        if write_secret_needed:
            ensure_namespace(params, client, check_mode)
            write_secret(params, desired, client)
    after = _locations(desired if uses_secret(params) else None, desired if params.get('keys_file') else None)
    info = summary(desired)
    old = summary(secret_content if secret_content is not None else file_content)
    diff = dict(before=dict(before, secret_format=secret_format, holds_root_token=old['holds_root_token']),
                after=dict(after, secret_format='encrypted' if uses_secret(params) else None,
                           holds_root_token=info['holds_root_token']))
    return dict(changed=changed, locations=after, secret_format=diff['after']['secret_format'],
                adopted=adopted, written=[place for place, needed in (('file', write_file_needed),
                                                                      ('secret', write_secret_needed)) if needed],
                diff=diff, content=desired, **info)
