# -*- coding: utf-8 -*-
"""Mount-like objects (secrets engines, auth methods, audit devices) on an in-memory Vault.

Pure logic: option normalisation, what counts as a difference, what is refused
and which requests a change turns into. Real OpenBao behaviour is tested in
tests/integration/test_mounts.py and test_audit.py.
"""
import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._audit import AuditDevice
from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError
from ansible_collections.vaultkube.platform.plugins.module_utils._mounts import (
    AuthMethod,
    SecretsEngine,
    mount_path,
    options_of,
    string_set,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import HIDDEN, reconcile


class FakeAPI(object):
    """Answers reads from the given tables and records every write."""

    def __init__(self, mounts=None, auth=None, audit=None, other=None, fail_writes=()):
        self.tables = {'sys/mounts': mounts or {}, 'sys/auth': auth or {}, 'sys/audit': audit or {}}
        self.other = other or {}
        self.reads = []
        self.writes = []
        self.fail_writes = list(fail_writes)

    def read(self, path):
        self.reads.append(path)
        if path in self.tables:
            return {'data': self.tables[path]}
        return self.other.get(path)

    def write(self, path, data=None, method='post'):
        self.writes.append((path, data))
        if self.fail_writes and self.fail_writes[0] == len(self.writes):
            self.fail_writes.pop(0)
            raise VaultRequestError('Vault POST %s failed: 400 rejected' % path, status=400)

    def delete(self, path):
        self.writes.append((path, 'DELETE'))


def kv_entry(version='2', **config):
    base = {'default_lease_ttl': 0, 'max_lease_ttl': 0, 'force_no_cache': False}
    base.update(config)
    return {'type': 'kv', 'description': '', 'local': False, 'seal_wrap': False, 'accessor': 'kv_1',
            'options': {'version': version}, 'config': base}


def engine(api, **params):
    params.setdefault('state', 'present')
    return SecretsEngine(api, params)


# -- normalisation ---------------------------------------------------------------

@pytest.mark.parametrize('given', ['secret', 'secret/', '/secret/', ' /secret '])
def test_paths_are_one_mount(given):
    assert mount_path(given) == 'secret/'


def test_ttls_lists_and_options_are_normalised():
    obj = engine(FakeAPI(), path='x', engine_type='kv', default_lease_ttl='1h', max_lease_ttl='90m',
                 audit_non_hmac_request_keys=['b', 'a', 'b'], options={'flag': True, 'n': 3})
    fields = obj.user_fields()
    assert fields['default_lease_ttl'] == 3600 and fields['max_lease_ttl'] == 5400
    assert fields['audit_non_hmac_request_keys'] == ['a', 'b']
    assert fields['options'] == {'flag': 'true', 'n': '3'}
    # The blank entry Vault keeps after a list was cleared is no entry.
    assert string_set(['', 'X-A']) == ['X-A'] and string_set(['']) == []


@pytest.mark.parametrize('params,version', [
    ({'engine_type': 'kv-v2'}, '2'),
    ({'engine_type': 'kv', 'version': 2}, '2'),
    ({'engine_type': 'kv', 'options': {'version': 1}}, '1'),
])
def test_kv_version_spellings(params, version):
    fields = engine(FakeAPI(), path='x', **params).user_fields()
    assert fields['engine_type'] == 'kv' and fields['version'] == version
    assert 'version' not in fields.get('options', {})


@pytest.mark.parametrize('params,fragment', [
    ({'engine_type': 'kv', 'version': 2, 'options': {'version': 1}}, 'disagree on the kv version'),
    ({'engine_type': 'transit', 'version': 2}, 'version applies to kv secrets engines only'),
    ({'engine_type': 'kv', 'version': 1, 'kv_config': {'max_versions': 3}}, 'kv_config applies to kv version 2'),
    ({'engine_type': 'kv', 'default_lease_ttl': 'abc'}, "default_lease_ttl must be a duration"),
    ({'engine_type': 'kv', 'max_lease_ttl': -5}, 'max_lease_ttl must be 0'),
    ({'engine_type': 'kv', 'version': 2, 'kv_config': {'delete_version_after': '1 week'}},
     'kv_config.delete_version_after'),
    ({'engine_type': 'kv', 'options': {'nested': {'a': 1}}}, 'options.nested'),
    ({}, 'engine_type is required when state=present'),
    ({'engine_type': 'kv', 'listing_visibility': 'public'}, 'listing_visibility must be hidden or unauth'),
])
def test_bad_input_fails_before_any_request(params, fragment):
    api = FakeAPI()
    with pytest.raises(FieldError) as err:
        reconcile(engine(api, path='x', **params))
    assert fragment in str(err.value)
    assert api.reads == [] and api.writes == []


def test_empty_path_is_refused():
    with pytest.raises(FieldError, match='path must name the mount'):
        reconcile(engine(FakeAPI(), path=' / ', engine_type='kv'))


# -- comparison --------------------------------------------------------------------

def test_only_fields_the_user_set_are_compared():
    api = FakeAPI(mounts={'x/': kv_entry(default_lease_ttl=3600, listing_visibility='unauth')})
    result = reconcile(engine(api, path='x', engine_type='kv', default_lease_ttl='60m'))
    assert result['changed'] is False and api.writes == []


def test_unset_listing_visibility_is_hidden():
    api = FakeAPI(mounts={'x/': kv_entry()})
    assert reconcile(engine(api, path='x', engine_type='kv', listing_visibility='hidden'))['changed'] is False


def test_tune_sends_only_the_changed_fields():
    api = FakeAPI(mounts={'x/': kv_entry(default_lease_ttl=3600)})
    result = reconcile(engine(api, path='/x/', engine_type='kv', description='', default_lease_ttl='1h',
                              max_lease_ttl='2h'))
    assert result['changed_fields'] == ['max_lease_ttl']
    assert api.writes == [('sys/mounts/x/tune', {'max_lease_ttl': 7200})]


def test_clearing_a_list_sends_one_blank_entry():
    api = FakeAPI(mounts={'x/': kv_entry(passthrough_request_headers=['X-A'])})
    reconcile(engine(api, path='x', engine_type='kv', passthrough_request_headers=[]))
    assert api.writes == [('sys/mounts/x/tune', {'passthrough_request_headers': ['']})]
    cleared = FakeAPI(mounts={'x/': kv_entry(passthrough_request_headers=[''])})
    assert reconcile(engine(cleared, path='x', engine_type='kv', passthrough_request_headers=[]))['changed'] is False


def test_options_keys_not_named_are_left_alone():
    entry = kv_entry()
    entry['options'] = {'version': '2', 'a': '1', 'b': '2'}
    api = FakeAPI(mounts={'x/': entry})
    assert reconcile(engine(api, path='x', engine_type='kv', options={'a': 1}))['changed'] is False
    result = reconcile(engine(api, path='x', engine_type='kv', options={'a': 3}))
    assert api.writes == [('sys/mounts/x/tune', {'options': {'a': '3'}})]
    assert result['diff']['after']['options'] == {'a': '3', 'b': '2'}


def test_kv_config_is_read_compared_and_written_by_key():
    api = FakeAPI(mounts={'x/': kv_entry()},
                  other={'x/config': {'data': {'max_versions': 0, 'cas_required': False,
                                               'delete_version_after': '1h0m0s'}}})
    same = reconcile(engine(api, path='x', engine_type='kv', version=2,
                            kv_config={'delete_version_after': 3600, 'max_versions': None}))
    assert same['changed'] is False
    reconcile(engine(api, path='x', engine_type='kv', version=2, kv_config={'max_versions': 5}))
    assert api.writes == [('x/config', {'max_versions': 5})]


# -- refusals ----------------------------------------------------------------------

def test_kv_version_mismatch_is_an_error_not_a_remount():
    api = FakeAPI(mounts={'secret/': kv_entry(version='1')})
    with pytest.raises(FieldError) as err:
        reconcile(engine(api, path='secret', engine_type='kv', version=2), check_mode=True)
    assert str(err.value) == ("secrets engine at 'secret/' is kv version 1, wanted kv version 2; refusing "
                              "to remount because that would lose its data: disable it first or choose "
                              "another path")
    assert api.writes == []


def test_type_mismatch_is_an_error_for_both_kinds():
    api = FakeAPI(mounts={'x/': kv_entry()}, auth={'k/': {'type': 'approle', 'config': {}}})
    with pytest.raises(FieldError, match="secrets engine at 'x/' is of type kv, wanted pki"):
        reconcile(engine(api, path='x', engine_type='pki'))
    with pytest.raises(FieldError, match="auth method at 'k/' is of type approle, wanted kubernetes"):
        reconcile(AuthMethod(api, {'path': 'k', 'method_type': 'kubernetes', 'state': 'present'}))
    with pytest.raises(FieldError, match='refusing to disable a mount of another type'):
        reconcile(engine(api, path='x', engine_type='pki', state='absent'), 'absent')
    assert api.writes == []


def test_create_only_flags_are_not_silently_ignored():
    api = FakeAPI(mounts={'x/': kv_entry()})
    with pytest.raises(FieldError, match='has local=false, wanted true; Vault sets local only when enabling'):
        reconcile(engine(api, path='x', engine_type='kv', local=True))
    assert api.writes == []


@pytest.mark.parametrize('path', ['sys', 'identity/', 'cubbyhole'])
def test_builtin_secrets_engines_are_never_disabled(path):
    with pytest.raises(FieldError, match='built into Vault and cannot be disabled'):
        reconcile(engine(FakeAPI(), path=path, state='absent'), 'absent')


def test_builtin_secrets_engines_are_never_tuned_but_may_be_declared():
    entry = {'type': 'cubbyhole', 'description': 'per-token', 'config': {}}
    api = FakeAPI(mounts={'cubbyhole/': entry})
    assert reconcile(engine(api, path='cubbyhole', engine_type='cubbyhole'))['changed'] is False
    with pytest.raises(FieldError, match="refusing to tune it"):
        reconcile(engine(api, path='cubbyhole', engine_type='cubbyhole', description='mine'))
    assert api.writes == []


def test_token_auth_cannot_be_disabled_but_can_be_tuned():
    api = FakeAPI(auth={'token/': {'type': 'token', 'config': {'token_type': 'default-service'}}})
    with pytest.raises(FieldError, match="'token/' is built into Vault and cannot be disabled"):
        reconcile(AuthMethod(api, {'path': 'token', 'state': 'absent'}), 'absent')
    reconcile(AuthMethod(api, {'path': 'token', 'method_type': 'token', 'max_lease_ttl': '768h'}))
    assert api.writes == [('sys/auth/token/tune', {'max_lease_ttl': 2764800})]


def test_auth_path_is_relative_to_auth():
    with pytest.raises(FieldError, match="path is relative to auth/: write 'kubernetes'"):
        reconcile(AuthMethod(FakeAPI(), {'path': 'auth/kubernetes', 'method_type': 'kubernetes'}))


# -- writes ------------------------------------------------------------------------

def test_create_sends_one_enable_and_the_kv_config():
    api = FakeAPI()
    obj = engine(api, path='apps', engine_type='kv', version=2, description='d', default_lease_ttl='1h',
                 local=True, audit_non_hmac_request_keys=[], kv_config={'max_versions': 3})
    result = reconcile(obj)
    assert result['action'] == 'create'
    assert api.writes == [
        ('sys/mounts/apps', {'type': 'kv', 'description': 'd', 'local': True,
                             'config': {'default_lease_ttl': 3600}, 'options': {'version': '2'}}),
        ('apps/config', {'max_versions': 3}),
    ]


def test_auth_create_puts_token_type_in_config():
    api = FakeAPI()
    reconcile(AuthMethod(api, {'path': 'approle', 'method_type': 'approle', 'token_type': 'batch'}))
    assert api.writes == [('sys/auth/approle', {'type': 'approle', 'config': {'token_type': 'batch'}})]


def test_check_mode_writes_nothing():
    api = FakeAPI(mounts={'x/': kv_entry()})
    result = reconcile(engine(api, path='x', engine_type='kv', max_lease_ttl='1h'), check_mode=True)
    assert result['changed'] is True and api.writes == []


# -- audit devices -------------------------------------------------------------------

def audit_entry(**options):
    return {'type': 'file', 'description': '', 'local': False, 'options': options, 'path': 'file/'}


def audit(api, **params):
    params.setdefault('state', 'present')
    params.setdefault('replace', False)
    return AuditDevice(api, params)


def test_audit_options_are_strings_and_compared_by_key():
    api = FakeAPI(audit={'file/': audit_entry(file_path='/a', log_raw='false')})
    assert reconcile(audit(api, path='file', device_type='file', options={'log_raw': False}))['changed'] is False
    assert options_of({'log_raw': True}) == {'log_raw': 'true'}


def test_audit_difference_without_replace_is_an_error():
    api = FakeAPI(audit={'file/': audit_entry(file_path='/a')})
    with pytest.raises(FieldError, match="audit device at 'file/' differs in options; audit devices cannot be tuned"):
        reconcile(audit(api, path='file', device_type='file', options={'file_path': '/b'}), check_mode=True)
    assert api.writes == []


def test_audit_replace_disables_then_enables_with_kept_options():
    api = FakeAPI(audit={'file/': audit_entry(file_path='/a', log_raw='true')})
    reconcile(audit(api, path='file', device_type='file', options={'file_path': '/b'}, replace=True))
    assert api.writes == [
        ('sys/audit/file', 'DELETE'),
        ('sys/audit/file', {'type': 'file', 'description': '', 'local': False,
                            'options': {'file_path': '/b', 'log_raw': 'true'}}),
    ]


def test_audit_replace_rejected_puts_the_old_device_back():
    api = FakeAPI(audit={'file/': audit_entry(file_path='/a')}, fail_writes=[2])
    with pytest.raises(VaultRequestError) as err:
        reconcile(audit(api, path='file', device_type='file', options={'format': 'x'}, replace=True))
    assert 'previous device was re-enabled unchanged' in str(err.value)
    assert api.writes[-1] == ('sys/audit/file', {'type': 'file', 'description': '', 'local': False,
                                                 'options': {'file_path': '/a'}})


def test_audit_declarative_refusal_gets_the_openbao_hint():
    class Refusing(FakeAPI):
        def write(self, path, data=None, method='post'):
            raise VaultRequestError('Vault POST %s failed: 400 cannot enable audit device via API; use '
                                    'declarative, config-based audit device management instead' % path, 400)
    with pytest.raises(VaultRequestError, match='unsafe_allow_api_audit_creation'):
        reconcile(audit(Refusing(), path='file', device_type='file', options={'file_path': '/a'}))


def test_audit_headers_are_masked_in_the_diff():
    api = FakeAPI()
    result = reconcile(audit(api, path='http', device_type='http',
                             options={'uri': 'https://logs', 'headers': '{"Authorization": ["Bearer s3cr3t"]}'}),
                       check_mode=True)
    assert result['diff']['after']['options'] == {'uri': 'https://logs', 'headers': HIDDEN}
    assert 's3cr3t' not in repr(result)


def test_bulk_listing_is_reused_by_the_reads():
    api = FakeAPI(mounts={'a/': kv_entry(), 'b/': kv_entry()})
    objects = [engine(api, path=p, engine_type='kv') for p in ('a', 'b', 'c')]
    assert SecretsEngine.list_existing(api, objects) == {'a/', 'b/'}
    for obj in objects:
        reconcile(obj, check_mode=True)
    assert api.reads == ['sys/mounts']
    # A later read of the same object asks Vault again rather than trusting an old listing.
    objects[0].read()
    assert api.reads == ['sys/mounts', 'sys/mounts']
