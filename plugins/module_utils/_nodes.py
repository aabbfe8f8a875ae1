# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""All nodes decide: which node to initialise, which to join, and to whom.

Internal. Every node of a Vault (or OpenBao) cluster is asked for its seal
status (and, once unsealed, its leader status) before anything is
initialised. If any node is initialised the cluster exists: the uninitialised
nodes join it and nothing is initialised. Only when every node answered and
none is initialised is one node (the first) initialised. A node that does not
answer might hold the cluster, so then nothing is decided: the plan is refused
in one line rather than risk a second, empty Vault.

``decide`` is pure (statuses in, plan out) so that every rule has a unit test;
``read_nodes`` asks the nodes through the collection's client.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vaultkube.platform.plugins.module_utils._client import (
    VaultRequestError,
    connect,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError
from ansible_collections.vaultkube.platform.plugins.module_utils._lifecycle import node_state

NODE_OPTIONS = dict(
    url=dict(type='str', required=True, no_log=False),
    pod=dict(type='str', no_log=False),
    leader_api_addr=dict(type='str', no_log=False),
)

NODES_ARGUMENT_SPEC = dict(
    nodes=dict(type='list', elements='dict', required=True, options=NODE_OPTIONS),
    pod_service=dict(type='str', no_log=False),
    pod_scheme=dict(type='str', choices=['http', 'https'], default='https'),
    pod_port=dict(type='int', default=8200),
)


class PlanRefused(Exception):
    """The nodes' answers do not allow a safe decision; one line for the user."""


def _entry(node):
    """The node as given (url, pod, leader_api_addr), without unset fields."""
    return dict((k, v) for k, v in node.items() if k in NODE_OPTIONS and v is not None)


def _name(node):
    return node.get('pod') or node['url']


def validate_nodes(nodes):
    if not nodes:
        raise FieldError('nodes must list at least one node (each with its url)')
    seen = set()
    for index, node in enumerate(nodes):
        url = node.get('url') or ''
        if not url.strip():
            raise FieldError('nodes[%d].url is empty: give the address the controller reaches the node at' % index)
        if url in seen:
            raise FieldError('nodes[%d].url %s is listed twice: list every node once' % (index, url))
        seen.add(url)


def read_nodes(params, nodes, reader=None):
    """The status of every node, in order; a node that does not answer gets ``error``.

    ``reader(params) -> status`` defaults to connecting with the module's
    connection options and the node's url (no token: seal and leader status
    need none).
    """
    if reader is None:
        def reader(node_params):
            return node_state(connect(node_params, login=False))
    statuses = []
    for node in nodes:
        try:
            status = reader(dict(params, url=node['url']))
            status['reachable'] = True
        except VaultRequestError as exc:
            status = dict(url=node['url'], reachable=False, error=str(exc))
        if node.get('pod'):
            status['pod'] = node['pod']
        statuses.append(status)
    return statuses


def _pod_address(node, pod_service, pod_scheme, pod_port):
    return '%s://%s.%s:%d' % (pod_scheme, node['pod'], pod_service, pod_port)


def decide(nodes, statuses, pod_service=None, pod_scheme='https', pod_port=8200):
    """The plan from the nodes (as given) and their statuses (``read_nodes``), in the same order.

    Raises PlanRefused when no safe plan exists.
    """
    answered = [(n, s) for n, s in zip(nodes, statuses) if s.get('reachable')]
    silent = [(n, s) for n, s in zip(nodes, statuses) if not s.get('reachable')]
    if not answered:
        raise PlanRefused('none of the %d Vault nodes answered (%s): start Vault or correct the node addresses'
                          % (len(nodes), '; '.join('%s: %s' % (_name(n), s.get('error')) for n, s in silent)))
    initialised = [(n, s) for n, s in answered if s.get('initialized')]
    if not initialised and silent:
        raise PlanRefused(
            'no answering Vault node is initialised, but %s did not answer (%s) and may hold the initialised '
            'cluster: nothing was initialised, so that no second Vault is made; start %s or remove it from '
            'the nodes and run again' % (
                ', '.join(_name(n) for n, _s in silent),
                '; '.join(s.get('error') or 'no answer' for _n, s in silent),
                'them' if len(silent) > 1 else 'it'))
    clusters = sorted(set(s['cluster_id'] for _n, s in initialised if s.get('cluster_id')))
    if len(clusters) > 1:
        raise PlanRefused(
            'the Vault nodes belong to %d different clusters (%s): each node list must name one cluster; '
            'nothing was initialised or joined' % (len(clusters), ', '.join(
                '%s: %s' % (_name(n), s['cluster_id']) for n, s in initialised if s.get('cluster_id'))))

    if initialised:
        init_node = None
        leader, leader_status = (
            [(n, s) for n, s in initialised if s.get('active')]
            or [(n, s) for n, s in initialised if not s.get('sealed')]
            or initialised)[0]
    else:
        init_node = nodes[0]
        leader, leader_status = nodes[0], statuses[0]
    joiners = [n for n, s in answered if not s.get('initialized') and n is not leader]
    members = [n for n, s in initialised if n is not leader]
    followers = [n for n in nodes if n is not leader]

    # Where a joiner reaches the active node: a pod by its name under the headless
    # service (the chart's pods advertise that), else the address Vault reports.
    active = [n for n, s in answered if s.get('active')]
    reported = [s['leader_address'] for _n, s in answered if s.get('leader_address')]
    target = active[0] if active else (None if reported else leader)
    if pod_service and target and target.get('pod'):
        join_address = _pod_address(target, pod_service, pod_scheme, pod_port)
    elif reported:
        join_address = reported[0]
    else:
        join_address = leader['url']

    seal_types = [s.get('seal_type') for _n, s in (initialised or answered) if s.get('seal_type')]
    return dict(
        initialized=bool(initialised),
        init_node=_entry(init_node) if init_node else None,
        leader=_entry(leader),
        leader_status=leader_status,
        followers=[_entry(n) for n in followers],
        members=[_entry(n) for n in members],
        joiners=[_entry(n) for n in joiners],
        silent=[_entry(n) for n, _s in silent],
        join_address=join_address,
        seal_type=seal_types[0] if seal_types else None,
        cluster_id=clusters[0] if clusters else None,
        single_and_ready=(len(nodes) == 1 and bool(initialised) and not leader_status.get('sealed', True)
                          and bool(leader_status.get('active'))),
        nodes=statuses,
    )


def nodes_plan(module):
    """Everything vault_nodes_info returns."""
    params = module.params
    nodes = [_entry(n) for n in params['nodes']]
    validate_nodes(nodes)
    statuses = read_nodes(params, nodes)
    try:
        plan = decide(nodes, statuses, params.get('pod_service'), params['pod_scheme'], params['pod_port'])
    except PlanRefused as exc:
        raise VaultRequestError('vault_nodes_info: %s' % exc)
    return dict(changed=False, **plan)
