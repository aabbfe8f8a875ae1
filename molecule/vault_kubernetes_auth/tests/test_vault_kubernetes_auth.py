"""vault_kubernetes_auth: read back from Vault and Kubernetes."""
from roles_testlib import ENVIRONMENT, kube_get, lab_password, vault_client

testinfra_hosts = ["localhost"]
MOUNT = ENVIRONMENT + "-kubernetes"


def test_kv_v2_mount():
    mounts = vault_client().sys.list_mounted_secrets_engines()["data"]
    assert mounts["secret/"]["type"] == "kv"
    assert mounts["secret/"]["options"]["version"] == "2"


def test_eso_policy_is_least_privilege():
    policy = vault_client().sys.read_acl_policy(ENVIRONMENT + "-eso-read")["data"]["policy"]
    assert 'path "secret/data/%s/*"' % ENVIRONMENT in policy
    assert 'path "secret/metadata/%s/*"' % ENVIRONMENT in policy
    # read on the metadata too (seed 001): dataFrom.find by tags reads each secret's custom_metadata.
    assert policy.count('["read"]') == 1 and '["read", "list"]' in policy
    for verb in ("create", "update", "delete", "sudo"):
        assert verb not in policy


def test_kubernetes_auth_client_jwt_config():
    client = vault_client()
    auths = client.sys.list_auth_methods()["data"]
    assert auths[MOUNT + "/"]["type"] == "kubernetes"
    config = client.read("auth/%s/config" % MOUNT)["data"]
    assert config["kubernetes_host"].startswith("https://127.0.0.1:")
    assert config["disable_local_ca_jwt"] is True
    assert "BEGIN CERTIFICATE" in config["kubernetes_ca_cert"]
    # inventory/lab sets the lab API server's issuer: Vault checks it.
    assert config["issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert config["disable_iss_validation"] is False


def test_eso_role_bound_to_the_service_account_made_for_it():
    role = vault_client().read("auth/%s/role/external-secrets" % MOUNT)["data"]
    # Not ESO's controller account (external-secrets): the platform store's own, with an audience.
    assert role["bound_service_account_names"] == ["vault-platform-reader"]
    assert role["bound_service_account_namespaces"] == ["external-secrets"]
    assert role["audience"] == "vault"
    assert role["token_policies"] == [ENVIRONMENT + "-eso-read"]
    assert role["token_ttl"] == 3600
    assert kube_get("-n", "external-secrets", "serviceaccount", "vault-platform-reader")["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "vaultkube.platform"}


def test_kv_seed_secrets():
    client = vault_client()
    db = client.secrets.kv.v2.read_secret_version(path=ENVIRONMENT + "/demo/db", mount_point="secret",
                                                  raise_on_deleted_version=True)
    assert db["data"]["data"] == {"username": "demo", "password": lab_password("demo-db-password")}


def test_auth_delegator_bound_to_the_platform_service_account_only():
    crb = kube_get("clusterrolebinding", ENVIRONMENT + "-vault-client-jwt-auth-delegator")
    assert crb["roleRef"]["name"] == "system:auth-delegator"
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "vault-platform-reader",
                                "namespace": "external-secrets"}]
