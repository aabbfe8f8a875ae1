# -*- coding: utf-8 -*-
"""GitHub auth as data: comparison and the writes it leads to (on a FakeAPI that keeps what is written)."""
import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError
from ansible_collections.vaultkube.platform.plugins.module_utils._github import GithubAuth
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import reconcile
from vault_fakes import FakeAPI


def vault(store=None):
    """A Vault that keeps what is written (store: path -> data to start from)."""
    return FakeAPI(dict((path, {'data': data}) for path, data in (store or {}).items()), keep=True)


def params(**kw):
    base = dict(mount_path='github', organization='acme', organization_id=None, base_url=None,
                token_policies=None, token_ttl=None, token_max_ttl=None, teams={}, users={}, state='present')
    base.update(kw)
    return base


def test_first_apply_writes_config_and_maps():
    api = vault()
    result = reconcile(GithubAuth(api, params(teams={'dev': ['b', 'a']}, users={'alice': 'admin'})))
    assert result['action'] == 'create'
    assert api.bodies['auth/github/config'] == {'data': {'organization': 'acme'}}
    assert api.bodies['auth/github/map/teams/dev'] == {'data': {'value': 'a,b'}}
    assert api.bodies['auth/github/map/users/alice'] == {'data': {'value': 'admin'}}


def test_reordered_policies_are_no_change():
    api = vault({'auth/github/config': {'organization': 'acme'},
                 'auth/github/map/teams/dev': {'value': 'a,b'}})
    result = reconcile(GithubAuth(api, params(teams={'dev': ['b', 'a']})))
    assert not result['changed']
    assert api.mutations() == []


def test_unlisted_maps_are_removed_and_only_changed_maps_written():
    api = vault({'auth/github/config': {'organization': 'acme'},
                 'auth/github/map/teams/dev': {'value': 'a'},
                 'auth/github/map/teams/ops': {'value': 'root-ish'},
                 'auth/github/map/teams/qa': {'value': 'q'}})
    result = reconcile(GithubAuth(api, params(teams={'dev': ['a'], 'qa': ['q', 'r']})))
    assert result['changed_fields'] == ['teams']
    writes = [call[:2] for call in api.mutations()]
    assert writes == [('write', 'auth/github/map/teams/qa'), ('delete', 'auth/github/map/teams/ops')]


def test_map_names_are_compared_in_lower_case_as_vault_keeps_them():
    # Vault lists a map written as DEVS_RW back as devs_rw: the re-run must see no change.
    api = vault({'auth/github/config': {'organization': 'acme'},
                 'auth/github/map/teams/devs_rw': {'value': 'rw'},
                 'auth/github/map/users/someuser': {'value': 'admin'}})
    result = reconcile(GithubAuth(api, params(teams={'DEVS_RW': ['rw']}, users={'SomeUser': ['admin']})))
    assert not result['changed'], result
    assert api.mutations() == []


def test_first_apply_writes_map_names_in_lower_case():
    api = vault()
    reconcile(GithubAuth(api, params(teams={'DEVS_RO': ['ro']})))
    assert api.bodies['auth/github/map/teams/devs_ro'] == {'data': {'value': 'ro'}}


def test_check_mode_writes_nothing():
    api = vault()
    reconcile(GithubAuth(api, params(teams={'dev': ['a']})), check_mode=True)
    assert api.bodies == {}


@pytest.mark.parametrize('kw,fragment', [
    (dict(organization=None), 'organization is required'),
    (dict(teams={'a/b': ['x']}), 'teams must map names'),
    (dict(users={'bob': {'x': 1}}), 'users.bob must be a list'),
    (dict(teams={'Devs': ['a'], 'devs': ['b']}), "teams 'Devs' and 'devs' are one name to Vault"),
])
def test_bad_input(kw, fragment):
    with pytest.raises(FieldError) as err:
        GithubAuth(vault(), params(**kw)).validate()
    assert fragment in str(err.value)
