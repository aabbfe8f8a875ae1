"""Smoke test proving the lab is a real Kubernetes control plane with a real
External Secrets Operator controller, and that Vault (OpenBao) kubernetes auth
works against it end to end.

Run: tests/lab/up.sh && pytest tests/lab   (up.sh is also called by the fixture)
"""

import os
import ssl
import time
import urllib.error
import urllib.request


import pytest


from lab_helpers import (
    VAULT_AUTH_PATH, VAULT_ROLE, VAULT_SECRET, b64d, condition, custom, delete_namespace, jwt_claims, kubectl,
    secret_data, wait_for,
)

pytestmark = pytest.mark.lab


def _get(url, ca=None, token=None, cert=None, timeout=10):
    ctx = ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()
    if cert:
        ctx.load_cert_chain(*cert)
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _request_token(lab, ns, sa, audiences=None, seconds=3600):
    core = lab["client"].CoreV1Api(lab["api_client"])
    spec = {"expirationSeconds": seconds}
    if audiences:
        spec["audiences"] = audiences
    tr = core.create_namespaced_service_account_token(sa, ns, {"spec": spec})
    return tr.status.token


def _token_review(lab, token):
    authn = lab["client"].AuthenticationV1Api(lab["api_client"])
    return authn.create_token_review({"spec": {"token": token}}).status


# --------------------------------------------------------------- control plane


def test_api_server_tls_authn_and_rbac(lab, namespace):
    env = lab["env"]
    api, ca = env["LAB_API_URL"], env["LAB_CA_CERT"]
    assert api.startswith("https://127.0.0.1:")

    # The serving certificate only verifies against the lab CA.
    with pytest.raises(urllib.error.URLError) as err:
        _get(api + "/version")
    assert isinstance(err.value.reason, ssl.SSLCertVerificationError)

    # Anonymous requests are refused; the admin client certificate works.
    status, body = _get(api + "/version", ca=ca)
    assert status == 401, body
    pki = os.path.join(env["LAB_STATE"], "pki")
    status, body = _get(api + "/version", ca=ca,
                        cert=(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key")))
    assert status == 200 and env["LAB_KUBERNETES_VERSION"] in body

    # RBAC: a fresh ServiceAccount is authenticated but may not list Secrets
    # until a Role grants it.
    core = lab["client"].CoreV1Api(lab["api_client"])
    rbac = lab["client"].RbacAuthorizationV1Api(lab["api_client"])
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "probe"}})
    token = _request_token(lab, namespace, "probe")
    url = "%s/api/v1/namespaces/%s/secrets" % (api, namespace)
    status, body = _get(url, ca=ca, token=token)
    assert status == 403, body
    assert "system:serviceaccount:%s:probe" % namespace in body

    rbac.create_namespaced_role(namespace, {
        "metadata": {"name": "read-secrets"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
    })
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "probe-read-secrets"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-secrets"},
        "subjects": [{"kind": "ServiceAccount", "name": "probe", "namespace": namespace}],
    })
    wait_for("RBAC grant to apply", lambda: _get(url, ca=ca, token=token)[0] == 200, timeout=20)
    # ... and only in that namespace.
    status, body = _get(api + "/api/v1/namespaces/default/secrets", ca=ca, token=token)
    assert status == 403, body


def test_service_account_token_secret_is_filled_by_controller_manager(lab, namespace):
    core = lab["client"].CoreV1Api(lab["api_client"])
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "legacy"}})
    core.create_namespaced_secret(namespace, {
        "metadata": {"name": "legacy-token",
                     "annotations": {"kubernetes.io/service-account.name": "legacy"}},
        "type": "kubernetes.io/service-account-token",
    })

    def filled():
        data = core.read_namespaced_secret("legacy-token", namespace).data or {}
        return data if "token" in data and "ca.crt" in data else None

    data = wait_for("token controller to fill the Secret", filled, timeout=30)
    with open(lab["env"]["LAB_CA_CERT"], encoding="ascii") as fh:
        assert b64d(data["ca.crt"]).strip() == fh.read().strip()
    assert b64d(data["namespace"]) == namespace
    claims = jwt_claims(b64d(data["token"]))
    assert claims["sub"] == "system:serviceaccount:%s:legacy" % namespace
    # The legacy token authenticates too.
    status = _token_review(lab, b64d(data["token"]))
    assert status.authenticated is True
    assert status.user.username == "system:serviceaccount:%s:legacy" % namespace


def test_token_request_and_token_review(lab, namespace):
    core = lab["client"].CoreV1Api(lab["api_client"])
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "reviewed"}})
    token = _request_token(lab, namespace, "reviewed", seconds=600)
    claims = jwt_claims(token)
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["sub"] == "system:serviceaccount:%s:reviewed" % namespace

    good = _token_review(lab, token)
    assert good.authenticated is True
    assert good.user.username == "system:serviceaccount:%s:reviewed" % namespace
    assert "system:serviceaccounts:%s" % namespace in good.user.groups

    bad = _token_review(lab, token[:-8] + "AAAAAAAA")
    assert not bad.authenticated
    garbage = _token_review(lab, "not-a-jwt")
    assert not garbage.authenticated

    # A deleted ServiceAccount's token stops working.
    core.delete_namespaced_service_account("reviewed", namespace)
    wait_for("token of deleted SA to be rejected",
             lambda: not _token_review(lab, token).authenticated, timeout=20)


def test_new_namespace_gets_root_ca_and_default_service_account(lab, namespace):
    core = lab["client"].CoreV1Api(lab["api_client"])
    cm = wait_for("kube-root-ca.crt ConfigMap",
                  lambda: core.read_namespaced_config_map("kube-root-ca.crt", namespace), timeout=30)
    with open(lab["env"]["LAB_CA_CERT"], encoding="ascii") as fh:
        assert cm.data["ca.crt"].strip() == fh.read().strip()
    wait_for("default ServiceAccount",
             lambda: core.read_namespaced_service_account("default", namespace), timeout=30)


def test_namespace_deletion_garbage_collects(lab):
    core = lab["client"].CoreV1Api(lab["api_client"])
    name = "lab-gc-" + str(int(time.time()))
    core.create_namespace({"metadata": {"name": name}})
    cm = core.create_namespaced_config_map(name, {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map(name, {"metadata": {
        "name": "owned",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                             "uid": cm.metadata.uid}]}})
    core.create_namespaced_secret(name, {"metadata": {"name": "content"},
                                         "stringData": {"k": "v"}})
    core.delete_namespaced_config_map("owner", name)

    def owned_gone():
        names = [c.metadata.name for c in core.list_namespaced_config_map(name).items]
        return "owned" not in names

    wait_for("garbage collector to delete the dependent", owned_gone, timeout=60)
    # The namespace controller empties the namespace, then removes it.
    delete_namespace(lab, name, timeout=60)


# ------------------------------------------------------------------------ ESO


def test_eso_chart_installs_crds_serving_v1(lab, eso_chart):
    ext = lab["client"].ApiextensionsV1Api(lab["api_client"])
    for plural in ("externalsecrets", "secretstores", "clustersecretstores",
                   "clusterexternalsecrets"):
        name = plural + ".external-secrets.io"

        def established(name=name):
            crd = ext.read_custom_resource_definition(name)
            conds = {c.type: c.status for c in crd.status.conditions or []}
            return crd if conds.get("Established") == "True" else None

        crd = wait_for("CRD %s established" % name, established, timeout=30)
        served = {v.name for v in crd.spec.versions if v.served}
        assert "v1" in served, (name, served)
    out = kubectl("api-resources", "--api-group=external-secrets.io", "-o", "name").stdout
    assert "externalsecrets.external-secrets.io" in out
    versions = kubectl("api-versions").stdout.split()
    assert "external-secrets.io/v1" in versions
    # The Deployment exists but, without a kubelet, its Pod never runs.
    dep = kubectl("-n", eso_chart["namespace"], "get", "deployment", eso_chart["release"],
                  "-o", "jsonpath={.spec.template.spec.serviceAccountName}").stdout
    assert dep == eso_chart["service_account"]


def _create_cluster_store(lab, name, provider):
    co = custom(lab)
    co.create_cluster_custom_object("external-secrets.io", "v1", "clustersecretstores", {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": name},
        "spec": {"provider": provider},
    })


def _delete_cluster_store(lab, name):
    try:
        custom(lab).delete_cluster_custom_object("external-secrets.io", "v1",
                                                 "clustersecretstores", name)
    except Exception:  # noqa: BLE001 - best-effort cleanup
        pass


def _create_external_secret(lab, ns, name, store, target, data=None, data_from=None):
    spec = {
        "refreshInterval": "10s",
        "secretStoreRef": {"kind": "ClusterSecretStore", "name": store},
        "target": {"name": target, "creationPolicy": "Owner"},
    }
    if data:
        spec["data"] = data
    if data_from:
        spec["dataFrom"] = data_from
    body = {
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": name}, "spec": spec,
    }
    custom(lab).create_namespaced_custom_object("external-secrets.io", "v1", ns,
                                                "externalsecrets", body)


def _cluster_store_condition(lab, store, status):
    """The ClusterSecretStore's Ready condition once its status is STATUS, else None."""
    obj = custom(lab).get_cluster_custom_object("external-secrets.io", "v1", "clustersecretstores", store)
    cond = condition(obj)
    return cond if cond and cond["status"] == status else None


def _get_external_secret(lab, ns, name):
    return custom(lab).get_namespaced_custom_object("external-secrets.io", "v1", ns,
                                                    "externalsecrets", name)


def test_eso_controller_syncs_from_fake_provider(lab, eso_controller, namespace):
    store = "lab-fake-" + namespace
    _create_cluster_store(lab, store, {"fake": {"data": [
        {"key": "/app/db-password", "value": "fake-p4ss"},
        {"key": "/app/api-key", "value": "fake-api-key", "version": "v1"},
    ]}})
    try:
        def store_ready():
            return _cluster_store_condition(lab, store, "True")

        wait_for("fake ClusterSecretStore Ready", store_ready, timeout=60)
        _create_external_secret(lab, namespace, "from-fake", store, "synced-from-fake", data=[
            {"secretKey": "password", "remoteRef": {"key": "/app/db-password"}},
            {"secretKey": "apikey", "remoteRef": {"key": "/app/api-key", "version": "v1"}},
        ])
        data = wait_for("Secret synced from the fake provider",
                        lambda: secret_data(lab, namespace, "synced-from-fake"), timeout=60)
        assert data == {"password": "fake-p4ss", "apikey": "fake-api-key"}

        def es_ready():
            obj = _get_external_secret(lab, namespace, "from-fake")
            return obj if (condition(obj) or {}).get("status") == "True" else None

        es = wait_for("ExternalSecret Ready", es_ready, timeout=30)
        assert condition(es)["reason"] == "SecretSynced"
        # The Secret is owned by the ExternalSecret (creationPolicy Owner).
        core = lab["client"].CoreV1Api(lab["api_client"])
        owners = core.read_namespaced_secret("synced-from-fake", namespace).metadata.owner_references
        assert owners and owners[0].kind == "ExternalSecret"
    finally:
        _delete_cluster_store(lab, store)


def test_eso_controller_holds_leader_lease_as_its_service_account(lab, eso_controller):
    coord = lab["client"].CoordinationV1Api(lab["api_client"])
    lease = wait_for(
        "ESO leader-election Lease",
        lambda: coord.read_namespaced_lease("external-secrets-controller",
                                            eso_controller["namespace"]),
        timeout=60)
    assert lease.spec.holder_identity


# ---------------------------------------------------------------- Vault / OpenBao


def _vault_provider(addr, sa_name, sa_namespace):
    return {"vault": {
        "server": addr,
        "path": "secret",
        "version": "v2",
        "auth": {"kubernetes": {
            "mountPath": VAULT_AUTH_PATH,
            "role": VAULT_ROLE,
            "serviceAccountRef": {"name": sa_name, "namespace": sa_namespace},
        }},
    }}


def test_vault_kubernetes_auth_login_with_lab_token(lab, vault_k8s_auth, eso_chart):
    """OpenBao validates a lab TokenRequest token through the lab's TokenReview."""
    import hvac

    token = _request_token(lab, eso_chart["namespace"], eso_chart["service_account"], seconds=600)
    client = hvac.Client(url=vault_k8s_auth["addr"])
    resp = client.auth.kubernetes.login(VAULT_ROLE, token, mount_point=VAULT_AUTH_PATH)
    meta = resp["auth"]["metadata"]
    assert meta["service_account_name"] == eso_chart["service_account"]
    assert meta["service_account_namespace"] == eso_chart["namespace"]
    secret = client.secrets.kv.v2.read_secret_version("myapp/config", mount_point="secret",
                                                      raise_on_deleted_version=True)
    assert secret["data"]["data"] == VAULT_SECRET

    other = _request_token(lab, vault_k8s_auth["namespace"], "not-bound", seconds=600)
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=vault_k8s_auth["addr"]).auth.kubernetes.login(
            VAULT_ROLE, other, mount_point=VAULT_AUTH_PATH)


def test_eso_syncs_vault_secret_via_kubernetes_auth(lab, eso_controller, vault_k8s_auth,
                                                    namespace):
    store = "lab-vault-" + namespace
    _create_cluster_store(lab, store, _vault_provider(
        vault_k8s_auth["addr"], eso_controller["service_account"], eso_controller["namespace"]))
    try:
        def store_ready():
            return _cluster_store_condition(lab, store, "True")

        wait_for("vault ClusterSecretStore Ready", store_ready, timeout=60)
        _create_external_secret(lab, namespace, "from-vault", store, "myapp-config",
                                data_from=[{"extract": {"key": "myapp/config"}}])
        data = wait_for("Secret synced from OpenBao",
                        lambda: secret_data(lab, namespace, "myapp-config"), timeout=60)
        assert data == VAULT_SECRET

        # A change in Vault reaches the Secret on the next refresh (10 s).
        new = dict(VAULT_SECRET, password="rotated-" + namespace)
        vault_k8s_auth["client"].secrets.kv.v2.create_or_update_secret(
            "myapp/config", secret=new, mount_point="secret")
        try:
            wait_for("rotated value in the Secret",
                     lambda: secret_data(lab, namespace, "myapp-config") == new, timeout=60)
        finally:
            vault_k8s_auth["client"].secrets.kv.v2.create_or_update_secret(
                "myapp/config", secret=VAULT_SECRET, mount_point="secret")
    finally:
        _delete_cluster_store(lab, store)


def test_eso_with_unbound_service_account_fails_to_log_in(lab, eso_controller, vault_k8s_auth,
                                                          namespace):
    store = "lab-vault-unbound-" + namespace
    _create_cluster_store(lab, store, _vault_provider(
        vault_k8s_auth["addr"], "not-bound", vault_k8s_auth["namespace"]))
    try:
        def store_failed():
            return _cluster_store_condition(lab, store, "False")

        cond = wait_for("vault ClusterSecretStore to report the failed login", store_failed,
                        timeout=60)
        assert "permission denied" in cond.get("message", "") or cond.get("reason"), cond

        _create_external_secret(lab, namespace, "unbound", store, "never-synced",
                                data_from=[{"extract": {"key": "myapp/config"}}])

        def es_failed():
            cond = condition(_get_external_secret(lab, namespace, "unbound"))
            return cond if cond and cond["status"] == "False" else None

        cond = wait_for("ExternalSecret failed condition", es_failed, timeout=60)
        assert cond["reason"] == "SecretSyncedError", cond
        assert secret_data(lab, namespace, "never-synced") is None
    finally:
        _delete_cluster_store(lab, store)
