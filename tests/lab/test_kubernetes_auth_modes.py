"""The collection's Kubernetes auth module against the lab's real API server.

Vault (OpenBao) asks the real kube-apiserver's TokenReview API whether a
ServiceAccount JWT is genuine, so a login succeeds only when the reviewer JWT
Vault holds is allowed to review tokens. That makes the reviewer JWT Vault holds
observable, and proves the module's token_reviewer_jwt_update policy and both
auth modes (reviewer JWT, client JWT) on real parts.
"""

import os
import uuid

import hvac
import pytest


from lab_helpers import LAB, jwt_claims, kubectl
from vaultkube_testlib import run_module, write_requests


def sa_token(namespace, name):
    kubectl('create', 'serviceaccount', name, '-n', namespace)
    return kubectl('create', 'token', name, '-n', namespace, '--duration', '1h').stdout.strip()


def bind_auth_delegator(namespace, name, binding):
    kubectl('create', 'clusterrolebinding', binding, '--clusterrole', 'system:auth-delegator',
            '--serviceaccount', '%s:%s' % (namespace, name))


def can_login(addr, mount, role, jwt):
    """True when Vault lets the token in, False when it refuses it with 403 (the Kubernetes auth
    plugin's answer for a token it does not accept: claims, names, namespaces, a failed TokenReview).
    Any other error (a missing role is 400, Vault down, 5xx) fails the test."""
    try:
        hvac.Client(url=addr).auth.kubernetes.login(role, jwt, mount_point=mount)
        return True
    except hvac.exceptions.Forbidden:
        return False


@pytest.fixture
def setup(lab, namespace, bao_dev):
    vault = bao_dev['client']
    mount = 'lab-' + uuid.uuid4().hex[:6]
    vault.sys.enable_auth_method('kubernetes', path=mount)
    vault.adapter.post('/v1/auth/%s/role/app' % mount, json={
        'bound_service_account_names': ['app'], 'bound_service_account_namespaces': [namespace]})
    binding = 'vaultkube-test-' + uuid.uuid4().hex[:6]
    with open(LAB['LAB_CA_CERT']) as handle:
        ca = handle.read()
    yield dict(vault=vault, addr=bao_dev['addr'], token=vault.token, mount=mount, ns=namespace,
               binding=binding, ca=ca, audit_log=bao_dev['audit_log'])
    kubectl('delete', 'clusterrolebinding', binding, binding + '-client', '--ignore-not-found')
    vault.sys.disable_auth_method(mount)


def configure(s, check=False, **kw):
    args = dict(url=s['addr'], token=s['token'], mount_path=s['mount'],
                kubernetes_host=LAB['LAB_API_URL'], kubernetes_ca_cert=s['ca'], disable_local_ca_jwt=True)
    args.update(kw)
    result = run_module('vault_kubernetes_auth_config', args, check=check)
    assert not result.get('failed'), result.get('msg')
    return result


def configure_without_writes(s, **kw):
    """configure, and OpenBao's audit log shows no write request from the run."""
    mark = os.path.getsize(s['audit_log'])
    result = configure(s, **kw)
    sent = write_requests(s['audit_log'], mark)
    assert sent == [], 'the run sent write requests (audit log): %s' % sent
    return result


def test_reviewer_jwt_update_policy_on_a_real_api_server(setup):
    s = setup
    good = sa_token(s['ns'], 'reviewer')
    bind_auth_delegator(s['ns'], 'reviewer', s['binding'])
    bad = sa_token(s['ns'], 'not-a-reviewer')  # no auth-delegator: its TokenReviews are forbidden
    app = sa_token(s['ns'], 'app')
    other = sa_token(s['ns'], 'other')

    assert configure(s, token_reviewer_jwt=good)['changed']
    assert can_login(s['addr'], s['mount'], 'app', app), 'reviewer mode login failed'
    assert not can_login(s['addr'], s['mount'], 'app', other), 'a ServiceAccount the role does not bind got in'

    # on_create: a different JWT alone is not written (Vault cannot show which JWT it holds).
    assert configure_without_writes(s, token_reviewer_jwt=bad)['changed'] is False
    assert can_login(s['addr'], s['mount'], 'app', app)

    # always: check mode writes nothing; a real run replaces the JWT.
    assert configure_without_writes(s, check=True, token_reviewer_jwt=bad, token_reviewer_jwt_update='always')['changed']
    assert can_login(s['addr'], s['mount'], 'app', app)
    assert configure(s, token_reviewer_jwt=bad, token_reviewer_jwt_update='always')['changed']
    assert not can_login(s['addr'], s['mount'], 'app', app), 'Vault still holds the old reviewer JWT'

    assert configure(s, token_reviewer_jwt=good, token_reviewer_jwt_update='always')['changed']
    assert can_login(s['addr'], s['mount'], 'app', app)


def test_client_jwt_mode_needs_auth_delegator_on_the_client(setup):
    s = setup
    app = sa_token(s['ns'], 'app')
    # No reviewer JWT: Vault reviews each login with the client's own JWT.
    configure(s)
    assert not can_login(s['addr'], s['mount'], 'app', app), 'client JWT reviewed without auth-delegator'
    bind_auth_delegator(s['ns'], 'app', s['binding'] + '-client')
    assert can_login(s['addr'], s['mount'], 'app', app)
    assert configure_without_writes(s)['changed'] is False


def audience_token(namespace, name, audiences):
    args = ['create', 'token', name, '-n', namespace, '--duration', '1h']
    for audience in audiences:
        args += ['--audience', audience]
    return kubectl(*args).stdout.strip()


def api_audiences(namespace, name):
    """The API server's own audiences: those of a token requested with none."""
    claims = jwt_claims(kubectl('create', 'token', name, '-n', namespace, '--duration', '1h').stdout.strip())
    return [claims['aud']] if isinstance(claims['aud'], str) else claims['aud']


@pytest.mark.parametrize('mode', ['client_jwt', 'reviewer_jwt'])
def test_a_role_audience_and_the_api_servers_own(setup, mode):
    """A role that requires the audience "vault". In client_jwt mode Vault presents the client's
    own token as the bearer of its TokenReview call, so a token whose only audience is "vault" is
    refused by the API server as a bearer: the stores must request "vault" and the API server's
    own audience. With a reviewer JWT, "vault" alone is enough. Without "vault", refused in both."""
    s = setup
    vault = s['vault']
    vault.adapter.post('/v1/auth/%s/role/aud' % s['mount'], json={
        'bound_service_account_names': ['app'], 'bound_service_account_namespaces': [s['ns']], 'audience': 'vault'})
    sa_token(s['ns'], 'app')
    api = api_audiences(s['ns'], 'app')
    assert 'vault' not in api
    if mode == 'client_jwt':
        bind_auth_delegator(s['ns'], 'app', s['binding'] + '-client')
        configure(s)
    else:
        reviewer = sa_token(s['ns'], 'reviewer')
        bind_auth_delegator(s['ns'], 'reviewer', s['binding'])
        configure(s, token_reviewer_jwt=reviewer)
    only_vault = audience_token(s['ns'], 'app', ['vault'])
    both = audience_token(s['ns'], 'app', ['vault'] + api)
    only_api = audience_token(s['ns'], 'app', api)
    assert can_login(s['addr'], s['mount'], 'aud', both)
    assert not can_login(s['addr'], s['mount'], 'aud', only_api), 'a token without the audience "vault" got in'
    # The caveat: client_jwt refuses "vault" alone (the API server does not accept it as a bearer).
    assert can_login(s['addr'], s['mount'], 'aud', only_vault) is (mode == 'reviewer_jwt')
