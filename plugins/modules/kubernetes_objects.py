#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kubernetes_objects
short_description: Apply many Kubernetes objects in one call, write only those that differ, and wait for all of them together
version_added: 0.3.0
description:
  - Takes a list of object definitions (for example the namespaces, SecretStores and ExternalSecrets of a
    whole run), reads what the API server holds with one LIST per kind and namespace, and writes only the
    objects that are missing or differ. A re-run with nothing changed makes no write request at all.
  - An object matches when every value it declares is on the server, equal or in the server's canonical
    spelling of it (a Go duration V(1h) stored as V(1h0m0s), a quantity V(1024Mi) stored as V(1Gi)), and
    when the declaration is the one last applied (a hash in the annotation C(vaultkube.platform/applied-sha256)),
    so a value removed from the declaration is removed from the server too. Fields the server or a
    controller defaults are left alone.
  - Writes are server-side apply requests with the field manager C(vaultkube.platform); they create an
    absent object and take over the fields declared here.
  - With O(wait), waits for every object that has a readiness rule, all together, and fails with each
    failing object's condition message and its latest warning Events (where ESO puts Vault's reason).
    Rules - C(ExternalSecret), C(ClusterExternalSecret), C(SecretStore), C(ClusterSecretStore) and
    C(PushSecret) need condition C(Ready=True) (an ExternalSecret also for its current generation);
    C(Deployment) and C(StatefulSet) need every replica updated and ready; C(Namespace) needs phase
    C(Active). Other kinds are applied and not waited for.
  - While it waits, an C(ExternalSecret) whose last sync failed while its store is C(Ready) (a store this
    run fixed, a Vault that was sealed or reconfigured) gets a new C(force-sync) annotation, so that ESO
    syncs it at once instead of after its back-off (minutes after a few errors); see O(force_sync).
  - Credentials come from O(kubeconfig) and O(context) or, inside a pod, from its ServiceAccount. They are
    never logged.
options:
  definitions:
    description:
      - The objects, in the order to write them (namespaces before what lives in them). Each needs
        C(apiVersion), C(kind), C(metadata.name) and, for a namespaced kind, C(metadata.namespace).
      - A later definition of the same object replaces an earlier one.
    type: list
    elements: dict
    required: true
  absent:
    description:
      - Objects to delete when they exist, each as C(apiVersion), C(kind), C(name) and, for a namespaced kind,
        C(namespace). One that is also in O(definitions) fails the task before anything is written.
      - Read with the same LISTs as O(definitions); an object already gone is no change.
    type: list
    elements: dict
    default: []
  wait:
    description: Wait until every object with a readiness rule is ready.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for all of them together.
    type: int
    default: 120
  wait_sleep:
    description: Seconds between two readiness checks (each check is one LIST per kind and namespace).
    type: float
    default: 1
  force_sync:
    description:
      - While waiting, annotate each failed C(ExternalSecret) whose store is C(Ready) with C(force-sync) (a
        timestamp, written with the field manager C(vaultkube.platform/force-sync)), after 0, 5, 10, 20...
        seconds of waiting, so that ESO retries it at once. Objects that are ready are never written.
    type: bool
    default: true
extends_documentation_fragment:
  - vaultkube.platform.kubernetes_client
attributes:
  check_mode:
    support: full
    description: Objects that would be written are sent as server-side dry runs (validated by the API server, nothing stored); no waiting.
  diff_mode:
    support: full
    description: Shows the declared values of each object to be written, before (as stored) and after.
notes:
  - One discovery request per API group version finds the resource names; a kind the server does not
    serve (CRDs not installed) fails before anything is written.
  - A string that is the server's canonical spelling of a declared duration compares equal to it wherever
    it appears; quantities compare by value under C(limits), C(requests), C(capacity), C(allocatable),
    C(hard) and C(used) only.
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Apply every ExternalSecret of the run and wait until all are synced
  vaultkube.platform.kubernetes_objects:
    kubeconfig: ~/.kube/config
    definitions:
      - apiVersion: v1
        kind: Namespace
        metadata:
          name: shop
      - apiVersion: external-secrets.io/v1
        kind: ExternalSecret
        metadata:
          name: shop-db
          namespace: shop
        spec:
          refreshInterval: 1h
          secretStoreRef: {kind: ClusterSecretStore, name: vault-backend}
          target: {name: shop-db}
          dataFrom:
            - extract: {key: prod/shop/db}
    wait_timeout: 300

- name: Build the ESO manifests with the collection's filter and apply them
  vaultkube.platform.kubernetes_objects:
    definitions: "{{ eso_settings | vaultkube.platform.eso_manifests }}"
'''

RETURN = r'''
objects:
  description:
    - Every declared object and what was done to it (V(created), V(updated), V(unchanged), or for O(absent)
      V(deleted) and V(gone)); in check mode what would be done.
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: ExternalSecret, namespace: shop, name: shop-db, result: unchanged, differences: []}
    - {kind: ExternalSecret, namespace: shop, name: shop-api, result: updated, differences: [spec.refreshInterval]}
counts:
  description: Number of objects per result.
  returned: always
  type: dict
  sample: {created: 0, updated: 1, unchanged: 499, deleted: 0}
writes:
  description:
    - Write requests sent to the API server (dry runs in check mode), O(force_sync) annotations included; 0 on
      a re-run with nothing changed.
  returned: always
  type: int
  sample: 1
waited:
  description: Seconds spent waiting for readiness.
  returned: always
  type: float
  sample: 2.1
forced_syncs:
  description: ExternalSecrets (namespace/name) that were asked for an immediate sync while waiting (O(force_sync)).
  returned: always
  type: list
  elements: str
  sample: [team-a/app-db]
'''

import hashlib
import json
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import object_differences
from ansible_collections.vaultkube.platform.plugins.module_utils._names import InvalidName, dns_label, kubernetes_name
from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes import (
    HAS_KUBERNETES, KUBERNETES_IMPORT_ERROR, ForceSync, KubernetesError, client_argument_spec, client_from_params,
    has_readiness_rule, object_readiness)

HASH_ANNOTATION = 'vaultkube.platform/applied-sha256'
# Above this many namespaces of one kind, one cluster-wide LIST is cheaper than one per namespace.
_CLUSTER_LIST_THRESHOLD = 5


def _key(manifest):
    metadata = manifest.get('metadata') or {}
    return (manifest.get('apiVersion'), manifest.get('kind'), metadata.get('namespace') or '', metadata.get('name'))


def _label(key):
    return '%s %s%s' % (key[1], key[2] + '/' if key[2] else '', key[3])


def _absent_keys(absent, declared_keys):
    keys = []
    for index, item in enumerate(absent):
        where = 'absent[%d]' % index
        if not isinstance(item, dict) or not all(item.get(field) for field in ('apiVersion', 'kind', 'name')):
            raise KubernetesError('%s needs apiVersion, kind and name (and namespace for a namespaced kind)' % where)
        _check_names(item.get('name'), item.get('namespace'), where + '.name', where + '.namespace')
        key = (item['apiVersion'], item['kind'], item.get('namespace') or '', item['name'])
        if key in declared_keys:
            raise KubernetesError('%s (%s) is also in definitions: an object cannot be both declared and absent'
                                  % (where, _label(key)))
        keys.append(key)
    return keys


def _check_definitions(definitions):
    for index, manifest in enumerate(definitions):
        where = 'definitions[%d]' % index
        if not isinstance(manifest, dict):
            raise KubernetesError('%s must be a mapping (an object definition)' % where)
        for field in ('apiVersion', 'kind'):
            if not manifest.get(field) or not isinstance(manifest.get(field), str):
                raise KubernetesError('%s.%s is missing: every definition needs apiVersion, kind and metadata.name' % (where, field))
        metadata = manifest.get('metadata')
        if not isinstance(metadata, dict) or not metadata.get('name'):
            raise KubernetesError('%s.metadata.name is missing: every definition needs apiVersion, kind and metadata.name' % where)
        _check_names(metadata.get('name'), metadata.get('namespace'), where + '.metadata.name',
                     where + '.metadata.namespace')


def _check_names(name, namespace, name_field, namespace_field):
    """Names go into API paths: a ".." name would turn a DELETE of one object into one of its collection."""
    try:
        kubernetes_name(name, name_field)
        if namespace:
            dns_label(namespace, namespace_field)
    except InvalidName as exc:
        raise KubernetesError(str(exc))


def _declared(definitions):
    """Definitions by key, later ones replacing earlier ones, in first-seen order."""
    order, found = [], {}
    for manifest in definitions:
        key = _key(manifest)
        if key not in found:
            order.append(key)
        found[key] = manifest
    return [(key, found[key]) for key in order]


def _with_hash(manifest):
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(',', ':')).encode('utf-8')).hexdigest()
    applied = dict(manifest)
    metadata = dict(applied.get('metadata') or {})
    metadata['annotations'] = dict(metadata.get('annotations') or {}, **{HASH_ANNOTATION: digest})
    applied['metadata'] = metadata
    return applied, digest


def _projection(live, wanted):
    """The part of the live object the declaration speaks of, for diff output."""
    if isinstance(wanted, dict) and isinstance(live, dict):
        return dict((key, _projection(live[key], wanted[key])) for key in wanted if key in live)
    return live


class LiveObjects(object):
    """What the server holds for the declared objects: one LIST per kind and namespace."""

    def __init__(self, client, keys):
        self.client = client
        self.scopes = {}
        for api_version, kind, namespace, _name in keys:
            self.scopes.setdefault((api_version, kind), set()).add(namespace)

    def read(self, kinds=None):
        live = {}
        for (api_version, kind), namespaces in sorted(self.scopes.items()):
            if kinds is not None and kind not in kinds:
                continue
            prefix, plural, namespaced = self.client.resource(api_version, kind)
            if not namespaced or len(namespaces) > _CLUSTER_LIST_THRESHOLD:
                paths = ['%s/%s' % (prefix, plural)]
            else:
                paths = [self.client.collection_path(api_version, kind, namespace) for namespace in sorted(namespaces)]
            for path in paths:
                for item in self.client.list_items(path):
                    metadata = item.get('metadata') or {}
                    namespace = metadata.get('namespace', '') if namespaced else ''
                    if namespace in namespaces:
                        # Items of a LIST carry no kind or apiVersion of their own.
                        item.setdefault('kind', kind)
                        item.setdefault('apiVersion', api_version)
                        live[(api_version, kind, namespace, metadata.get('name'))] = item
        return live


def run(module, client):
    declared = _declared(module.params['definitions'])
    keys = [key for key, _manifest in declared]
    absent = _absent_keys(module.params['absent'], set(keys))
    unserved = served_kinds(module, client, keys + absent)
    if unserved:
        # Check mode before the CRDs exist (a first run with --check): all of them would be created.
        results = [{'kind': key[1], 'namespace': key[2], 'name': key[3], 'result': 'created', 'differences': ['.']}
                   for key in keys]
        return dict(changed=True, objects=results, counts={'created': len(results), 'updated': 0, 'unchanged': 0, 'deleted': 0},
                    writes=0, waited=0.0, forced_syncs=[], msg='not served yet (check mode): %s' % ', '.join(sorted(unserved)))
    live_objects = LiveObjects(client, keys + absent)
    live = live_objects.read()

    results, diffs, writes = [], {'before': {}, 'after': {}}, 0
    new_namespaces = set()
    for key, manifest in declared:
        applied, digest = _with_hash(manifest)
        current = live.get(key)
        if current is None:
            result, found = 'created', ['.']
        else:
            found = object_differences(current, manifest)
            stored_hash = ((current.get('metadata') or {}).get('annotations') or {}).get(HASH_ANNOTATION)
            if not found and stored_hash != digest:
                found = ['metadata.annotations.%s' % HASH_ANNOTATION]
            result = 'updated' if found else 'unchanged'
        if result != 'unchanged':
            # A dry run inside a namespace this run would create first cannot succeed.
            if not (module.check_mode and key[2] in new_namespaces):
                client.apply(applied, dry_run=module.check_mode)
                writes += 1
            if key[1] == 'Namespace' and result == 'created':
                new_namespaces.add(key[3])
            if module._diff:
                diffs['before'][_label(key)] = _projection(current, manifest) if current else None
                diffs['after'][_label(key)] = manifest
        results.append({'kind': key[1], 'namespace': key[2], 'name': key[3], 'result': result,
                        'differences': [] if result == 'unchanged' else found})

    for key in absent:
        result = 'deleted' if key in live else 'gone'
        if result == 'deleted':
            client.delete(key[0], key[1], key[3], key[2] or None, dry_run=module.check_mode)
            writes += 1
            if module._diff:
                diffs['before'][_label(key)] = {'metadata': {'name': key[3]}}
                diffs['after'][_label(key)] = None
        results.append({'kind': key[1], 'namespace': key[2], 'name': key[3], 'result': result, 'differences': []})

    waited, forcer = 0.0, ForceSync(client)
    if module.params['wait'] and not module.check_mode:
        waited = wait_ready(module, client, live_objects, declared, forcer if module.params['force_sync'] else None)

    counts = dict((name, sum(1 for item in results if item['result'] == name)) for name in ('created', 'updated', 'unchanged', 'deleted'))
    changed = any(item['result'] not in ('unchanged', 'gone') for item in results)
    output = dict(changed=changed, objects=results, counts=counts, writes=writes + forcer.writes, waited=round(waited, 2),
                  forced_syncs=forcer.forced)
    if module._diff and output['changed']:
        output['diff'] = diffs
    return output


def served_kinds(module, client, keys):
    """Kinds not served, in check mode; otherwise waits for them (CRDs a chart just
    created) and fails before any write when one stays unserved or a namespace is missing."""
    deadline = time.time() + (module.params['wait_timeout'] if module.params['wait'] else 0)
    while True:
        unserved = set()
        for key in keys:
            try:
                client.collection_path(key[0], key[1], key[2] or None)
            except KubernetesError as exc:
                if exc.status != 'unserved':
                    raise
                if module.check_mode or time.time() >= deadline:
                    unserved.add('%s %s' % (key[0], key[1]))
                    if not module.check_mode:
                        raise
                else:
                    client.forget(key[0])
                    unserved.add(key[1])
        if not unserved or module.check_mode:
            return unserved
        time.sleep(module.params['wait_sleep'])


def wait_ready(module, client, live_objects, declared, forcer=None):
    started = time.time()
    deadline = started + module.params['wait_timeout']
    watched = [(key, manifest) for key, manifest in declared if has_readiness_rule(key[1])]
    kinds = set(key[1] for key, _manifest in watched)
    while watched:
        live = live_objects.read(kinds)
        pending = []
        for key, _manifest in watched:
            ready, reason = object_readiness(live.get(key))
            if not ready:
                pending.append((key, reason))
        if not pending:
            break
        if time.time() >= deadline:
            raise KubernetesError(_not_ready_message(client, pending, len(watched), module.params['wait_timeout']))
        if forcer is not None:
            forcer.nudge(live, [key for key, _reason in pending])
        time.sleep(module.params['wait_sleep'])
    return time.time() - started


def _not_ready_message(client, pending, total, timeout):
    shown = []
    for key, reason in pending[:10]:
        text = '%s: %s' % (_label(key), reason)
        try:
            warnings = [message for kind, _reason, message in client.events(key[1], key[3], key[2] or None)
                        if kind == 'Warning' and message]
        except KubernetesError:
            warnings = []
        if warnings and warnings[-1] not in text:
            text += ' (event: %s)' % warnings[-1]
        shown.append(text)
    more = ' ... and %d more' % (len(pending) - 10) if len(pending) > 10 else ''
    return '%d of %d objects not ready after %d s: %s%s' % (len(pending), total, timeout, '; '.join(shown), more)


def main():
    module = AnsibleModule(
        argument_spec=client_argument_spec(
            definitions=dict(type='list', elements='dict', required=True),
            absent=dict(type='list', elements='dict', default=[]),
            wait=dict(type='bool', default=True),
            wait_timeout=dict(type='int', default=120),
            wait_sleep=dict(type='float', default=1),
            force_sync=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=str(KUBERNETES_IMPORT_ERROR))
    try:
        _check_definitions(module.params['definitions'])
        client = client_from_params(module.params)
        module.exit_json(**run(module, client))
    except KubernetesError as exc:
        module.fail_json(msg='kubernetes_objects: %s' % exc)


if __name__ == '__main__':
    main()
