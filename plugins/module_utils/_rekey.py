# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Rekey (new unseal or recovery key shares) with custody that always holds a set that unseals.

Internal (module vault_rekey). The state machine, each step written so that a run killed
right after it leaves custody holding the set the server uses:

1. ``initialised``  a rekey attempt is started, always with ``require_verification``: the
   server keeps using the old set until the new one has been verified.
2. ``update_share`` / ``updated``  the old shares are submitted; the last answer holds the
   new shares. The server still uses the old set (custody's current one).
3. ``pending_written``  custody gets ``pending`` (the new shares, the nonces) beside the
   current set, before the first verification share is sent.
4. ``verify_share`` / ``verified``  the new shares are submitted to verify; when it
   completes the server uses the new set (custody holds it as ``pending``).
5. ``promoted``  custody's current set is the new one, the old kept as ``previous``.
6. ``check_share`` / ``retired``  once the server accepted the new set (a check attempt,
   below), ``previous`` is dropped.

A rerun looks at custody (``pending``, ``previous``) and the server (its rekey attempt) and
finishes what a killed run left: an attempt awaiting verification with the nonce custody
holds is verified; otherwise a started attempt is cancelled and the set the server accepts is
found by a *check attempt*: a rekey attempt with verification required, fed with one set of
shares, then cancelled. It completes only with the shares the server uses, and changes nothing
(without verification nothing is switched). A sealed Shamir server is unsealed with the set
that opens it instead (pending, then current, then previous).

Endpoint families (decided once per run, ``GET <openbao path>/init``: 404/405 means Vault):

* OpenBao 2.x: ``sys/rotate/root/{init,update,verify}`` (unseal keys),
  ``sys/rotate/recovery/{init,update,verify}`` (recovery keys), with a token; the
  unauthenticated ``sys/rekey/*`` are disabled there by default.
* HashiCorp Vault: ``sys/rekey/{init,update,verify}`` and ``sys/rekey-recovery-key/*``.
  Its cancel (``DELETE .../init``) needs the attempt's nonce in a JSON body.

Encryption key rotation is ``PUT sys/rotate`` on both.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.vaultkube.platform.plugins.module_utils._client import (
    VaultRequestError, connect, connection_params)
from ansible_collections.vaultkube.platform.plugins.module_utils._killpoint import kill_point as _kill_point
from ansible_collections.vaultkube.platform.plugins.module_utils._custody import (
    RETIRED_FIELD, RETIRED_KEEP, CustodyError, check_params, generation, is_pgp_encrypted, load_keys, read_custody,
    read_file, read_secret, share_digest, uses_secret, write_custody)

# A test hook: a run is killed (os._exit, no clean-up) right after the named step.
KILL_ENV = 'VAULTKUBE_REKEY_TEST_KILL_AT'
STEPS = ('initialised', 'update_share', 'updated', 'pending_written', 'verify_share', 'verified',
         'promoted', 'check_share', 'retired')

PATHS = {
    ('openbao', 'unseal'): 'sys/rotate/root',
    ('openbao', 'recovery'): 'sys/rotate/recovery',
    ('vault', 'unseal'): 'sys/rekey',
    ('vault', 'recovery'): 'sys/rekey-recovery-key',
}

FIELDS = {
    'unseal': dict(keys='keys', keys_base64='keys_base64', shares='secret_shares', threshold='secret_threshold'),
    'recovery': dict(keys='recovery_keys', keys_base64='recovery_keys_base64', shares='recovery_shares',
                     threshold='recovery_threshold'),
}

# What a server answers when the combined shares are not its key (Vault 500, OpenBao 400).
REFUSED_MARKERS = ('invalid key', 'failed to read root key', 'message authentication failed',
                   'failed to decrypt', 'unable to retrieve stored keys')


class RekeyError(CustodyError):
    """An expected failure of vault_rekey, worded as one line."""


class AwaitingHolders(Exception):
    """The pending shares are PGP-encrypted and new_keys (the holders' decrypted shares) is not given."""


def kill_point(step):
    """The test hook: end the process right after ``step`` when the environment names it."""
    _kill_point(KILL_ENV, step)


def refused(exc):
    text = ' '.join([str(exc)] + [str(e) for e in exc.errors]).lower()
    return any(marker in text for marker in REFUSED_MARKERS)


def data_of(body):
    """OpenBao wraps sys/rotate answers in ``data``; Vault answers at the top level."""
    body = body or {}
    return body['data'] if isinstance(body.get('data'), dict) else body


def set_of(content, kind):
    """The shares (hex, else base64) and their shape in one custody holder (content, pending, previous)."""
    names = FIELDS[kind]
    content = content or {}
    return dict(keys=list(content.get(names['keys']) or content.get(names['keys_base64']) or []),
                shares=content.get(names['shares']), threshold=content.get(names['threshold']))


def holder(kind, keys, keys_base64, shares, threshold, **extra):
    names = FIELDS[kind]
    found = {names['keys']: list(keys), names['keys_base64']: list(keys_base64 or []),
             names['shares']: shares, names['threshold']: threshold}
    found.update(extra)
    return found


def promote(content, kind):
    """Custody content with pending as the current set and the current one as ``previous``."""
    names = FIELDS[kind]
    pending = content['pending']
    updated = dict((k, v) for k, v in content.items() if k != 'pending')
    updated['previous'] = dict((field, content.get(field)) for field in names.values() if field in content)
    for field in names.values():
        updated[field] = pending.get(field)
    return updated


def retire(content):
    """Custody content without ``previous``; digests of its shares are kept (RETIRED_FIELD), so that a
    copy of custody that missed the rekey is still known as this Vault's, and the newer copy wins."""
    updated = dict((k, v) for k, v in content.items() if k != 'previous')
    previous = content.get('previous') or {}
    digests = [share_digest(share) for field in sorted(previous) if isinstance(previous.get(field), list)
               for share in previous[field] if share]
    kept = [d for d in (content.get(RETIRED_FIELD) or []) if d not in digests] + digests
    if kept:
        updated[RETIRED_FIELD] = kept[-RETIRED_KEEP:]
    return updated


def drop_pending(content):
    return dict((k, v) for k, v in content.items() if k != 'pending')


def newer(file_content, secret_content):
    """The newer of two custody copies (a run killed between the file's write and the Secret's)."""
    if file_content is None or secret_content is None:
        return file_content if secret_content is None else secret_content
    return file_content if generation(file_content) > generation(secret_content) else secret_content


def newest_custody(params):
    """Custody content; with both a keys file and a keys Secret, the copy written last."""
    if uses_secret(params) and params.get('keys_file'):
        return newer(read_file(params), read_secret(params)[0])
    return read_custody(params)


def check_shape(shares, threshold):
    """One line naming the option when the new shape is not one Vault takes."""
    if shares < 1 or shares > 255:
        raise RekeyError('secret_shares must be between 1 and 255, got %d' % shares)
    if threshold < 1 or threshold > shares:
        raise RekeyError('secret_threshold must be between 1 and secret_shares (%d), got %d' % (shares, threshold))
    if shares > 1 and threshold < 2:
        raise RekeyError('secret_threshold must be at least 2 when secret_shares is more than 1')


def plan(content, server, kind):
    """What a run does first, from custody content and the server's rekey attempt (pure).

    Returns one of: 'verify' (our attempt awaits verification with custody's pending shares),
    'check_pending' (find out whether the server uses the pending set), 'drop_marker' (a pending
    entry without shares), 'check_current' (promoted, not retired), 'fresh' (nothing to finish)."""
    pending = (content or {}).get('pending')
    if pending:
        if not set_of(pending, kind)['keys']:
            return 'drop_marker'
        if (server.get('started') and server.get('verification_nonce')
                and server.get('nonce') == pending.get('nonce')):
            return 'verify'
        return 'check_pending'
    if (content or {}).get('previous'):
        return 'check_current'
    return 'fresh'


class Rekey(object):
    """One run of vault_rekey against one server."""

    def __init__(self, params, no_log_values, check_mode=False):
        self.params = params
        self.no_log = no_log_values
        self.check_mode = check_mode
        conn = connection_params(params)
        if not conn['token'] and conn['auth_method'] == 'token':
            raise RekeyError('token is required: an admin token (vault_admin_token) for the rekey endpoints '
                             '(OpenBao has no unauthenticated ones)')
        self.api = connect(params)
        # Shares are submitted without retries (see submit).
        self.check_api = connect(dict(params, retries=0))
        self.steps = []

    # -- the server -------------------------------------------------------------------

    def seal_status(self):
        return self.api.read('sys/seal-status') or {}

    def family(self):
        try:
            found = self.api.read('sys/rotate/root/init')
        except VaultRequestError as exc:
            if exc.status in (404, 405):
                return 'vault'
            raise
        return 'openbao' if found is not None else 'vault'

    def attempt(self):
        return data_of(self.api.read(self.base + '/init'))

    def cancel(self, nonce, api=None):
        (api or self.api).delete(self.base + '/init', {'nonce': nonce or ''})

    def start(self, shares, threshold, api=None, pgp_keys=None):
        request = {'secret_shares': shares, 'secret_threshold': threshold, 'require_verification': True}
        if pgp_keys:
            request['pgp_keys'] = list(pgp_keys)
        body = data_of((api or self.api).write(self.base + '/init', request, method='put'))
        if not body.get('nonce'):
            raise RekeyError('%s/init started no attempt (no nonce in the answer)' % self.base)
        self.no_log.add(body['nonce'])
        return body

    def submit(self, path, share, nonce, api=None):
        # Never retried (Vault answers a refused share 500): a retry would count the share again.
        answer = data_of((api or self.check_api).write(self.base + path, {'key': share, 'nonce': nonce},
                                                       method='put'))
        for field in ('keys', 'keys_base64'):
            self.no_log.update(answer.get(field) or [])
        if answer.get('verification_nonce'):
            self.no_log.add(answer['verification_nonce'])
        return answer

    def accepts(self, shares):
        """Whether the (unsealed) server's key is made of ``shares``: a check attempt, then cancelled."""
        status = self.seal_status()
        n, t = int(status.get('n') or len(shares)), int(status.get('t') or 1)
        started = self.start(n, t, api=self.check_api)
        try:
            for share in shares:
                if self.submit('/update', share, started['nonce'], api=self.check_api).get('complete'):
                    return True
                kill_point('check_share')
            return False
        except VaultRequestError as exc:
            if refused(exc):
                return False
            raise
        finally:
            self.cancel(started['nonce'])

    def unseal_with(self, shares):
        """Whether ``shares`` unseal the sealed server (a refused set resets the unseal)."""
        self.api.write('sys/unseal', {'reset': True}, method='put')
        try:
            for share in shares:
                answer = self.api.write('sys/unseal', {'key': share}, method='put') or {}
                if not answer.get('sealed', True):
                    return True
        except VaultRequestError as exc:
            if refused(exc):
                self.api.write('sys/unseal', {'reset': True}, method='put')
                return False
            raise
        self.api.write('sys/unseal', {'reset': True}, method='put')
        return False

    # -- custody ----------------------------------------------------------------------

    def write(self, content, step):
        content = write_custody(self.params, content)
        self.steps.append(step)
        kill_point(step)
        return content

    def register(self, content):
        for part in (content, content.get('pending') or {}, content.get('previous') or {}):
            for field in ('keys', 'keys_base64', 'recovery_keys', 'recovery_keys_base64'):
                self.no_log.update(part.get(field) or [])
            for field in ('nonce', 'verification_nonce', 'root_token'):
                if part.get(field):
                    self.no_log.add(part[field])

    def usable(self, part):
        """The shares to submit for a custody holder: its own, or new_keys when they are PGP-encrypted."""
        keys = set_of(part, self.kind)['keys']
        if keys and is_pgp_encrypted(keys):
            given = [k.strip() for k in (self.params.get('new_keys') or []) if k and k.strip()]
            if not given:
                raise AwaitingHolders()
            self.no_log.update(given)
            return given
        return keys

    # -- the steps --------------------------------------------------------------------

    def verify(self, pending):
        """Submit the pending shares to verify; the server switches to them when it completes."""
        current = data_of(self.api.read(self.base + '/verify'))
        nonce = current.get('nonce') or pending.get('verification_nonce')
        if int(current.get('progress') or 0):
            # A killed run's shares were counted already: start the verification over.
            nonce = data_of(self.api.delete(self.base + '/verify', {})).get('nonce') or nonce
            self.no_log.add(nonce)
        first = True
        answer = {}
        for share in self.usable(pending):
            answer = self.submit('/verify', share, nonce)
            if answer.get('complete'):
                self.steps.append('verified')
                kill_point('verified')
                return
            if first:
                first = False
                kill_point('verify_share')
        raise RekeyError('verification of the new %s keys did not complete: progress %s/%s'
                         % (self.kind, answer.get('progress'), answer.get('t')))

    def finish(self, content):
        """Promote pending (the server uses it), check the server accepts it, retire the old set."""
        content = self.write(promote(content, self.kind), 'promoted')
        return self.confirm(content)

    def confirm(self, content):
        if not self.accepts(self.usable(content)):
            raise RekeyError('the server refuses the %s keys custody holds as current after a rekey; custody '
                             'keeps the previous set under "previous": restore the set that unseals by hand'
                             % self.kind)
        return self.write(retire(content), 'retired')

    def fresh(self, content, shares, threshold):
        # The current set of the content read (the newer copy), unless the holders' shares are given.
        current = set_of(content, self.kind)['keys']
        if not self.params.get('keys') and is_pgp_encrypted(current):
            raise RekeyError('the %s keys in custody are PGP-encrypted for their holders: pass the holders\' '
                             'decrypted shares in keys' % self.kind)
        old = load_keys(dict(self.params, keys=self.params.get('keys') or current), self.no_log, self.kind)
        if not old:
            raise RekeyError('the keys in custody hold no %s keys' % self.kind)
        started = self.start(shares, threshold, pgp_keys=self.params.get('pgp_keys') or None)
        nonce = started['nonce']
        self.steps.append('initialised')
        kill_point('initialised')
        answer, first = {}, True
        try:
            for share in old:
                answer = self.submit('/update', share, nonce)
                if answer.get('complete'):
                    break
                if first:
                    first = False
                    kill_point('update_share')
        except VaultRequestError as exc:
            self.cancel(nonce)
            if refused(exc):
                raise RekeyError('the server refuses the current %s keys from custody (or keys): nothing was '
                                 'changed' % self.kind)
            raise
        if not answer.get('complete'):
            self.cancel(nonce)
            raise RekeyError('rekey did not complete after %d %s keys: progress %s/%s (give more keys)'
                             % (len(old), self.kind, answer.get('progress'), answer.get('required')))
        keys = answer.get('keys') or []
        if not keys or is_pgp_encrypted(keys) != bool(self.params.get('pgp_keys')):
            self.cancel(nonce)
            raise RekeyError('the rekey answer holds no usable %s keys' % self.kind)
        self.steps.append('updated')
        kill_point('updated')
        pending = holder(self.kind, keys, answer.get('keys_base64'), shares, threshold, nonce=nonce,
                         verification_nonce=answer.get('verification_nonce') or '')
        content = self.write(dict(content, pending=pending), 'pending_written')
        self.verify(pending)
        return self.finish(content)

    # -- the run ----------------------------------------------------------------------

    def run(self):
        params = self.params
        check_params(params)
        if not params.get('keys_file_vault_password'):
            raise RekeyError('keys_file_vault_password must be set: custody is always encrypted')
        content = newest_custody(params)
        if content is None:
            raise RekeyError('custody holds no keys (keys_file%s): a rekey needs the keys vault_init wrote'
                             % (', keys_secret_name' if params.get('keys_secret_name') else ''))
        self.register(content)
        status = self.seal_status()
        if not status.get('initialized'):
            raise RekeyError('Vault at %s is not initialised: nothing to rekey' % self.api.url)
        seal_type = status.get('type') or 'shamir'
        detected = 'unseal' if seal_type == 'shamir' else 'recovery'
        if params.get('target') not in (None, 'auto') and params['target'] != detected:
            raise RekeyError('target is %s but the server has a %s seal (%s keys): set target to auto or %s'
                             % (params['target'], seal_type, detected, detected))
        self.kind = detected
        result = dict(changed=False, target=self.kind, resumed=None, rekeyed=False, unsealed=False,
                      encryption_key_rotated=False, awaiting_holders=False)
        if params.get('pgp_keys') and params.get('rekey') and len(params['pgp_keys']) != (
                params.get('secret_shares') or int(status.get('n') or 0)):
            raise RekeyError('pgp_keys must hold one public key per share (secret_shares)')
        unsealed_with = None
        if status.get('sealed'):
            if self.kind == 'recovery':
                raise RekeyError('Vault at %s is sealed; its auto-unseal seal must unseal it first' % self.api.url)
            if self.check_mode:
                raise RekeyError('Vault at %s is sealed: check mode does not unseal it' % self.api.url)
            for name in ('pending', 'current', 'previous'):
                part = content if name == 'current' else content.get(name)
                keys = set_of(part, self.kind)['keys'] if part else []
                if is_pgp_encrypted(keys):
                    keys = [k for k in (params.get('new_keys') or []) if k] if name != 'previous' else []
                if keys and self.unseal_with(keys):
                    unsealed_with = name
                    break
            if unsealed_with is None:
                raise RekeyError('Vault at %s is sealed and no set of keys in custody unseals it' % self.api.url)
            result.update(changed=True, unsealed=True)
            self.wait_unsealed()
            status = self.seal_status()
        self.base = PATHS[(self.family(), self.kind)]
        result['endpoint'] = self.base
        shares = params.get('secret_shares') or int(status.get('n') or 0)
        threshold = params.get('secret_threshold') or int(status.get('t') or 0)
        check_shape(shares, threshold)
        server = self.attempt()
        step = plan(content, server, self.kind)
        result['plan'] = step
        if self.check_mode:
            result['changed'] = step != 'fresh' or bool(params.get('rekey')) or bool(
                params.get('rotate_encryption_key'))
            return self.finish_result(result, content, status)
        try:
            content = self.machine(result, content, server, step, unsealed_with, shares, threshold)
        except AwaitingHolders:
            # PGP: the new shares are in custody (encrypted for their holders), the server still
            # uses the old set; the holders' decrypted shares (new_keys) finish the rekey.
            result['awaiting_holders'] = True
            content = newest_custody(params)
            return self.finish_result(result, content, self.seal_status())
        if params.get('rotate_encryption_key'):
            self.api.write('sys/rotate', {}, method='put')
            result.update(changed=True, encryption_key_rotated=True)
        return self.finish_result(result, content, self.seal_status())

    def machine(self, result, content, server, step, unsealed_with, shares, threshold):
        """Finish what a killed run left (step of plan()), then rekey when asked; the custody content after."""
        params = self.params
        if step == 'verify':
            self.verify(content['pending'])
            content = self.finish(content)
            result.update(changed=True, resumed='verification')
        elif step == 'check_pending':
            if server.get('started'):
                self.cancel(server.get('nonce'))
            if unsealed_with == 'pending' or self.accepts(self.usable(content['pending'])):
                content = self.finish(content)
                result.update(changed=True, resumed='promotion')
            else:
                content = self.write(drop_pending(content), 'pending_dropped')
                result.update(changed=True, resumed='cancelled')
        elif step == 'drop_marker':
            if server.get('started'):
                self.cancel(server.get('nonce'))
            content = self.write(drop_pending(content), 'pending_dropped')
            result.update(changed=True, resumed='cancelled')
        elif step == 'check_current':
            if server.get('started'):
                # A check attempt of a killed run: cancelled before this run's own.
                self.cancel(server.get('nonce'))
            content = self.confirm(content)
            result.update(changed=True, resumed='retirement')
        elif server.get('started'):
            # A killed run's attempt (its new shares never reached custody): it cannot be finished.
            self.cancel(server.get('nonce'))
            result.update(changed=True, resumed='cancelled')
        if params.get('rekey') and result['resumed'] in (None, 'cancelled'):
            result.update(changed=True, rekeyed=True)
            content = self.fresh(content, shares, threshold)
        return content

    def wait_unsealed(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            if not self.seal_status().get('sealed', True):
                try:
                    leader = self.api.read('sys/leader') or {}
                    if leader.get('is_self') or leader.get('leader_address') or leader.get('ha_enabled') is False:
                        return
                except VaultRequestError:
                    pass
            time.sleep(0.5)
        raise RekeyError('Vault at %s did not become ready after the unseal' % self.api.url)

    def finish_result(self, result, content, status):
        current = set_of(content, self.kind)
        term = None
        try:
            term = data_of(self.api.read('sys/key-status')).get('term')
        except VaultRequestError:
            pass
        result.update(shares=int(status.get('n') or current['shares'] or 0),
                      threshold=int(status.get('t') or current['threshold'] or 0),
                      steps=list(self.steps), generation=int(content.get('generation') or 0),
                      custody_pending=bool(content.get('pending')), custody_previous=bool(content.get('previous')),
                      key_term=term)
        return result


def run(module):
    return Rekey(module.params, module.no_log_values, module.check_mode).run()
