# -*- coding: utf-8 -*-
"""vault_raft_autopilot against a real raft server (one node: it takes autopilot settings).

Every claim is read back from the server (GET sys/storage/raft/autopilot/configuration),
never taken from ``changed``; "nothing written" is read from the node's file audit log.
"""

import shutil
import time

import pytest

from vaultkube_testlib import FastRaftServer, assert_failed_cleanly, run_module, tmpdir

PATH = '/v1/sys/storage/raft/autopilot/configuration'


def start_raft():
    """One initialised, unsealed raft node with its root token, active and serving autopilot,
    with a file audit device (declared on OpenBao, enabled through the API on HashiCorp Vault)."""
    node = FastRaftServer(tmpdir('vaultkube-autopilot-'), audit=True).start()
    client = node.client()
    init = client.sys.initialize(secret_shares=1, secret_threshold=1)
    client.sys.submit_unseal_key(init['keys'][0])
    node.root_token = init['root_token']
    client = node.client()
    deadline = time.time() + 60
    while True:
        try:
            if client.sys.read_leader_status().get('is_self'):
                client.adapter.get(PATH)
                node.enable_audit()
                return node
        except Exception:  # noqa: BLE001 - 5xx while the node elects itself
            pass
        if time.time() > deadline:
            node.stop()
            raise AssertionError('the raft node never became active')
        time.sleep(0.3)


def stop(node):
    node.stop()
    shutil.rmtree(str(node.workdir), ignore_errors=True)


@pytest.fixture(scope='module')
def raft():
    node = start_raft()
    yield node
    stop(node)


@pytest.fixture
def fresh_raft():
    """A node of its own: min_quorum still unset (0), which no write can bring back."""
    node = start_raft()
    yield node
    stop(node)


# The settings the module manages. HashiCorp Vault also answers disable_upgrade_migration (an
# Enterprise setting the module leaves alone), which OpenBao does not have.
MANAGED = ('cleanup_dead_servers', 'dead_server_last_contact_threshold', 'last_contact_threshold',
           'max_trailing_logs', 'min_quorum', 'server_stabilization_time')


def server_config(node):
    data = node.client().adapter.get(PATH)['data']
    return {key: value for key, value in data.items() if key in MANAGED}


def baseline(node):
    """The server's defaults again (min_quorum cannot go back to 0: it stays as set)."""
    node.client().adapter.post(PATH, json={
        'cleanup_dead_servers': False, 'dead_server_last_contact_threshold': '24h', 'last_contact_threshold': '10s',
        'max_trailing_logs': 1000, 'server_stabilization_time': '10s'})
    return server_config(node)


def conn(node):
    return {'url': node.url, 'token': node.root_token}


def test_set_read_back_and_rerun_in_other_spellings_changes_nothing(raft):
    baseline(raft)
    wanted = dict(cleanup_dead_servers=True, min_quorum=3, dead_server_last_contact_threshold='1d',
                  last_contact_threshold='5s', max_trailing_logs=500, server_stabilization_time='15s')
    result = run_module('vault_raft_autopilot', dict(conn(raft), **wanted))
    assert not result.get('failed'), result.get('msg')
    expected = {'cleanup_dead_servers': True, 'min_quorum': 3, 'dead_server_last_contact_threshold': '24h0m0s',
                'last_contact_threshold': '5s', 'max_trailing_logs': 500, 'server_stabilization_time': '15s'}
    assert server_config(raft) == expected
    assert result['config'] == expected, 'the returned configuration is not the one read back'

    # Same meaning, other spellings: nothing is written, the server is as it was.
    again = dict(wanted, dead_server_last_contact_threshold='86400s', last_contact_threshold=5,
                 server_stabilization_time='15', min_quorum='3')
    with raft.no_writes('the re-run in other spellings', min_entries=1):
        rerun = run_module('vault_raft_autopilot', dict(conn(raft), **again))
    assert not rerun.get('failed'), rerun.get('msg')
    assert rerun['changed'] is False and rerun['changed_fields'] == []
    assert server_config(raft) == expected

    # Only the settings given are touched; the others stay as the server has them.
    one = run_module('vault_raft_autopilot', dict(conn(raft), last_contact_threshold='7s'))
    assert one['changed'] is True and one['changed_fields'] == ['last_contact_threshold']
    assert server_config(raft) == dict(expected, last_contact_threshold='7s')


def test_check_mode_writes_nothing_and_diff_shows_the_change(raft):
    before = baseline(raft)
    with raft.no_writes('check mode', min_entries=1):
        result = run_module('vault_raft_autopilot', dict(conn(raft), server_stabilization_time='1m30s',
                                                         max_trailing_logs=250), check=True, diff=True)
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is True
    assert result['changed_fields'] == ['max_trailing_logs', 'server_stabilization_time']
    assert result['diff']['before']['server_stabilization_time'] == '10s'
    assert result['diff']['after']['server_stabilization_time'] == '1m30s'
    assert result['diff']['after']['max_trailing_logs'] == 250
    assert server_config(raft) == before, 'check mode wrote to the server'
    assert result['config'] == before

    # The same in a real run with diff: written, read back, and the diff matches the server.
    real = run_module('vault_raft_autopilot', dict(conn(raft), server_stabilization_time='90s',
                                                   max_trailing_logs=250), diff=True)
    assert real['changed'] is True
    after = server_config(raft)
    assert after['server_stabilization_time'] == '1m30s' and after['max_trailing_logs'] == 250
    assert real['diff']['after'] == after


def test_no_settings_is_a_read(raft):
    before = baseline(raft)
    with raft.no_writes('a task with no settings', min_entries=1):
        result = run_module('vault_raft_autopilot', conn(raft))
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is False and result['config'] == before == server_config(raft)


@pytest.mark.parametrize('args,words', [
    ({'cleanup_dead_servers': True, 'min_quorum': 2}, ['min_quorum', 'at least 3']),
    ({'last_contact_threshold': 'soon'}, ['last_contact_threshold', 'must be a duration']),
    ({'dead_server_last_contact_threshold': '30s', 'max_trailing_logs': 10},
     ['dead_server_last_contact_threshold', 'at least 1m']),
    ({'server_stabilization_time': '2.5s'}, ['server_stabilization_time', 'whole number of seconds']),
    ({'max_trailing_logs': 0, 'last_contact_threshold': '3s'}, ['max_trailing_logs', 'at least 1']),
    ({'last_contact_threshold': '0s'}, ['last_contact_threshold', 'more than 0']),
])
def test_bad_input_is_refused_before_any_write(raft, args, words):
    before = baseline(raft)
    with raft.no_writes('a refused task'):
        result = run_module('vault_raft_autopilot', dict(conn(raft), **args))
    assert_failed_cleanly(result, *words)
    assert server_config(raft) == before, 'a refused task changed the configuration'


def test_cleanup_refused_against_the_servers_min_quorum(fresh_raft):
    """min_quorum not given: judged with the server's value, and nothing of the task is written."""
    before = server_config(fresh_raft)
    assert before['min_quorum'] == 0
    with fresh_raft.no_writes('the refused task'):
        result = run_module('vault_raft_autopilot', dict(conn(fresh_raft), cleanup_dead_servers=True,
                                                         last_contact_threshold='4s'))
    assert_failed_cleanly(result, 'cleanup_dead_servers', 'min_quorum', 'at least 3')
    assert server_config(fresh_raft) == before, 'last_contact_threshold was written although the task failed'


def test_storage_other_than_raft_fails_in_one_line(bao_dev):
    result = run_module('vault_raft_autopilot', {'url': bao_dev.url, 'token': bao_dev.root_token,
                                                 'cleanup_dead_servers': False})
    assert_failed_cleanly(result, 'sys/storage/raft/autopilot/configuration', 'raft')
