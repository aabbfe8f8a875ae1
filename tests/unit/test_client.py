# -*- coding: utf-8 -*-
import hvac.exceptions
import pytest
import requests

from ansible_collections.vaultkube.platform.plugins.module_utils import _client
from ansible_collections.vaultkube.platform.plugins.module_utils._client import (
    VaultRequestError,
    connection_params,
    describe_transport_error,
    describe_vault_error,
    resolve_validate_certs,
)


def params(**kw):
    base = dict((k, None) for k in _client.CONNECTION_ARGSPEC)
    base.update(timeout=30, retries=3, retry_backoff=0.5, auth_method='token')
    base.update(kw)
    return base


@pytest.mark.parametrize('env,expected', [
    ({}, True),
    ({'VAULT_SKIP_VERIFY': 'false'}, True),
    ({'VAULT_SKIP_VERIFY': '0'}, True),
    ({'VAULT_SKIP_VERIFY': 'no'}, True),
    ({'VAULT_SKIP_VERIFY': ''}, True),
    ({'VAULT_SKIP_VERIFY': 'true'}, False),
    ({'VAULT_SKIP_VERIFY': '1'}, False),
])
def test_skip_verify_is_a_real_boolean(env, expected):
    assert resolve_validate_certs(None, env) is expected


def test_explicit_validate_certs_wins_over_env():
    assert resolve_validate_certs(True, {'VAULT_SKIP_VERIFY': 'true'}) is True
    assert resolve_validate_certs(False, {}) is False


def test_skip_verify_junk_is_an_error():
    with pytest.raises(VaultRequestError) as err:
        resolve_validate_certs(None, {'VAULT_SKIP_VERIFY': 'maybe'})
    assert 'VAULT_SKIP_VERIFY' in str(err.value)


def test_env_fallbacks():
    env = {'VAULT_ADDR': 'http://127.0.0.1:8200', 'VAULT_TOKEN': 's.x', 'VAULT_NAMESPACE': 'team'}
    conn = connection_params(params(), env)
    assert conn['url'] == 'http://127.0.0.1:8200'
    assert conn['token'] == 's.x'
    assert conn['namespace'] == 'team'
    assert conn['validate_certs'] is True


def test_option_beats_env():
    conn = connection_params(params(url='https://a:8200', token='t1'),
                             {'VAULT_ADDR': 'http://b', 'VAULT_TOKEN': 't2'})
    assert conn['url'] == 'https://a:8200' and conn['token'] == 't1'


@pytest.mark.parametrize('kw,fragment', [
    (dict(), 'url is required'),
    (dict(url='vault:8200'), 'url must start with http'),
    (dict(url='http://a', ca_cert='/nonexistent/ca.pem'), 'ca_cert'),
    (dict(url='http://a', timeout=0), 'timeout'),
    (dict(url='http://a', retries=-1), 'retries'),
])
def test_bad_connection_input_names_the_field(kw, fragment):
    with pytest.raises(VaultRequestError) as err:
        connection_params(params(**kw), {})
    assert fragment in str(err.value)
    assert '\n' not in str(err.value)


def test_vault_error_is_one_line_with_path_status_and_message():
    exc = hvac.exceptions.Forbidden(errors=['1 error occurred:\n\t* permission denied\n\n'],
                                    method='put', url='http://127.0.0.1:8200/v1/sys/policies/acl/x')
    line = describe_vault_error(exc)
    assert line.startswith('Vault PUT sys/policies/acl/x failed: 403')
    assert 'permission denied' in line
    assert '\n' not in line


def test_sealed_error_hints_at_unsealing():
    exc = hvac.exceptions.VaultDown(errors=['Vault is sealed'], method='get',
                                    url='http://h/v1/secret/data/x')
    assert 'unseal' in describe_vault_error(exc)


def test_transport_errors():
    url = 'https://vault:8200'
    tls = describe_transport_error(requests.exceptions.SSLError('CERTIFICATE_VERIFY_FAILED x'), url)
    assert 'TLS verification' in tls and 'ca_cert' in tls
    refused = describe_transport_error(requests.exceptions.ConnectionError('refused'), url)
    assert refused.startswith('cannot connect to Vault at https://vault:8200')
    slow = describe_transport_error(requests.exceptions.ReadTimeout('slow'), url)
    assert 'did not answer' in slow


def test_token_login_requires_a_token():
    with pytest.raises(VaultRequestError) as err:
        _client.connect(params(url='http://127.0.0.1:1'), environ={})
    assert 'token is required' in str(err.value)


def test_kubernetes_login_reports_unreadable_jwt_file(tmp_path):
    missing = str(tmp_path / 'nope')
    with pytest.raises(VaultRequestError) as err:
        _client.connect(params(url='http://127.0.0.1:1', auth_method='kubernetes',
                               kubernetes_role='eso', jwt_file=missing), environ={})
    assert 'jwt_file' in str(err.value) and missing in str(err.value)


class FlakyAdapter(object):
    """Answers like a KV v2 mount that is still upgrading, then succeeds."""

    def __init__(self, failures, message=_client.KV_UPGRADE_MESSAGE):
        self.failures = failures
        self.message = message
        self.calls = 0

    def post(self, url, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise hvac.exceptions.InvalidRequest(errors=[self.message + ' for this mount'],
                                                 method='post', url='http://v/v1/secret/config')
        return {'data': {}}


class FakeClient(object):
    def __init__(self, adapter):
        self.adapter = adapter


def test_a_kv_mount_still_upgrading_is_waited_for(monkeypatch):
    monkeypatch.setattr(_client.time, 'sleep', lambda seconds: None)
    adapter = FlakyAdapter(failures=3)
    api = _client.VaultAPI(FakeClient(adapter), 'http://v')
    assert api.write('secret/config', {'max_versions': 5}) == {'data': {}}
    assert adapter.calls == 4


def test_other_400s_are_not_retried(monkeypatch):
    monkeypatch.setattr(_client.time, 'sleep', lambda seconds: None)
    adapter = FlakyAdapter(failures=3, message='invalid value')
    api = _client.VaultAPI(FakeClient(adapter), 'http://v')
    with pytest.raises(VaultRequestError):
        api.write('secret/config', {})
    assert adapter.calls == 1


def test_the_upgrade_wait_is_bounded(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(_client.time, 'time', lambda: clock[0])
    monkeypatch.setattr(_client.time, 'sleep', lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    adapter = FlakyAdapter(failures=10 ** 6)
    api = _client.VaultAPI(FakeClient(adapter), 'http://v')
    with pytest.raises(VaultRequestError) as err:
        api.write('secret/config', {})
    assert 'Upgrading' in str(err.value) and clock[0] >= _client.KV_UPGRADE_WAIT


def test_tls_errors_name_the_reason_and_its_fix():
    from ansible_collections.vaultkube.platform.plugins.module_utils._client import describe_tls_error
    mismatch = describe_tls_error(
        "HTTPSConnectionPool(host='10.0.0.5', port=8200): Max retries exceeded (Caused by SSLError("
        "SSLCertVerificationError(1, \"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: IP address "
        "mismatch, certificate is not valid for '10.0.0.5'. (_ssl.c:1006)\")))", 'https://10.0.0.5:8200')
    assert "IP address mismatch, certificate is not valid for '10.0.0.5'" in mismatch
    assert 'subjectAltName' in mismatch and 'set ca_cert' not in mismatch
    unknown = describe_tls_error("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
                                 "certificate in certificate chain (_ssl.c:1006)", 'https://v:8200')
    assert 'self-signed certificate in certificate chain' in unknown and 'set ca_cert' in unknown
    expired = describe_tls_error("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has "
                                 "expired (_ssl.c:1006)", 'https://v:8200')
    assert 'renew' in expired
    other = describe_tls_error('[SSL: WRONG_VERSION_NUMBER] wrong version number', 'https://v:8200', 'SSLError')
    assert other.startswith('TLS connection to https://v:8200 failed (SSLError)')
