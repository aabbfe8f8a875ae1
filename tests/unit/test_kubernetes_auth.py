# -*- coding: utf-8 -*-
"""Pure logic of the Kubernetes auth modules: PEM and role normalisation, JWT policy, write bodies."""

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError, normalise
from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes_auth import (
    JWT_REWRITE,
    KubernetesAuthConfig,
    KubernetesAuthRole,
    normalise_role_field,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import reconcile
from vault_fakes import FakeAPI

CA = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\nabcdef==\n-----END CERTIFICATE-----\n'
JWT = 'reviewer.jwt.value'


def no_route(path):
    return VaultRequestError('Vault GET %s failed: 404 no handler for route' % path, status=404,
                             errors=['no handler for route "%s". route entry not found.' % path])


# -- PEM ---------------------------------------------------------------------------------

def test_pem_kind_ignores_white_space_and_blank_lines():
    messy = '\n  ' + CA.replace('\n', '\r\n  ') + '\n\n'
    assert normalise('pem', messy) == normalise('pem', CA) == CA
    assert normalise('pem', None) == normalise('pem', ' \n') == ''


def test_pem_kind_keeps_content_differences():
    assert normalise('pem', CA) != normalise('pem', CA.replace('abcdef', 'abcdeg'))


# -- config ------------------------------------------------------------------------------

def config(api=None, **params):
    base = {'mount_path': 'kubernetes', 'kubernetes_host': 'https://k8s:6443', 'kubernetes_ca_cert': CA,
            'kubernetes_ca_cert_file': None, 'token_reviewer_jwt': JWT, 'token_reviewer_jwt_update': 'on_create',
            'disable_local_ca_jwt': True, 'issuer': None, 'disable_iss_validation': None, 'pem_keys': None}
    base.update(params)
    return KubernetesAuthConfig(api or FakeAPI(), base)


def vault_config(**fields):
    data = {'kubernetes_host': 'https://k8s:6443', 'kubernetes_ca_cert': CA + '\n', 'disable_local_ca_jwt': True,
            'issuer': '', 'disable_iss_validation': True, 'pem_keys': [], 'token_reviewer_jwt_set': True}
    data.update(fields)
    return FakeAPI({'auth/kubernetes/config': {'data': data}})


def test_disable_local_ca_jwt_needs_a_ca_naming_both_fields():
    with pytest.raises(FieldError) as err:
        config(kubernetes_ca_cert=None).validate()
    assert 'kubernetes_ca_cert' in str(err.value) and 'disable_local_ca_jwt' in str(err.value)


def test_ca_must_be_a_certificate():
    with pytest.raises(FieldError) as err:
        config(kubernetes_ca_cert='hello').validate()
    assert 'kubernetes_ca_cert must hold a PEM certificate' in str(err.value)


def test_ca_file_is_read_and_normalised(tmp_path):
    path = tmp_path / 'ca.crt'
    path.write_text('\n' + CA + '\n\n')
    obj = config(kubernetes_ca_cert=None, kubernetes_ca_cert_file=str(path))
    obj.validate()
    assert obj.desired()['kubernetes_ca_cert'] == CA


def test_unreadable_ca_file_names_the_path():
    with pytest.raises(FieldError) as err:
        config(kubernetes_ca_cert=None, kubernetes_ca_cert_file='/nonexistent/ca.crt').validate()
    assert 'kubernetes_ca_cert_file /nonexistent/ca.crt cannot be read' in str(err.value)


def test_empty_ca_clears_vaults_ca_for_the_pods_own():
    """Vault's own in-pod ServiceAccount (local JWT and CA): the CA Vault holds is cleared."""
    api = vault_config()
    outcome = reconcile(config(api, kubernetes_ca_cert='', disable_local_ca_jwt=False, token_reviewer_jwt=None),
                        'present')
    assert sorted(outcome['changed_fields']) == ['disable_local_ca_jwt', 'kubernetes_ca_cert', 'token_reviewer_jwt_set']
    body = api.mutations()[0][2]
    assert body['kubernetes_ca_cert'] == '' and body['disable_local_ca_jwt'] is False
    assert 'token_reviewer_jwt' not in body
    again = vault_config(kubernetes_ca_cert='', disable_local_ca_jwt=False, token_reviewer_jwt_set=False)
    assert reconcile(config(again, kubernetes_ca_cert='', disable_local_ca_jwt=False, token_reviewer_jwt=None),
                     'present')['changed'] is False


def test_empty_ca_with_disable_local_ca_jwt_is_refused():
    with pytest.raises(FieldError) as err:
        config(kubernetes_ca_cert='').validate()
    assert 'kubernetes_ca_cert' in str(err.value) and 'disable_local_ca_jwt' in str(err.value)


def test_state_absent_is_refused():
    with pytest.raises(FieldError) as err:
        config(state='absent').validate()
    assert 'cannot delete' in str(err.value)


def test_on_create_leaves_a_set_jwt_alone():
    api = vault_config()
    assert reconcile(config(api), 'present')['changed'] is False
    assert api.mutations() == []


def test_jwt_given_but_not_set_is_a_change():
    api = vault_config(token_reviewer_jwt_set=False)
    outcome = reconcile(config(api), 'present')
    assert outcome['changed_fields'] == ['token_reviewer_jwt_set']
    assert api.mutations()[0][2]['token_reviewer_jwt'] == JWT


def test_jwt_set_but_not_given_is_a_change_that_drops_it():
    api = vault_config()
    outcome = reconcile(config(api, token_reviewer_jwt=None), 'present')
    assert outcome['changed_fields'] == ['token_reviewer_jwt_set']
    assert 'token_reviewer_jwt' not in api.mutations()[0][2]


def test_always_rewrites_and_masks_the_jwt():
    api = vault_config()
    outcome = reconcile(config(api, token_reviewer_jwt_update='always'), 'present')
    assert outcome['changed'] is True and outcome['changed_fields'] == ['token_reviewer_jwt']
    assert outcome['diff']['after']['token_reviewer_jwt'] == '(hidden, changed)'
    assert JWT not in repr(outcome) and JWT_REWRITE not in repr(outcome)
    assert api.mutations()[0][2]['token_reviewer_jwt'] == JWT


def test_every_write_carries_the_full_config():
    """Vault replaces the whole config: fields the user left out keep Vault's value."""
    api = vault_config(issuer='https://issuer', disable_iss_validation=False, pem_keys=['-----BEGIN PUBLIC KEY-----'])
    reconcile(config(api, kubernetes_host='https://new:6443', kubernetes_ca_cert=None, disable_local_ca_jwt=None),
              'present')
    body = api.mutations()[0][2]
    assert body['kubernetes_host'] == 'https://new:6443'
    assert body['issuer'] == 'https://issuer' and body['disable_iss_validation'] is False
    assert body['kubernetes_ca_cert'] == CA + '\n' and body['disable_local_ca_jwt'] is True
    assert body['pem_keys'] == ['-----BEGIN PUBLIC KEY-----'] and body['token_reviewer_jwt'] == JWT
    assert 'token_reviewer_jwt_set' not in body


def test_pem_keys_compare_as_a_set():
    key_a = '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'
    key_b = '-----BEGIN PUBLIC KEY-----\nBBBB\n-----END PUBLIC KEY-----'
    api = vault_config(pem_keys=[key_a, key_b])
    assert reconcile(config(api, pem_keys=[key_b + '\n', key_a]), 'present')['changed'] is False


def test_config_missing_mount_says_to_enable_it():
    api = FakeAPI(errors={'auth/kube2/config': no_route('auth/kube2/config')})
    with pytest.raises(VaultRequestError) as err:
        reconcile(config(api, mount_path='kube2'), 'present')
    assert "'kube2' does not exist" in str(err.value) and 'enable the kubernetes auth method' in str(err.value)


# -- role ----------------------------------------------------------------------------------

VAULT_ROLE = {
    'alias_name_source': 'serviceaccount_uid', 'bound_service_account_names': ['eso'],
    'bound_service_account_namespace_selector': '{"matchLabels":{"team":"a"}}',
    'bound_service_account_namespaces': ['b', 'a'], 'token_bound_cidrs': ['10.0.0.1'],
    'token_explicit_max_ttl': 0, 'token_max_ttl': 0, 'token_no_default_policy': False, 'token_num_uses': 0,
    'token_period': 0, 'token_policies': ['p2', 'p1'], 'token_strictly_bind_ip': False, 'token_ttl': 3600,
    'token_type': 'default',
}


def role(api=None, **params):
    base = dict((name, None) for name in KubernetesAuthRole.argument_spec)
    base.update({'mount_path': 'kubernetes', 'name': 'eso', 'state': 'present',
                 'bound_service_account_names': ['eso'], 'bound_service_account_namespaces': ['a', 'b']})
    base.update(params)
    return KubernetesAuthRole(api or FakeAPI(), base)


def vault_role(**fields):
    data = dict(VAULT_ROLE)
    data.update(fields)
    return FakeAPI({'auth/kubernetes/role/eso': {'data': data}})


@pytest.mark.parametrize('field,left,right', [
    ('token_ttl', '1h', 3600), ('token_max_ttl', '90m', '5400'), ('token_policies', ['b', 'a', 'a'], ['a', 'b']),
    ('bound_service_account_names', [' sa '], ['sa']), ('token_bound_cidrs', ['10.0.0.1/32'], ['10.0.0.1']),
    ('token_bound_cidrs', ['::1/128'], ['::1']), ('token_bound_cidrs', ['2001:DB8::/32'], ['2001:db8::/32']),
    ('bound_service_account_namespace_selector', {'matchLabels': {'x': 'y'}}, '{"matchLabels": {"x": "y"}}'),
])
def test_role_fields_equal_by_meaning(field, left, right):
    assert normalise_role_field(field, left) == normalise_role_field(field, right)


def test_equal_role_writes_nothing():
    api = vault_role()
    obj = role(api, bound_service_account_namespaces=['a', 'b'], token_ttl='60m', token_policies=['p1', 'p2'],
               token_bound_cidrs=['10.0.0.1/32'])
    assert reconcile(obj, 'present')['changed'] is False
    assert api.mutations() == []


def test_update_sends_the_whole_role_so_the_selector_survives():
    api = vault_role()
    outcome = reconcile(role(api, token_ttl='2h'), 'present')
    assert outcome['changed_fields'] == ['token_ttl']
    body = api.mutations()[0][2]
    assert body['token_ttl'] == 7200
    assert body['bound_service_account_namespace_selector'] == VAULT_ROLE['bound_service_account_namespace_selector']
    assert body['token_policies'] == ['p2', 'p1'] and body['token_strictly_bind_ip'] is False


def test_create_sends_only_what_the_user_set():
    api = FakeAPI()
    reconcile(role(api, token_ttl='1h'), 'present')
    assert api.mutations() == [('write', 'auth/kubernetes/role/eso', {
        'bound_service_account_names': ['eso'], 'bound_service_account_namespaces': ['a', 'b'], 'token_ttl': 3600})]


@pytest.mark.parametrize('params,fragments', [
    ({'token_ttl': 'soon'}, ('token_ttl', 'duration')),
    ({'token_ttl': '2h', 'token_max_ttl': '1h'}, ('token_ttl', 'token_max_ttl')),
    ({'token_bound_cidrs': ['10.0.0.256']}, ('token_bound_cidrs',)),
    ({'bound_service_account_names': [' ']}, ('bound_service_account_names',)),
    ({'bound_service_account_namespaces': None}, ('bound_service_account_namespaces',)),
    ({'name': 'a/b'}, ('name',)),
    ({'mount_path': '/'}, ('mount_path',)),
])
def test_role_bad_input_fails_before_any_request(params, fragments):
    api = FakeAPI()
    with pytest.raises(FieldError) as err:
        reconcile(role(api, **params), 'present')
    for fragment in fragments:
        assert fragment in str(err.value)
    assert api.calls == []


def test_selector_alone_satisfies_the_namespace_binding():
    role(bound_service_account_namespaces=None,
         bound_service_account_namespace_selector={'matchLabels': {'x': 'y'}}).validate()


def test_absent_role_needs_no_bindings():
    api = vault_role()
    reconcile(role(api, state='absent', bound_service_account_names=None, bound_service_account_namespaces=None),
              'absent')
    assert api.mutations() == [('delete', 'auth/kubernetes/role/eso')]


def test_role_missing_mount_says_to_enable_it():
    api = FakeAPI(errors={'auth/kube2/role/eso': no_route('auth/kube2/role/eso')})
    with pytest.raises(VaultRequestError) as err:
        reconcile(role(api, mount_path='kube2'), 'present')
    assert "'kube2' does not exist" in str(err.value) and 'auth/kube2/' in str(err.value)


def test_role_on_a_non_kubernetes_mount_is_refused():
    api = FakeAPI({'auth/kubernetes/role/eso': {'data': {'bind_secret_id': True, 'token_ttl': 0}}})
    with pytest.raises(VaultRequestError) as err:
        reconcile(role(api), 'present')
    assert 'not a kubernetes auth mount' in str(err.value)
    assert api.mutations() == []


def test_list_existing_lists_each_mount_once():
    api = FakeAPI({'LIST auth/kubernetes/role': ['eso', 'other']})
    objects = [role(api, name='eso'), role(api, name='new')]
    assert KubernetesAuthRole.list_existing(api, objects) == {'kubernetes/eso', 'kubernetes/other'}
    assert api.calls == [('list', 'auth/kubernetes/role')]


def test_list_prunable_offers_every_role_of_the_named_mounts_only():
    api = FakeAPI({'LIST auth/kubernetes/role': ['eso', 'old'], 'LIST auth/other/role': ['x']})
    entries = [{'mount_path': 'kubernetes', 'name': 'eso'}, {'mount_path': '/kubernetes/', 'name': 'new'}]
    assert KubernetesAuthRole.list_prunable(api, entries) == [
        {'mount_path': 'kubernetes', 'name': 'eso', 'state': 'absent', '_listed': True},
        {'mount_path': 'kubernetes', 'name': 'old', 'state': 'absent', '_listed': True},
    ]
    assert api.calls == [('list', 'auth/kubernetes/role')]


# -- issuer ------------------------------------------------------------------------------

def test_an_issuer_turns_issuer_validation_on():
    """An issuer alone has no effect in Vault: the module turns the check on with it."""
    api = vault_config()
    outcome = reconcile(config(api, issuer='https://kubernetes.default.svc.cluster.local'), 'present')
    assert sorted(outcome['changed_fields']) == ['disable_iss_validation', 'issuer']
    body = api.mutations()[0][2]
    assert body['issuer'] == 'https://kubernetes.default.svc.cluster.local'
    assert body['disable_iss_validation'] is False
    # Vault's answer after that write: nothing more to do.
    again = vault_config(issuer='https://kubernetes.default.svc.cluster.local', disable_iss_validation=False)
    assert reconcile(config(again, issuer='https://kubernetes.default.svc.cluster.local'), 'present')['changed'] is False
    assert again.mutations() == []


def test_an_empty_issuer_turns_issuer_validation_off():
    api = vault_config(issuer='https://old-issuer', disable_iss_validation=False)
    outcome = reconcile(config(api, issuer=''), 'present')
    assert sorted(outcome['changed_fields']) == ['disable_iss_validation', 'issuer']
    body = api.mutations()[0][2]
    assert body['issuer'] == '' and body['disable_iss_validation'] is True
    # No issuer and no check, as Vault starts: the role's default run changes nothing.
    assert reconcile(config(vault_config(), issuer=''), 'present')['changed'] is False


def test_no_issuer_given_keeps_vaults_issuer_and_check():
    api = vault_config(issuer='https://issuer', disable_iss_validation=False)
    assert reconcile(config(api), 'present')['changed'] is False
    assert config(api).desired().get('disable_iss_validation') is None


def test_an_explicit_disable_iss_validation_wins_over_the_issuer():
    api = vault_config()
    outcome = reconcile(config(api, issuer='https://issuer', disable_iss_validation=True), 'present')
    assert outcome['changed_fields'] == ['issuer']
    assert api.mutations()[0][2]['disable_iss_validation'] is True
    # Validation on without an issuer (Vault then expects its legacy default) is left to the user.
    assert config(issuer='', disable_iss_validation=False).desired()['disable_iss_validation'] is False
