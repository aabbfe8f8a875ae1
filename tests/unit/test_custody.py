"""Key custody (module_utils/_custody.py): prepare, present and load_keys with a real keys file
and an in-memory double of the API server's Secret and Namespace paths (pure logic; the lab
test tests/lab/test_key_custody.py runs the same against a real API server)."""

import base64
import copy
import json
import os

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils import _custody
from ansible_collections.vaultkube.platform.plugins.module_utils._custody import CustodyError
from ansible_collections.vaultkube.platform.plugins.module_utils._keyfile import parse, serialise
from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes import KubernetesError

PASSWORD = 'unit-custody-password'
KEYS = ['%02x' % i * 32 for i in range(1, 4)]
CONTENT = dict(keys=KEYS, keys_base64=[], secret_shares=3, secret_threshold=2, root_token='s.rootroot')


class FakeApi(object):
    """Namespaces and Secrets by path, with resourceVersions and the API server's 404/409."""

    def __init__(self):
        self.objects = {}
        self.writes = []
        self.version = 0

    def request(self, method, path, query=None, body=None, missing_ok=False, **_kw):
        if method == 'GET':
            if path in self.objects:
                return copy.deepcopy(self.objects[path])
            if missing_ok:
                return None
            raise KubernetesError('GET %s answered 404' % path, 404)
        self.writes.append((method, path))
        self.version += 1
        body = copy.deepcopy(body)
        if method == 'POST':
            name = body['metadata']['name']
            target = path + '/' + name
            if target in self.objects:
                raise KubernetesError('POST %s answered 409: exists' % path, 409)
        else:
            target = path
            if body['metadata'].get('resourceVersion') != self.objects[target]['metadata']['resourceVersion']:
                raise KubernetesError('PUT %s answered 409: conflict' % path, 409)
        body['metadata']['resourceVersion'] = str(self.version)
        self.objects[target] = body
        return body

    def put_secret(self, namespace, name, data):
        self.objects['/api/v1/namespaces/%s/secrets/%s' % (namespace, name)] = {
            'metadata': {'name': name, 'namespace': namespace, 'resourceVersion': '0'},
            'data': dict((k, base64.b64encode(v.encode()).decode()) for k, v in data.items())}

    def secret(self, namespace='vault', name='keys'):
        return self.objects.get('/api/v1/namespaces/%s/secrets/%s' % (namespace, name))


@pytest.fixture
def api():
    fake = FakeApi()
    fake.objects['/api/v1/namespaces/vault'] = {'metadata': {'name': 'vault'}}
    return fake


def params(tmp_path, secret=True, **extra):
    result = dict(keys=[], keys_file=str(tmp_path / 'site' / 'init.vault'), keys_file_vault_password=PASSWORD,
                  keys_secret_namespace='vault' if secret else None, keys_secret_name='keys' if secret else None,
                  kubeconfig=None, context=None, request_timeout=30, adopt_bank_vaults=False,
                  bank_vaults_secret_namespace='bv', bank_vaults_secret_name='vault-unseal-keys',
                  forget_root_token=False, url='https://vault:8200')
    result.update(extra)
    return result


def write_file(p, content=None):
    content = CONTENT if content is None else content
    os.makedirs(os.path.dirname(p['keys_file']), exist_ok=True)
    _custody.write_file(p['keys_file'], content, PASSWORD)


def secret_plaintext(api):
    data = api.secret()['data']
    return dict((k, base64.b64decode(v).decode()) for k, v in data.items())


def test_prepare_creates_the_directory_0700_and_the_namespace(tmp_path, api):
    p = params(tmp_path, keys_secret_namespace='new-ns')
    result = _custody.prepare(p, check_mode=False, client=api)
    assert result['changed'] and sorted(result['created']) == ['directory', 'namespace']
    assert oct(os.stat(str(tmp_path / 'site')).st_mode & 0o777) == '0o700'
    assert '/api/v1/namespaces/new-ns' in api.objects
    again = _custody.prepare(p, check_mode=False, client=api)
    assert not again['changed']


def test_prepare_in_check_mode_writes_nothing(tmp_path, api):
    p = params(tmp_path, keys_secret_namespace='new-ns')
    assert _custody.prepare(p, check_mode=True, client=api)['changed']
    assert not os.path.exists(str(tmp_path / 'site')) and api.writes == []


@pytest.mark.parametrize('layout', ['init.vault', 'init.json'])
def test_prepare_refuses_a_secret_holding_keys(tmp_path, api, layout):
    text = serialise(CONTENT, PASSWORD) if layout == 'init.vault' else json.dumps(CONTENT)
    api.put_secret('vault', 'keys', {layout: text})
    with pytest.raises(CustodyError, match='Secret vault/keys already holds unseal keys') as info:
        _custody.prepare(params(tmp_path), check_mode=False, client=api)
    assert '\n' not in str(info.value) and 'nothing was initialised' in str(info.value)
    assert not os.path.exists(str(tmp_path / 'site')) and api.writes == []


def test_prepare_refuses_an_existing_keys_file(tmp_path, api):
    p = params(tmp_path)
    write_file(p)
    with pytest.raises(CustodyError, match='keys_file .* already exists'):
        _custody.prepare(p, check_mode=False, client=api)


def test_bad_namespace_is_refused_before_any_request(tmp_path, api):
    with pytest.raises(CustodyError, match='keys_secret_namespace must be a Kubernetes name'):
        _custody.prepare(params(tmp_path, keys_secret_namespace='Not_Valid'), check_mode=False, client=api)
    assert api.writes == []


def test_file_only_is_finished_into_an_encrypted_secret(tmp_path, api):
    p = params(tmp_path)
    write_file(p)
    result = _custody.present(p, check_mode=False, client=api)
    assert result['changed'] and result['written'] == ['secret']
    plain = secret_plaintext(api)
    assert list(plain) == ['init.vault'] and plain['init.vault'].startswith('$ANSIBLE_VAULT;1.1;AES256')
    for secret in KEYS + [CONTENT['root_token']]:
        assert secret not in json.dumps(api.secret()) and secret not in plain['init.vault']
    assert '"keys"' not in plain['init.vault']
    assert parse(plain['init.vault'], PASSWORD) == CONTENT
    assert (result['kind'], result['shares'], result['threshold'], result['holds_root_token']) == ('unseal', 3, 2, True)
    writes = len(api.writes)
    again = _custody.present(p, check_mode=False, client=api)
    assert not again['changed'] and len(api.writes) == writes


def test_secret_only_is_copied_to_the_keys_file_0600(tmp_path, api):
    p = params(tmp_path)
    api.put_secret('vault', 'keys', {'init.vault': serialise(CONTENT, PASSWORD)})
    result = _custody.present(p, check_mode=False, client=api)
    assert result['written'] == ['file'] and api.writes == []
    assert oct(os.stat(p['keys_file']).st_mode & 0o777) == '0o600'
    with open(p['keys_file']) as fh:
        assert parse(fh.read(), PASSWORD) == CONTENT


def test_legacy_plain_secret_is_converted(tmp_path, api):
    p = params(tmp_path)
    write_file(p)
    api.put_secret('vault', 'keys', {'init.json': json.dumps(CONTENT)})
    result = _custody.present(p, check_mode=False, client=api)
    assert result['written'] == ['secret'] and result['diff']['before']['secret_format'] == 'plain'
    assert list(secret_plaintext(api)) == ['init.vault']
    assert not _custody.present(p, check_mode=False, client=api)['changed']


def test_check_mode_reports_and_writes_nothing(tmp_path, api):
    p = params(tmp_path)
    api.put_secret('vault', 'keys', {'init.json': json.dumps(CONTENT)})
    result = _custody.present(p, check_mode=True, client=api)
    assert result['changed'] and api.writes == [] and not os.path.exists(p['keys_file'])


def test_keys_nowhere_fail_in_one_line_naming_both_places(tmp_path, api):
    with pytest.raises(CustodyError) as info:
        _custody.present(params(tmp_path), check_mode=False, client=api)
    msg = str(info.value)
    assert '\n' not in msg and 'is initialised' in msg and 'Secret vault/keys' in msg and 'init.vault' in msg


def test_bank_vaults_layout_is_adopted_encrypted_and_left_alone(tmp_path, api):
    layout = dict(('vault-unseal-%d' % i, '%02x' % i * 32) for i in range(12))
    layout['vault-root'] = 's.bankvaults'
    api.put_secret('bv', 'vault-unseal-keys', layout)
    before = copy.deepcopy(api.objects['/api/v1/namespaces/bv/secrets/vault-unseal-keys'])
    p = params(tmp_path, adopt_bank_vaults=True)
    result = _custody.present(p, check_mode=False, client=api)
    assert result['adopted'] and sorted(result['written']) == ['file', 'secret']
    stored = parse(secret_plaintext(api)['init.vault'], PASSWORD)
    # Numeric order: vault-unseal-10 after vault-unseal-9.
    assert stored['keys'] == ['%02x' % i * 32 for i in range(12)]
    assert stored['root_token'] == 's.bankvaults' and stored['adopted_from'] == 'bank-vaults'
    assert api.objects['/api/v1/namespaces/bv/secrets/vault-unseal-keys'] == before
    assert not _custody.present(p, check_mode=False, client=api)['changed']


def test_bank_vaults_secret_without_keys_is_named(tmp_path, api):
    api.put_secret('bv', 'vault-unseal-keys', {'other': 'x'})
    with pytest.raises(CustodyError, match='Secret bv/vault-unseal-keys does not hold Bank-Vaults'):
        _custody.present(params(tmp_path, adopt_bank_vaults=True), check_mode=False, client=api)


def test_forget_root_token_removes_it_everywhere(tmp_path, api):
    p = params(tmp_path)
    write_file(p)
    _custody.present(p, check_mode=False, client=api)
    result = _custody.present(dict(p, forget_root_token=True), check_mode=False, client=api)
    assert result['changed'] and not result['holds_root_token']
    stored = parse(secret_plaintext(api)['init.vault'], PASSWORD)
    assert 'root_token' not in stored and stored['generation'] == 1
    with open(p['keys_file']) as fh:
        assert parse(fh.read(), PASSWORD) == stored
    assert not _custody.present(dict(p, forget_root_token=True), check_mode=False, client=api)['changed']


def test_a_lost_secret_write_is_finished_from_the_file(tmp_path, api):
    """write_custody writes the file first: a file of a later generation than the Secret wins."""
    p = params(tmp_path)
    api.put_secret('vault', 'keys', {'init.vault': serialise(CONTENT, PASSWORD)})
    newer = dict(CONTENT, generation=1)
    newer.pop('root_token')
    write_file(p, newer)
    assert _custody.present(p, check_mode=False, client=api)['written'] == ['secret']
    assert parse(secret_plaintext(api)['init.vault'], PASSWORD) == newer


def test_a_keys_file_behind_the_secret_is_brought_up_to_date(tmp_path, api):
    """Another controller's run wrote the Secret (generation 2); this controller's file is older."""
    p = params(tmp_path)
    current = dict(CONTENT, generation=2)
    current.pop('root_token')
    api.put_secret('vault', 'keys', {'init.vault': serialise(current, PASSWORD)})
    write_file(p, CONTENT)
    result = _custody.present(p, check_mode=False, client=api)
    assert result['written'] == ['file'] and api.writes == [] and not result['holds_root_token']
    with open(p['keys_file']) as fh:
        assert parse(fh.read(), PASSWORD) == current


def test_write_custody_counts_generations(tmp_path, api):
    p = params(tmp_path)
    os.makedirs(str(tmp_path / 'site'))
    written = _custody.write_custody(p, CONTENT, client=api)
    assert written['generation'] == 1 and 'generation' not in CONTENT
    assert _custody.write_custody(p, written, client=api)['generation'] == 2
    assert _custody.read_custody(p, client=api)['generation'] == 2


def test_file_and_secret_of_two_vaults_are_refused(tmp_path, api):
    p = params(tmp_path)
    api.put_secret('vault', 'keys', {'init.vault': serialise(CONTENT, PASSWORD)})
    write_file(p, dict(CONTENT, keys=['ff' * 32]))
    with pytest.raises(CustodyError, match='hold the keys of different Vaults'):
        _custody.present(p, check_mode=False, client=api)
    assert api.writes == []


def test_recovery_keys_are_reported_and_never_loaded_for_unseal(tmp_path, api):
    p = params(tmp_path, secret=False)
    write_file(p, dict(recovery_keys=KEYS, recovery_shares=3, recovery_threshold=2, keys=[], root_token='t'))
    result = _custody.present(p, check_mode=False)
    assert (result['kind'], result['shares'], result['threshold']) == ('recovery', 3, 2)
    with pytest.raises(CustodyError, match='hold no unseal keys'):
        _custody.load_keys(p, set(), 'unseal')
    assert _custody.load_keys(p, set(), 'recovery') == KEYS


def test_pgp_shares_are_kept_and_never_submitted(tmp_path):
    p = params(tmp_path, secret=False)
    pgp = ['wcBMA' + 'x' * 400, 'wcBMA' + 'y' * 400]
    write_file(p, dict(keys=pgp, secret_shares=2, secret_threshold=2))
    assert _custody.present(p, check_mode=False)['pgp'] is True
    with pytest.raises(CustodyError, match='PGP-encrypted for their holders'):
        _custody.load_keys(p, set())
    assert _custody.load_keys(dict(p, keys=[KEYS[0], ' ', KEYS[0]]), set()) == [KEYS[0]]


def test_load_keys_registers_no_log_values_and_names_a_missing_file(tmp_path):
    p = params(tmp_path, secret=False)
    with pytest.raises(CustodyError, match='keys_file .* cannot be read'):
        _custody.load_keys(p, set())
    write_file(p)
    no_log = set()
    assert _custody.load_keys(p, no_log) == KEYS and no_log == set(KEYS)


def test_a_copy_that_missed_a_rekey_is_the_same_vaults_and_the_newer_copy_wins(tmp_path, api):
    from ansible_collections.vaultkube.platform.plugins.module_utils._rekey import promote, retire
    p = params(tmp_path)
    new_keys = ['ee' * 32, 'dd' * 32, 'cc' * 32]
    rekeyed = retire(promote(dict(CONTENT, generation=3, pending=dict(keys=new_keys, secret_shares=3,
                                                                      secret_threshold=2)), 'unseal'))
    assert rekeyed['keys'] == new_keys and len(rekeyed[_custody.RETIRED_FIELD]) == len(CONTENT['keys'])
    # The Secret was rekeyed; the keys file was offline and still holds the retired set.
    api.put_secret('vault', 'keys', {'init.vault': serialise(dict(rekeyed, generation=5), PASSWORD)})
    write_file(p, dict(CONTENT, generation=2))
    result = _custody.present(p, check_mode=False, client=api)
    assert result['changed']
    with open(p['keys_file']) as fh:
        assert parse(fh.read(), PASSWORD)['keys'] == new_keys
    # A second rekey keeps the first one's digests too (bounded).
    again = retire(promote(dict(rekeyed, pending=dict(keys=['bb' * 32], secret_shares=1, secret_threshold=1)),
                           'unseal'))
    assert set(rekeyed[_custody.RETIRED_FIELD]) < set(again[_custody.RETIRED_FIELD])
