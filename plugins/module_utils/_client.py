# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One Vault connection for every module of the collection.

Internal: the leading underscore marks this file as private to the collection.
Everything that talks to Vault goes through :class:`VaultAPI`, so there is one
place that builds the HTTP session (TLS, retries, timeout, namespace), one
place that logs in, and one place that turns hvac/requests errors into a single
line naming the Vault path, the HTTP status and Vault's own message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import threading
import time
import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.parsing.convert_bool import boolean

HVAC_IMPORT_ERROR = None
try:
    import hvac
    import hvac.exceptions
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry
except ImportError:  # pragma: no cover - exercised only without hvac
    HVAC_IMPORT_ERROR = traceback.format_exc()


# A fresh KV v2 mount answers 400 with this while it upgrades its storage in the
# background (seconds after enabling or after an unseal); it is a wait, not an error.
KV_UPGRADE_MESSAGE = 'Upgrading from non-versioned to versioned data'
KV_UPGRADE_WAIT = 60

# Status codes worth retrying: rate limited, and the 5xx a Vault node answers
# while it is sealed, a standby, or restarting.
RETRY_STATUS = (429, 500, 502, 503, 504)

CONNECTION_ARGSPEC = dict(
    url=dict(type='str', aliases=['vault_addr'], no_log=False),
    token=dict(type='str', no_log=True),
    ca_cert=dict(type='path', aliases=['cacert'], no_log=False),
    validate_certs=dict(type='bool'),
    timeout=dict(type='int', default=30),
    namespace=dict(type='str', no_log=False),
    retries=dict(type='int', default=3),
    retry_backoff=dict(type='float', default=0.5),
    auth_method=dict(type='str', default='token', choices=['token', 'kubernetes', 'approle']),
    auth_mount_path=dict(type='str', no_log=False),
    kubernetes_role=dict(type='str', no_log=False),
    jwt=dict(type='str', no_log=True),
    jwt_file=dict(type='path', no_log=False),
    role_id=dict(type='str', no_log=False),
    secret_id=dict(type='str', no_log=True),
)

DEFAULT_SA_JWT_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token'


class VaultRequestError(Exception):
    """An expected failure, already worded as the one line the user sees."""

    def __init__(self, message, status=None, errors=None):
        super(VaultRequestError, self).__init__(message)
        self.status = status
        self.errors = errors or []

    @property
    def no_route(self):
        """Vault has nothing mounted at the path ("no handler for route"): a missing mount."""
        return self.status == 404 and any('no handler for route' in str(e) for e in self.errors)


def _one_line(text):
    return ' '.join(str(text).split())


def _status_of(exc):
    codes = {
        'InvalidRequest': 400, 'Unauthorized': 401, 'Forbidden': 403, 'InvalidPath': 404,
        'PreconditionFailed': 412, 'RateLimitExceeded': 429, 'InternalServerError': 500,
        'VaultNotInitialized': 501, 'BadGateway': 502, 'VaultDown': 503,
    }
    return codes.get(type(exc).__name__)


def _path_of(url):
    """The API path of a request URL, without scheme and host."""
    if not url:
        return ''
    marker = url.find('/v1/')
    return url[marker + 4:] if marker >= 0 else url


HINTS = {
    401: 'check the token or the login credentials',
    403: 'the token lacks a policy allowing this, or it expired',
    503: 'Vault is sealed, not initialised or unavailable; unseal it first',
}


def describe_vault_error(exc, method=None, path=None):
    """One line for an hvac exception: method, path, status, Vault's message."""
    status = _status_of(exc)
    method = (getattr(exc, 'method', None) or method or '').upper()
    path = _path_of(getattr(exc, 'url', None)) or path or ''
    errors = [_one_line(e) for e in (getattr(exc, 'errors', None) or []) if e]
    detail = '; '.join(errors) or _one_line(exc.args[0] if exc.args and exc.args[0] else type(exc).__name__)
    line = 'Vault %s %s failed: %s%s' % (method, path, '%s ' % status if status else '', detail)
    if status in HINTS:
        line += ' (%s)' % HINTS[status]
    return line


# What OpenSSL says after "certificate verify failed: ", e.g. "Hostname mismatch,
# certificate is not valid for 'vault'. (_ssl.c:1006)".
_VERIFY_DETAIL = re.compile(r'certificate verify failed: (?P<detail>.*?)(?: \(_ssl\.c:\d+\))?[\'")\]]*\Z')


def describe_tls_error(text, url, name='SSLError'):
    """One line for a failed TLS handshake, with the reason OpenSSL gave and the fix for it."""
    if 'CERTIFICATE_VERIFY_FAILED' not in text:
        return 'TLS connection to %s failed (%s): %s' % (url, name, text)
    match = _VERIFY_DETAIL.search(text)
    detail = match.group('detail').rstrip('.') if match else ''
    lowered = detail.lower()
    if 'mismatch' in lowered or 'not valid for' in lowered:
        fix = ('the certificate does not name the host in url: use a url whose host name or IP address is in '
               'the certificate\'s subjectAltName, or reissue the certificate for it')
    elif 'expired' in lowered or 'not yet valid' in lowered:
        fix = 'renew the Vault certificate (or check this machine\'s clock)'
    else:
        fix = 'set ca_cert to the CA that signed the Vault certificate'
    return 'TLS verification of %s failed (CERTIFICATE_VERIFY_FAILED%s): %s' % (
        url, ': ' + detail if detail else '', fix)


def describe_transport_error(exc, url):
    """One line for a requests exception (TLS, refused connection, timeout)."""
    name = type(exc).__name__
    text = _one_line(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return describe_tls_error(text, url, name)
    if isinstance(exc, requests.exceptions.Timeout):
        return 'Vault at %s did not answer within the timeout: %s' % (url, name)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return 'cannot connect to Vault at %s: check url and that Vault is listening (%s)' % (url, name)
    return 'request to Vault at %s failed: %s' % (url, name)


class VaultAPI(object):
    """A thin, counted wrapper over one hvac client.

    Paths are Vault API paths without the ``/v1/`` prefix. Reads of an absent
    object return ``None``; everything else that fails raises
    :class:`VaultRequestError` with a one-line message.
    """

    def __init__(self, client, url):
        self.client = client
        self.url = url
        self.requests = {'read': 0, 'list': 0, 'write': 0, 'delete': 0}
        # vault_config sends independent requests from several threads over this client.
        self._count_lock = threading.Lock()
        self._local = threading.local()

    def record_writes(self):
        """Start a list of this thread's writes and deletes ("POST path"), filled from now on.

        A request that got no answer (timeout, dropped connection) is listed too, marked
        "(outcome unknown)": Vault may have applied it."""
        self._local.writes = []
        return self._local.writes

    def _note_write(self, method, path, unknown=False):
        writes = getattr(self._local, 'writes', None)
        if writes is not None:
            writes.append('%s %s%s' % (method.upper(), path.lstrip('/'), ' (outcome unknown)' if unknown else ''))

    def _call(self, kind, method, path, **kwargs):
        deadline = time.time() + KV_UPGRADE_WAIT
        while True:
            try:
                return self._call_once(kind, method, path, **kwargs)
            except VaultRequestError as exc:
                upgrading = exc.status == 400 and any(KV_UPGRADE_MESSAGE in str(e) for e in exc.errors)
                if not upgrading or time.time() >= deadline:
                    raise
                time.sleep(1)

    def _call_once(self, kind, method, path, **kwargs):
        with self._count_lock:
            self.requests[kind] += 1
        call = getattr(self.client.adapter, method)
        try:
            return call('/v1/' + path.lstrip('/'), **kwargs)
        except hvac.exceptions.VaultError as exc:
            raise VaultRequestError(describe_vault_error(exc, method, path), status=_status_of(exc),
                                    errors=getattr(exc, 'errors', None))
        except requests.exceptions.RequestException as exc:
            raise VaultRequestError(describe_transport_error(exc, self.url))

    @staticmethod
    def _body(response):
        # JSONAdapter gives a dict for JSON bodies and a Response for 204.
        return response if isinstance(response, dict) else None

    def read(self, path, **kwargs):
        """GET a path; ``None`` when Vault says it does not exist."""
        try:
            return self._body(self._call('read', 'get', path, **kwargs))
        except VaultRequestError as exc:
            # A plain 404 (no error text) means "no such object". A 404 with text
            # ("no handler for route") means the mount itself is missing: an error.
            if exc.status == 404 and not exc.errors:
                return None
            raise

    def list(self, path):
        """LIST a path; ``[]`` when there is nothing under it."""
        try:
            body = self._body(self._call('list', 'list', path))
        except VaultRequestError as exc:
            if exc.status == 404 and not exc.errors:
                return []
            raise
        return ((body or {}).get('data') or {}).get('keys') or []

    def write(self, path, data=None, method='post'):
        return self._body(self._changing_call('write', method, path, json=data or {}))

    def delete(self, path, data=None):
        # A body only when given: Vault's DELETE sys/rekey/init wants the attempt's nonce in one.
        kwargs = {} if data is None else {'json': data}
        return self._body(self._changing_call('delete', 'delete', path, **kwargs))

    def _changing_call(self, kind, method, path, **kwargs):
        try:
            answer = self._call(kind, method, path, **kwargs)
        except VaultRequestError as exc:
            if exc.status is None:
                self._note_write(method, path, unknown=True)
            raise
        self._note_write(method, path)
        return answer

    @property
    def request_count(self):
        return sum(self.requests.values())


def resolve_validate_certs(value, environ=None):
    """TLS verification is on unless explicitly turned off.

    ``VAULT_SKIP_VERIFY`` is parsed as a real boolean: ``false``/``0`` keep
    verification on (a string test would turn it off for any non-empty value).
    """
    if value is not None:
        return bool(value)
    environ = os.environ if environ is None else environ
    raw = environ.get('VAULT_SKIP_VERIFY')
    if raw is None or raw.strip() == '':
        return True
    try:
        return not boolean(raw.strip(), strict=True)
    except TypeError:
        raise VaultRequestError("VAULT_SKIP_VERIFY must be a boolean (true/false), got %r" % raw)


def connection_params(params, environ=None):
    """Resolve the connection options with their environment fallbacks."""
    environ = os.environ if environ is None else environ
    resolved = dict((k, params.get(k)) for k in CONNECTION_ARGSPEC)
    resolved['url'] = params.get('url') or environ.get('VAULT_ADDR')
    resolved['token'] = params.get('token') or environ.get('VAULT_TOKEN')
    resolved['ca_cert'] = params.get('ca_cert') or environ.get('VAULT_CACERT')
    resolved['namespace'] = params.get('namespace') or environ.get('VAULT_NAMESPACE')
    resolved['validate_certs'] = resolve_validate_certs(params.get('validate_certs'), environ)
    if not resolved['url']:
        raise VaultRequestError('url is required: set the url option or the VAULT_ADDR environment variable')
    if not resolved['url'].startswith(('http://', 'https://')):
        raise VaultRequestError('url must start with http:// or https://, got %r' % resolved['url'])
    if resolved['ca_cert'] and not os.path.isfile(resolved['ca_cert']):
        raise VaultRequestError('ca_cert %s is not a readable file' % resolved['ca_cert'])
    if resolved['timeout'] is not None and resolved['timeout'] <= 0:
        raise VaultRequestError('timeout must be a positive number of seconds')
    if resolved['retries'] is not None and resolved['retries'] < 0:
        raise VaultRequestError('retries must be 0 or more')
    return resolved


def build_session(retries, backoff, verify=True):
    session = requests.Session()
    # hvac takes TLS verification from a session it is given and ignores its own
    # verify argument, so the CA path (or False) must be set here.
    session.verify = verify
    retry = Retry(total=retries, connect=retries, read=0, status=retries,
                  backoff_factor=backoff, status_forcelist=RETRY_STATUS,
                  allowed_methods=None, raise_on_status=False, respect_retry_after_header=True)
    adapter = HTTPAdapter(max_retries=retry)
    session.mount('http://', adapter)
    session.mount('https://', adapter)
    return session


def _login(api, conn):
    method = conn['auth_method']
    if method == 'token':
        if not conn['token']:
            raise VaultRequestError('token is required with auth_method=token: set the token option '
                                    'or the VAULT_TOKEN environment variable')
        api.client.token = conn['token']
        return
    if method == 'kubernetes':
        if not conn['kubernetes_role']:
            raise VaultRequestError('kubernetes_role is required with auth_method=kubernetes')
        jwt = conn['jwt']
        if not jwt:
            jwt_file = conn['jwt_file'] or DEFAULT_SA_JWT_FILE
            try:
                with open(jwt_file) as handle:
                    jwt = handle.read().strip()
            except (IOError, OSError) as exc:
                raise VaultRequestError('jwt_file %s cannot be read: %s' % (jwt_file, exc.strerror))
        mount = (conn['auth_mount_path'] or 'kubernetes').strip('/')
        body = api.write('auth/%s/login' % mount, {'role': conn['kubernetes_role'], 'jwt': jwt})
    else:
        if not conn['role_id']:
            raise VaultRequestError('role_id is required with auth_method=approle')
        mount = (conn['auth_mount_path'] or 'approle').strip('/')
        data = {'role_id': conn['role_id']}
        if conn['secret_id']:
            data['secret_id'] = conn['secret_id']
        body = api.write('auth/%s/login' % mount, data)
    token = ((body or {}).get('auth') or {}).get('client_token')
    if not token:
        raise VaultRequestError('%s login at auth/%s/login returned no client token' % (method, mount))
    api.client.token = token


def connect(params, environ=None, login=True):
    """Build a :class:`VaultAPI` from module parameters; log in unless told not to."""
    if HVAC_IMPORT_ERROR:
        raise VaultRequestError(missing_required_lib('hvac'))
    conn = connection_params(params, environ)
    verify = conn['ca_cert'] if (conn['validate_certs'] and conn['ca_cert']) else conn['validate_certs']
    client = hvac.Client(url=conn['url'], verify=verify, timeout=conn['timeout'],
                         namespace=conn['namespace'] or None,
                         session=build_session(conn['retries'], conn['retry_backoff'], verify))
    api = VaultAPI(client, conn['url'])
    if login:
        _login(api, conn)
    return api
