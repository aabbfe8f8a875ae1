# -*- coding: utf-8 -*-
"""A node that lost its data rejoins: which raft peers stand for its lost data (pure logic)."""

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._nodes import lost_peers, peer_names, remove_lost_peers
from vault_fakes import FakeAPI


def peer(node_id, pod, leader=False, voter=True, service='vault-internal'):
    return dict(node_id=node_id, address='%s.%s:8201' % (pod, service), leader=leader, voter=voter)


CONFIG = [peer('3f1c-old', 'vault-0'), peer('a2b4', 'vault-1', leader=True), peer('c9d0', 'vault-2')]


def test_peer_names_are_the_node_id_and_the_cluster_address_host():
    assert peer_names('vault-0', 'vault-internal') == ['vault-0', 'vault-0.vault-internal']
    assert peer_names('vault-0', None) == ['vault-0']


def test_the_lost_pods_peer_is_found_by_its_address_when_node_ids_are_random():
    remove, kept = lost_peers(CONFIG, peer_names('vault-0', 'vault-internal'), {'a2b4': True, 'c9d0': True})
    assert remove == [CONFIG[0]] and kept == []


def test_the_lost_pods_peer_is_found_by_its_node_id_when_the_chart_sets_it():
    config = [dict(node_id='vault-0', address='10.1.2.3:8201', leader=False, voter=True), CONFIG[1]]
    remove, _kept = lost_peers(config, peer_names('vault-0', 'vault-internal'), None)
    assert remove == [config[0]]


def test_a_fully_qualified_cluster_address_matches_and_a_longer_pod_name_does_not():
    config = [dict(node_id='x', address='vault-0.vault-internal.vault.svc.cluster.local:8201', leader=False),
              dict(node_id='y', address='vault-01.vault-internal:8201', leader=False),
              dict(node_id='z', address='vault-0.other-internal:8201', leader=False)]
    remove, kept = lost_peers(config, peer_names('vault-0', 'vault-internal'), None)
    assert remove == [config[0]] and kept == []


def test_a_peer_that_answers_or_leads_is_never_removed():
    remove, kept = lost_peers(CONFIG, peer_names('vault-0', 'vault-internal'), {'3f1c-old': True})
    assert remove == [] and kept == [(CONFIG[0], 'autopilot reports it healthy')]
    remove, kept = lost_peers(CONFIG, peer_names('vault-1', 'vault-internal'), {})
    assert remove == [] and kept == [(CONFIG[1], 'it is the leader')]


def test_other_pods_peers_are_left_alone_and_no_names_remove_nothing():
    remove, _kept = lost_peers(CONFIG, peer_names('vault-2', 'vault-internal'), {'c9d0': False})
    assert remove == [CONFIG[2]]
    assert lost_peers(CONFIG, [], None) == ([], [])
    assert lost_peers(CONFIG, [None, ''], None) == ([], [])


STATE = 'sys/storage/raft/autopilot/state'
REMOVE_PEER = 'sys/storage/raft/remove-peer'


def leader(servers, healthy=None, keep=False):
    """The leader's raft configuration and autopilot state, as Vault answers them; keep: a removed
    peer stays listed."""
    if healthy is None:
        unsupported = VaultRequestError('no handler for route', status=404, errors=['unsupported path'])
        answers = {'errors': {STATE: unsupported}}
    else:
        answers = {'bodies': {STATE: {'data': {'servers': dict((k, {'healthy': v}) for k, v in healthy.items())}}}}

    def remove_peer(path, data):
        if not keep:
            api.servers = [s for s in api.servers if s['node_id'] != data['server_id']]

    api = FakeAPI(answer=remove_peer, allowed={'read': {STATE}, 'write': {REMOVE_PEER}},
                  url='http://127.0.0.1:40001', **answers)
    api.servers = [dict(s) for s in servers]
    return api


def removed_ids(api):
    """The server ids the code asked the leader to remove."""
    return [data['server_id'] for _verb, _path, data in api.mutations()]


def peers_of(api):
    return [dict(s) for s in api.servers]


def test_remove_lost_peers_removes_the_stale_peer_and_reads_the_configuration_back():
    api = leader(CONFIG, {'3f1c-old': False, 'a2b4': True, 'c9d0': True})
    removed, after = remove_lost_peers(api, peer_names('vault-0', 'vault-internal'), peers_reader=peers_of)
    assert removed_ids(api) == ['3f1c-old'] and removed == [CONFIG[0]]
    assert after == CONFIG[1:]


def test_remove_lost_peers_in_check_mode_or_with_nothing_stale_changes_nothing():
    api = leader(CONFIG, None)
    removed, after = remove_lost_peers(api, peer_names('vault-0', 'vault-internal'), check_mode=True,
                                       peers_reader=peers_of)
    assert removed == [CONFIG[0]] and after == CONFIG and removed_ids(api) == []
    removed, after = remove_lost_peers(api, peer_names('vault-3', 'vault-internal'), peers_reader=peers_of)
    assert removed == [] and after == CONFIG and removed_ids(api) == []


def test_remove_lost_peers_refuses_a_healthy_match_and_reports_a_peer_still_listed():
    api = leader(CONFIG, {'3f1c-old': True})
    with pytest.raises(VaultRequestError, match='autopilot reports it healthy'):
        remove_lost_peers(api, peer_names('vault-0', 'vault-internal'), peers_reader=peers_of)
    assert removed_ids(api) == []
    api = leader(CONFIG, {}, keep=True)
    with pytest.raises(VaultRequestError, match='still listed'):
        remove_lost_peers(api, peer_names('vault-0', 'vault-internal'), peers_reader=peers_of)
