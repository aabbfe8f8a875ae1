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
from vault_fakes import FakeAPI


def vault(mounts=None, auth=None, audit=None, other=None, **options):
    """A FakeAPI whose sys/mounts, sys/auth and sys/audit answer the given tables, other paths `other`."""
    bodies = dict(other or {})
    bodies.update({'sys/mounts': {'data': mounts or {}}, 'sys/auth': {'data': auth or {}},
                   'sys/audit': {'data': audit or {}}})
    return FakeAPI(bodies, **options)


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
    obj = engine(vault(), path='x', engine_type='kv', default_lease_ttl='1h', max_lease_ttl='90m',
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
    fields = engine(vault(), path='x', **params).user_fields()
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
    api = vault()
    with pytest.raises(FieldError) as err:
        reconcile(engine(api, path='x', **params))
    assert fragment in str(err.value)
    assert api.calls == []


def test_empty_path_is_refused():
    with pytest.raises(FieldError, match='path must name the mount'):
        reconcile(engine(vault(), path=' / ', engine_type='kv'))


# -- comparison --------------------------------------------------------------------

def test_only_fields_the_user_set_are_compared():
    api = vault(mounts={'x/': kv_entry(default_lease_ttl=3600, listing_visibility='unauth')})
    result = reconcile(engine(api, path='x', engine_type='kv', default_lease_ttl='60m'))
    assert result['changed'] is False and api.mutations() == []


def test_unset_listing_visibility_is_hidden():
    api = vault(mounts={'x/': kv_entry()})
    assert reconcile(engine(api, path='x', engine_type='kv', listing_visibility='hidden'))['changed'] is False


def test_tune_sends_only_the_changed_fields():
    api = vault(mounts={'x/': kv_entry(default_lease_ttl=3600)})
    result = reconcile(engine(api, path='/x/', engine_type='kv', description='', default_lease_ttl='1h',
                              max_lease_ttl='2h'))
    assert result['changed_fields'] == ['max_lease_ttl']
    assert api.mutations() == [('write', 'sys/mounts/x/tune', {'max_lease_ttl': 7200})]


def test_clearing_a_list_sends_one_blank_entry():
    api = vault(mounts={'x/': kv_entry(passthrough_request_headers=['X-A'])})
    reconcile(engine(api, path='x', engine_type='kv', passthrough_request_headers=[]))
    assert api.mutations() == [('write', 'sys/mounts/x/tune', {'passthrough_request_headers': ['']})]
    cleared = vault(mounts={'x/': kv_entry(passthrough_request_headers=[''])})
    assert reconcile(engine(cleared, path='x', engine_type='kv', passthrough_request_headers=[]))['changed'] is False


def test_options_keys_not_named_are_left_alone():
    entry = kv_entry()
    entry['options'] = {'version': '2', 'a': '1', 'b': '2'}
    api = vault(mounts={'x/': entry})
    assert reconcile(engine(api, path='x', engine_type='kv', options={'a': 1}))['changed'] is False
    result = reconcile(engine(api, path='x', engine_type='kv', options={'a': 3}))
    assert api.mutations() == [('write', 'sys/mounts/x/tune', {'options': {'a': '3'}})]
    assert result['diff']['after']['options'] == {'a': '3', 'b': '2'}


def test_kv_config_is_read_compared_and_written_by_key():
    api = vault(mounts={'x/': kv_entry()},
                other={'x/config': {'data': {'max_versions': 0, 'cas_required': False,
                                             'delete_version_after': '1h0m0s'}}})
    same = reconcile(engine(api, path='x', engine_type='kv', version=2,
                            kv_config={'delete_version_after': 3600, 'max_versions': None}))
    assert same['changed'] is False
    reconcile(engine(api, path='x', engine_type='kv', version=2, kv_config={'max_versions': 5}))
    assert api.mutations() == [('write', 'x/config', {'max_versions': 5})]


# -- refusals ----------------------------------------------------------------------

def test_kv_version_mismatch_is_an_error_not_a_remount():
    api = vault(mounts={'secret/': kv_entry(version='1')})
    with pytest.raises(FieldError) as err:
        reconcile(engine(api, path='secret', engine_type='kv', version=2), check_mode=True)
    assert str(err.value) == ("secrets engine at 'secret/' is kv version 1, wanted kv version 2; refusing "
                              "to remount because that would lose its data: disable it first or choose "
                              "another path")
    assert api.mutations() == []


def test_type_mismatch_is_an_error_for_both_kinds():
    api = vault(mounts={'x/': kv_entry()}, auth={'k/': {'type': 'approle', 'config': {}}})
    with pytest.raises(FieldError, match="secrets engine at 'x/' is of type kv, wanted pki"):
        reconcile(engine(api, path='x', engine_type='pki'))
    with pytest.raises(FieldError, match="auth method at 'k/' is of type approle, wanted kubernetes"):
        reconcile(AuthMethod(api, {'path': 'k', 'method_type': 'kubernetes', 'state': 'present'}))
    with pytest.raises(FieldError, match='refusing to disable a mount of another type'):
        reconcile(engine(api, path='x', engine_type='pki', state='absent'), 'absent')
    assert api.mutations() == []


def test_create_only_flags_are_not_silently_ignored():
    api = vault(mounts={'x/': kv_entry()})
    with pytest.raises(FieldError, match='has local=false, wanted true; Vault sets local only when enabling'):
        reconcile(engine(api, path='x', engine_type='kv', local=True))
    assert api.mutations() == []


@pytest.mark.parametrize('path', ['sys', 'identity/', 'cubbyhole'])
def test_builtin_secrets_engines_are_never_disabled(path):
    with pytest.raises(FieldError, match='built into Vault and cannot be disabled'):
        reconcile(engine(vault(), path=path, state='absent'), 'absent')


def test_builtin_secrets_engines_are_never_tuned_but_may_be_declared():
    entry = {'type': 'cubbyhole', 'description': 'per-token', 'config': {}}
    api = vault(mounts={'cubbyhole/': entry})
    assert reconcile(engine(api, path='cubbyhole', engine_type='cubbyhole'))['changed'] is False
    with pytest.raises(FieldError, match="refusing to tune it"):
        reconcile(engine(api, path='cubbyhole', engine_type='cubbyhole', description='mine'))
    assert api.mutations() == []


def test_token_auth_cannot_be_disabled_but_can_be_tuned():
    api = vault(auth={'token/': {'type': 'token', 'config': {'token_type': 'default-service'}}})
    with pytest.raises(FieldError, match="'token/' is built into Vault and cannot be disabled"):
        reconcile(AuthMethod(api, {'path': 'token', 'state': 'absent'}), 'absent')
    reconcile(AuthMethod(api, {'path': 'token', 'method_type': 'token', 'max_lease_ttl': '768h'}))
    assert api.mutations() == [('write', 'sys/auth/token/tune', {'max_lease_ttl': 2764800})]


def test_auth_path_is_relative_to_auth():
    with pytest.raises(FieldError, match="path is relative to auth/: write 'kubernetes'"):
        reconcile(AuthMethod(vault(), {'path': 'auth/kubernetes', 'method_type': 'kubernetes'}))


# -- writes ------------------------------------------------------------------------

def test_create_sends_one_enable_and_the_kv_config():
    api = vault()
    obj = engine(api, path='apps', engine_type='kv', version=2, description='d', default_lease_ttl='1h',
                 local=True, audit_non_hmac_request_keys=[], kv_config={'max_versions': 3})
    result = reconcile(obj)
    assert result['action'] == 'create'
    assert api.mutations() == [
        ('write', 'sys/mounts/apps', {'type': 'kv', 'description': 'd', 'local': True,
                                      'config': {'default_lease_ttl': 3600}, 'options': {'version': '2'}}),
        ('write', 'apps/config', {'max_versions': 3}),
    ]


def test_auth_create_puts_token_type_in_config():
    api = vault()
    reconcile(AuthMethod(api, {'path': 'approle', 'method_type': 'approle', 'token_type': 'batch'}))
    assert api.mutations() == [('write', 'sys/auth/approle', {'type': 'approle', 'config': {'token_type': 'batch'}})]


def test_check_mode_writes_nothing():
    api = vault(mounts={'x/': kv_entry()})
    result = reconcile(engine(api, path='x', engine_type='kv', max_lease_ttl='1h'), check_mode=True)
    assert result['changed'] is True and api.mutations() == []


# -- audit devices -------------------------------------------------------------------

def audit_entry(**options):
    return {'type': 'file', 'description': '', 'local': False, 'options': options, 'path': 'file/'}


def audit(api, **params):
    params.setdefault('state', 'present')
    params.setdefault('replace', False)
    return AuditDevice(api, params)


def test_audit_options_are_strings_and_compared_by_key():
    api = vault(audit={'file/': audit_entry(file_path='/a', log_raw='false')})
    assert reconcile(audit(api, path='file', device_type='file', options={'log_raw': False}))['changed'] is False
    assert options_of({'log_raw': True}) == {'log_raw': 'true'}


def test_audit_difference_without_replace_is_an_error():
    api = vault(audit={'file/': audit_entry(file_path='/a')})
    with pytest.raises(FieldError, match="audit device at 'file/' differs in options; audit devices cannot be tuned"):
        reconcile(audit(api, path='file', device_type='file', options={'file_path': '/b'}), check_mode=True)
    assert api.mutations() == []


def test_audit_replace_disables_then_enables_with_kept_options():
    api = vault(audit={'file/': audit_entry(file_path='/a', log_raw='true')})
    reconcile(audit(api, path='file', device_type='file', options={'file_path': '/b'}, replace=True))
    assert api.mutations() == [
        ('delete', 'sys/audit/file'),
        ('write', 'sys/audit/file', {'type': 'file', 'description': '', 'local': False,
                                     'options': {'file_path': '/b', 'log_raw': 'true'}}),
    ]


def test_audit_replace_rejected_puts_the_old_device_back():
    # The second change (the new device's enable) is rejected; the old device's re-enable is not.
    rejected = VaultRequestError('Vault POST sys/audit/file failed: 400 rejected', status=400)
    api = vault(audit={'file/': audit_entry(file_path='/a')}, errors={'sys/audit/file': [rejected]})
    with pytest.raises(VaultRequestError) as err:
        reconcile(audit(api, path='file', device_type='file', options={'format': 'x'}, replace=True))
    assert 'previous device was re-enabled unchanged' in str(err.value)
    assert api.mutations()[-1] == ('write', 'sys/audit/file', {'type': 'file', 'description': '', 'local': False,
                                                               'options': {'file_path': '/a'}})


def test_audit_declarative_refusal_gets_the_openbao_hint():
    refused = VaultRequestError('Vault POST sys/audit/file failed: 400 cannot enable audit device via API; use '
                                'declarative, config-based audit device management instead', 400)
    refusing = vault(errors={'sys/audit/file': refused})
    with pytest.raises(VaultRequestError, match='unsafe_allow_api_audit_creation'):
        reconcile(audit(refusing, path='file', device_type='file', options={'file_path': '/a'}))


def test_audit_headers_are_masked_in_the_diff():
    api = vault()
    result = reconcile(audit(api, path='http', device_type='http',
                             options={'uri': 'https://logs', 'headers': '{"Authorization": ["Bearer s3cr3t"]}'}),
                       check_mode=True)
    assert result['diff']['after']['options'] == {'uri': 'https://logs', 'headers': HIDDEN}
    assert 's3cr3t' not in repr(result)


def test_bulk_listing_is_reused_by_the_reads():
    api = vault(mounts={'a/': kv_entry(), 'b/': kv_entry()})
    objects = [engine(api, path=p, engine_type='kv') for p in ('a', 'b', 'c')]
    assert SecretsEngine.list_existing(api, objects) == {'a/', 'b/'}
    for obj in objects:
        reconcile(obj, check_mode=True)
    assert api.calls == [('read', 'sys/mounts')]
    # A later read of the same object asks Vault again rather than trusting an old listing.
    objects[0].read()
    assert api.calls == [('read', 'sys/mounts'), ('read', 'sys/mounts')]
