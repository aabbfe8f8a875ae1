# -*- coding: utf-8 -*-
"""All nodes decide: the plan vault_nodes_info returns, from statuses (pure logic)."""

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError
from ansible_collections.vaultkube.platform.plugins.module_utils._nodes import (
    PlanRefused,
    decide,
    read_nodes,
    validate_nodes,
)

PODS = [{'url': 'https://127.0.0.1:4000%d' % i, 'pod': 'vault-%d' % i} for i in range(3)]
HOSTS = [{'url': 'https://vault%d.example.com:8200' % i} for i in range(3)]


def new():
    return dict(reachable=True, initialized=False, sealed=True, active=False, seal_type='shamir',
                cluster_id=None, leader_address=None)


def member(active=False, sealed=False, leader='https://vault-1.vault-internal:8200', cluster='c1'):
    return dict(reachable=True, initialized=True, sealed=sealed, active=active and not sealed,
                seal_type='shamir', cluster_id=None if sealed else cluster,
                leader_address=None if sealed else leader)


def silent():
    return dict(reachable=False, error='connection refused')


def test_new_cluster_initialises_the_first_node_only_and_joins_the_others():
    plan = decide(PODS, [new(), new(), new()], 'vault-internal', 'http', 8200)
    assert plan['initialized'] is False
    assert plan['init_node'] == PODS[0] and plan['leader'] == PODS[0]
    assert plan['joiners'] == PODS[1:] and plan['followers'] == PODS[1:]
    assert plan['join_address'] == 'http://vault-0.vault-internal:8200'
    assert plan['single_and_ready'] is False


def test_wiped_first_pod_joins_the_active_pod_and_nothing_is_initialised():
    statuses = [new(), member(active=True), member()]
    plan = decide(PODS, statuses, 'vault-internal', 'https', 8200)
    assert plan['initialized'] is True and plan['init_node'] is None
    assert plan['leader'] == PODS[1]
    assert plan['joiners'] == [PODS[0]]
    assert plan['followers'] == [PODS[0], PODS[2]] and plan['members'] == [PODS[2]] and plan['silent'] == []
    assert plan['join_address'] == 'https://vault-1.vault-internal:8200'
    assert plan['cluster_id'] == 'c1'


def test_leader_is_the_active_node_else_an_unsealed_one_else_an_initialised_one():
    assert decide(HOSTS, [member(), member(), member(active=True)])['leader'] == HOSTS[2]
    assert decide(HOSTS, [member(sealed=True), member(), new()])['leader'] == HOSTS[1]
    plan = decide(HOSTS, [new(), member(sealed=True), member(sealed=True)])
    assert plan['leader'] == HOSTS[1] and plan['joiners'] == [HOSTS[0]] and plan['init_node'] is None


def test_hosts_join_the_address_vault_reports_else_the_leader_url():
    plan = decide(HOSTS, [new(), member(active=True, leader='https://10.0.0.2:8200'), member()])
    assert plan['join_address'] == 'https://10.0.0.2:8200'
    assert decide(HOSTS, [new(), new(), new()])['join_address'] == HOSTS[0]['url']


def test_pods_without_an_active_pod_join_the_reported_leader():
    # Standbys that know the leader, the active one not among the nodes asked.
    plan = decide(PODS[:2], [new(), member(leader='https://vault-9.vault-internal:8200')], 'vault-internal')
    assert plan['join_address'] == 'https://vault-9.vault-internal:8200'


def test_a_silent_node_blocks_an_init_in_one_line():
    with pytest.raises(PlanRefused) as err:
        decide(PODS, [new(), silent(), new()])
    text = str(err.value)
    assert 'vault-1 did not answer' in text and 'nothing was initialised' in text and '\n' not in text


def test_a_silent_node_does_not_block_a_join_to_an_answering_member():
    plan = decide(PODS, [new(), silent(), member(active=True)], 'vault-internal')
    assert plan['init_node'] is None and plan['joiners'] == [PODS[0]] and plan['leader'] == PODS[2]
    assert plan['members'] == [] and plan['silent'] == [PODS[1]]
    assert plan['followers'] == [PODS[0], PODS[1]]


def test_no_answer_at_all_is_refused():
    with pytest.raises(PlanRefused, match='none of the 3 Vault nodes answered'):
        decide(HOSTS, [silent(), silent(), silent()])


def test_two_clusters_are_refused():
    with pytest.raises(PlanRefused, match='2 different clusters'):
        decide(HOSTS, [member(active=True, cluster='a'), member(active=True, cluster='b'), new()])


def test_single_node_ready_and_auto_seal_type():
    plan = decide(HOSTS[:1], [member(active=True)])
    assert plan['single_and_ready'] is True and plan['followers'] == [] and plan['joiners'] == []
    transit = dict(new(), seal_type='transit')
    assert decide(HOSTS[:1], [transit])['seal_type'] == 'transit'
    assert decide(HOSTS[:1], [member(sealed=True)])['single_and_ready'] is False


def test_read_nodes_marks_the_silent_ones_and_keeps_the_order():
    def reader(params):
        if params['url'] == HOSTS[1]['url']:
            raise VaultRequestError('cannot reach %s: connection refused' % params['url'])
        return dict(new(), url=params['url'])

    statuses = read_nodes({'token': None}, HOSTS, reader)
    assert [s['url'] for s in statuses] == [h['url'] for h in HOSTS]
    assert [s['reachable'] for s in statuses] == [True, False, True]
    assert 'connection refused' in statuses[1]['error']
    assert read_nodes({}, PODS[:1], reader)[0]['pod'] == 'vault-0'


def test_node_list_is_checked():
    with pytest.raises(FieldError, match='nodes must list'):
        validate_nodes([])
    with pytest.raises(FieldError, match=r'nodes\[1\].url .* listed twice'):
        validate_nodes([HOSTS[0], HOSTS[0]])
    with pytest.raises(FieldError, match=r'nodes\[0\].url is empty'):
        validate_nodes([{'url': ' '}])


def test_a_stale_leader_address_of_the_lost_pod_is_never_the_join_target():
    # vault-0 (the active pod) lost its volume; no node is active yet and the standbys still
    # name vault-0 as the leader: vault-0 must not be asked to join itself.
    stale = 'http://vault-0.vault-internal:8200/'
    statuses = [new(), member(leader=stale), member(leader=stale)]
    plan = decide(PODS, statuses, 'vault-internal', 'http', 8200)
    assert plan['joiners'] == [PODS[0]] and plan['init_node'] is None
    assert plan['join_address'] == 'http://vault-1.vault-internal:8200'
    assert 'http://vault-0.vault-internal:8200' in plan['joiner_addresses']
    # Hosts: a reported address that is a joiner's url is skipped too; another one is used.
    statuses = [new(), member(leader='https://VAULT0.example.com:8200'), member(leader='https://vault0.example.com:8200')]
    hosts = [{'url': 'https://vault0.example.com:8200'}] + HOSTS[1:]
    assert decide(hosts, statuses)['join_address'] == hosts[1]['url']
    statuses[2] = member(leader='https://vault2.example.com:8200')
    assert decide(hosts, statuses)['join_address'] == 'https://vault2.example.com:8200'
