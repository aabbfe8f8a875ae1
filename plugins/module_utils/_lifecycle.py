# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Life cycle of a Vault node: status, initialise, unseal, join a raft cluster.

Internal. These are not objects stored in Vault, so they do not go through
the VaultObject reconcile loop, but they follow the same rules: read the
node's state first, change nothing when it is already as wanted, change
nothing in check mode, and fail with one line.

sys/seal-status, sys/init, sys/unseal and sys/storage/raft/join need no token;
they work on a sealed or uninitialised node. Only the raft peer list needs
one, and only once the node is unsealed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import os
import time

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.vaultkube.platform.plugins.module_utils._client import (
    VaultRequestError,
    connect,
    connection_params,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import (
    FieldError,
    read_text_file,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._keyfile import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    KeyFileError,
    NewFile,
    parse,
    serialise,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._custody import load_keys

SHAMIR = 'shamir'
POLL_INTERVAL = 0.5


def run_lifecycle_module(module, action):
    """Run ``action(module) -> result dict`` and turn expected errors into one line."""
    try:
        result = action(module)
    except (VaultRequestError, FieldError, KeyFileError) as exc:
        module.fail_json(msg=str(exc))
    diff = result.pop('diff', None)
    if module._diff and diff is not None:
        result['diff'] = diff
    module.exit_json(**result)


def require_cryptography(module):
    if CRYPTOGRAPHY_IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=CRYPTOGRAPHY_IMPORT_ERROR)


def has_credentials(params):
    """Whether the user configured a way to get a token (option, env or login)."""
    conn = connection_params(params)
    return conn['auth_method'] != 'token' or bool(conn['token'])


# -- reading the node ------------------------------------------------------------

def seal_status(api):
    """sys/seal-status: answers 200 whether the node is sealed or not even initialised."""
    return api.read('sys/seal-status') or {}


def leader_status(api):
    """sys/leader; only asked of an unsealed node (a sealed one answers 503)."""
    return api.read('sys/leader') or {}


def raft_peers(api):
    body = api.read('sys/storage/raft/configuration') or {}
    servers = ((body.get('data') or {}).get('config') or {}).get('servers') or []
    return [dict(node_id=s.get('node_id'), address=s.get('address'), leader=bool(s.get('leader')),
                 voter=bool(s.get('voter'))) for s in servers]


def progress_text(status):
    return '%d/%d' % (status.get('progress') or 0, status.get('t') or 0)


def node_state(api):
    """A node's seal-status and, once unsealed, its HA state (no token needed).

    Sealed or uninitialised is information, not an error.
    """
    seal = seal_status(api)
    sealed = bool(seal.get('sealed'))
    result = dict(
        url=api.url,
        initialized=bool(seal.get('initialized')),
        sealed=sealed,
        seal_type=seal.get('type'),
        storage_type=seal.get('storage_type'),
        version=seal.get('version'),
        cluster_name=seal.get('cluster_name'),
        cluster_id=seal.get('cluster_id'),
        progress=seal.get('progress') or 0,
        threshold=seal.get('t') or 0,
        shares=seal.get('n') or 0,
        standby=None,
        active=False,
        ha_enabled=None,
        leader_address=None,
        leader_cluster_address=None,
    )
    if sealed:
        return result
    leader = leader_status(api)
    ha_enabled = bool(leader.get('ha_enabled'))
    result.update(
        ha_enabled=ha_enabled,
        standby=ha_enabled and not leader.get('is_self'),
        active=not ha_enabled or bool(leader.get('is_self')),
        leader_address=leader.get('leader_address') or None,
        leader_cluster_address=leader.get('leader_cluster_address') or None,
    )
    return result


def node_status(module):
    """Everything vault_status_info reports."""
    api = connect(module.params, login=False)
    result = dict(changed=False, **node_state(api))
    if not result['sealed'] and result['storage_type'] == 'raft' and has_credentials(module.params):
        try:
            result['raft_peers'] = raft_peers(connect(module.params))
        except VaultRequestError as exc:
            # The node's status is still worth returning; the peer list is extra.
            module.warn('raft_peers omitted: %s' % exc)
    return result


# -- vault_init ------------------------------------------------------------------

INIT_FIELDS = ('secret_shares', 'secret_threshold', 'pgp_keys', 'root_token_pgp_key', 'stored_shares',
               'recovery_shares', 'recovery_threshold', 'recovery_pgp_keys')
RECOVERY_FIELDS = ('recovery_shares', 'recovery_threshold', 'recovery_pgp_keys')


def validate_init(params):
    shares, threshold = params['secret_shares'], params['secret_threshold']
    if shares < 1:
        raise FieldError('secret_shares must be 1 or more, got %d' % shares)
    if not 1 <= threshold <= shares:
        raise FieldError('secret_threshold must be between 1 and secret_shares (%d), got %d' % (shares, threshold))
    if shares > 1 and threshold == 1:
        raise FieldError('secret_threshold must be at least 2 when secret_shares > 1 (Vault refuses 1 of %d)'
                         % shares)
    if params.get('pgp_keys') and len(params['pgp_keys']) != shares:
        raise FieldError('pgp_keys must hold one public key per share: %d keys for secret_shares=%d'
                         % (len(params['pgp_keys']), shares))
    recovery_shares, recovery_threshold = params.get('recovery_shares'), params.get('recovery_threshold')
    if recovery_shares is not None and recovery_threshold is not None and recovery_threshold > recovery_shares:
        raise FieldError('recovery_threshold (%d) must not exceed recovery_shares (%d)'
                         % (recovery_threshold, recovery_shares))
    if params.get('recovery_pgp_keys') and recovery_shares is not None \
            and len(params['recovery_pgp_keys']) != recovery_shares:
        raise FieldError('recovery_pgp_keys must hold one public key per recovery share: %d keys for '
                         'recovery_shares=%d' % (len(params['recovery_pgp_keys']), recovery_shares))
    for field in ('pgp_keys', 'recovery_pgp_keys'):
        for index, key in enumerate(params.get(field) or []):
            check_pgp_public_key(key, '%s[%d]' % (field, index))
    if params.get('root_token_pgp_key'):
        check_pgp_public_key(params['root_token_pgp_key'], 'root_token_pgp_key')
    if not params.get('output_file') and not params.get('return_keys'):
        raise FieldError('output_file is required: the unseal keys exist only in the sys/init answer and '
                         'must be stored somewhere (or set return_keys=true and store them yourself)')
    if params.get('output_file') and params['output_encryption'] == 'ansible-vault' \
            and not params.get('output_vault_password'):
        raise FieldError('output_vault_password is required to encrypt output_file '
                         '(or set output_encryption=none to write the keys in plain text)')


PGP_PUBLIC_KEY, PGP_USER_ID = 6, 13


def check_pgp_public_key(value, field):
    """Refuse what Vault would refuse, before sys/init.

    Vault parses root_token_pgp_key only AFTER it has initialised the barrier: a bad
    key there leaves Vault initialised and its keys never returned. So every key is
    checked here: base64 of a binary OpenPGP transferable public key (a public-key
    packet first, and a user ID, which Vault's parser requires). Signatures are not
    verified. A keybase:<user> name is refused: Vault's HTTP API takes no keybase names (the
    vault CLI fetches them from keybase.io), a run cannot fetch them offline, and a key kept
    by a third party is not the operator's custody."""
    text = (value or '').strip()
    if text.lower().startswith('keybase:'):
        raise FieldError('%s %r is a keybase name: give the base64-encoded binary public PGP key itself '
                         '(for example gpg --export <id> | base64 -w0); keybase keys are not fetched' % (field, text))
    hint = ('%s must be a base64-encoded binary public PGP key (for example gpg --export <id> | base64 -w0)'
            % field)
    if text.startswith('-----BEGIN'):
        raise FieldError('%s, not ASCII-armored text' % hint)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FieldError('%s: it is not valid base64' % hint)
    tags = _pgp_packet_tags(data)
    if not tags or tags[0] != PGP_PUBLIC_KEY:
        raise FieldError('%s: it does not start with an OpenPGP public-key packet' % hint)
    if PGP_USER_ID not in tags:
        raise FieldError('%s: the key has no user ID' % hint)


def _pgp_packet_tags(data):
    """Tags of the OpenPGP packets in data (RFC 4880 section 4.2); [] when malformed."""
    tags, pos, size = [], 0, len(data)
    while pos < size:
        head = data[pos]
        if not head & 0x80:
            return []
        if head & 0x40:
            tag = head & 0x3F
            if pos + 1 >= size:
                return []
            first = data[pos + 1]
            if first < 192:
                length, pos = first, pos + 2
            elif first < 224:
                if pos + 2 >= size:
                    return []
                length, pos = ((first - 192) << 8) + data[pos + 2] + 192, pos + 3
            elif first == 255:
                if pos + 5 >= size:
                    return []
                length, pos = int.from_bytes(data[pos + 2:pos + 6], 'big'), pos + 6
            else:
                return []  # partial body lengths never occur in a key
        else:
            tag, kind = (head >> 2) & 0x0F, head & 0x03
            if kind == 3:
                return []
            width = (1, 2, 4)[kind]
            if pos + width >= size:
                return []
            length, pos = int.from_bytes(data[pos + 1:pos + 1 + width], 'big'), pos + 1 + width
        if pos + length > size:
            return []
        tags.append(tag)
        pos += length
    return tags


SHAMIR_FIELDS = ('secret_shares', 'secret_threshold', 'pgp_keys')


def init_request(params, auto_seal=False):
    # An auto-unseal seal keeps the root key itself: Vault and OpenBao refuse Shamir
    # share settings for it ("not applicable to seal type transit").
    return dict((field, params[field]) for field in INIT_FIELDS
                if params.get(field) not in (None, []) and not (auto_seal and field in SHAMIR_FIELDS))


def key_file_content(answer, params, auto_seal=False):
    content = dict(keys=answer.get('keys') or [], keys_base64=answer.get('keys_base64') or [],
                   root_token=answer.get('root_token'))
    if auto_seal:
        content.update(recovery_shares=params.get('recovery_shares'), recovery_threshold=params.get('recovery_threshold'))
    else:
        content.update(secret_shares=params['secret_shares'], secret_threshold=params['secret_threshold'])
    for field in ('recovery_keys', 'recovery_keys_base64'):
        if answer.get(field):
            content[field] = answer[field]
    return content


def initialise(module):
    params = module.params
    validate_init(params)
    api = connect(params, login=False)
    before = seal_status(api)
    summary = dict(secret_shares=params['secret_shares'], secret_threshold=params['secret_threshold'],
                   output_file=params.get('output_file'), url=api.url)
    if before.get('initialized'):
        # Shares/threshold of an existing Vault are what it reports, not what was asked.
        summary.update(secret_shares=before.get('n'), secret_threshold=before.get('t'))
        if params.get('output_file'):
            summary['output_file'] = _stored_key_file(api, params)
        return dict(summary, changed=False, initialized=True, diff=_diff(initialized=True))
    if before.get('type') == SHAMIR and any(params.get(f) for f in RECOVERY_FIELDS):
        raise FieldError('recovery_shares, recovery_threshold and recovery_pgp_keys apply only to '
                         'auto-unseal seals; this Vault uses the shamir seal: remove them')

    auto_seal = before.get('type') not in (None, SHAMIR)
    if auto_seal and params.get('pgp_keys'):
        raise FieldError('pgp_keys apply only to the shamir seal; this Vault uses the %s seal: give the '
                         'holders\' keys in recovery_pgp_keys instead' % before.get('type'))
    key_file = NewFile(params['output_file']) if params.get('output_file') else None
    if key_file:
        key_file.check_absent()
    if module.check_mode:
        return dict(summary, changed=True, initialized=False,
                    diff=_diff(initialized=(False, True)))
    password = params.get('output_vault_password') if params['output_encryption'] == 'ansible-vault' else None
    if key_file:
        key_file.reserve()
    try:
        answer = _call_init(params, init_request(params, auto_seal))
    except BaseException:
        # Vault was not initialised: nothing worth keeping in the reserved file.
        if key_file:
            key_file.discard()
        raise
    secrets = [s for s in (answer.get('keys') or []) + (answer.get('keys_base64') or [])
               + (answer.get('recovery_keys') or []) + (answer.get('recovery_keys_base64') or [])
               + [answer.get('root_token')] if s]
    if not params.get('return_keys'):
        # Belt and braces: even an error message below cannot carry a key out.
        module.no_log_values.update(secrets)
    if key_file:
        try:
            key_file.commit(serialise(key_file_content(answer, params, auto_seal), password))
        except KeyFileError as exc:
            raise KeyFileError('Vault at %s WAS initialised but its keys could not be stored: %s. The new '
                               'Vault holds no data yet: wipe its storage and run again' % (api.url, exc))
        summary['output_file'] = key_file.path
    result = dict(summary, changed=True, initialized=True, diff=_diff(initialized=(False, True)))
    if params.get('return_keys'):
        result.update(keys=answer.get('keys') or [], keys_base64=answer.get('keys_base64') or [],
                      root_token=answer.get('root_token'))
        for field in ('recovery_keys', 'recovery_keys_base64'):
            if answer.get(field):
                result[field] = answer[field]
    return result


def _stored_key_file(api, params):
    """The keys of an initialised Vault must be in output_file: "ok" with a missing or
    unreadable file would only come to light at the next unseal, when it is too late."""
    path = os.path.abspath(os.path.expanduser(params['output_file']))
    if not os.path.exists(path):
        raise KeyFileError('Vault at %s is already initialised, but output_file %s does not exist: its keys '
                           'are not there (this module never initialises twice); point output_file at the '
                           'file written when Vault was initialised, or restore it from its backup'
                           % (api.url, path))
    password = params.get('output_vault_password') if params['output_encryption'] == 'ansible-vault' else None
    with open(path, 'rb') as handle:
        content = parse(handle.read(), password, source='output_file %s' % path)
    if not any(content.get(field) for field in ('keys', 'keys_base64', 'recovery_keys', 'recovery_keys_base64')):
        raise KeyFileError('Vault at %s is already initialised, but output_file %s holds no keys' % (api.url, path))
    return path


def _call_init(params, request):
    # No retry for the one request that must happen exactly once: a retried
    # sys/init after a lost answer would meet "already initialized" and the
    # keys of the first attempt would be gone.
    init_api = connect(dict(params, retries=0), login=False)
    return init_api.write('sys/init', request) or {}


def _diff(**fields):
    """before/after for diff mode; a tuple value means (before, after)."""
    before, after = {}, {}
    for name, value in fields.items():
        before[name], after[name] = value if isinstance(value, tuple) else (value, value)
    return dict(before=before, after=after)


# -- vault_unseal ----------------------------------------------------------------

def unseal_keys(params, no_log_values):
    """The unseal keys to submit, in order, without duplicates: O(keys), else custody's (never recovery keys)."""
    for key in params.get('keys') or []:
        if not (key if isinstance(key, str) else str(key)).strip():
            raise FieldError('keys must not contain empty entries')
    if not (params.get('keys') or params.get('keys_file') or params.get('keys_secret_name')):
        raise FieldError('set keys, keys_file or keys_secret_name: the unseal keys come from one of them')
    # Keys read from custody are not no_log options: load_keys registers them so
    # that no output of this module can carry one.
    return load_keys(params, no_log_values, 'unseal')


def unseal(module):
    params = module.params
    api = connect(params, login=False)
    status = seal_status(api)
    if not status.get('initialized'):
        raise VaultRequestError('Vault at %s is not initialised: run vault_init (or vault_raft_join for a '
                                'follower) first' % api.url)
    if not status.get('sealed'):
        # The keys are not even read: the key file may well have been moved
        # to offline storage once the cluster was up.
        return _unseal_result(api, status, changed=False, submitted=0)
    if status.get('type') not in (None, SHAMIR):
        # Recovery keys never unseal: they are not even read.
        raise VaultRequestError('Vault at %s uses the %s seal and unseals itself; it is still sealed: check '
                                'its seal configuration and logs' % (api.url, status.get('type')))
    keys = unseal_keys(params, module.no_log_values)
    if module.check_mode:
        return _unseal_result(api, status, changed=True, submitted=0)
    if params.get('reset') and status.get('progress'):
        status = api.write('sys/unseal', {'reset': True}) or seal_status(api)
    status, submitted = _submit_keys(api, status, keys, params['wait_timeout'])
    return _unseal_result(api, status, changed=True, submitted=submitted)


def _submit_keys(api, status, keys, wait_timeout):
    submitted = 0
    for key in keys:
        before = status
        try:
            status = api.write('sys/unseal', {'key': key}) or seal_status(api)
        except VaultRequestError as exc:
            raise VaultRequestError('%s; unseal progress was %s when key %d of %d was rejected'
                                    % (exc, progress_text(before), submitted + 1, len(keys)), status=exc.status)
        submitted += 1
        if not status.get('sealed'):
            return status, submitted
        if not status.get('progress') and _completes_threshold(before):
            # The threshold was reached but the node is still sealed: a raft
            # follower finishes unsealing in the background once it has
            # answered the leader's challenge. Another key would start over.
            return _wait_unsealed(api, submitted, wait_timeout), submitted
    raise VaultRequestError('still sealed after submitting %d keys: progress %s (Vault at %s needs %d '
                            'distinct unseal keys)' % (submitted, progress_text(status), api.url,
                                                       status.get('t') or 0))


def _completes_threshold(before):
    """Whether one more key reaches the threshold (a progress of 0 otherwise means a reset by someone else)."""
    threshold = before.get('t') or 0
    return (before.get('progress') or 0) + 1 >= threshold


def _wait_unsealed(api, submitted, wait_timeout):
    deadline = time.time() + wait_timeout
    while True:
        status = seal_status(api)
        if not status.get('sealed'):
            return status
        if time.time() >= deadline:
            raise VaultRequestError('still sealed %ds after submitting %d keys (the threshold was reached): '
                                    'progress %s; a raft follower must reach its leader to finish unsealing'
                                    % (wait_timeout, submitted, progress_text(status)))
        time.sleep(POLL_INTERVAL)


def _unseal_result(api, status, changed, submitted):
    return dict(changed=changed, url=api.url, sealed=bool(status.get('sealed')), keys_submitted=submitted,
                progress=status.get('progress') or 0, threshold=status.get('t') or 0,
                shares=status.get('n') or 0, version=status.get('version'),
                cluster_name=status.get('cluster_name'),
                diff=_diff(sealed=(True, False) if changed else False))


# -- vault_raft_join -------------------------------------------------------------

def join_request(params):
    request = dict(leader_api_addr=params['leader_api_addr'], retry=bool(params.get('retry')))
    ca_cert = params.get('leader_ca_cert')
    if params.get('leader_ca_cert_file'):
        ca_cert = read_text_file(params['leader_ca_cert_file'], 'leader_ca_cert_file')
    if ca_cert:
        if 'BEGIN CERTIFICATE' not in ca_cert:
            raise FieldError('leader_ca_cert must be PEM text (-----BEGIN CERTIFICATE-----); give a path '
                             'with leader_ca_cert_file instead')
        request['leader_ca_cert'] = ca_cert
    for field in ('leader_client_cert', 'leader_client_key', 'leader_tls_servername'):
        if params.get(field):
            request[field] = params[field]
    return request


def raft_join(module):
    params = module.params
    if not params['leader_api_addr'].startswith(('http://', 'https://')):
        raise FieldError('leader_api_addr must start with http:// or https://, got %r' % params['leader_api_addr'])
    request = join_request(params)
    api = connect(params, login=False)
    status = seal_status(api)
    result = dict(url=api.url, leader_api_addr=params['leader_api_addr'])
    if status.get('initialized'):
        # Initialised covers both a member and a node that joined but is not yet unsealed.
        return dict(result, changed=False, joined=False, initialized=True, diff=_diff(initialized=True))
    if status.get('storage_type') not in (None, 'raft'):
        raise FieldError('Vault at %s uses %s storage; only raft storage can join a raft cluster'
                         % (api.url, status['storage_type']))
    if params.get('lost_peer_names'):
        # The node lost its data but the cluster may still list it: that peer is removed first
        # (never the leader, never one autopilot reports healthy), else the join is refused.
        if not params.get('leader_url'):
            raise FieldError('lost_peer_names needs leader_url: the address of a cluster node to read and '
                             'change the raft configuration through')
        from ansible_collections.vaultkube.platform.plugins.module_utils._nodes import remove_lost_peers
        removed, peers = remove_lost_peers(connect(dict(params, url=params['leader_url'])),
                                           params['lost_peer_names'], module.check_mode)
        result.update(removed_peers=[dict(node_id=p.get('node_id'), address=p.get('address')) for p in removed],
                      peers=peers)
    if module.check_mode:
        return dict(result, changed=True, joined=False, initialized=False,
                    diff=_diff(initialized=(False, True)))
    answer = api.write('sys/storage/raft/join', request) or {}
    joined = bool(answer.get('joined'))
    if not joined and not request['retry']:
        raise VaultRequestError('Vault at %s did not join the raft cluster of %s' % (api.url, request['leader_api_addr']))
    after = seal_status(api)
    return dict(result, changed=True, joined=joined, initialized=bool(after.get('initialized')),
                diff=_diff(initialized=(False, bool(after.get('initialized')))))
