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
import os
import tempfile

from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes import (
    CLIENT_ARGUMENT_SPEC, KubernetesError, client_from_params)
from ansible_collections.vaultkube.platform.plugins.module_utils._keyfile import (
    KeyFileError, parse, serialise)

SECRET_KEY = 'init.vault'
LEGACY_SECRET_KEY = 'init.json'
MANAGED_BY = {'app.kubernetes.io/managed-by': 'vaultkube.platform'}

# The options of every module that reads or writes key custody.
CUSTODY_ARGUMENT_SPEC = dict(
    keys=dict(type='list', elements='str', no_log=True, default=[]),
    keys_file=dict(type='path', no_log=False),
    keys_file_vault_password=dict(type='str', no_log=True),
    keys_secret_namespace=dict(type='str'),
    keys_secret_name=dict(type='str', no_log=False),
)
CUSTODY_ARGUMENT_SPEC.update(CLIENT_ARGUMENT_SPEC)


class CustodyError(KeyFileError):
    """An expected custody failure, worded as one line."""


def custody_argument_spec(**options):
    spec = dict(CUSTODY_ARGUMENT_SPEC)
    spec.update(options)
    return spec


def uses_secret(params):
    return bool(params.get('keys_secret_name'))


def secret_label(params):
    return 'Secret %s/%s' % (params.get('keys_secret_namespace') or 'default', params['keys_secret_name'])


def _secret_path(params):
    return '/api/v1/namespaces/%s/secrets/%s' % (params.get('keys_secret_namespace') or 'default',
                                                   params['keys_secret_name'])


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
    with open(path, 'rb') as handle:
        return parse(handle.read(), params.get('keys_file_vault_password'), source='keys_file %s' % path)


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
            raise CustodyError('no %s keys: set keys, or keys_file%s holding the keys vault_init wrote'
                               % (kind, ' or keys_secret_name' if not uses_secret(params) else ''))
        keys = shares_of(content, kind)
        if not keys:
            raise CustodyError('the keys in custody hold no %s keys' % kind)
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


def write_custody(params, content, client=None):
    """Write content to every place custody keeps it: the file first, then the Secret."""
    if not params.get('keys_file_vault_password'):
        raise CustodyError('keys_file_vault_password must be set: custody is always encrypted')
    if params.get('keys_file'):
        write_file(params['keys_file'], content, params['keys_file_vault_password'])
    if uses_secret(params):
        write_secret(params, content, client)
