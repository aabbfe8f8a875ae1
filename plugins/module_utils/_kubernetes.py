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

import json
import os

try:
    from kubernetes import config as kube_config
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.config.config_exception import ConfigException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

try:
    from urllib.parse import quote, urlencode
except ImportError:  # pragma: no cover - Python 2
    from urllib import quote, urlencode

FIELD_MANAGER = 'vaultkube.platform'
# Also how the API server's audit log tells this collection's requests apart.
USER_AGENT = 'vaultkube.platform'
_INCLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token'


class KubernetesError(Exception):
    """A failed API request, as one line: method, path, status and the server's message."""

    def __init__(self, message, status=None):
        super(KubernetesError, self).__init__(message)
        self.status = status


class KubernetesClient(object):
    """REST access to one API server, credentials from a kubeconfig or the pod."""

    def __init__(self, kubeconfig=None, context=None, timeout=30):
        self.timeout = timeout
        self._resources = {}
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
