# -*- coding: utf-8 -*-
"""The vault_unseal role's autopilot phase on real raft servers: three nodes get the HA
defaults (dead server cleanup, min_quorum 3, 24 h), a single node is left as it is.

Every claim is read back from the server's autopilot configuration; a re-run is changed=0 and
the cluster's file audit log shows no write from it but the creation of the run's own admin token.
"""

import json
import shutil

import pytest

from vaultkube_testlib import (
    RUN_TOKEN_WRITES,
    VAULT_UNSEAL_PLAYBOOK as PLAY,
    FastRaftServer,
    enable_audit_on_cluster,
    play_stats,
    run_playbook,
    task_results,
    tmpdir,
)

PASSWORD = 'autopilot-role-keys-password'
PATH = '/v1/sys/storage/raft/autopilot/configuration'
TASK = 'Set raft autopilot on the active node'


def start(count):
    # One file audit log for the cluster (whichever node is active records the requests).
    audit_log = tmpdir('vaultkube-autopilot-audit-') / 'audit.log'
    return [FastRaftServer(tmpdir('vaultkube-autopilot-role-'), node_id='node%d' % i, audit=audit_log).start()
            for i in range(1, count + 1)]


def stop(nodes):
    for node in nodes:
        node.stop()
        shutil.rmtree(str(node.workdir), ignore_errors=True)
    if nodes and nodes[0].audit_log:
        shutil.rmtree(str(nodes[0].audit_log.parent), ignore_errors=True)


def assert_only_the_run_token_written(node, mark, what):
    """The audit log since MARK: the run's admin token made, no other write request."""
    sent = node.write_requests(mark)
    assert sorted(sent) == sorted(RUN_TOKEN_WRITES), '%s sent these write requests (audit log): %s' % (what, sent)


@pytest.fixture
def cluster():
    nodes = start(3)
    yield nodes
    stop(nodes)


@pytest.fixture
def single():
    nodes = start(1)
    yield nodes
    stop(nodes)


def play(tmp_path, nodes, check=False, tags=None, **extra):
    playbook = tmp_path / 'unseal.yml'
    playbook.write_text(PLAY)
    variables = dict(
        vault_unseal_url=nodes[0].url, vault_unseal_nodes=[{'url': n.url} for n in nodes],
        vault_unseal_keys_file=str(tmp_path / 'keys' / 'vault-init.vault'), vault_unseal_keys_password=PASSWORD,
        vault_unseal_secret_shares=3, vault_unseal_secret_threshold=2, vault_unseal_wait_timeout=90,
        # The test reads the server with the initial root token: kept (the default revokes it).
        vault_unseal_revoke_root_token=False)
    variables.update(extra)
    res = run_playbook(playbook, variables, check=check, extra_args=['--tags', tags] if tags else ())
    try:
        doc = json.loads(res.stdout)
    except ValueError:
        raise AssertionError('no JSON from ansible-playbook (rc=%s): %s %s'
                             % (res.returncode, res.stdout[-2000:], res.stderr[-2000:]))
    tasks = dict(task_results(doc, missing={}))
    failed = [(name, r.get('msg')) for name, r in tasks.items() if r.get('failed') and not r.get('ignore_errors')]
    assert res.returncode == 0 and not failed, failed or res.stdout[-3000:]
    return tasks, play_stats(doc)


def root_token(tmp_path):
    from ansible.parsing.vault import VaultLib, VaultSecret
    vault = VaultLib([('default', VaultSecret(PASSWORD.encode()))])
    with open(str(tmp_path / 'keys' / 'vault-init.vault'), 'rb') as handle:
        return json.loads(vault.decrypt(handle.read()))['root_token']


def autopilot(node, token):
    data = node.client(token).adapter.get(PATH)['data']
    # disable_upgrade_migration: HashiCorp Vault only, not managed by the role.
    return {key: value for key, value in data.items() if key != 'disable_upgrade_migration'}


def test_three_nodes_get_the_ha_defaults_and_a_rerun_changes_nothing(cluster, tmp_path):
    # server_stabilization_time: the phase runs before the wait for voters, so 2 s applies to the joins.
    tasks, _stats = play(tmp_path, cluster, vault_unseal_autopilot_server_stabilization_time='2s')
    assert tasks[TASK].get('changed') is True
    token = root_token(tmp_path)
    expected = {'cleanup_dead_servers': True, 'min_quorum': 3, 'dead_server_last_contact_threshold': '24h0m0s',
                'last_contact_threshold': '10s', 'max_trailing_logs': 1000, 'server_stabilization_time': '2s'}
    # Read back from every node (a standby forwards to the active one): the cluster's configuration.
    for node in cluster:
        assert autopilot(node, token) == expected
    servers = cluster[0].client(token).adapter.get('/v1/sys/storage/raft/configuration')['data']['config']['servers']
    assert len(servers) == 3 and all(s['voter'] for s in servers)
    enable_audit_on_cluster(cluster, token)

    mark = cluster[0].mark()
    tasks, stats = play(tmp_path, cluster, vault_unseal_autopilot_server_stabilization_time='2s')
    assert stats['changed'] == 0, [name for name, r in tasks.items() if r.get('changed')]
    assert_only_the_run_token_written(cluster[0], mark, 'the re-run')
    assert tasks[TASK].get('changed') is False and not tasks[TASK].get('skipped')
    assert autopilot(cluster[0], token) == expected

    # Check mode with other values: reported, nothing written (it still makes its admin token, to read).
    mark = cluster[0].mark()
    tasks, _stats = play(tmp_path, cluster, check=True, vault_unseal_autopilot_server_stabilization_time='2s',
                         vault_unseal_autopilot_min_quorum=5, vault_unseal_autopilot_dead_server_last_contact_threshold='12h')
    assert tasks[TASK].get('changed') is True
    assert_only_the_run_token_written(cluster[0], mark, 'check mode')
    assert autopilot(cluster[0], token) == expected

    # The phase alone (with the preflight and the admin token it needs), with inventory values.
    tags = 'vault_unseal_preflight,vault_unseal_admin_token,vault_unseal_autopilot'
    tasks, _stats = play(tmp_path, cluster, tags=tags, vault_unseal_autopilot_server_stabilization_time='2s',
                         vault_unseal_autopilot_min_quorum=5, vault_unseal_autopilot_dead_server_last_contact_threshold='12h')
    assert tasks[TASK].get('changed') is True
    assert autopilot(cluster[1], token) == dict(expected, min_quorum=5, dead_server_last_contact_threshold='12h0m0s')
    mark = cluster[0].mark()
    tasks, stats = play(tmp_path, cluster, tags=tags, vault_unseal_autopilot_server_stabilization_time='2s',
                        vault_unseal_autopilot_min_quorum=5, vault_unseal_autopilot_dead_server_last_contact_threshold='720m')
    assert stats['changed'] == 0 and tasks[TASK].get('changed') is False
    assert_only_the_run_token_written(cluster[0], mark, 'the phase re-run in other spellings')


def test_a_single_node_is_left_as_it_is(single, tmp_path):
    tasks, _stats = play(tmp_path, single)
    assert tasks[TASK].get('skipped') is True
    assert '1 raft node(s)' in tasks['Report that autopilot is left as it is']['msg']
    config = autopilot(single[0], root_token(tmp_path))
    assert config['cleanup_dead_servers'] is False and config['min_quorum'] == 0


def test_cleanup_asked_for_on_a_single_node_stops_before_a_write(single, tmp_path):
    playbook = tmp_path / 'unseal.yml'
    playbook.write_text(PLAY)

    def refused_run():
        res = run_playbook(playbook, dict(
            vault_unseal_url=single[0].url, vault_unseal_nodes=[{'url': single[0].url}],
            vault_unseal_keys_file=str(tmp_path / 'keys' / 'vault-init.vault'), vault_unseal_keys_password=PASSWORD,
            vault_unseal_secret_shares=3, vault_unseal_secret_threshold=2, vault_unseal_revoke_root_token=False,
            vault_unseal_autopilot_cleanup_dead_servers=True))
        assert res.returncode != 0
        assert 'vault_unseal_autopilot_cleanup_dead_servers: true needs at least 3 raft nodes' in res.stdout

    refused_run()
    config = autopilot(single[0], root_token(tmp_path))
    assert config['cleanup_dead_servers'] is False

    # Again on the initialised node, with the audit device on (HashiCorp Vault: enabled now, it has
    # none during the first run): refused, and the log shows no write but the run's admin token.
    enable_audit_on_cluster(single, root_token(tmp_path))
    mark = single[0].mark()
    refused_run()
    assert_only_the_run_token_written(single[0], mark, 'the refused run')
    assert autopilot(single[0], root_token(tmp_path)) == config
