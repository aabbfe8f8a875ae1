# -*- coding: utf-8 -*-
"""Pure logic of vault_kv2_secret: JSON-typed comparison, key-level masking, cas, request shapes."""

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError, normalise
from ansible_collections.vaultkube.platform.plugins.module_utils._kv2 import KV2Secret, changed_keys
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import reconcile
from vault_fakes import FakeAPI

KV2_MOUNT = {'data': {'path': 'secret/', 'type': 'kv', 'options': {'version': '2'}}}
# What Vault answers a KV v2 write with.
WRITTEN = {'data': {'version': 9}}


def stored(data, version=1):
    return {'data': {'data': data, 'metadata': {'version': version, 'deletion_time': '', 'destroyed': False}}}


def secret(api, **params):
    base = {'mount_path': 'secret', 'path': 'app/db', 'state': 'present', 'cas': None, 'destroy': False}
    base.update(params)
    return KV2Secret(api, base)


def api_with(data=None, version=1, mount=None):
    bodies = {'sys/internal/ui/mounts/secret/app/db': mount or KV2_MOUNT}
    if data is not None:
        bodies['secret/data/app/db'] = stored(data, version)
    return FakeAPI(bodies, answer=WRITTEN)


# -- JSON-typed comparison -----------------------------------------------------------

@pytest.mark.parametrize('left,right', [
    (1, 1.0), ({'a': [1, 2]}, {'a': [1.0, 2.0]}), ('x', 'x'), (None, None),
    (12345678901234567890, 12345678901234567000),
])
def test_json_kind_equal_as_vault_stores_it(left, right):
    assert normalise('json', left) == normalise('json', right)


@pytest.mark.parametrize('left,right', [
    (1, '1'), (True, 1), (True, 'true'), (False, 0), (None, ''), ([1, 2], [2, 1]), ({'a': 1}, {'a': '1'}),
])
def test_json_kind_keeps_types_apart(left, right):
    assert normalise('json', left) != normalise('json', right)


def test_changed_keys_names_added_removed_and_changed():
    assert changed_keys({'a': 1, 'b': 'x', 'c': True}, {'a': 1.0, 'b': 'y', 'd': 1}) == ['b', 'c', 'd']
    assert changed_keys(None, {'a': 1}) == ['a']
    assert changed_keys({'a': 1}, None) == ['a']


# -- masking -------------------------------------------------------------------------

def test_diff_view_shows_key_names_never_values():
    obj = secret(FakeAPI(answer=WRITTEN))
    before = {'data': {'user': 'alice', 'password': 'old-secret'}}
    after = {'data': {'user': 'alice', 'password': 'new-secret', 'port': 5432}}
    assert obj.diff_view(before, after) == {'data': {'user': '(hidden)', 'password': '(hidden, changed)'}}
    assert obj.diff_view(after, before) == {'data': {'user': '(hidden)', 'password': '(hidden, changed)',
                                                     'port': '(hidden, changed)'}}
    assert obj.diff_view(None, after) == {}
    assert 'secret' not in repr(obj.diff_view(after, None))


def test_reconcile_result_holds_no_value():
    api = api_with({'password': 'old-secret-value'})
    outcome = reconcile(secret(api, data={'password': 'new-secret-value'}), 'present', check_mode=True)
    assert outcome['changed'] is True and outcome['changed_fields'] == ['data']
    assert 'secret-value' not in repr(outcome)
    assert api.mutations() == []


# -- reconcile decisions ---------------------------------------------------------------

def test_equal_data_writes_nothing():
    api = api_with({'n': 1, 'flag': True})
    obj = secret(api, data={'n': 1.0, 'flag': True})
    assert reconcile(obj, 'present')['changed'] is False
    assert api.mutations() == []
    assert obj.extra_result() == {'version': 1, 'changed_keys': []}


def test_update_writes_the_whole_data_and_reports_the_new_version():
    api = api_with({'a': 'x', 'b': 'y'})
    obj = secret(api, data={'a': 'x', 'b': 'z'})
    reconcile(obj, 'present')
    assert api.mutations() == [('write', 'secret/data/app/db', {'data': {'a': 'x', 'b': 'z'}})]
    assert obj.extra_result() == {'version': 9, 'changed_keys': ['b']}


def test_soft_deleted_latest_version_reads_as_absent():
    api = api_with()
    api.bodies['secret/data/app/db'] = {'data': {'data': None, 'metadata': {'version': 3, 'deletion_time': 't'}}}
    assert secret(api, data={'a': 'x'}).read() is None


def test_cas_mismatch_fails_before_writing():
    api = api_with({'a': 'x'}, version=4)
    with pytest.raises(FieldError) as err:
        reconcile(secret(api, data={'a': 'y'}, cas=3), 'present')
    assert 'cas=3' in str(err.value) and 'current version 4' in str(err.value)
    assert api.mutations() == []


def test_cas_is_passed_to_vault_when_it_matches():
    api = api_with({'a': 'x'}, version=4)
    reconcile(secret(api, data={'a': 'y'}, cas=4), 'present')
    assert api.mutations() == [('write', 'secret/data/app/db', {'data': {'a': 'y'}, 'options': {'cas': 4}})]


def test_cas_ignored_when_data_is_equal():
    api = api_with({'a': 'x'}, version=4)
    assert reconcile(secret(api, data={'a': 'x'}, cas=1), 'present')['changed'] is False


def test_cas_counts_soft_deleted_versions():
    api = api_with()
    api.bodies['secret/metadata/app/db'] = {'data': {'current_version': 2}}
    with pytest.raises(FieldError):
        reconcile(secret(api, data={'a': 'x'}, cas=0), 'present')
    api.calls = []
    reconcile(secret(api, data={'a': 'x'}, cas=2), 'present')
    assert api.mutations()[0][2]['options'] == {'cas': 2}


def test_absent_soft_deletes_by_default_and_destroy_removes_metadata():
    api = api_with({'a': 'x'})
    reconcile(secret(api, state='absent'), 'absent')
    assert api.mutations() == [('delete', 'secret/data/app/db')]
    api = api_with({'a': 'x'})
    reconcile(secret(api, state='absent', destroy=True), 'absent')
    assert api.mutations() == [('delete', 'secret/metadata/app/db')]


def test_destroy_still_removes_a_soft_deleted_secret():
    api = api_with()
    api.bodies['secret/metadata/app/db'] = {'data': {'current_version': 2}}
    assert reconcile(secret(api, state='absent'), 'absent')['changed'] is False
    outcome = reconcile(secret(api, state='absent', destroy=True), 'absent')
    assert outcome['changed'] is True
    assert api.mutations() == [('delete', 'secret/metadata/app/db')]


# -- mount checks ----------------------------------------------------------------------

@pytest.mark.parametrize('mount,fragment', [
    ({'data': {'path': 'secret/', 'type': 'kv', 'options': {'version': '1'}}}, 'kv version 1 mount'),
    ({'data': {'path': 'secret/', 'type': 'kv', 'options': None}}, 'kv version 1 mount'),
    ({'data': {'path': 'secret/', 'type': 'pki', 'options': None}}, 'is a pki secrets engine'),
    ({'data': {'path': 'other/', 'type': 'kv', 'options': {'version': '2'}}}, 'is not a mount point'),
])
def test_wrong_mount_fails_before_anything_else(mount, fragment):
    api = api_with({'a': 'x'}, mount=mount)
    with pytest.raises(FieldError) as err:
        reconcile(secret(api, data={'a': 'y'}), 'present')
    assert fragment in str(err.value)
    assert api.calls == [('read', 'sys/internal/ui/mounts/secret/app/db')]


def test_missing_mount_names_the_mount():
    no_route = VaultRequestError('Vault GET nope/data/app/db failed: 404 no handler for route', status=404,
                                 errors=['no handler for route "nope/data/app/db". route entry not found.'])
    preflight = VaultRequestError('Vault GET sys/internal/ui/mounts/nope/app/db failed: 403', status=403,
                                  errors=['preflight capability check returned 403'])
    api = FakeAPI(errors={'sys/internal/ui/mounts/nope/app/db': preflight, 'nope/data/app/db': no_route},
                  answer=WRITTEN)
    with pytest.raises(VaultRequestError) as err:
        reconcile(secret(api, mount_path='nope', data={'a': 'x'}), 'present')
    assert "mount_path 'nope'" in str(err.value) and 'no secrets engine is mounted' in str(err.value)
    assert api.mutations() == []


def test_permission_error_on_the_secret_is_passed_on():
    denied = VaultRequestError('Vault GET secret/data/app/db failed: 403 permission denied', status=403,
                               errors=['permission denied'])
    api = FakeAPI(errors={'sys/internal/ui/mounts/secret/app/db': denied, 'secret/data/app/db': denied},
                  answer=WRITTEN)
    with pytest.raises(VaultRequestError) as err:
        reconcile(secret(api, data={'a': 'x'}), 'present')
    assert 'permission denied' in str(err.value)


@pytest.mark.parametrize('params,fragment', [
    ({'path': ' / '}, 'path must name the secret'),
    ({'mount_path': '/'}, 'mount_path must name'),
    ({'data': None}, 'data must be a mapping'),
    ({'data': {'a': 'x'}, 'cas': -1}, 'cas must be 0'),
])
def test_bad_input_is_refused_before_any_request(params, fragment):
    api = FakeAPI(answer=WRITTEN)
    params.setdefault('data', {'a': 'x'})
    with pytest.raises(FieldError) as err:
        reconcile(secret(api, **params), 'present')
    assert fragment in str(err.value)
    assert api.calls == []


def test_list_existing_checks_each_mount_once_and_lists_each_folder():
    api = FakeAPI({
        'sys/internal/ui/mounts/secret/app/db': KV2_MOUNT,
        'LIST secret/metadata/app/': ['db', 'sub/'],
    }, answer=WRITTEN)
    objects = [secret(api, path='app/db', data={}), secret(api, path='app/api', data={})]
    assert KV2Secret.list_existing(api, objects) == {'secret/app/db'}
    assert api.calls == [('read', 'sys/internal/ui/mounts/secret/app/db'), ('list', 'secret/metadata/app/')]
    assert all(obj.mount_checked for obj in objects)
