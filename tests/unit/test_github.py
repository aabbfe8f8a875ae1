# -*- coding: utf-8 -*-
"""GitHub auth as data: comparison and the writes it leads to (an in-memory API double)."""
import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError
from ansible_collections.vaultkube.platform.plugins.module_utils._github import GithubAuth
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import reconcile


class MemoryAPI(object):
    """Stores what is written under its path; lists children like Vault's LIST."""

    def __init__(self, store=None):
        self.store = dict(store or {})
        self.calls = []

    def read(self, path):
        self.calls.append(('read', path))
        return {'data': dict(self.store[path])} if path in self.store else None

    def list(self, path):
        self.calls.append(('list', path))
        prefix = path.rstrip('/') + '/'
        return sorted(p[len(prefix):] for p in self.store if p.startswith(prefix) and '/' not in p[len(prefix):])

    def write(self, path, data):
        self.calls.append(('write', path))
        self.store[path] = dict(data)

    def delete(self, path):
        self.calls.append(('delete', path))
        self.store.pop(path, None)


def params(**kw):
    base = dict(mount_path='github', organization='acme', organization_id=None, base_url=None,
                token_policies=None, token_ttl=None, token_max_ttl=None, teams={}, users={}, state='present')
    base.update(kw)
    return base


def test_first_apply_writes_config_and_maps():
    api = MemoryAPI()
    result = reconcile(GithubAuth(api, params(teams={'dev': ['b', 'a']}, users={'alice': 'admin'})))
    assert result['action'] == 'create'
    assert api.store['auth/github/config'] == {'organization': 'acme'}
    assert api.store['auth/github/map/teams/dev'] == {'value': 'a,b'}
    assert api.store['auth/github/map/users/alice'] == {'value': 'admin'}


def test_reordered_policies_are_no_change():
    api = MemoryAPI({'auth/github/config': {'organization': 'acme'},
                     'auth/github/map/teams/dev': {'value': 'a,b'}})
    result = reconcile(GithubAuth(api, params(teams={'dev': ['b', 'a']})))
    assert not result['changed']
    assert not [c for c in api.calls if c[0] in ('write', 'delete')]


def test_unlisted_maps_are_removed_and_only_changed_maps_written():
    api = MemoryAPI({'auth/github/config': {'organization': 'acme'},
                     'auth/github/map/teams/dev': {'value': 'a'},
                     'auth/github/map/teams/ops': {'value': 'root-ish'},
                     'auth/github/map/teams/qa': {'value': 'q'}})
    result = reconcile(GithubAuth(api, params(teams={'dev': ['a'], 'qa': ['q', 'r']})))
    assert result['changed_fields'] == ['teams']
    writes = [c for c in api.calls if c[0] in ('write', 'delete')]
    assert writes == [('write', 'auth/github/map/teams/qa'), ('delete', 'auth/github/map/teams/ops')]


def test_check_mode_writes_nothing():
    api = MemoryAPI()
    reconcile(GithubAuth(api, params(teams={'dev': ['a']})), check_mode=True)
    assert api.store == {}


@pytest.mark.parametrize('kw,fragment', [
    (dict(organization=None), 'organization is required'),
    (dict(teams={'a/b': ['x']}), 'teams must map names'),
    (dict(users={'bob': {'x': 1}}), 'users.bob must be a list'),
])
def test_bad_input(kw, fragment):
    with pytest.raises(FieldError) as err:
        GithubAuth(MemoryAPI(), params(**kw)).validate()
    assert fragment in str(err.value)
