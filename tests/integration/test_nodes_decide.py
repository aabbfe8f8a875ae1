# -*- coding: utf-8 -*-
"""All nodes decide, on three real OpenBao raft nodes: a wiped first node rejoins, never initialised.

The role vault_unseal runs as a playbook against the three nodes; every claim is
read back from OpenBao (seal status, raft configuration, KV data), never taken
from ``changed``; the converged re-run is read from the cluster's file audit log too.
"""

import json
import shutil
import time

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from vaultkube_testlib import (
    RUN_TOKEN_WRITES,
    VAULT_UNSEAL_PLAYBOOK as PLAY,
    FastRaftServer,
    enable_audit_on_cluster,
    play_stats,
    run_module,
    run_playbook,
    task_results,
    tmpdir,
)

PASSWORD = 'nodes-decide-keys-password'


@pytest.fixture
def cluster():
    # One file audit log for the cluster: whichever node is active records the requests.
    audit_log = tmpdir('vaultkube-decide-audit-') / 'audit.log'
    nodes = [FastRaftServer(tmpdir('vaultkube-decide-'), node_id='node%d' % i, audit=audit_log).start()
             for i in (1, 2, 3)]
    yield nodes
    for node in nodes:
        node.stop()
        shutil.rmtree(str(node.workdir), ignore_errors=True)
    shutil.rmtree(str(audit_log.parent), ignore_errors=True)


def read_keys(path):
    vault = VaultLib([('default', VaultSecret(PASSWORD.encode()))])
    with open(str(path), 'rb') as handle:
        return json.loads(vault.decrypt(handle.read()))


def seal(node):
    return node.client().sys.read_seal_status()


def play(tmp_path, nodes, keys_file):
    playbook = tmp_path / 'unseal.yml'
    playbook.write_text(PLAY)
    res = run_playbook(playbook, dict(
        vault_unseal_url=nodes[0].url, vault_unseal_nodes=[{'url': n.url} for n in nodes],
        vault_unseal_keys_file=str(keys_file), vault_unseal_keys_password=PASSWORD,
        vault_unseal_secret_shares=3, vault_unseal_secret_threshold=2, vault_unseal_wait_timeout=90,
        # The test reads Vault with the initial root token: kept (the default revokes it).
        vault_unseal_revoke_root_token=False))
    doc = json.loads(res.stdout)
    tasks = task_results(doc, missing={})
    failed = [(name, r.get('msg')) for name, r in tasks if r.get('failed') and not r.get('ignore_errors')]
    return res, dict(tasks), failed, play_stats(doc)


def raft_servers(node, token):
    return node.client(token).adapter.get('/v1/sys/storage/raft/configuration')['data']['config']['servers']


def wait_voters(node, token, count, timeout=120):
    deadline = time.time() + timeout
    while True:
        try:
            servers = raft_servers(node, token)
            if len(servers) == count and all(s['voter'] for s in servers):
                return servers
        except Exception:  # noqa: BLE001 - 5xx during an election
            servers = None
        assert time.time() < deadline, 'raft never showed %d voters: %r' % (count, servers)
        time.sleep(1)


def active_node(nodes, token):
    deadline = time.time() + 60
    while time.time() < deadline:
        for node in nodes:
            try:
                if node.client(token).sys.read_leader_status().get('is_self'):
                    return node
            except Exception:  # noqa: BLE001 - sealed or electing
                pass
        time.sleep(0.5)
    raise AssertionError('no active node')


def test_wiped_first_node_rejoins_and_is_never_initialised(cluster, tmp_path):
    keys_file = tmp_path / 'keys' / 'vault-init.vault'
    res, tasks, failed, _stats = play(tmp_path, cluster, keys_file)
    assert res.returncode == 0 and not failed, failed or res.stderr[-2000:]
    assert all(seal(n)['initialized'] and not seal(n)['sealed'] for n in cluster)
    keys = read_keys(keys_file)
    root = keys['root_token']
    original_keys = keys_file.read_bytes()
    # Test speed only: autopilot promotes a follower after it has been healthy this long.
    active = active_node(cluster, root)
    enable_audit_on_cluster(cluster, root)
    active.client(root).adapter.post('/v1/sys/storage/raft/autopilot/configuration',
                                     json={'server_stabilization_time': '2s'})
    wait_voters(active, root, 3)
    cluster_id = seal(active)['cluster_id']
    client = active.client(root)
    client.sys.enable_secrets_engine('kv', path='kv', options={'version': '2'})
    client.secrets.kv.v2.create_or_update_secret('app', secret={'password': 'still-here'}, mount_point='kv')

    # The first node loses its storage: stopped, data deleted, started empty on the same address.
    first = cluster[0]
    first.stop()
    shutil.rmtree(str(first.workdir / 'data'))
    first.start()
    assert seal(first)['initialized'] is False

    # The plan alone (check mode is read-only): join, never init.
    # The wiped node audits nothing; the plan's requests to the others (seal status, health) are
    # answered outside the audit log: read from the wiped node's init status, and no write logged.
    with active.no_writes('reading the plan'):
        plan = run_module('vault_nodes_info', {'nodes': [{'url': n.url} for n in cluster]}, check=True)
    assert not plan.get('failed'), plan.get('msg')
    assert plan['initialized'] is True and plan['init_node'] is None
    assert plan['joiners'] == [{'url': first.url}] and plan['leader']['url'] != first.url
    assert seal(first)['initialized'] is False, 'reading the plan changed the node'

    res, tasks, failed, stats = play(tmp_path, cluster, keys_file)
    assert res.returncode == 0 and not failed, failed or res.stderr[-2000:]
    inits = [name for name, r in tasks.items() if name.startswith('Initialise Vault') and not r.get('skipped')]
    assert inits == [], 'an init task ran: %s' % inits
    assert keys_file.read_bytes() == original_keys, 'the keys file was rewritten'
    joined = tasks['Join the new raft followers to the active node']['results']
    assert [r['item']['url'] for r in joined if r.get('changed')] == [first.url]
    # Read back: the wiped node is a member again, unsealed, of the same cluster; the data is there.
    status = seal(first)
    assert status['initialized'] is True and status['sealed'] is False
    assert status['cluster_id'] == cluster_id
    assert {seal(n)['cluster_id'] for n in cluster} == {cluster_id}
    servers = wait_voters(active_node(cluster, root), root, 3)
    assert sorted(s['node_id'] for s in servers) == ['node1', 'node2', 'node3']
    secret = first.client(root).secrets.kv.v2.read_secret_version('app', mount_point='kv',
                                                                  raise_on_deleted_version=True)
    assert secret['data']['data'] == {'password': 'still-here'}

    # Converged: a second run changes nothing. Read from the audit log: its only write request is
    # the creation of the run's own admin token; sys/init and sys/unseal are answered outside the
    # log, so those are read from the keys file's bytes and every node's seal status.
    statuses = [(seal(n)['initialized'], seal(n)['sealed'], seal(n)['progress']) for n in cluster]
    mark = active.mark()
    res, tasks, failed, stats = play(tmp_path, cluster, keys_file)
    assert res.returncode == 0 and not failed, failed or res.stderr[-2000:]
    assert stats['changed'] == 0, [name for name, r in tasks.items() if r.get('changed')]
    sent = active.write_requests(mark)
    assert sent == RUN_TOKEN_WRITES, 'the converged re-run sent these write requests (audit log): %s' % sent
    assert keys_file.read_bytes() == original_keys, 'the keys file was rewritten'
    assert [(seal(n)['initialized'], seal(n)['sealed'], seal(n)['progress']) for n in cluster] == statuses == [
        (True, False, 0)] * 3


def test_silent_node_blocks_the_init_of_a_new_cluster(cluster, tmp_path):
    keys_file = tmp_path / 'keys' / 'vault-init.vault'
    cluster[2].stop()
    res, tasks, failed, _stats = play(tmp_path, cluster, keys_file)
    assert res.returncode != 0 and len(failed) == 1, failed
    name, msg = failed[0]
    assert name == 'Ask every node and plan the init, the joins and the leader'
    assert 'did not answer' in msg and 'nothing was initialised' in msg and '\n' not in msg
    assert not keys_file.exists()
    assert not seal(cluster[0])['initialized'] and not seal(cluster[1])['initialized']
