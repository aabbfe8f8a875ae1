# -*- coding: utf-8 -*-
"""vault_kubernetes_auth_config and vault_kubernetes_auth_role against a real OpenBao.

The config write does not call the Kubernetes API, so a CA made with openssl
and a dummy JWT are enough.
"""

import shutil
import uuid

import pytest

from vaultkube_testlib import (assert_failed_cleanly, fresh_mount, make_tls, read_or_none, run_module,
                               run_without_writes, tmpdir)

JWT = 'eyJhbGciOiJSUzI1NiJ9.reviewer-' + uuid.uuid4().hex
JWT_2 = 'eyJhbGciOiJSUzI1NiJ9.rotated-' + uuid.uuid4().hex


@pytest.fixture(scope='module')
def k8s_ca():
    """A cluster CA made with openssl (the config write stores it; nothing calls Kubernetes here)."""
    work = tmpdir('vaultkube-k8sca-')
    tls = make_tls(work)
    with open(tls['ca']) as handle:
        pem = handle.read()
    yield dict(tls, pem=pem, file=tls['ca'])
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def mount(vault):
    """A fresh kubernetes auth mount, enabled directly (vault_auth_method is another module's job)."""
    yield from fresh_mount(vault, 'kubernetes', 'k8s-', auth=True)


def read_config(vault, mount):
    return read_or_none(vault, 'auth/%s/config' % mount)


def read_role(vault, mount, name):
    return read_or_none(vault, 'auth/%s/role/%s' % (mount, name))


def assert_jwt_hidden(result, *jwts):
    for jwt in jwts:
        assert jwt not in result['_stdout'] and jwt not in result['_stderr'], 'reviewer JWT leaked'


# --------------------------------------------------------------------------- config

def test_config_lifecycle(conn, vault, mount, k8s_ca, bao_dev):
    args = dict(conn, mount_path=mount, kubernetes_host='https://k8s.example.test:6443',
                kubernetes_ca_cert=k8s_ca['pem'], token_reviewer_jwt=JWT, disable_local_ca_jwt=True)

    checked = run_without_writes(bao_dev, 'vault_kubernetes_auth_config', args, check=True, diff=True)
    assert checked['changed'] is True and checked['operation'] == 'create'
    assert read_config(vault, mount) is None, 'check mode wrote to Vault'
    assert checked['diff']['after']['token_reviewer_jwt_set'] is True
    assert_jwt_hidden(checked, JWT)

    created = run_module('vault_kubernetes_auth_config', args)
    assert created['changed'] is True
    stored = read_config(vault, mount)
    assert stored['kubernetes_host'] == 'https://k8s.example.test:6443'
    assert stored['token_reviewer_jwt_set'] is True and stored['disable_local_ca_jwt'] is True
    assert stored['kubernetes_ca_cert'].strip() == k8s_ca['pem'].strip()
    assert_jwt_hidden(created, JWT)

    # Same config with the CA read from its file and another JWT: on_create leaves it alone.
    same = dict(args, kubernetes_ca_cert_file=k8s_ca['file'], token_reviewer_jwt=JWT_2)
    del same['kubernetes_ca_cert']
    again = run_without_writes(bao_dev, 'vault_kubernetes_auth_config', same, diff=True)
    assert again['changed'] is False and again['operation'] == 'none'
    padded = run_without_writes(bao_dev, 'vault_kubernetes_auth_config',
                                dict(args, kubernetes_ca_cert='\n  ' + k8s_ca['pem'] + '\n\n'))
    assert padded['changed'] is False

    update = dict(args, issuer='https://kubernetes.default.svc.cluster.local', disable_iss_validation=False)
    check_update = run_without_writes(bao_dev, 'vault_kubernetes_auth_config', update, check=True, diff=True)
    assert check_update['changed'] is True
    assert sorted(check_update['changed_fields']) == ['disable_iss_validation', 'issuer']
    assert read_config(vault, mount)['issuer'] == '', 'check mode wrote to Vault'
    assert check_update['diff']['before']['issuer'] == ''
    assert check_update['diff']['after']['issuer'] == 'https://kubernetes.default.svc.cluster.local'
    assert_jwt_hidden(check_update, JWT)

    updated = run_module('vault_kubernetes_auth_config', update)
    assert updated['changed'] is True
    stored = read_config(vault, mount)
    assert stored['issuer'] == 'https://kubernetes.default.svc.cluster.local'
    assert stored['disable_iss_validation'] is False
    # The write replaced the whole config: the JWT was sent again and is still set.
    assert stored['token_reviewer_jwt_set'] is True
    assert run_without_writes(bao_dev, 'vault_kubernetes_auth_config', update)['changed'] is False

    # Options left out keep their value (Vault would reset them on a partial write).
    minimal = dict(conn, mount_path=mount, kubernetes_host='https://k8s.example.test:6443', token_reviewer_jwt=JWT)
    assert run_without_writes(bao_dev, 'vault_kubernetes_auth_config', minimal)['changed'] is False
    assert read_config(vault, mount)['issuer'] == 'https://kubernetes.default.svc.cluster.local'

    # No JWT given while Vault holds one: a difference; the write removes it.
    no_jwt = dict(update)
    del no_jwt['token_reviewer_jwt']
    dropped = run_module('vault_kubernetes_auth_config', no_jwt, diff=True)
    assert dropped['changed'] is True and dropped['changed_fields'] == ['token_reviewer_jwt_set']
    assert dropped['diff']['after']['token_reviewer_jwt_set'] is False
    stored = read_config(vault, mount)
    assert stored['token_reviewer_jwt_set'] is False
    assert stored['issuer'] == 'https://kubernetes.default.svc.cluster.local'
    assert run_without_writes(bao_dev, 'vault_kubernetes_auth_config', no_jwt)['changed'] is False


def test_config_issuer_turns_issuer_validation_on(conn, vault, mount, k8s_ca):
    """An issuer alone would have no effect (Vault checks it only with disable_iss_validation=false):
    given without the flag, it turns the check on; an empty issuer turns it off. Both servers store
    and return the flag; the re-run compares their answer."""
    issuer = 'https://kubernetes.default.svc.cluster.local'
    args = dict(conn, mount_path=mount, kubernetes_host='https://k8s.example.test:6443',
                kubernetes_ca_cert=k8s_ca['pem'], disable_local_ca_jwt=True, issuer=issuer)

    checked = run_module('vault_kubernetes_auth_config', args, check=True, diff=True)
    assert checked['changed'] is True and checked['diff']['after']['disable_iss_validation'] is False
    assert read_config(vault, mount) is None, 'check mode wrote to Vault'

    created = run_module('vault_kubernetes_auth_config', args)
    assert created['changed'] is True
    stored = read_config(vault, mount)
    assert stored['issuer'] == issuer and stored['disable_iss_validation'] is False
    assert run_module('vault_kubernetes_auth_config', args)['changed'] is False

    # Another issuer: only the issuer changes, the check stays on.
    other = run_module('vault_kubernetes_auth_config', dict(args, issuer='https://other.example.test'))
    assert other['changed'] is True and other['changed_fields'] == ['issuer']
    assert read_config(vault, mount)['disable_iss_validation'] is False

    # An empty issuer (the role's default): no issuer, no check, as a fresh config has.
    cleared = run_module('vault_kubernetes_auth_config', dict(args, issuer=''), diff=True)
    assert cleared['changed'] is True
    assert sorted(cleared['changed_fields']) == ['disable_iss_validation', 'issuer']
    stored = read_config(vault, mount)
    assert stored['issuer'] == '' and stored['disable_iss_validation'] is True
    assert run_module('vault_kubernetes_auth_config', dict(args, issuer=''))['changed'] is False

    # The flag given explicitly wins: an issuer stored, not checked.
    kept = run_module('vault_kubernetes_auth_config', dict(args, disable_iss_validation=True))
    assert kept['changed'] is True and kept['changed_fields'] == ['issuer']
    stored = read_config(vault, mount)
    assert stored['issuer'] == issuer and stored['disable_iss_validation'] is True
    assert run_module('vault_kubernetes_auth_config', dict(args, disable_iss_validation=True))['changed'] is False


def test_config_disable_local_ca_jwt_needs_a_ca(conn, vault, mount):
    bad = run_module('vault_kubernetes_auth_config', dict(
        conn, mount_path=mount, kubernetes_host='https://k8s.example.test:6443', disable_local_ca_jwt=True,
        token_reviewer_jwt=JWT))
    assert_failed_cleanly(bad, 'kubernetes_ca_cert', 'disable_local_ca_jwt')
    assert read_config(vault, mount) is None
    assert_jwt_hidden(bad, JWT)


def test_config_bad_input_is_one_line(conn, vault, mount, k8s_ca):
    base = dict(conn, mount_path=mount, kubernetes_host='https://k8s.example.test:6443', disable_local_ca_jwt=True)
    not_pem = run_module('vault_kubernetes_auth_config', dict(base, kubernetes_ca_cert='not a certificate'))
    assert_failed_cleanly(not_pem, 'kubernetes_ca_cert', 'PEM certificate')
    both = run_module('vault_kubernetes_auth_config',
                      dict(base, kubernetes_ca_cert=k8s_ca['pem'], kubernetes_ca_cert_file=k8s_ca['file']))
    assert_failed_cleanly(both, 'mutually exclusive', 'kubernetes_ca_cert', 'kubernetes_ca_cert_file')
    missing = run_module('vault_kubernetes_auth_config', dict(base, kubernetes_ca_cert_file='/nonexistent/ca.crt'))
    assert_failed_cleanly(missing, 'kubernetes_ca_cert_file /nonexistent/ca.crt cannot be read')
    assert read_config(vault, mount) is None


def test_config_missing_mount(conn, k8s_ca):
    bad = run_module('vault_kubernetes_auth_config', dict(
        conn, mount_path='no-such-k8s', kubernetes_host='https://k8s.example.test:6443',
        kubernetes_ca_cert=k8s_ca['pem'], disable_local_ca_jwt=True))
    assert_failed_cleanly(bad, "'no-such-k8s' does not exist", 'enable the kubernetes auth method', 'auth/no-such-k8s/')


# --------------------------------------------------------------------------- role

def test_role_lifecycle(conn, vault, mount, bao_dev):
    name = 'eso'
    args = dict(conn, mount_path=mount, name=name, bound_service_account_names=['external-secrets'],
                bound_service_account_namespaces=['external-secrets', 'platform'], audience='vault',
                token_policies=['eso-read', 'default'], token_ttl='1h', token_max_ttl='4h')

    checked = run_without_writes(bao_dev, 'vault_kubernetes_auth_role', args, check=True, diff=True)
    assert checked['changed'] is True and checked['operation'] == 'create'
    assert read_role(vault, mount, name) is None, 'check mode wrote to Vault'
    assert checked['diff']['after']['token_ttl'] == 3600

    created = run_module('vault_kubernetes_auth_role', args)
    assert created['changed'] is True
    role = read_role(vault, mount, name)
    assert role['token_ttl'] == 3600 and role['token_max_ttl'] == 14400
    assert sorted(role['bound_service_account_namespaces']) == ['external-secrets', 'platform']
    assert role['audience'] == 'vault'

    # Same meaning, other spelling: seconds for durations, lists reordered.
    same = dict(args, token_ttl=3600, token_max_ttl='240m', token_policies=['default', 'eso-read'],
                bound_service_account_namespaces=['platform', 'external-secrets'])
    again = run_without_writes(bao_dev, 'vault_kubernetes_auth_role', same)
    assert again['changed'] is False and again['operation'] == 'none'

    update = dict(args, token_policies=['eso-read', 'default', 'extra'], token_bound_cidrs=['10.0.0.1/32'])
    check_update = run_without_writes(bao_dev, 'vault_kubernetes_auth_role', update, check=True, diff=True)
    assert check_update['changed'] is True
    assert check_update['changed_fields'] == ['token_bound_cidrs', 'token_policies']
    assert sorted(read_role(vault, mount, name)['token_policies']) == ['default', 'eso-read']
    assert check_update['diff']['before']['token_policies'] == ['default', 'eso-read']
    assert check_update['diff']['after']['token_policies'] == ['default', 'eso-read', 'extra']

    updated = run_module('vault_kubernetes_auth_role', update)
    assert updated['changed'] is True
    role = read_role(vault, mount, name)
    assert sorted(role['token_policies']) == ['default', 'eso-read', 'extra']
    assert role['token_bound_cidrs'] == ['10.0.0.1']
    assert role['audience'] == 'vault' and role['token_ttl'] == 3600, 'update lost other fields'
    # Vault shows 10.0.0.1/32 as 10.0.0.1: not a change.
    assert run_without_writes(bao_dev, 'vault_kubernetes_auth_role', update)['changed'] is False

    # Options left out are not compared and keep their value.
    partial = dict(conn, mount_path=mount, name=name, bound_service_account_names=['external-secrets'],
                   bound_service_account_namespaces=['external-secrets', 'platform'])
    assert run_without_writes(bao_dev, 'vault_kubernetes_auth_role', partial)['changed'] is False

    delete = dict(conn, mount_path=mount, name=name, state='absent')
    assert run_without_writes(bao_dev, 'vault_kubernetes_auth_role', delete, check=True)['changed'] is True
    assert read_role(vault, mount, name) is not None, 'check mode deleted'
    assert run_module('vault_kubernetes_auth_role', delete)['changed'] is True
    assert read_role(vault, mount, name) is None
    assert run_without_writes(bao_dev, 'vault_kubernetes_auth_role', delete)['changed'] is False


def test_role_update_keeps_the_namespace_selector(conn, vault, mount, bao_dev):
    """Vault clears the selector on a write without it; the module sends the whole role."""
    name = 'team'
    selector = {'matchLabels': {'team': 'payments'}}
    args = dict(conn, mount_path=mount, name=name, bound_service_account_names=['*'],
                bound_service_account_namespace_selector=selector, token_policies=['payments'])
    assert run_module('vault_kubernetes_auth_role', args)['changed'] is True
    # The selector as YAML-ish text with other key order is the same selector.
    as_text = dict(args, bound_service_account_namespace_selector='{"matchLabels": {"team": "payments"}}')
    assert run_without_writes(bao_dev, 'vault_kubernetes_auth_role', as_text)['changed'] is False
    assert run_module('vault_kubernetes_auth_role', dict(args, token_ttl='30m'))['changed'] is True
    role = read_role(vault, mount, name)
    assert role['token_ttl'] == 1800
    assert role['bound_service_account_namespace_selector'], 'the update cleared the namespace selector'


def test_role_bad_input_is_one_line(conn, vault, mount):
    base = dict(conn, mount_path=mount, name='bad', bound_service_account_names=['sa'],
                bound_service_account_namespaces=['ns'])
    assert_failed_cleanly(run_module('vault_kubernetes_auth_role', dict(base, token_ttl='1 hour')),
                          'token_ttl', 'duration')
    assert_failed_cleanly(run_module('vault_kubernetes_auth_role', dict(base, token_ttl='2h', token_max_ttl='1h')),
                          'token_ttl', 'token_max_ttl')
    assert_failed_cleanly(run_module('vault_kubernetes_auth_role', dict(base, token_bound_cidrs=['10.0.0.300'])),
                          'token_bound_cidrs')
    no_ns = dict(base)
    del no_ns['bound_service_account_namespaces']
    assert_failed_cleanly(run_module('vault_kubernetes_auth_role', no_ns), 'bound_service_account_namespaces')
    assert read_role(vault, mount, 'bad') is None


def test_role_missing_mount(conn):
    bad = run_module('vault_kubernetes_auth_role', dict(
        conn, mount_path='no-such-k8s', name='eso', bound_service_account_names=['sa'],
        bound_service_account_namespaces=['ns']))
    assert_failed_cleanly(bad, "'no-such-k8s' does not exist", 'enable the kubernetes auth method')
