"""Two seed details on the lab's real API server, OpenBao and ESO controller.

1. The issuer: vault_kubernetes_auth_config with the API server's own ``--service-account-issuer``
   turns issuer validation on; a ServiceAccount token of that issuer logs in, and with a wrong
   issuer configured Vault refuses the same token.
2. The ESO policy (kv_reader_rules, as vault_kubernetes_auth and vault_tenants write it): ``read``
   on the KV v2 metadata lets an ExternalSecret with ``dataFrom.find.tags`` find the secrets whose
   ``custom_metadata`` carries the tags, and only those, and sync them into a Secret.
"""

import json
import os
import uuid

import hvac
import pytest


from lab_helpers import LAB, condition, custom, jwt_claims, kubectl, secret_data, wait_for
from vaultkube_testlib import run_module

from ansible_collections.vaultkube.platform.plugins.module_utils._names import (
    kv_reader_rules,
    policy_hcl,
)


def api_server_issuer():
    """--service-account-issuer of the running kube-apiserver, read from its command line."""
    with open(os.path.join(LAB['LAB_STATE'], 'run', 'kube-apiserver.pid')) as handle:
        pid = handle.read().strip()
    with open('/proc/%s/cmdline' % pid, 'rb') as handle:
        args = handle.read().decode().split('\0')
    return args[args.index('--service-account-issuer') + 1]


def sa_token(namespace, name):
    kubectl('create', 'serviceaccount', name, '-n', namespace)
    return kubectl('create', 'token', name, '-n', namespace, '--duration', '1h').stdout.strip()


def login(addr, mount, role, jwt):
    """(True, None) when Vault lets the token in, (False, the error) when it answers 403."""
    try:
        hvac.Client(url=addr).auth.kubernetes.login(role, jwt, mount_point=mount)
        return True, None
    except hvac.exceptions.Forbidden as exc:
        return False, str(exc)


@pytest.fixture
def auth(lab, namespace, bao_dev):
    """A kubernetes auth mount in client-JWT mode (the lab inventory's mode): ServiceAccount
    "app" of the namespace may review tokens and is bound to role "app"."""
    vault = bao_dev['client']
    mount = 'lab-' + uuid.uuid4().hex[:6]
    binding = 'vaultkube-test-' + uuid.uuid4().hex[:6]
    vault.sys.enable_auth_method('kubernetes', path=mount)
    with open(LAB['LAB_CA_CERT']) as handle:
        ca = handle.read()
    yield dict(vault=vault, addr=bao_dev['addr'], token=vault.token, mount=mount, ns=namespace,
               binding=binding, ca=ca)
    kubectl('delete', 'clusterrolebinding', binding, '--ignore-not-found')
    vault.sys.disable_auth_method(mount)


def configure(a, **kw):
    args = dict(url=a['addr'], token=a['token'], mount_path=a['mount'], kubernetes_host=LAB['LAB_API_URL'],
                kubernetes_ca_cert=a['ca'], disable_local_ca_jwt=True)
    args.update(kw)
    result = run_module('vault_kubernetes_auth_config', args)
    assert not result.get('failed'), result.get('msg')
    return result


def module(module_name, **args):
    result = run_module(module_name, args)
    assert not result.get('failed'), result.get('msg')
    return result


def stored_config(a):
    return a['vault'].adapter.get('/v1/auth/%s/config' % a['mount'])['data']


def test_the_issuer_is_checked_at_login(auth):
    a = auth
    issuer = api_server_issuer()
    assert issuer == LAB['LAB_SA_ISSUER']
    jwt = sa_token(a['ns'], 'app')
    assert jwt_claims(jwt)['iss'] == issuer
    kubectl('create', 'clusterrolebinding', a['binding'], '--clusterrole', 'system:auth-delegator',
            '--serviceaccount', '%s:app' % a['ns'])
    module('vault_kubernetes_auth_role', url=a['addr'], token=a['token'], mount_path=a['mount'], name='app',
           bound_service_account_names=['app'], bound_service_account_namespaces=[a['ns']])

    # The lab's own issuer: validation on (read back), the token logs in, the re-run changes nothing.
    assert configure(a, issuer=issuer)['changed'] is True
    stored = stored_config(a)
    assert stored['issuer'] == issuer and stored['disable_iss_validation'] is False
    assert login(a['addr'], a['mount'], 'app', jwt) == (True, None)
    assert configure(a, issuer=issuer)['changed'] is False

    # A wrong issuer: the same token is refused, 403 "invalid issuer (iss) claim".
    wrong = configure(a, issuer='https://wrong-issuer.example.test')
    assert wrong['changed'] is True and wrong['changed_fields'] == ['issuer']
    allowed, error = login(a['addr'], a['mount'], 'app', jwt)
    print('\nVault refused the token of issuer %s (config wants https://wrong-issuer.example.test): %s'
          % (issuer, error))
    assert allowed is False
    assert 'invalid issuer (iss) claim' in error, error

    # The flag is what matters: the wrong issuer kept but not checked lets the token in again.
    assert configure(a, issuer='https://wrong-issuer.example.test', disable_iss_validation=True)['changed'] is True
    assert login(a['addr'], a['mount'], 'app', jwt) == (True, None)

    # Back to the right issuer (validation on again): in.
    assert configure(a, issuer=issuer)['changed'] is True
    assert stored_config(a)['disable_iss_validation'] is False
    assert login(a['addr'], a['mount'], 'app', jwt) == (True, None)


# ---------------------------------------------------------------- dataFrom.find by tags

def test_eso_finds_secrets_by_tags_with_the_policy(lab, eso_controller, auth):
    a = auth
    vault = a['vault']
    prefix = 'find-' + uuid.uuid4().hex[:6]
    team = {'team': 'payments', 'env': 'lab'}
    tagged = {'%s/db' % prefix: {'user': 'pay', 'password': 'p4y-' + prefix},
              '%s/nested/api' % prefix: {'key': 'k3y-' + prefix}}
    untagged = {'%s/other' % prefix: {'user': 'someone-else'},
                '%s/half' % prefix: {'user': 'half-tagged'}}
    for path, data in list(tagged.items()) + list(untagged.items()):
        vault.secrets.kv.v2.create_or_update_secret(path, secret=data, mount_point='secret')
    for path in tagged:
        vault.secrets.kv.v2.update_metadata(path, custom_metadata=team, mount_point='secret')
    vault.secrets.kv.v2.update_metadata('%s/half' % prefix, custom_metadata={'team': 'payments'},
                                        mount_point='secret')

    # The policy exactly as the roles build it, the role and config through the collection.
    policy_name = 'eso-' + prefix
    policy = policy_hcl(kv_reader_rules('secret', prefix), comment='ESO reads secret/%s/*' % prefix)
    assert '"secret/metadata/%s/*" {\n  capabilities = ["read", "list"]' % prefix in policy
    module('vault_policy', url=a['addr'], token=a['token'], name=policy_name, policy=policy)
    configure(a, issuer=api_server_issuer())
    kubectl('create', 'serviceaccount', 'store', '-n', a['ns'])
    kubectl('create', 'clusterrolebinding', a['binding'], '--clusterrole', 'system:auth-delegator',
            '--serviceaccount', '%s:store' % a['ns'])
    module('vault_kubernetes_auth_role', url=a['addr'], token=a['token'], mount_path=a['mount'], name='store',
           bound_service_account_names=['store'], bound_service_account_namespaces=[a['ns']],
           token_policies=[policy_name], token_ttl='10m')

    co = custom(lab)
    co.create_namespaced_custom_object('external-secrets.io', 'v1', a['ns'], 'secretstores', {
        'apiVersion': 'external-secrets.io/v1', 'kind': 'SecretStore', 'metadata': {'name': 'vault'},
        'spec': {'provider': {'vault': {
            'server': a['addr'], 'path': 'secret', 'version': 'v2',
            'auth': {'kubernetes': {'mountPath': a['mount'], 'role': 'store',
                                    'serviceAccountRef': {'name': 'store'}}}}}}})

    def store_ready():
        cond = condition(co.get_namespaced_custom_object('external-secrets.io', 'v1', a['ns'], 'secretstores',
                                                         'vault'))
        return cond if cond and cond['status'] == 'True' else None

    wait_for('SecretStore Ready', store_ready, timeout=90)
    co.create_namespaced_custom_object('external-secrets.io', 'v1', a['ns'], 'externalsecrets', {
        'apiVersion': 'external-secrets.io/v1', 'kind': 'ExternalSecret', 'metadata': {'name': 'payments'},
        'spec': {'refreshInterval': '10s', 'secretStoreRef': {'kind': 'SecretStore', 'name': 'vault'},
                 'target': {'name': 'payments', 'creationPolicy': 'Owner'},
                 'dataFrom': [{'find': {'path': prefix, 'tags': team}}]}})

    def synced():
        obj = co.get_namespaced_custom_object('external-secrets.io', 'v1', a['ns'], 'externalsecrets', 'payments')
        cond = condition(obj)
        if cond and cond['status'] == 'False':
            return None if 'permission denied' not in cond.get('message', '') else cond
        return cond if cond and cond['status'] == 'True' else None

    cond = wait_for('ExternalSecret with dataFrom.find.tags synced', synced, timeout=120)
    assert cond['status'] == 'True' and cond['reason'] == 'SecretSynced', cond

    # Read back from the API server: one key per tagged secret (its path, "/" made "_" by ESO),
    # the secret's data as JSON; no untagged or half-tagged secret.
    data = secret_data(lab, a['ns'], 'payments')
    print('\nSecret %s/payments keys: %s' % (a['ns'], sorted(data)))
    assert {key: json.loads(value) for key, value in data.items()} == {
        path.replace('/', '_'): value for path, value in tagged.items()}
