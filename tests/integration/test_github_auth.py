# -*- coding: utf-8 -*-
"""GitHub auth (seed 000's team and user maps) on HashiCorp Vault's real plugin.

OpenBao ships no GitHub auth plugin (test_vault_config checks the clean failure there).
``organization_id`` is always given, so Vault never asks GitHub for it: no request
leaves the machine.
"""

import uuid

import pytest

from vaultkube_testlib import assert_failed_cleanly, fresh_mount, read_or_none, run_module, run_without_writes

pytestmark = pytest.mark.only_on('vault', 'OpenBao has no GitHub auth plugin')

# Seed 000: an admin user, a read-write and a read-only team.
TEAMS = {'devs-rw': ['rw_access_policy'], 'devs-ro': ['ro_access_policy']}
USERS = {'k4kratik': ['vault_admin']}


@pytest.fixture
def mount(vault):
    yield from fresh_mount(vault, 'github', 'github-', auth=True)


def maps(vault, mount, kind):
    listed = read_or_none(vault, 'auth/%s/map/%s?list=true' % (mount, kind)) or {}
    out = {}
    for key in listed.get('keys') or []:
        out[key] = sorted(read_or_none(vault, 'auth/%s/map/%s/%s' % (mount, kind, key))['value'].split(','))
    return out


def test_github_auth_module_converges_and_prunes_maps(conn, vault, mount, bao_dev):
    args = dict(conn, mount_path=mount, organization='acme-platform', organization_id=424242, token_ttl='1h',
                teams=TEAMS, users=USERS)
    check = run_without_writes(bao_dev, 'vault_github_auth', args, check=True, diff=True)
    assert check['changed'] and check['operation'] == 'create', check
    assert maps(vault, mount, 'teams') == {}, 'check mode wrote a map'

    first = run_module('vault_github_auth', args, diff=True)
    assert first['changed'], first
    config = read_or_none(vault, 'auth/%s/config' % mount)
    assert config['organization'] == 'acme-platform' and config['organization_id'] == 424242
    assert config['token_ttl'] == 3600
    assert maps(vault, mount, 'teams') == TEAMS
    assert maps(vault, mount, 'users') == USERS

    again = run_without_writes(bao_dev, 'vault_github_auth', args)
    assert again['changed'] is False and again['operation'] == 'none', again

    # A map added by hand is not in the list: it is removed, the declared ones stay.
    vault.write('auth/%s/map/teams/contractors' % mount, value='rw_access_policy')
    vault.write('auth/%s/map/users/old-admin' % mount, value='vault_admin')
    pruned = run_module('vault_github_auth', args, diff=True)
    assert pruned['changed'] and sorted(pruned['changed_fields']) == ['teams', 'users'], pruned
    assert maps(vault, mount, 'teams') == TEAMS and maps(vault, mount, 'users') == USERS


def test_map_names_in_capitals_converge(conn, vault, mount, bao_dev):
    """Seed 000 names its teams DEVS_RW and DEVS_RO: Vault keeps map names in lower case, and the
    re-run compares them that way (no rewrite, no removal of the map it just wrote)."""
    args = dict(conn, mount_path=mount, organization='acme-platform', organization_id=424242,
                teams={'DEVS_RW': ['rw_access_policy'], 'DEVS_RO': ['ro_access_policy']},
                users={'K4kratik': ['vault_admin']})
    first = run_module('vault_github_auth', args)
    assert first['changed'], first
    assert maps(vault, mount, 'teams') == {'devs_rw': ['rw_access_policy'], 'devs_ro': ['ro_access_policy']}
    assert maps(vault, mount, 'users') == {'k4kratik': ['vault_admin']}
    again = run_without_writes(bao_dev, 'vault_github_auth', args)
    assert again['changed'] is False, again


def test_github_auth_on_a_missing_mount_fails_cleanly(conn):
    result = run_module('vault_github_auth', dict(conn, mount_path='nowhere-' + uuid.uuid4().hex[:6],
                                                  organization='acme', organization_id=1))
    assert_failed_cleanly(result, 'github auth method is not enabled')


def test_github_auth_through_vault_config(conn, vault, bao_dev):
    path = 'gh-cfg-' + uuid.uuid4().hex[:6]
    doc = {'auth_methods': [{'path': path, 'method_type': 'github'}],
           'policies': [{'name': name, 'policy': 'path "secret/data/%s/*" { capabilities = ["read"] }' % name}
                        for name in ('rw_access_policy', 'ro_access_policy', 'vault_admin')],
           'github_auth': [{'mount_path': path, 'organization': 'acme-platform', 'organization_id': 424242,
                            'teams': TEAMS, 'users': USERS}]}
    try:
        first = run_module('vault_config', dict(conn, config=doc))
        assert first['changed'] and not first.get('failed'), first.get('msg')
        assert maps(vault, path, 'teams') == TEAMS and maps(vault, path, 'users') == USERS
        again = run_without_writes(bao_dev, 'vault_config', dict(conn, config=doc))
        assert again['changed'] is False and again['requests'].get('write', 0) == 0, again
        fewer = dict(doc, github_auth=[dict(doc['github_auth'][0], teams={'devs-ro': ['ro_access_policy']})])
        check = run_without_writes(bao_dev, 'vault_config', dict(conn, config=fewer), check=True, diff=True)
        assert check['changed'] and maps(vault, path, 'teams') == TEAMS, 'check mode changed the maps'
        run_module('vault_config', dict(conn, config=fewer))
        assert maps(vault, path, 'teams') == {'devs-ro': ['ro_access_policy']}
    finally:
        vault.sys.disable_auth_method(path)
