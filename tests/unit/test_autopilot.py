# -*- coding: utf-8 -*-
"""Raft autopilot: duration canonicalisation, comparison, validation and the role's plan
(pure logic; the integration tests read a real server back)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.filter.autopilot_plan import autopilot_plan
from ansible_collections.vaultkube.platform.plugins.module_utils._autopilot import (
    AutopilotConfig,
    canonical_duration,
    check_result,
    current_settings,
    duration_seconds,
    role_plan,
    wanted_settings,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import reconcile
from vault_fakes import FakeAPI

SERVER_DEFAULTS = {
    'cleanup_dead_servers': False, 'dead_server_last_contact_threshold': '24h0m0s',
    'last_contact_threshold': '10s', 'max_trailing_logs': 1000, 'min_quorum': 0,
    'server_stabilization_time': '10s',
}


@pytest.mark.parametrize('value', ['24h', '86400s', '24h0m0s', '1d', '86400', 86400, ' 24h ', '1440m', '23h60m'])
def test_a_day_is_a_day_however_written(value):
    assert duration_seconds(value, 'f') == 86400
    assert canonical_duration(value, 'f') == '24h0m0s'


@pytest.mark.parametrize('value,canonical', [
    ('10s', '10s'), ('90s', '1m30s'), ('1h30m', '1h30m0s'), ('2m', '2m0s'), (1, '1s'), ('1500ms', None),
])
def test_canonical_spelling_is_the_servers(value, canonical):
    if canonical is None:
        with pytest.raises(FieldError, match='whole number of seconds'):
            canonical_duration(value, 'server_stabilization_time')
    else:
        assert canonical_duration(value, 'x') == canonical


@pytest.mark.parametrize('value,words', [
    ('abc', 'must be a duration'), ('10', None), ('-5s', 'more than 0'), (0, 'more than 0'), ('0s', 'more than 0'),
    (True, 'must be a duration'), (None, 'must be a duration'), ('1.5s', 'whole number of seconds'),
    ('10x', 'must be a duration'), ('', 'must be a duration'), ([], 'must be a duration'),
])
def test_bad_durations_name_the_field(value, words):
    if words is None:
        assert duration_seconds(value, 'last_contact_threshold') == 10
        return
    with pytest.raises(FieldError) as err:
        duration_seconds(value, 'last_contact_threshold')
    msg = str(err.value)
    assert msg.startswith('last_contact_threshold ') and words in msg and '\n' not in msg


def test_server_answer_is_canonical_and_equal_to_user_spelling():
    current = current_settings(dict(SERVER_DEFAULTS, extra_field='ignored'))
    assert current == SERVER_DEFAULTS
    wanted = wanted_settings({'dead_server_last_contact_threshold': '1d', 'last_contact_threshold': 10,
                              'server_stabilization_time': '10s', 'max_trailing_logs': 1000})
    assert all(current[k] == v for k, v in wanted.items())


@pytest.mark.parametrize('params,words', [
    ({'min_quorum': 2}, 'min_quorum must be at least 3'),
    ({'min_quorum': 0}, 'min_quorum must be at least 3'),
    ({'max_trailing_logs': 0}, 'max_trailing_logs must be at least 1'),
    ({'max_trailing_logs': 'many'}, 'max_trailing_logs must be a whole number'),
    ({'cleanup_dead_servers': 'yes'}, 'cleanup_dead_servers must be true or false'),
    ({'dead_server_last_contact_threshold': '30s'}, 'dead_server_last_contact_threshold must be at least 1m'),
    ({'server_stabilization_time': 'soon'}, 'server_stabilization_time must be a duration'),
])
def test_wanted_settings_refuse_bad_values(params, words):
    with pytest.raises(FieldError, match=words):
        wanted_settings(params)


def test_cleanup_is_judged_on_the_resulting_configuration():
    # The server has min_quorum 0 (unset): cleanup alone would be refused by it.
    with pytest.raises(FieldError, match='cleanup_dead_servers: true needs min_quorum of at least 3'):
        check_result(SERVER_DEFAULTS, {'cleanup_dead_servers': True})
    assert check_result(dict(SERVER_DEFAULTS, min_quorum=3), {'cleanup_dead_servers': True})['min_quorum'] == 3
    assert check_result(SERVER_DEFAULTS, {'cleanup_dead_servers': True, 'min_quorum': 5})['cleanup_dead_servers']
    assert check_result(SERVER_DEFAULTS, {'last_contact_threshold': '5s'})['last_contact_threshold'] == '5s'


CONFIGURATION = 'sys/storage/raft/autopilot/configuration'


def vault_with(config):
    """A Vault holding one autopilot configuration, which a write updates field by field."""
    return FakeAPI({CONFIGURATION: {'data': config}}, keep=True, merge=True,
                   allowed={'read': {CONFIGURATION}, 'write': {CONFIGURATION}})


def converge(api, params, check_mode=False):
    obj = AutopilotConfig(api, params)
    obj.validate()
    return reconcile(obj, 'present', check_mode)


def test_only_differing_settings_are_written_and_a_rerun_writes_nothing():
    api = vault_with(SERVER_DEFAULTS)
    params = {'cleanup_dead_servers': True, 'min_quorum': 3, 'dead_server_last_contact_threshold': '86400s',
              'server_stabilization_time': '2s'}
    out = converge(api, params)
    assert out['changed'] and out['changed_fields'] == ['cleanup_dead_servers', 'min_quorum', 'server_stabilization_time']
    assert api.mutations() == [('write', 'sys/storage/raft/autopilot/configuration',
                                {'cleanup_dead_servers': True, 'min_quorum': 3, 'server_stabilization_time': '2s'})]
    assert out['diff']['before']['min_quorum'] == 0 and out['diff']['after']['min_quorum'] == 3
    assert out['diff']['after']['dead_server_last_contact_threshold'] == '24h0m0s'
    again = converge(api, dict(params, dead_server_last_contact_threshold='24h0m0s'))
    assert not again['changed'] and len(api.mutations()) == 1


def test_check_mode_writes_nothing_but_reports_the_diff():
    api = vault_with(SERVER_DEFAULTS)
    out = converge(api, {'last_contact_threshold': '20s'}, check_mode=True)
    assert out['changed'] and out['diff']['after']['last_contact_threshold'] == '20s'
    assert api.mutations() == []


def test_no_settings_only_reads():
    api = vault_with(SERVER_DEFAULTS)
    out = converge(api, {})
    assert not out['changed'] and api.mutations() == []


def test_a_refused_combination_writes_nothing():
    api = vault_with(SERVER_DEFAULTS)
    with pytest.raises(FieldError, match='min_quorum'):
        converge(api, {'cleanup_dead_servers': True, 'last_contact_threshold': '5s'})
    with pytest.raises(FieldError, match='min_quorum must be at least 3'):
        converge(api, {'cleanup_dead_servers': True, 'min_quorum': 1})
    assert api.mutations() == []


ROLE_DEFAULTS = {'cleanup_dead_servers': None, 'min_quorum': None, 'dead_server_last_contact_threshold': '24h',
                 'last_contact_threshold': None, 'max_trailing_logs': None, 'server_stabilization_time': None}


def test_role_plan_ha_defaults_from_three_nodes():
    plan = role_plan(ROLE_DEFAULTS, 'raft', 3)
    assert plan['apply'] is True
    assert plan['settings'] == {'cleanup_dead_servers': True, 'min_quorum': 3,
                                'dead_server_last_contact_threshold': '24h'}
    assert role_plan(ROLE_DEFAULTS, 'raft', [{'url': 'a'}] * 5)['settings']['min_quorum'] == 5
    kept = role_plan(dict(ROLE_DEFAULTS, min_quorum=3, cleanup_dead_servers=False), 'raft', 5)['settings']
    assert kept['cleanup_dead_servers'] is False and kept['min_quorum'] == 3
    off = role_plan(dict(ROLE_DEFAULTS, cleanup_dead_servers=False), 'raft', 3)['settings']
    assert 'min_quorum' not in off


@pytest.mark.parametrize('storage,nodes,enabled,reason', [
    ('raft', 1, True, '1 raft node(s)'), ('raft', 2, True, '2 raft node(s)'),
    ('consul', 3, True, 'storage is consul'), ('inmem', 1, True, 'storage is inmem'),
    ('raft', 3, False, 'disabled'),
])
def test_role_plan_skips(storage, nodes, enabled, reason):
    plan = role_plan(ROLE_DEFAULTS, storage, nodes, enabled)
    assert plan['apply'] is False and plan['settings'] == {} and reason in plan['reason']


def test_role_plan_errors_name_the_role_variable():
    with pytest.raises(FieldError, match='^vault_unseal_autopilot_cleanup_dead_servers: true needs at least 3 raft'):
        role_plan(dict(ROLE_DEFAULTS, cleanup_dead_servers=True), 'raft', 1, prefix='vault_unseal_autopilot_')
    with pytest.raises(FieldError, match='^vault_unseal_autopilot_min_quorum must be at least 3'):
        role_plan(dict(ROLE_DEFAULTS, min_quorum=2), 'raft', 3, prefix='vault_unseal_autopilot_')
    with pytest.raises(FieldError, match='^vault_unseal_autopilot_last_contact_threshold must be a duration'):
        role_plan(dict(ROLE_DEFAULTS, last_contact_threshold='ten'), 'raft', 3, prefix='vault_unseal_autopilot_')


def test_filter_wraps_the_plan():
    assert autopilot_plan(ROLE_DEFAULTS, storage_type='raft', raft_nodes=3, enabled='true')['apply'] is True
    with pytest.raises(AnsibleFilterError, match='vault_unseal_autopilot_dead_server_last_contact_threshold'):
        autopilot_plan(dict(ROLE_DEFAULTS, dead_server_last_contact_threshold='10s'), raft_nodes=3,
                       prefix='vault_unseal_autopilot_')
    with pytest.raises(AnsibleFilterError, match='mapping'):
        autopilot_plan(['not', 'a', 'mapping'])
