"""Vault in the cluster after site.yml: every pod unsealed and Ready in one raft
cluster, TLS verified through a port-forward, Kubernetes auth with Vault's own
ServiceAccount, ESO pods Ready and the Secret equal to Vault's value, Reloader Ready and the
demo Deployment annotated for it."""
import base64
import json
import os
import subprocess

import hvac

from e2e_cluster import VAULT_NS, VAULT_SELECTOR, Forward
from lab_helpers import LAB

testinfra_hosts = ["localhost"]
KUBECONFIG = os.path.join(os.environ.get("VAULTKUBE_LAB_HOME") or os.path.join(
    os.environ.get("VAULTKUBE_CACHE") or os.path.expanduser("~/.cache/vaultkube"), "lab"), "kubeconfig")
FILES = os.path.join(os.path.dirname(KUBECONFIG), "site-cluster")
KUBECTL = os.path.join(LAB["LAB_BIN"], "kubectl")


def kube_get(*args):
    out = subprocess.run([KUBECTL, "--kubeconfig", KUBECONFIG, "get", "-o", "json", *args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def admin_token(url):
    """An admin token made from the keys file (the role leaves no root token standing)."""
    from vaultkube_testlib import admin_token as make  # pylint: disable=import-outside-toplevel
    with open(os.path.join(FILES, "keys-password"), encoding="utf-8") as fh:
        password = fh.read().split()[0]
    return make(url, os.path.join(FILES, "vault-init.vault"), password, ca_cert=os.path.join(FILES, "vault-ca.pem"))


def vault(resource="service/vault"):
    fwd = Forward(KUBECTL, KUBECONFIG, resource).__enter__()
    client = hvac.Client(url=fwd.url, verify=os.path.join(FILES, "vault-ca.pem"), token=admin_token(fwd.url), timeout=10)
    return fwd, client


def test_every_vault_pod_unsealed_ready_and_in_one_raft_cluster():
    pods = kube_get("-n", VAULT_NS, "pods", "-l", VAULT_SELECTOR)["items"]
    names = sorted(p["metadata"]["name"] for p in pods)
    assert names == ["vault-0", "vault-1", "vault-2"]
    for pod in pods:
        ready = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", pod["metadata"]["name"]
    for name in names:
        fwd, client = vault("pod/" + name)
        try:
            assert client.sys.read_seal_status()["sealed"] is False
        finally:
            fwd.__exit__()
    fwd, client = vault()
    try:
        servers = client.sys.read_raft_config()["data"]["config"]["servers"]
    finally:
        fwd.__exit__()
    assert sorted(s["node_id"] for s in servers) == names


def test_kubernetes_auth_uses_vaults_own_service_account():
    fwd, client = vault()
    try:
        config = client.read("auth/lab-kubernetes/config")["data"]
    finally:
        fwd.__exit__()
    assert config["disable_local_ca_jwt"] is False and config["token_reviewer_jwt_set"] is False
    assert config["kubernetes_ca_cert"] == ""


def test_eso_pods_ready_and_secret_synced():
    for name in ("external-secrets", "external-secrets-webhook", "external-secrets-cert-controller"):
        deploy = kube_get("-n", "external-secrets", "deployment", name)
        assert deploy["status"].get("readyReplicas") == deploy["spec"]["replicas"], name
    secret = kube_get("-n", "demo", "secret", "demo-db")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    fwd, client = vault()
    try:
        kv2 = client.secrets.kv.v2
        answer = kv2.read_secret_version(path="lab/demo/db", mount_point="secret", raise_on_deleted_version=True)
        want = answer["data"]["data"]
    finally:
        fwd.__exit__()
    assert data == want


def test_reloader_ready_and_the_workload_annotated():
    # Stakater Reloader from its chart with the lab's image, and the annotation the role put
    # on the Deployment that reads the synced Secret (the rollout itself: tests/e2e cluster step 3).
    deploys = kube_get("-n", "reloader", "deployment", "-l", "app.kubernetes.io/instance=reloader")["items"]
    assert len(deploys) == 1
    assert deploys[0]["status"].get("readyReplicas") == deploys[0]["spec"]["replicas"]
    assert deploys[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "vaultkube.local/reloader:v1.4.10"
    app = kube_get("-n", "demo", "deployment", "demo-app")
    assert app["metadata"]["annotations"].get("reloader.stakater.com/auto") == "true"
