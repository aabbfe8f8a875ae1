"""vault_key_custody against the lab's real API server and a real OpenBao (raft, not dev mode).

The keys Secret holds custody content encrypted (data key init.vault), so a controller that may
read every Secret (ESO's, Reloader's: checked with kubectl auth can-i and printed) learns no
share and no token from it. An earlier version's plain init.json Secret and Bank-Vaults' plain
layout are moved into that form; a re-run writes nothing (resourceVersion read back unchanged);
vault_unseal unseals from the Secret alone. Every assertion reads the API server, the file
system or OpenBao back."""

import base64
import json
import os
import uuid

import pytest


from lab_helpers import LAB, delete_namespace, fresh_namespace, helm, kubectl
from vaultkube_testlib import FastRaftServer, run_module, scratch_server
from ansible.parsing.vault import VaultLib, VaultSecret

PASSWORD = 'key-custody-lab-' + uuid.uuid4().hex
VAULT = VaultLib([('default', VaultSecret(PASSWORD.encode()))])


@pytest.fixture(scope='module')
def initialised():
    """A real OpenBao, initialised once (3 shares, threshold 2): (server, init answer, work dir)."""
    for server, work in scratch_server('vaultkube-key-custody-', FastRaftServer, 'bao'):
        answer = server.client().sys.initialize(secret_shares=3, secret_threshold=2)
        yield server, answer, work


@pytest.fixture
def ns(lab):
    with fresh_namespace(lab, 'vk-custody-') as name:
        yield name


def secrets_of(answer):
    return list(answer['keys']) + list(answer['keys_base64']) + [answer['root_token']]


def custody_args(ns, keys_file, **extra):
    args = dict(state='present', initialized=True, keys_file=str(keys_file), keys_file_vault_password=PASSWORD,
                keys_secret_namespace=ns, keys_secret_name='vault-unseal-keys', kubeconfig=LAB['KUBECONFIG'])
    args.update(extra)
    return args


def raw_secret(ns, name='vault-unseal-keys'):
    return json.loads(kubectl('get', 'secret', name, '-n', ns, '-o', 'json').stdout)


def assert_nothing_plain(secret, answer):
    """No share, no token and no "keys" JSON in the Secret as a reader of Secrets sees it."""
    assert sorted(secret['data']) == ['init.vault'], sorted(secret['data'])
    raw = json.dumps(secret)
    decoded = base64.b64decode(secret['data']['init.vault']).decode()
    assert decoded.startswith('$ANSIBLE_VAULT;1.1;AES256')
    for value in secrets_of(answer):
        assert value not in raw and value not in decoded
    assert '"keys"' not in decoded and 'root_token' not in decoded
    return json.loads(VAULT.decrypt(decoded))


def assert_clean(result, answer):
    assert not result.get('failed'), result.get('msg')
    out = result['_stdout'] + result['_stderr']
    assert not any(value in out for value in secrets_of(answer)), 'a share or the token reached the output'


def can_i(namespace, account):
    res = kubectl('auth', 'can-i', 'get', 'secrets', '-n', namespace, '--as', account, check=False)
    return res.stdout.strip()


def reloader_account(lab):
    """Install Reloader's chart (its RBAC; no node runs its pod) and return its ServiceAccount."""
    namespace, release = 'vk-reloader-' + uuid.uuid4().hex[:6], 'reloader'
    chart = os.path.join(os.path.dirname(LAB['LAB_CHART_DIR']), 'reloader')
    res = helm('install', release, chart, '-n', namespace, '--create-namespace', check=False)
    assert res.returncode == 0, res.stderr
    accounts = json.loads(kubectl('get', 'serviceaccounts', '-n', namespace, '-o', 'json').stdout)['items']
    names = [a['metadata']['name'] for a in accounts if a['metadata']['name'] != 'default']
    assert len(names) == 1, names
    return namespace, release, 'system:serviceaccount:%s:%s' % (namespace, names[0])


def test_secret_custody_is_encrypted_for_controllers_that_read_every_secret(
        lab, eso_chart, initialised, ns, tmp_path):
    server, answer, _work = initialised
    keys_file = tmp_path / 'site' / 'vault-init.vault'
    prepared = run_module('vault_key_custody', custody_args(ns, keys_file, state='prepare', initialized=False))
    assert prepared['changed'] and not prepared.get('failed'), prepared.get('msg')
    assert oct(os.stat(str(keys_file.parent)).st_mode & 0o777) == '0o700'
    kubectl('get', 'namespace', ns)
    # What vault_init writes, here from the answer of the real sys/init above.
    content = dict(keys=answer['keys'], keys_base64=answer['keys_base64'], root_token=answer['root_token'],
                   secret_shares=3, secret_threshold=2)
    keys_file.write_text(VAULT.encrypt(json.dumps(content)).decode())
    os.chmod(str(keys_file), 0o600)

    stored = run_module('vault_key_custody', custody_args(ns, keys_file), diff=True)
    assert_clean(stored, answer)
    assert stored['changed'] and stored['locations'] == {'file': True, 'secret': True}
    assert (stored['kind'], stored['shares'], stored['threshold'], stored['holds_root_token']) == ('unseal', 3, 2, True)
    secret = raw_secret(ns)
    assert assert_nothing_plain(secret, answer) == content

    eso = 'system:serviceaccount:%s:%s' % (eso_chart['namespace'], eso_chart['service_account'])
    reloader_ns, release, reloader = reloader_account(lab)
    try:
        verdicts = {eso: can_i(ns, eso), reloader: can_i(ns, reloader)}
    finally:
        helm('uninstall', release, '-n', reloader_ns, check=False)
        delete_namespace(lab, reloader_ns)
    print('\nkubectl auth can-i get secrets -n %s: %s' % (ns, json.dumps(verdicts)))
    # Both controllers may read the keys Secret: that is why its content is encrypted.
    assert verdicts == {eso: 'yes', reloader: 'yes'}, verdicts

    again = run_module('vault_key_custody', custody_args(ns, keys_file))
    assert_clean(again, answer)
    assert again['changed'] is False
    assert raw_secret(ns)['metadata']['resourceVersion'] == secret['metadata']['resourceVersion']

    # The Secret alone unseals (the keys file moved offline).
    server.client(answer['root_token']).sys.seal()
    os.rename(str(keys_file), str(tmp_path / 'offline.vault'))
    unsealed = run_module('vault_unseal', dict(url=server.url, keys_file=str(keys_file),
                                               keys_file_vault_password=PASSWORD, keys_secret_namespace=ns,
                                               keys_secret_name='vault-unseal-keys',
                                               kubeconfig=LAB['KUBECONFIG']))
    assert_clean(unsealed, answer)
    assert unsealed['keys_submitted'] == 2 and server.client().sys.read_seal_status()['sealed'] is False

    # The helper that revokes the bootstrap token removes it from custody; read back decrypted.
    forgot = run_module('vault_key_custody', custody_args(ns, tmp_path / 'offline.vault', forget_root_token=True))
    assert_clean(forgot, answer)
    assert forgot['changed'] and forgot['holds_root_token'] is False
    assert 'root_token' not in assert_nothing_plain(raw_secret(ns), answer)
    with open(str(tmp_path / 'offline.vault'), 'rb') as fh:
        assert 'root_token' not in json.loads(VAULT.decrypt(fh.read()))


def test_legacy_plain_init_json_is_converted(lab, initialised, ns, tmp_path):
    _server, answer, _work = initialised
    content = dict(keys=answer['keys'], keys_base64=answer['keys_base64'], root_token=answer['root_token'],
                   secret_shares=3, secret_threshold=2)
    kubectl('create', 'namespace', ns)
    kubectl('create', 'secret', 'generic', 'vault-unseal-keys', '-n', ns,
            '--from-literal=init.json=%s' % json.dumps(content))
    keys_file = tmp_path / 'site' / 'vault-init.vault'

    converted = run_module('vault_key_custody', custody_args(ns, keys_file), diff=True)
    assert_clean(converted, answer)
    assert converted['changed'] and converted['diff']['before']['secret_format'] == 'plain'
    assert converted['secret_format'] == 'encrypted'
    secret = raw_secret(ns)
    assert assert_nothing_plain(secret, answer) == content
    assert oct(os.stat(str(keys_file)).st_mode & 0o777) == '0o600'
    with open(str(keys_file), 'rb') as fh:
        assert json.loads(VAULT.decrypt(fh.read())) == content

    again = run_module('vault_key_custody', custody_args(ns, keys_file))
    assert_clean(again, answer)
    assert again['changed'] is False
    assert raw_secret(ns)['metadata']['resourceVersion'] == secret['metadata']['resourceVersion']


def test_bank_vaults_plain_layout_is_adopted_into_the_encrypted_form(lab, initialised, ns, tmp_path):
    server, answer, _work = initialised
    kubectl('create', 'namespace', ns)
    literals = ['--from-literal=vault-unseal-%d=%s' % (i, key) for i, key in enumerate(answer['keys'])]
    kubectl('create', 'secret', 'generic', 'bank-vaults-keys', '-n', ns,
            '--from-literal=vault-root=%s' % answer['root_token'], *literals)
    bank_vaults = raw_secret(ns, 'bank-vaults-keys')
    keys_file = tmp_path / 'site' / 'vault-init.vault'
    args = custody_args(ns, keys_file, adopt_bank_vaults=True, bank_vaults_secret_namespace=ns,
                        bank_vaults_secret_name='bank-vaults-keys')

    refused = run_module('vault_key_custody', dict(args, adopt_bank_vaults=False))
    assert refused.get('failed') and 'none of the places' in refused['msg'] and '\n' not in refused['msg']

    adopted = run_module('vault_key_custody', args)
    assert_clean(adopted, answer)
    assert adopted['changed'] and adopted['adopted'] is True
    secret = raw_secret(ns)
    stored = assert_nothing_plain(secret, answer)
    assert stored == {'keys': answer['keys'], 'root_token': answer['root_token'], 'adopted_from': 'bank-vaults'}
    assert raw_secret(ns, 'bank-vaults-keys') == bank_vaults, "Bank-Vaults' Secret was changed"

    again = run_module('vault_key_custody', args)
    assert_clean(again, answer)
    assert again['changed'] is False and again['adopted'] is False
    assert raw_secret(ns)['metadata']['resourceVersion'] == secret['metadata']['resourceVersion']

    # The adopted keys unseal the real server.
    server.client(answer['root_token']).sys.seal()
    unsealed = run_module('vault_unseal', dict(url=server.url, keys_file=str(keys_file),
                                               keys_file_vault_password=PASSWORD))
    assert_clean(unsealed, answer)
    assert server.client().sys.read_seal_status()['sealed'] is False
