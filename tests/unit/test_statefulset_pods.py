# -*- coding: utf-8 -*-
"""Which pods are a StatefulSet's own (module_utils/_kubernetes.py): the pods vault_unseal
sends unseal keys to. Labels alone never make a member; the controller reference must name
the StatefulSet by kind, name and uid, the whole selector must match, and the name must be a
member name in the StatefulSet's ordinal range."""
import copy

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes import (
    label_selector_query, selector_matches, statefulset_pod_verdict, statefulset_pods)

UID = '11111111-2222-3333-4444-555555555555'
LABELS = {'app.kubernetes.io/name': 'vault', 'app.kubernetes.io/instance': 'vault', 'component': 'server'}
STS = {
    'metadata': {'name': 'vault', 'namespace': 'vault', 'uid': UID},
    'spec': {'replicas': 3, 'selector': {'matchLabels': dict(LABELS)}},
}


def pod(pod_name, labels=None, owner=True, phase='Running', ready=True, **ref):
    reference = {'apiVersion': 'apps/v1', 'kind': 'StatefulSet', 'name': 'vault', 'uid': UID,
                 'controller': True, 'blockOwnerDeletion': True}
    reference.update(ref)
    metadata = {'name': pod_name, 'namespace': 'vault', 'uid': 'pod-' + pod_name,
                'labels': dict(LABELS) if labels is None else labels}
    if owner:
        metadata['ownerReferences'] = [reference]
    return {'metadata': metadata,
            'status': {'phase': phase, 'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}]}}


def test_the_chart_pods_are_members_sorted_by_ordinal():
    pods = [pod('vault-2'), pod('vault-0', ready=False), pod('vault-1', phase='Pending')]
    members, ignored = statefulset_pods(STS, pods)
    assert [item['name'] for item in members] == ['vault-0', 'vault-1', 'vault-2']
    assert [item['ordinal'] for item in members] == [0, 1, 2]
    assert members[0] == {'name': 'vault-0', 'ordinal': 0, 'phase': 'Running', 'ready': False,
                          'deleting': False, 'uid': 'pod-vault-0'}
    assert members[1]['phase'] == 'Pending' and ignored == []


def test_ordinals_sort_as_numbers():
    sts = copy.deepcopy(STS)
    sts['spec']['replicas'] = 11
    members, _ignored = statefulset_pods(sts, [pod('vault-10'), pod('vault-9'), pod('vault-1')])
    assert [item['name'] for item in members] == ['vault-1', 'vault-9', 'vault-10']


@pytest.mark.parametrize('decoy, reason', [
    (pod('vault-decoy', owner=False), 'has no controller'),
    (pod('vault-0', owner=False), 'has no controller'),
    (pod('vault-1', name='other'), 'is controlled by StatefulSet other, not by StatefulSet vault'),
    (pod('vault-1', kind='ReplicaSet'), 'is controlled by ReplicaSet vault, not by StatefulSet vault'),
    (pod('vault-1', apiVersion='example.com/v1'), 'is controlled by StatefulSet vault, not by StatefulSet vault'),
    (pod('vault-1', uid='99999999-0000-0000-0000-000000000000'),
     'names StatefulSet vault with uid 99999999-0000-0000-0000-000000000000, not the live one (%s)' % UID),
    (pod('vault-1', controller=False), 'has no controller'),
    (pod('vault-1', controller='true'), 'has no controller'),
    (pod('vault-3'), 'is not a member name of the StatefulSet (vault-<0..2>)'),
    (pod('vault-01'), 'is not a member name of the StatefulSet (vault-<0..2>)'),
    (pod('vault-decoy'), 'is not a member name of the StatefulSet (vault-<0..2>)'),
    (pod('vault-1\n'), 'is not a member name of the StatefulSet (vault-<0..2>)'),
    (pod('vault-\u0661'), 'is not a member name of the StatefulSet (vault-<0..2>)'),
    (pod('vault-1', labels={'app.kubernetes.io/instance': 'vault', 'component': 'server'}),
     "does not match the StatefulSet's selector"),
])
def test_look_alikes_are_ignored_with_the_reason(decoy, reason):
    decoy['metadata']['uid'] = 'decoy'
    members, ignored = statefulset_pods(STS, [pod('vault-2'), decoy])
    assert [(item['name'], item['uid']) for item in members] == [('vault-2', 'pod-vault-2')]
    assert len(ignored) == 1 and ignored[0]['uid'] == 'decoy' and ignored[0]['reason'] == reason
    assert 'ordinal' not in ignored[0]


def test_the_controller_reference_is_the_one_with_controller_true():
    decoy = pod('vault-1')
    decoy['metadata']['ownerReferences'].insert(0, {'apiVersion': 'v1', 'kind': 'Node', 'name': 'n', 'uid': 'x'})
    assert statefulset_pod_verdict(STS, decoy) == (1, None)
    decoy['metadata']['ownerReferences'][1]['controller'] = False
    assert statefulset_pod_verdict(STS, decoy) == (None, 'has no controller')


def test_ordinals_start():
    sts = copy.deepcopy(STS)
    sts['spec']['ordinals'] = {'start': 5}
    assert statefulset_pod_verdict(sts, pod('vault-5')) == (5, None)
    assert statefulset_pod_verdict(sts, pod('vault-7')) == (7, None)
    assert statefulset_pod_verdict(sts, pod('vault-0'))[0] is None
    assert statefulset_pod_verdict(sts, pod('vault-8'))[0] is None


def test_deleting_is_reported():
    member = pod('vault-0')
    member['metadata']['deletionTimestamp'] = '2026-12-05T12:00:00Z'
    members, _ignored = statefulset_pods(STS, [member])
    assert members[0]['deleting'] is True


@pytest.mark.parametrize('selector, labels, expected', [
    ({'matchLabels': {'a': '1'}}, {'a': '1', 'b': '2'}, True),
    ({'matchLabels': {'a': '1'}}, {'a': '2'}, False),
    ({'matchLabels': {'a': '1'}}, {}, False),
    ({'matchExpressions': [{'key': 'a', 'operator': 'In', 'values': ['1', '2']}]}, {'a': '2'}, True),
    ({'matchExpressions': [{'key': 'a', 'operator': 'In', 'values': ['1']}]}, {}, False),
    ({'matchExpressions': [{'key': 'a', 'operator': 'NotIn', 'values': ['1']}]}, {}, True),
    ({'matchExpressions': [{'key': 'a', 'operator': 'NotIn', 'values': ['1']}]}, {'a': '1'}, False),
    ({'matchExpressions': [{'key': 'a', 'operator': 'Exists'}]}, {'a': ''}, True),
    ({'matchExpressions': [{'key': 'a', 'operator': 'DoesNotExist'}]}, {'a': ''}, False),
    ({'matchExpressions': [{'key': 'a', 'operator': 'Gt', 'values': ['1']}]}, {'a': '2'}, False),
    ({'matchLabels': {'a': '1'}, 'matchExpressions': [{'key': 'b', 'operator': 'Exists'}]}, {'a': '1'}, False),
    ({}, {'a': '1'}, False),
    (None, {'a': '1'}, False),
])
def test_selector_matches(selector, labels, expected):
    assert selector_matches(selector, labels) is expected


def test_label_selector_query():
    assert label_selector_query(STS['spec']['selector']) == (
        'app.kubernetes.io/instance=vault,app.kubernetes.io/name=vault,component=server')
    assert label_selector_query({'matchExpressions': []}) == ''


class _Recorder(object):
    """Answers the two requests read_statefulset_pods makes (a double for the pure logic; the
    real API server is in tests/lab/test_statefulset_pods.py)."""

    def __init__(self, statefulset, pages):
        self.statefulset, self.pages, self.calls = statefulset, list(pages), []

    def request(self, method, path, query=None, missing_ok=False):
        self.calls.append((method, path, list(query or []), missing_ok))
        if '/statefulsets/' in path:
            return self.statefulset
        return self.pages.pop(0)


def test_read_statefulset_pods_reads_once_and_pages():
    from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes import read_statefulset_pods
    client = _Recorder(STS, [{'items': [pod('vault-1'), pod('vault-decoy', owner=False)], 'metadata': {'continue': 'k'}},
                             {'items': [pod('vault-0')], 'metadata': {}}])
    found, members, ignored = read_statefulset_pods(client, 'vault', 'vault')
    assert found is STS
    assert [m['name'] for m in members] == ['vault-0', 'vault-1'] and [i['name'] for i in ignored] == ['vault-decoy']
    selector = ('labelSelector', 'app.kubernetes.io/instance=vault,app.kubernetes.io/name=vault,component=server')
    assert client.calls == [
        ('GET', '/apis/apps/v1/namespaces/vault/statefulsets/vault', [], True),
        ('GET', '/api/v1/namespaces/vault/pods', [('limit', '500'), selector], False),
        ('GET', '/api/v1/namespaces/vault/pods', [('limit', '500'), selector, ('continue', 'k')], False)]


def test_read_statefulset_pods_of_a_missing_statefulset_lists_nothing():
    from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes import read_statefulset_pods
    client = _Recorder(None, [])
    assert read_statefulset_pods(client, 'vault', 'vault/../x') == (None, [], [])
    assert client.calls == [('GET', '/apis/apps/v1/namespaces/vault/statefulsets/vault%2F..%2Fx', [], True)]
