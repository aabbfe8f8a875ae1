"""kubernetes_statefulset_pods_info and vault_unseal's discovery against the lab's real API
server and controllers (no node needed: the StatefulSet controller creates the pods, which
stay Pending). A pod that copies the chart's labels is ignored with its reason; a missing
StatefulSet is one line, for the module and for the role, before any pod is contacted.
The same with running pods, a real OpenBao decoy and the unseal itself: tests/lab/test_node.py."""

import json
import os
import sys
import uuid

import pytest


from lab_helpers import LAB, wait_for
from vaultkube_testlib import VAULT_UNSEAL_PLAYBOOK
from vaultkube_testlib import run_module, run_playbook

pytestmark = pytest.mark.lab

LABELS = {'app.kubernetes.io/name': 'vault', 'app.kubernetes.io/instance': 'vault', 'component': 'server'}


def statefulset(namespace):
    container = {'name': 'server', 'image': 'vaultkube.local/absent:0', 'imagePullPolicy': 'Never'}
    return {
        'apiVersion': 'apps/v1', 'kind': 'StatefulSet',
        'metadata': {'name': 'vault', 'namespace': namespace, 'labels': dict(LABELS)},
        'spec': {'replicas': 3, 'serviceName': 'vault-internal', 'podManagementPolicy': 'Parallel',
                 'selector': {'matchLabels': dict(LABELS)},
                 'template': {'metadata': {'labels': dict(LABELS)}, 'spec': {'containers': [container]}}},
    }


def decoy(namespace, name):
    return {'apiVersion': 'v1', 'kind': 'Pod',
            'metadata': {'name': name, 'namespace': namespace, 'labels': dict(LABELS)},
            'spec': {'containers': [{'name': 'server', 'image': 'vaultkube.local/absent:0',
                                     'imagePullPolicy': 'Never'}]}}


def info(namespace, name='vault', **extra):
    args = dict(namespace=namespace, name=name, kubeconfig=LAB['KUBECONFIG'], **extra)
    return run_module('kubernetes_statefulset_pods_info', args)


def test_only_the_statefulset_pods_are_returned(lab, namespace):
    apps = lab['client'].AppsV1Api(lab['api_client'])
    core = lab['client'].CoreV1Api(lab['api_client'])
    created = apps.create_namespaced_stateful_set(namespace, statefulset(namespace))
    # Look-alikes: the chart's labels, one under a member-like name that sorts first.
    core.create_namespaced_pod(namespace, decoy(namespace, 'vault-decoy'))
    core.create_namespaced_pod(namespace, decoy(namespace, 'vault-00'))

    def members_and_adoption():
        pods = {p.metadata.name: p for p in core.list_namespaced_pod(namespace).items}
        owned = sorted(name for name, p in pods.items() if p.metadata.owner_references)
        # The StatefulSet controller adopts an orphan that matches its selector under a name
        # "<set>-<digits>": vault-00 gets a real controller reference (kind, name, uid); vault-decoy
        # (no ordinal) stays an orphan.
        return pods if owned == ['vault-0', 'vault-00', 'vault-1', 'vault-2'] else None

    pods = wait_for('3 pods created and vault-00 adopted by the StatefulSet controller', members_and_adoption,
                    timeout=60)
    uids = {name: p.metadata.uid for name, p in pods.items()}
    adopted = pods['vault-00'].metadata.owner_references[0]
    assert (adopted.kind, adopted.name, adopted.uid, adopted.controller) == (
        'StatefulSet', 'vault', created.metadata.uid, True)

    result = info(namespace)
    assert not result.get('failed'), result.get('msg')
    assert result['found'] is True and result['uid'] == created.metadata.uid and result['replicas'] == 3
    assert [(p['name'], p['ordinal'], p['uid']) for p in result['pods']] == [
        ('vault-%d' % i, i, uids['vault-%d' % i]) for i in range(3)]
    assert all(p['phase'] == 'Pending' for p in result['pods']), 'no node in this lab: the pods do not run'
    assert [(p['name'], p['reason']) for p in result['ignored']] == [
        ('vault-00', 'is not a member name of the StatefulSet (vault-<0..2>)'), ('vault-decoy', 'has no controller')]
    assert result['changed'] is False


def test_a_missing_statefulset_is_one_line(lab, namespace):
    result = info(namespace, name='absent')
    assert result.get('failed') is True
    assert result['msg'] == ('kubernetes_statefulset_pods_info: StatefulSet %s/absent does not exist: check the '
                             'namespace and name (is the chart installed?)' % namespace)
    allowed = info(namespace, name='absent', allow_missing=True)
    assert not allowed.get('failed') and allowed['found'] is False and allowed['pods'] == []


def test_the_role_stops_in_one_line_without_the_statefulset(lab, namespace, tmp_path):
    core = lab['client'].CoreV1Api(lab['api_client'])
    labels = dict(LABELS, **{'app.kubernetes.io/instance': 'vault'})
    pod = decoy(namespace, 'vault-0')
    pod['metadata']['labels'] = labels
    core.create_namespaced_pod(namespace, pod)  # labels of the chart, but no StatefulSet
    playbook = tmp_path / 'unseal.yml'
    playbook.write_text(VAULT_UNSEAL_PLAYBOOK)
    proc = run_playbook(playbook, dict(
        ansible_python_interpreter=sys.executable,
        vault_unseal_port_forward=True, vault_unseal_url='https://127.0.0.1:8200',
        vault_unseal_kubernetes_namespace=namespace, vault_unseal_kubernetes_release='vault',
        vault_unseal_kubeconfig=LAB['KUBECONFIG'], vault_unseal_kubectl_binary=os.path.join(LAB['LAB_BIN'], 'kubectl'),
        vault_unseal_keys_file=str(tmp_path / 'keys' / 'vault-init.vault'),
        vault_unseal_keys_password='discovery-' + uuid.uuid4().hex))
    assert proc.returncode != 0
    doc = json.loads(proc.stdout)
    tasks = {task['task']['name']: task['hosts'].get('localhost') or {} for task in doc['plays'][0]['tasks']}
    failed = [(name, result) for name, result in tasks.items() if result.get('failed')]
    assert len(failed) == 1, failed
    name, result = failed[0]
    assert name.split(' : ', 1)[-1] == "Stop when the chart's StatefulSet is missing"
    assert result['msg'] == (
        'vault_unseal: StatefulSet %s/vault does not exist, so no pod was contacted: install Vault first '
        '(vault_install) or set vault_unseal_kubernetes_namespace and vault_unseal_kubernetes_release '
        '(or vault_unseal_kubernetes_statefulset).' % namespace)
    assert '\n' not in result['msg']
    forward = tasks.get('vaultkube.platform.vault_unseal : Open a port-forward to each running server pod')
    assert forward is None or not forward.get('results'), 'a forward was opened: %s' % forward
    assert not (tmp_path / 'keys').exists()
