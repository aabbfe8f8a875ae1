"""eso_deploy: chart with HA values, a Ready ClusterSecretStore, synced ExternalSecrets."""
import base64

from roles_testlib import ENVIRONMENT, kube_get, lab_password, ready_condition

testinfra_hosts = ["localhost"]


def test_chart_deployed_with_ha_values():
    dep = kube_get("-n", "external-secrets", "deployment", "external-secrets")
    assert dep["spec"]["replicas"] == 2
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--enable-leader-election=true" in args
    assert "--concurrent=2" in args
    pdb = kube_get("-n", "external-secrets", "pdb")
    assert pdb["items"] and pdb["items"][0]["spec"]["minAvailable"] == 1


def test_cluster_secret_store_ready():
    store = kube_get("clustersecretstore", "vault-backend")
    vault = store["spec"]["provider"]["vault"]
    assert vault["server"] == "https://127.0.0.1:28200"
    assert vault["version"] == "v2"
    assert vault["auth"]["kubernetes"]["mountPath"] == ENVIRONMENT + "-kubernetes"
    assert "LS0t" in vault["caBundle"]
    assert ready_condition(store)["status"] == "True"


def test_cluster_secret_store_names_its_identity_and_serves_only_its_namespaces():
    store = kube_get("clustersecretstore", "vault-backend")
    ref = store["spec"]["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"]
    # The ServiceAccount made for it (not ESO's controller account), the audience "vault" and,
    # in the lab's client_jwt mode, the API server's own.
    assert (ref["name"], ref["namespace"]) == ("vault-platform-reader", "external-secrets"), ref
    assert ref["audiences"][0] == "vault" and len(ref["audiences"]) == 2, ref
    assert store["spec"]["conditions"] == [{"namespaces": ["demo"]}]


def test_external_secrets_synced():
    for name in ("demo-db", "demo-app"):
        es = kube_get("-n", "demo", "externalsecret", name)
        cond = ready_condition(es)
        assert cond["status"] == "True" and cond["reason"] == "SecretSynced", cond


def test_data_from_extract_and_template_labels():
    secret = kube_get("-n", "demo", "secret", "demo-app")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == {"API_URL": "https://api.example.internal", "API_KEY": lab_password("demo-api-key")}
    assert secret["metadata"]["labels"]["app.kubernetes.io/name"] == "demo"
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "ExternalSecret"


def test_store_that_cannot_log_in_fails_with_its_condition_message():
    import json
    import os
    import subprocess

    from roles_testlib import kubectl

    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
    extra = {"eso_deploy_cluster_store_name": "vaultkube-broken-store",
             "eso_deploy_vault_role": "no-such-role",
             "eso_deploy_external_secrets": [],
             "eso_deploy_ready_timeout": 20}
    try:
        run = subprocess.run(
            ["ansible-playbook", "-i", os.path.join(repo, "inventory", "lab"),
             os.path.join(repo, "playbooks", "site.yml"), "--tags", "eso_deploy",
             "-e", json.dumps(extra)],
            capture_output=True, text=True, cwd=repo, check=False,
            env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
        out = run.stdout + run.stderr
        assert run.returncode != 0
        assert "ClusterSecretStore vaultkube-broken-store: " in out and "not ready after" in out, out[-3000:]
    finally:
        kubectl("delete", "clustersecretstore", "vaultkube-broken-store", "--ignore-not-found")
