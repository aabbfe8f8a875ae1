"""The vault_unseal role's key custody, against a real OpenBao (raft storage, not
dev mode) and the lab's real API server (issue 10, bug 1).

Vault returns the unseal keys once, in the answer to sys/init. So every place
the keys go must be ready BEFORE sys/init; a run that finds Vault initialised
with the keys only in the local backup file finishes storing them; and an
initialised Vault whose keys are nowhere in this inventory's custody fails with
one line, never "ok". Every assertion reads the state back from Vault, the API
server and the file system."""

import base64
import json
import os
import sys
import uuid

import pytest


from lab_helpers import LAB, fresh_namespace
from vaultkube_testlib import VAULT_UNSEAL_PLAYBOOK
from vaultkube_testlib import FastRaftServer, run_module, run_playbook, scratch_server
from ansible.parsing.vault import VaultLib, VaultSecret

PASSWORD = 'custody-test-' + uuid.uuid4().hex


@pytest.fixture
def bao():
    yield from scratch_server('vaultkube-custody-', FastRaftServer, 'bao')


@pytest.fixture
def keys_namespace(lab):
    """A namespace name that does not exist yet; deleted afterwards if a run created it."""
    with fresh_namespace(lab, 'vk-keys-') as name:
        yield name


def role_vars(server, work, storage, namespace='vault'):
    return dict(
        ansible_python_interpreter=sys.executable,
        vault_unseal_url=server.url, vault_unseal_ca_cert='',
        vault_unseal_secret_shares=3, vault_unseal_secret_threshold=2,
        vault_unseal_keys_storage=storage,
        vault_unseal_keys_file=str(work / 'site' / 'vault-init.vault'),
        vault_unseal_keys_password=PASSWORD,
        vault_unseal_kubeconfig=LAB['KUBECONFIG'],
        vault_unseal_keys_secret_namespace=namespace,
        vault_unseal_keys_secret_name='vault-unseal-keys',
        vault_unseal_wait_timeout=30,
        # These tests read Vault with the initial root token: kept (the default revokes it).
        vault_unseal_revoke_root_token=False)


def run_role(tmp_path, extra_vars):
    playbook = tmp_path / 'unseal.yml'
    playbook.write_text(VAULT_UNSEAL_PLAYBOOK)
    proc = run_playbook(playbook, extra_vars)
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError('no JSON from ansible-playbook (rc=%s):\n%s\n%s'
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc, doc


def failure(doc):
    """(task name, result) of the failed task, or None."""
    for play in doc['plays']:
        for task in play['tasks']:
            result = task['hosts'].get('localhost') or {}
            if result.get('failed') and not result.get('ignore_errors'):
                return task['task']['name'], result
    return None


def changed(doc):
    return doc['stats']['localhost']['changed']


def decrypt_file(path):
    with open(path, 'rb') as fh:
        return json.loads(VaultLib([('default', VaultSecret(PASSWORD.encode()))]).decrypt(fh.read()))


def read_secret(lab, namespace, name='vault-unseal-keys'):
    core = lab['client'].CoreV1Api(lab['api_client'])
    try:
        return core.read_namespaced_secret(name, namespace)
    except lab['client'].exceptions.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def secret_content(lab, namespace, name='vault-unseal-keys'):
    """The keys Secret's custody content: decrypted from init.vault (the plain init.json of an
    earlier version only where a test wrote one itself)."""
    secret = read_secret(lab, namespace, name)
    if secret is None:
        return None
    if 'init.vault' in secret.data:
        assert 'init.json' not in secret.data, 'the plain legacy key was left beside the encrypted one'
        return json.loads(VaultLib([('default', VaultSecret(PASSWORD.encode()))]).decrypt(
            base64.b64decode(secret.data['init.vault'])))
    return json.loads(base64.b64decode(secret.data['init.json']))


def assert_one_line(result, *fragments):
    msg = result.get('msg', '')
    assert '\n' not in msg.strip(), msg
    assert 'Traceback' not in json.dumps(result), result
    for fragment in fragments:
        assert fragment in msg, '%r not in %r' % (fragment, msg)
    return msg


def test_new_vault_with_a_missing_namespace_is_initialised_and_its_keys_stored(lab, bao, keys_namespace, tmp_path):
    server, work = bao
    extra = role_vars(server, work, 'kubernetes_secret', keys_namespace)
    proc, doc = run_role(tmp_path, extra)
    assert failure(doc) is None, failure(doc)
    stored = secret_content(lab, keys_namespace)
    assert stored is not None, 'no keys Secret in %s' % keys_namespace
    assert stored == decrypt_file(extra['vault_unseal_keys_file'])
    assert len(stored['keys']) == 3
    status = server.client().sys.read_seal_status()
    assert status['initialized'] and not status['sealed']
    assert server.client(stored['root_token']).is_authenticated()

    _proc, again = run_role(tmp_path, extra)
    assert failure(again) is None, failure(again)
    assert changed(again) == 0
    assert secret_content(lab, keys_namespace) == stored


def assert_unseals_then_converges(server, root_token, tmp_path, extra):
    """Vault sealed (with ROOT_TOKEN): a re-run unseals it, and a third run changes nothing."""
    server.client(root_token).sys.seal()
    _proc, again = run_role(tmp_path, extra)
    assert failure(again) is None, failure(again)
    assert server.client().sys.read_seal_status()['sealed'] is False
    _proc, third = run_role(tmp_path, extra)
    assert failure(third) is None and changed(third) == 0


def test_file_storage_initialises_unseals_and_reruns_unchanged(bao, tmp_path):
    server, work = bao
    extra = role_vars(server, work, 'ansible_vault_file')
    _proc, doc = run_role(tmp_path, extra)
    assert failure(doc) is None, failure(doc)
    stored = decrypt_file(extra['vault_unseal_keys_file'])
    assert server.client().sys.read_seal_status()['sealed'] is False
    assert server.client(stored['root_token']).is_authenticated()
    assert_unseals_then_converges(server, stored['root_token'], tmp_path, extra)


def test_keys_only_in_the_backup_file_are_stored_by_the_next_run(lab, bao, keys_namespace, tmp_path):
    """An earlier run initialised Vault and wrote the backup file, then stopped."""
    server, work = bao
    extra = role_vars(server, work, 'kubernetes_secret', keys_namespace)
    os.makedirs(os.path.dirname(extra['vault_unseal_keys_file']))
    init = run_module('vault_init', dict(url=server.url, secret_shares=3, secret_threshold=2,
                                         output_file=extra['vault_unseal_keys_file'],
                                         output_vault_password=PASSWORD))
    assert init.get('changed') and not init.get('failed'), init.get('msg')
    backup = decrypt_file(extra['vault_unseal_keys_file'])
    assert server.client().sys.read_seal_status()['sealed'] is True

    _proc, doc = run_role(tmp_path, extra)
    assert failure(doc) is None, failure(doc)
    assert secret_content(lab, keys_namespace) == backup
    assert server.client().sys.read_seal_status()['sealed'] is False


@pytest.mark.parametrize('storage', ['kubernetes_secret', 'ansible_vault_file'])
def test_initialised_vault_with_keys_nowhere_fails_in_one_line(lab, bao, keys_namespace, tmp_path, storage):
    server, work = bao
    elsewhere = work / 'elsewhere.vault'
    init = run_module('vault_init', dict(url=server.url, secret_shares=3, secret_threshold=2,
                                         output_file=str(elsewhere), output_vault_password=PASSWORD))
    assert init.get('changed') and not init.get('failed'), init.get('msg')
    extra = role_vars(server, work, storage, keys_namespace)

    _proc, doc = run_role(tmp_path, extra)
    failed = failure(doc)
    assert failed is not None, 'the run reported success for a Vault whose keys it does not hold'
    fragments = ['is initialised', extra['vault_unseal_keys_file']]
    if storage == 'kubernetes_secret':
        fragments.append('%s/vault-unseal-keys' % keys_namespace)
    assert_one_line(failed[1], *fragments)
    assert server.client().sys.read_seal_status()['sealed'] is True
    assert not os.path.exists(extra['vault_unseal_keys_file'])
    assert secret_content(lab, keys_namespace) is None


def test_secret_holding_other_keys_is_refused_before_sys_init(lab, bao, keys_namespace, tmp_path):
    server, work = bao
    core = lab['client'].CoreV1Api(lab['api_client'])
    core.create_namespace({'metadata': {'name': keys_namespace}})
    earlier = {'keys': ['aa' * 32], 'root_token': 's.earlier'}
    core.create_namespaced_secret(keys_namespace, {
        'metadata': {'name': 'vault-unseal-keys'}, 'stringData': {'init.json': json.dumps(earlier)}})
    extra = role_vars(server, work, 'kubernetes_secret', keys_namespace)

    _proc, doc = run_role(tmp_path, extra)
    failed = failure(doc)
    assert failed is not None
    assert_one_line(failed[1], 'not initialised', '%s/vault-unseal-keys' % keys_namespace, 'nothing was initialised')
    assert server.client().sys.read_seal_status()['initialized'] is False
    assert secret_content(lab, keys_namespace) == earlier
    assert not os.path.exists(extra['vault_unseal_keys_file'])


def test_unusable_secret_namespace_fails_before_sys_init(lab, bao, tmp_path):
    server, work = bao
    extra = role_vars(server, work, 'kubernetes_secret', 'Not_A_Valid_Namespace')
    _proc, doc = run_role(tmp_path, extra)
    failed = failure(doc)
    assert failed is not None
    assert server.client().sys.read_seal_status()['initialized'] is False
    assert not os.path.exists(extra['vault_unseal_keys_file'])


@pytest.mark.parametrize('storage', ['kubernetes_secret', 'ansible_vault_file'])
def test_keys_kept_by_bank_vaults_are_adopted(lab, bao, keys_namespace, tmp_path, storage):
    """A Vault the Bank-Vaults operator initialised: its keys in Bank-Vaults' Secret layout."""
    server, work = bao
    init = server.client().sys.initialize(secret_shares=3, secret_threshold=2)
    core = lab['client'].CoreV1Api(lab['api_client'])
    core.create_namespace({'metadata': {'name': keys_namespace}})
    layout = {'vault-unseal-%d' % i: key for i, key in enumerate(init['keys'])}
    layout['vault-root'] = init['root_token']
    core.create_namespaced_secret(keys_namespace, {
        'metadata': {'name': 'vault-unseal-keys-bv'},
        'stringData': layout})
    before = core.read_namespaced_secret('vault-unseal-keys-bv', keys_namespace).metadata.resource_version
    extra = role_vars(server, work, storage, keys_namespace)

    # Not asked to adopt: the keys are nowhere in this inventory's custody.
    _proc, refused = run_role(tmp_path, extra)
    assert failure(refused) is not None
    assert server.client().sys.read_seal_status()['sealed'] is True

    extra.update(vault_unseal_adopt_bank_vaults=True, vault_unseal_bank_vaults_secret_namespace=keys_namespace,
                 vault_unseal_bank_vaults_secret_name='vault-unseal-keys-bv')
    proc, doc = run_role(tmp_path, extra)
    assert failure(doc) is None, failure(doc)
    assert server.client().sys.read_seal_status()['sealed'] is False
    kept = decrypt_file(extra['vault_unseal_keys_file'])
    assert sorted(kept['keys']) == sorted(init['keys']) and kept['root_token'] == init['root_token']
    assert oct(os.stat(extra['vault_unseal_keys_file']).st_mode & 0o777) == '0o600'
    if storage == 'kubernetes_secret':
        assert secret_content(lab, keys_namespace) == kept
    assert core.read_namespaced_secret('vault-unseal-keys-bv', keys_namespace).metadata.resource_version == before
    assert init['root_token'] not in proc.stdout and not any(k in proc.stdout for k in init['keys'])

    assert_unseals_then_converges(server, init['root_token'], tmp_path, extra)
