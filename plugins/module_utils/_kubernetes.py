# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A thin Kubernetes API client for the bulk object module.

Internal. It uses the ``kubernetes`` library for what it does well (kubeconfig
loading: client certificates, tokens, exec plugins, in-cluster credentials) and
speaks plain REST paths for the rest, so that one run costs one discovery request
per API group version, one LIST per kind and namespace, and a write only for an
object that differs. The dynamic client of kubernetes.core reads the whole
discovery tree first, which costs seconds on every task.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import json
import os
import re
import time

# The kubernetes library is imported when a client is made, not when this file is: the Vault
# modules that import it for key custody in a Secret pay its import time (about a fifth of a
# module run's CPU) only when they use a Secret.
try:
    from importlib.util import find_spec
except ImportError:  # pragma: no cover - Python 2
    find_spec = None
try:
    HAS_KUBERNETES = find_spec('kubernetes') is not None if find_spec else True
    KUBERNETES_IMPORT_ERROR = None if HAS_KUBERNETES else ImportError('No module named kubernetes')
except (ImportError, ValueError) as exc:  # pragma: no cover - a broken installation
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

try:
    from urllib.parse import quote, urlencode
except ImportError:  # pragma: no cover - Python 2
    from urllib import quote, urlencode

FIELD_MANAGER = 'vaultkube.platform'
# Also how the API server's audit log tells this collection's requests apart.
USER_AGENT = 'vaultkube.platform'
_ORDINAL = re.compile(r'0|[1-9][0-9]*')
_INCLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token'


class KubernetesError(Exception):
    """A failed API request, as one line: method, path, status and the server's message."""

    def __init__(self, message, status=None):
        super(KubernetesError, self).__init__(message)
        self.status = status


# The connection options of every module that talks to the API server itself (documented
# by the kubernetes_client doc fragment).
CLIENT_ARGUMENT_SPEC = dict(
    kubeconfig=dict(type='path', no_log=False),
    context=dict(type='str'),
    request_timeout=dict(type='int', default=30),
)


def client_argument_spec(**options):
    """A module's argument spec: its own options and the connection options."""
    spec = dict(CLIENT_ARGUMENT_SPEC)
    spec.update(options)
    return spec


def client_from_params(params):
    """The API client of a module, from the options of CLIENT_ARGUMENT_SPEC."""
    return KubernetesClient(params['kubeconfig'], params['context'], params['request_timeout'])


class KubernetesClient(object):
    """REST access to one API server, credentials from a kubeconfig or the pod."""

    def __init__(self, kubeconfig=None, context=None, timeout=30):
        self.timeout = timeout
        self._resources = {}
        try:
            from kubernetes import config as kube_config
            from kubernetes.client import ApiClient, Configuration
            from kubernetes.config.config_exception import ConfigException
        except ImportError as exc:  # pragma: no cover - HAS_KUBERNETES is checked first
            raise KubernetesError('the kubernetes Python library cannot be imported: %s' % exc)
        try:
            if kubeconfig or not os.path.exists(_INCLUSTER_TOKEN):
                if kubeconfig and not os.path.exists(kubeconfig):
                    raise KubernetesError('kubeconfig %s does not exist; set kubeconfig to a readable file' % kubeconfig)
                self.api = kube_config.new_client_from_config(config_file=kubeconfig or None, context=context or None)
            else:
                configuration = Configuration()
                kube_config.load_incluster_config(client_configuration=configuration)
                self.api = ApiClient(configuration)
        except ConfigException as exc:
            raise KubernetesError('cannot load Kubernetes credentials (kubeconfig %s, context %s): %s'
                                  % (kubeconfig or 'default', context or 'current', exc))

    def request(self, method, path, query=None, body=None, content_type='application/json', missing_ok=False):
        """The decoded JSON answer; None for a 404 when ``missing_ok``."""
        query = list(query or [])
        headers = {'Accept': 'application/json', 'Content-Type': content_type, 'User-Agent': USER_AGENT}
        self.api.update_params_for_auth(headers, query, ['BearerToken'], path, method, body)
        url = self.api.configuration.host + path + ('?' + urlencode(query) if query else '')
        try:
            response = self.api.rest_client.request(method, url, headers=headers, body=body,
                                                    _request_timeout=self.timeout)
            data = response.read()
        except Exception as exc:  # urllib3 and ssl errors: one line, no traceback
            status = getattr(exc, 'status', None)
            if status is None:
                raise KubernetesError('%s %s failed: %s' % (method, path, _first_line(exc)))
            response, data = exc, getattr(exc, 'body', b'') or b''
        try:
            decoded = json.loads(data) if data else {}
        except ValueError:
            decoded = {'message': _first_line(data)}
        if response.status == 404 and missing_ok:
            return None
        if response.status >= 400:
            message = decoded.get('message') or response.reason
            raise KubernetesError('%s %s answered %s: %s' % (method, path, response.status, message), response.status)
        return decoded

    def resource(self, api_version, kind):
        """(path prefix, plural, namespaced) of a kind, from one discovery request per group version."""
        if api_version not in self._resources:
            prefix = '/api/v1' if api_version == 'v1' else '/apis/' + api_version
            found = self.request('GET', prefix, missing_ok=True)
            self._resources[api_version] = dict(
                (item['kind'], (prefix, item['name'], item.get('namespaced', False)))
                for item in (found or {}).get('resources', []) if '/' not in item['name'])
        try:
            return self._resources[api_version][kind]
        except KeyError:
            raise KubernetesError('the API server does not serve kind %s in %s (are its CRDs installed?)'
                                  % (kind, api_version), 'unserved')

    def forget(self, api_version):
        """Drop the discovery answer of a group version, to ask again (a CRD being established)."""
        self._resources.pop(api_version, None)

    def collection_path(self, api_version, kind, namespace=None):
        prefix, plural, namespaced = self.resource(api_version, kind)
        if namespaced:
            if not namespace:
                raise KubernetesError('%s is namespaced: set metadata.namespace' % kind)
            return '%s/namespaces/%s/%s' % (prefix, quote(namespace, safe=''), plural)
        return '%s/%s' % (prefix, plural)

    def object_path(self, api_version, kind, name, namespace=None):
        return '%s/%s' % (self.collection_path(api_version, kind, namespace), quote(name, safe=''))

    def list_items(self, path):
        """Every object of a collection path, page by page."""
        items, token = [], None
        while True:
            query = [('limit', '500')] + ([('continue', token)] if token else [])
            page = self.request('GET', path, query=query)
            items.extend(page.get('items') or [])
            token = (page.get('metadata') or {}).get('continue')
            if not token:
                return items

    def apply(self, manifest, dry_run=False):
        """Server-side apply of one object (creates it when absent); the object as stored."""
        metadata = manifest['metadata']
        path = self.object_path(manifest['apiVersion'], manifest['kind'], metadata['name'], metadata.get('namespace'))
        query = [('fieldManager', FIELD_MANAGER), ('force', 'true')]
        if dry_run:
            query.append(('dryRun', 'All'))
        return self.request('PATCH', path, query=query, body=manifest, content_type='application/apply-patch+yaml')

    def delete(self, api_version, kind, name, namespace=None, dry_run=False):
        query = [('dryRun', 'All')] if dry_run else []
        return self.request('DELETE', self.object_path(api_version, kind, name, namespace), query=query,
                            missing_ok=True)

    def events(self, kind, name, namespace=None):
        """Event messages about one object, newest last."""
        selector = 'involvedObject.kind=%s,involvedObject.name=%s' % (kind, name)
        path = '/api/v1/namespaces/%s/events' % quote(namespace, safe='') if namespace else '/api/v1/events'
        found = self.request('GET', path, query=[('fieldSelector', selector)], missing_ok=True) or {}
        items = sorted(found.get('items', []),
                       key=lambda event: event.get('lastTimestamp') or event.get('eventTime') or '')
        return [(item.get('type', ''), item.get('reason', ''), item.get('message', '')) for item in items]


_CONDITION_READY_KINDS = frozenset(['ExternalSecret', 'ClusterExternalSecret', 'SecretStore',
                                    'ClusterSecretStore', 'PushSecret'])
_ROLLOUT_KINDS = frozenset(['Deployment', 'StatefulSet'])


# ESO reconciles an ExternalSecret at once when one of its annotations changes; after a failed
# sync it otherwise waits out its back-off (minutes after a few errors), also once the cause is
# fixed. The annotation is written with a field manager of its own, so that the next
# server-side apply of the object's declared fields leaves it alone.
FORCE_SYNC_ANNOTATION = 'force-sync'
FORCE_SYNC_FIELD_MANAGER = FIELD_MANAGER + '/force-sync'


def sync_failed(item):
    """True when an ExternalSecret's Ready condition says its last sync failed (not: no status yet)."""
    return _failed_condition(item) is not None


def _failed_condition(item):
    if not item or item.get('kind') != 'ExternalSecret':
        return None
    ready = [cond for cond in (item.get('status') or {}).get('conditions') or [] if cond.get('type') == 'Ready']
    return ready[-1] if ready and ready[-1].get('status') == 'False' else None


def failing_since(item):
    """Seconds since the epoch at which an ExternalSecret's Ready condition turned False (0 when unknown)."""
    stamp = (_failed_condition(item) or {}).get('lastTransitionTime') or ''
    try:
        return calendar.timegm(time.strptime(stamp, '%Y-%m-%dT%H:%M:%SZ'))
    except ValueError:
        return 0


def store_of(item):
    """(apiVersion, kind, name, namespace) of an ExternalSecret's store; namespace None for a ClusterSecretStore."""
    ref = (item.get('spec') or {}).get('secretStoreRef') or {}
    kind = ref.get('kind') or 'SecretStore'
    namespace = (item.get('metadata') or {}).get('namespace') if kind == 'SecretStore' else None
    return item.get('apiVersion'), kind, ref.get('name') or '', namespace


class ForceSync:
    """Asks ESO for an immediate sync of the ExternalSecrets whose last sync failed while their
    store is Ready (a store fixed by this run, a Vault that was sealed or reconfigured): one
    annotation write per object, repeated while the wait lasts at growing intervals. A failure
    younger than ``min_age`` seconds is left to ESO, which retries a fresh error within moments
    (a store that was not Ready yet when the object was created, say)."""

    def __init__(self, client, clock=None, first_interval=5.0, min_age=5.0):
        self.client = client
        self.min_age = min_age
        self.clock = clock or time.time
        self.first_interval = first_interval
        self.next_at = {}
        self.interval = {}
        self.forced = []
        self.writes = 0

    def _store_ready(self, item, stores):
        ref = store_of(item)
        if not ref[2]:
            return False
        if ref not in stores:
            try:
                path = self.client.object_path(ref[0], ref[1], ref[2], ref[3])
                store = self.client.request('GET', path, missing_ok=True)
            except KubernetesError:
                store = None
            stores[ref] = bool(store) and object_readiness(store)[0] is True
        return stores[ref]

    def nudge(self, live, pending_keys):
        """Annotate the failed ExternalSecrets among ``pending_keys`` that are due; returns writes made."""
        now, stores, writes = self.clock(), {}, 0
        for key in pending_keys:
            item = live.get(key)
            if not sync_failed(item) or now < self.next_at.get(key, 0) or now - failing_since(item) < self.min_age \
                    or not self._store_ready(item, stores):
                continue
            metadata = item['metadata']
            path = self.client.object_path(item['apiVersion'], 'ExternalSecret', metadata['name'], metadata.get('namespace'))
            body = {'metadata': {'annotations': {FORCE_SYNC_ANNOTATION: '%.3f' % now}}}
            self.client.request('PATCH', path, query=[('fieldManager', FORCE_SYNC_FIELD_MANAGER)], body=body,
                                content_type='application/merge-patch+json')
            writes += 1
            self.writes += 1
            interval = self.interval.get(key, self.first_interval / 2.0) * 2
            self.interval[key], self.next_at[key] = interval, now + interval
            label = '%s/%s' % (metadata.get('namespace'), metadata['name'])
            if label not in self.forced:
                self.forced.append(label)
        return writes


def has_readiness_rule(kind):
    return kind in _CONDITION_READY_KINDS or kind in _ROLLOUT_KINDS or kind == 'Namespace'


def object_readiness(item):
    """(ready, reason) of a live object by its kind's rule; (None, '') for a kind without one."""
    if item is None:
        return False, 'not found on the server'
    kind = item.get('kind')
    metadata = item.get('metadata') or {}
    status = item.get('status') or {}
    if kind in _CONDITION_READY_KINDS:
        ready = [cond for cond in status.get('conditions') or [] if cond.get('type') == 'Ready']
        if not ready:
            return False, 'no Ready condition yet (is the controller running?)'
        cond = ready[-1]
        reason = '%s: %s' % (cond.get('reason') or cond.get('status'), cond.get('message') or 'no message')
        if cond.get('status') != 'True':
            return False, reason
        synced = status.get('syncedResourceVersion')
        # ESO writes "<generation>-<hash>" once it has synced the current spec.
        if kind == 'ExternalSecret' and synced and not str(synced).startswith('%s-' % metadata.get('generation')):
            return False, 'generation %s not synced yet' % metadata.get('generation')
        return True, reason
    if kind in _ROLLOUT_KINDS:
        wanted = (item.get('spec') or {}).get('replicas', 1)
        if status.get('observedGeneration', 0) < metadata.get('generation', 0):
            return False, 'rollout of generation %s not observed yet' % metadata.get('generation')
        for field in ('updatedReplicas', 'readyReplicas') + (('availableReplicas',) if kind == 'Deployment' else ()):
            if status.get(field, 0) < wanted:
                return False, '%s %s of %s' % (field, status.get(field, 0), wanted)
        return True, 'rolled out'
    if kind == 'Namespace':
        phase = status.get('phase')
        return phase == 'Active', 'phase %s' % phase
    return None, ''


def _first_line(value):
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    text = str(value).strip()
    return text.splitlines()[0] if text else 'no details'


# ------------------------------------------------------------------ pods of a StatefulSet

def selector_matches(selector, labels):
    """Whether labels match a LabelSelector (matchLabels and matchExpressions).

    An empty or missing selector matches nothing here: a StatefulSet always has one, and
    "every pod of the namespace" is never what a caller wants.
    """
    selector = selector or {}
    labels = labels or {}
    match_labels = selector.get('matchLabels') or {}
    expressions = selector.get('matchExpressions') or []
    if not match_labels and not expressions:
        return False
    for key, value in match_labels.items():
        if labels.get(key) != value:
            return False
    for expression in expressions:
        key, operator = expression.get('key'), expression.get('operator')
        values = expression.get('values') or []
        if operator == 'In':
            ok = key in labels and labels[key] in values
        elif operator == 'NotIn':
            ok = key not in labels or labels[key] not in values
        elif operator == 'Exists':
            ok = key in labels
        elif operator == 'DoesNotExist':
            ok = key not in labels
        else:
            return False
        if not ok:
            return False
    return True


def controller_of(pod):
    """The ownerReference with controller: true of an object, or None."""
    for reference in (pod.get('metadata') or {}).get('ownerReferences') or []:
        if reference.get('controller') is True:
            return reference
    return None


def _ordinal(pod_name, set_name):
    prefix = set_name + '-'
    if not pod_name.startswith(prefix):
        return None
    tail = pod_name[len(prefix):]
    # ASCII digits only, no sign, no leading zero (the controller writes str(ordinal)).
    if not _ORDINAL.fullmatch(tail):
        return None
    return int(tail)


def statefulset_pod_verdict(statefulset, pod):
    """(ordinal, None) for a pod the StatefulSet's controller made, else (None, reason)."""
    set_meta = statefulset.get('metadata') or {}
    spec = statefulset.get('spec') or {}
    metadata = pod.get('metadata') or {}
    if not selector_matches(spec.get('selector'), metadata.get('labels')):
        return None, "does not match the StatefulSet's selector"
    reference = controller_of(pod)
    if reference is None:
        return None, 'has no controller'
    if (reference.get('kind') != 'StatefulSet' or not str(reference.get('apiVersion', '')).startswith('apps/')
            or reference.get('name') != set_meta.get('name')):
        return None, 'is controlled by %s %s, not by StatefulSet %s' % (
            reference.get('kind'), reference.get('name'), set_meta.get('name'))
    if reference.get('uid') != set_meta.get('uid'):
        return None, 'names StatefulSet %s with uid %s, not the live one (%s)' % (
            set_meta.get('name'), reference.get('uid'), set_meta.get('uid'))
    ordinal = _ordinal(metadata.get('name') or '', set_meta.get('name') or '')
    start = ((spec.get('ordinals') or {}).get('start')) or 0
    replicas = spec.get('replicas', 1)
    if ordinal is None or not start <= ordinal < start + replicas:
        return None, 'is not a member name of the StatefulSet (%s-<%d..%d>)' % (
            set_meta.get('name'), start, start + replicas - 1)
    return ordinal, None


def statefulset_pods(statefulset, pods):
    """(members, ignored): the pods the StatefulSet's controller made, sorted by ordinal, and
    every other pod given, each as a summary (ignored ones with the reason)."""
    members, ignored = [], []
    for pod in pods:
        metadata = pod.get('metadata') or {}
        status = pod.get('status') or {}
        ordinal, reason = statefulset_pod_verdict(statefulset, pod)
        summary = {
            'name': metadata.get('name'),
            'phase': status.get('phase') or 'Unknown',
            'ready': any(cond.get('type') == 'Ready' and cond.get('status') == 'True'
                         for cond in status.get('conditions') or []),
            'deleting': bool(metadata.get('deletionTimestamp')),
            'uid': metadata.get('uid'),
        }
        if reason is None:
            summary['ordinal'] = ordinal
            members.append(summary)
        else:
            summary['reason'] = reason
            ignored.append(summary)
    members.sort(key=lambda item: item['ordinal'])
    ignored.sort(key=lambda item: item['name'] or '')
    return members, ignored


def label_selector_query(selector):
    """The matchLabels of a selector as a labelSelector query value (the server's first filter)."""
    return ','.join('%s=%s' % (key, value) for key, value in sorted(((selector or {}).get('matchLabels') or {}).items()))


def read_statefulset_pods(client, namespace, name):
    """(statefulset or None, members, ignored) read with one GET and one LIST."""
    path = '/apis/apps/v1/namespaces/%s/statefulsets/%s' % (quote(namespace, safe=''), quote(name, safe=''))
    statefulset = client.request('GET', path, missing_ok=True)
    if statefulset is None:
        return None, [], []
    selector = (statefulset.get('spec') or {}).get('selector')
    query = label_selector_query(selector)
    pods_path = '/api/v1/namespaces/%s/pods' % quote(namespace, safe='')
    items, token = [], None
    while True:
        params = [('limit', '500')] + ([('labelSelector', query)] if query else []) + (
            [('continue', token)] if token else [])
        page = client.request('GET', pods_path, query=params)
        items.extend(page.get('items') or [])
        token = (page.get('metadata') or {}).get('continue')
        if not token:
            break
    members, ignored = statefulset_pods(statefulset, items)
    return statefulset, members, ignored
