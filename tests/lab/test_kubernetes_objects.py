"""kubernetes_objects against the lab's real API server and ESO controller, with OpenBao
behind the stores: bulk apply and wait, re-runs that write nothing (counted in the API
server's audit log), the server's canonical spellings, removed fields, check mode and
the failure message of an ExternalSecret Vault refuses."""

import uuid

import pytest


from lab_helpers import (
    LAB, LAB_ADMIN_USER, VAULT_AUTH_PATH, VAULT_ROLE, VAULT_SECRET, AuditLog, kubectl,
)
from vaultkube_testlib import run_module

pytestmark = pytest.mark.lab

API = 'external-secrets.io/v1'


def store(name, addr, sa):
    return {'apiVersion': API, 'kind': 'ClusterSecretStore', 'metadata': {'name': name},
            'spec': {'provider': {'vault': {
                'server': addr, 'path': 'secret', 'version': 'v2',
                'auth': {'kubernetes': {'mountPath': VAULT_AUTH_PATH, 'role': VAULT_ROLE,
                                        'serviceAccountRef': {'name': sa['service_account'],
                                                              'namespace': sa['namespace']}}}}}}}


def external_secret(namespace, name, store_name, key='myapp/config', **spec):
    body = {'refreshInterval': '1h', 'secretStoreRef': {'kind': 'ClusterSecretStore', 'name': store_name},
            'target': {'name': name}, 'dataFrom': [{'extract': {'key': key}}]}
    body.update(spec)
    return {'apiVersion': API, 'kind': 'ExternalSecret', 'metadata': {'name': name, 'namespace': namespace},
            'spec': body}


def apply(definitions, check=False, diff=False, **args):
    return run_module('kubernetes_objects', dict(definitions=definitions, kubeconfig=LAB['KUBECONFIG'], **args),
                      check=check, diff=diff)


def get_json(*args):
    import json
    return json.loads(kubectl('get', *args, '-o', 'json').stdout)


@pytest.fixture
def objects(lab, eso_controller, vault_k8s_auth):
    suffix = uuid.uuid4().hex[:6]
    namespaces = ['objs-a-' + suffix, 'objs-b-' + suffix]
    store_name = 'objs-' + suffix
    definitions = [{'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': ns}} for ns in namespaces]
    definitions.append(store(store_name, vault_k8s_auth['addr'], eso_controller))
    for index in range(12):
        definitions.append(external_secret(namespaces[index % 2], 'es-%02d' % index, store_name))
    yield {'definitions': definitions, 'namespaces': namespaces, 'store': store_name}
    kubectl('delete', 'clustersecretstore', store_name, '--ignore-not-found', check=False)
    for ns in namespaces:
        kubectl('delete', 'namespace', ns, '--ignore-not-found', '--wait=false', check=False)


def test_bulk_apply_waits_for_all_then_a_rerun_writes_nothing(objects):
    audit = AuditLog()
    mark = audit.mark()
    first = apply(objects['definitions'])
    assert first.get('failed') is not True, first.get('msg')
    assert first['counts'] == {'created': 15, 'updated': 0, 'unchanged': 0, 'deleted': 0}
    assert audit.writes(mark, LAB_ADMIN_USER)[0] == 15
    # Every Secret is there when the module returns: it waited for all of them.
    for index in range(12):
        secret = get_json('secret', 'es-%02d' % index, '-n', objects['namespaces'][index % 2])
        assert sorted(secret['data']) == sorted(VAULT_SECRET)
    # The API server keeps "1h" as "1h0m0s"; that is no change.
    stored = get_json('externalsecret', 'es-00', '-n', objects['namespaces'][0])
    assert stored['spec']['refreshInterval'] == '1h0m0s'

    mark = audit.mark()
    again = apply(objects['definitions'])
    assert again['changed'] is False and again['writes'] == 0
    assert again['counts'] == {'created': 0, 'updated': 0, 'unchanged': 15, 'deleted': 0}
    assert audit.writes(mark, LAB_ADMIN_USER) == (0, [])


def test_changes_and_removed_fields_reach_the_server_check_mode_does_not(objects):
    definitions = objects['definitions']
    assert apply(definitions).get('failed') is not True
    ns = objects['namespaces'][0]
    changed = [dict(item) for item in definitions]
    es = changed[3]
    template = {'type': 'Opaque', 'metadata': {'labels': {'tier': 'db'}}}
    es['spec'] = dict(es['spec'], refreshInterval='30m', target={'name': 'es-00', 'template': template})

    audit = AuditLog()
    mark = audit.mark()
    preview = apply(changed, check=True, diff=True)
    assert preview['changed'] is True and preview['counts']['updated'] == 1
    # Check mode asks the API server for a server-side dry run: a PATCH with dryRun=All, which
    # persists nothing; any other write request would be a write.
    sent = audit.events(mark, LAB_ADMIN_USER)
    assert sent and all('dryRun=All' in e['requestURI'] for e in sent), [e['requestURI'] for e in sent]
    assert 'spec.refreshInterval' in preview['objects'][3]['differences']
    assert get_json('externalsecret', 'es-00', '-n', ns)['spec']['refreshInterval'] == '1h0m0s'

    result = apply(changed)
    assert result['counts'] == {'created': 0, 'updated': 1, 'unchanged': 14, 'deleted': 0}
    live = get_json('externalsecret', 'es-00', '-n', ns)
    # As sent, or as ESO's controller writes it back once it updates the object.
    assert live['spec']['refreshInterval'] in ('30m', '30m0s')
    assert live['spec']['target']['template']['metadata']['labels'] == {'tier': 'db'}
    assert get_json('secret', 'es-00', '-n', ns)['metadata']['labels']['tier'] == 'db'
    mark = audit.mark()
    assert apply(changed)['writes'] == 0
    assert audit.writes(mark, LAB_ADMIN_USER) == (0, [])

    # Dropping the template from the declaration removes it from the server.
    back = apply(definitions)
    assert back['counts']['updated'] == 1
    assert 'template' not in get_json('externalsecret', 'es-00', '-n', ns)['spec']['target']


def test_an_external_secret_vault_refuses_fails_with_condition_and_event(objects):
    definitions = objects['definitions'][:3] + [
        external_secret(objects['namespaces'][0], 'missing', objects['store'], key='myapp/no-such-secret')]
    result = apply(definitions, wait_timeout=20)
    assert result.get('failed') is True
    msg = result['msg']
    assert 'ExternalSecret %s/missing:' % objects['namespaces'][0] in msg, msg
    assert 'SecretSyncedError' in msg and '(event: ' in msg, msg
    assert '\n' not in msg


def test_a_failed_external_secret_is_synced_at_once_once_vault_has_its_value(objects, bao_dev):
    """ESO backs off after failed syncs (minutes after a few errors); the module's wait asks for
    an immediate sync (force-sync annotation) when the store is Ready, and a re-run writes nothing.
    ESO may retry on its own in the instant the wait starts: then the case is tried once more
    with a fresh object (two such coincidences in a row fail the test)."""
    import base64
    import time
    ns = objects['namespaces'][0]
    for attempt in (1, 2):
        name = 'late-%d' % attempt
        key = 'myapp/late-' + uuid.uuid4().hex[:6]
        definitions = objects['definitions'][:3] + [external_secret(ns, name, objects['store'], key=key)]
        failed = apply(definitions, wait_timeout=30, force_sync=False)
        assert failed.get('failed') is True and 'ExternalSecret %s/%s:' % (ns, name) in failed['msg'], failed.get('msg')
        # The value arrives in Vault while ESO backs off.
        bao_dev['client'].secrets.kv.v2.create_or_update_secret(path=key, secret={'token': 'late-value'},
                                                                mount_point='secret')
        started = time.time()
        result = apply(definitions, wait_timeout=90)
        assert result.get('failed') is not True, result.get('msg')
        secret = get_json('secret', name, '-n', ns)
        assert base64.b64decode(secret['data']['token']).decode() == 'late-value'
        if result['forced_syncs']:
            break
        print('\nattempt %d: ESO retried on its own as the wait began' % attempt)
    assert result['forced_syncs'] == ['%s/%s' % (ns, name)], result['forced_syncs']
    live = get_json('externalsecret', name, '-n', ns, '--show-managed-fields')
    assert float(live['metadata']['annotations']['force-sync']) >= started - 1
    managers = [entry['manager'] for entry in live['metadata']['managedFields']]
    assert 'vaultkube.platform/force-sync' in managers, managers
    print('\nforce-sync: a failed ExternalSecret synced %.1f s into the wait (%d annotation writes)'
          % (result['waited'], result['writes']))
    # Ready now: nothing is forced or written again (the API server's audit log shows no write).
    audit = AuditLog()
    mark = audit.mark()
    again = apply(definitions)
    assert again['writes'] == 0 and again['forced_syncs'] == [] and again['changed'] is False
    assert audit.writes(mark, LAB_ADMIN_USER) == (0, [])


def test_a_kind_the_server_does_not_serve_fails_before_any_write(objects):
    audit = AuditLog()
    mark = audit.mark()
    definitions = objects['definitions'][:1] + [
        {'apiVersion': 'example.invalid/v1', 'kind': 'Widget', 'metadata': {'name': 'w', 'namespace': 'x'}}]
    result = apply(definitions, wait_timeout=2)
    assert result.get('failed') is True
    assert 'does not serve kind Widget in example.invalid/v1' in result['msg']
    assert audit.writes(mark, LAB_ADMIN_USER) == (0, [])
