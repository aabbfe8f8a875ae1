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
from ansible_collections.vaultkube.platform.plugins.module_utils._lifecycle import node_state, raft_peers

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


def _same_address(url):
    """A URL compared as scheme://host:port, lower case, without a trailing slash."""
    return (url or '').strip().rstrip('/').lower()


def joiner_addresses(joiners, pod_service=None, pod_scheme='https', pod_port=8200):
    """The addresses at which the joining nodes themselves answer: their url and, for a pod
    under the headless service, its name there; never a join target."""
    own = set()
    for node in joiners:
        own.add(_same_address(node['url']))
        if pod_service and node.get('pod'):
            own.add(_same_address(_pod_address(node, pod_service, pod_scheme, pod_port)))
    return own


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
    # service (the chart's pods advertise that), else the address Vault reports. While
    # no node is active (the active pod just lost its volume and a new one is being
    # elected) a standby may still report the lost node's address: a joiner's own
    # address is never a join target (it would ask itself for the raft challenge).
    active = [n for n, s in answered if s.get('active')]
    own = joiner_addresses(joiners, pod_service, pod_scheme, pod_port)
    reported = [s['leader_address'] for _n, s in answered
                if s.get('leader_address') and _same_address(s['leader_address']) not in own]
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
        joiner_addresses=sorted(own),
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


def _peer_host(address):
    """The host of a raft peer address (``host:port``, ``[v6]:port``, or a URL)."""
    host = (address or '').split('://', 1)[-1].split('/', 1)[0]
    if host.startswith('['):
        return host[1:].split(']', 1)[0]
    return host.rsplit(':', 1)[0] if host.count(':') == 1 else host


def peer_names(pod, pod_service):
    """The names a pod of the chart has as a raft peer: its node id when the chart sets it
    (server.ha.raft.setNodeId) and the host of its cluster address (<pod>.<headless service>)."""
    names = [pod]
    if pod_service:
        names.append('%s.%s' % (pod, pod_service))
    return names


def lost_peers(servers, names, healthy=None):
    """The raft peers that stand for a node's lost data, to remove before that node joins again.

    ``servers``: the cluster's raft configuration (``sys/storage/raft/configuration``:
    ``node_id``, ``address``, ``leader``, ``voter``). ``names``: the node ids or host names the
    joining node had as a member (``peer_names``); the caller has seen that node answer
    uninitialised, so what the peer held is gone. ``healthy``: node id -> bool from autopilot
    (``sys/storage/raft/autopilot/state``), or None when it could not be read.

    A peer is removed only when its node id or the host of its address is one of ``names``, it
    is not the leader, and autopilot does not report it healthy; a peer that answers is never
    removed. Returns ``(remove, kept)``: the peers to remove, and ``(peer, reason)`` for those
    matched but kept.
    """
    wanted = set(n.lower() for n in names if n)
    if not wanted:
        return [], []
    remove, kept = [], []
    for server in servers:
        node_id = server.get('node_id') or ''
        host = _peer_host(server.get('address')).lower()
        if node_id.lower() not in wanted and host not in wanted and not any(
                host.startswith(name + '.') for name in wanted if '.' in name):
            continue
        if server.get('leader'):
            kept.append((server, 'it is the leader'))
        elif healthy and healthy.get(node_id):
            kept.append((server, 'autopilot reports it healthy'))
        else:
            remove.append(server)
    return remove, kept


def autopilot_health(api):
    """node id -> healthy, from autopilot (``sys/storage/raft/autopilot/state``); None when unreadable."""
    try:
        body = api.read('sys/storage/raft/autopilot/state') or {}
    except VaultRequestError:
        return None
    servers = (body.get('data') or {}).get('servers')
    if not isinstance(servers, dict):
        return None
    return dict((node_id, bool((info or {}).get('healthy'))) for node_id, info in servers.items())


def remove_lost_peers(api, names, check_mode=False, peers_reader=None):
    """Remove the raft peers that stand for a joining node's lost data (``lost_peers``) through
    ``api`` (a cluster node, with a token), then read the configuration back.

    Returns ``(removed, peers)``: the peers removed (or, in check mode, that would be), and the
    configuration read back afterwards. Raises VaultRequestError when a matching peer is kept
    (it leads, or autopilot reports it healthy: the node cannot take its place) or is still
    listed after its removal.
    """
    if peers_reader is None:
        peers_reader = raft_peers
    servers = peers_reader(api)
    remove, kept = lost_peers(servers, names, autopilot_health(api))
    if kept:
        raise VaultRequestError(
            'the raft cluster at %s lists %s for the joining node (%s), but %s: nothing was removed or joined; '
            'check that the node really lost its data, and run again' % (
                api.url, ', '.join('%s (%s)' % (s.get('node_id'), s.get('address')) for s, _r in kept),
                ', '.join(names), '; '.join(reason for _s, reason in kept)))
    if check_mode or not remove:
        return remove, servers
    for server in remove:
        api.write('sys/storage/raft/remove-peer', {'server_id': server['node_id']})
    after = peers_reader(api)
    still = [s for s in remove if any(a.get('node_id') == s['node_id'] for a in after)]
    if still:
        raise VaultRequestError('raft peer %s is still listed at %s after its removal'
                                % (', '.join(s['node_id'] for s in still), api.url))
    return remove, after
