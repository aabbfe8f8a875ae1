"""End-to-end, Vault inside the cluster: `ansible-playbook -i inventory/lab-cluster
playbooks/site.yml` on a lab with a node (real kubelet, containerd, CoreDNS), the
unmodified official Vault chart (HA raft, 3 pods, TLS, UI) with the lab's OpenBao
image, or with VAULTKUBE_TEST_SERVER=vault (`tests/run.sh cluster_vault`) the
image of HashiCorp Vault built from the lab's Vault binary; ESO as pods. The controller reaches Vault only through port-forwards (a host
connection to a pod or Service address on Vault's port is rejected while site.yml
runs); state is read back from Vault (through a port-forward) and the API server.

 1  first run: 3 pods unsealed and Ready, one raft cluster, TLS, UI Service, local_jwt
    auth (Vault's own ServiceAccount), ESO pods Ready, the Secret equals Vault
 2  a Deployment's pod reads the synced values as environment variables
 2b borrowing routes: a tenant user with every right in its namespace only (kubectl --as)
    tries each way to use an identity not its own (no serviceAccountRef: ESO's pod token; a
    ServiceAccount named like the platform's; its own; one in ESO's namespace; the
    ClusterSecretStore): each Ready=False with Vault's 403 or ESO's refusal and no Secret,
    while the platform store still syncs (the database routes: the site flow; tenants: 2c)
 2c tenants through the port-forward (vault_tenants, as inventory/lab has them): each tenant's
    Vault policy and role read back, its SecretStore Ready, its ExternalSecret synced from its
    own KV folder into a Secret; Vault refuses team-a's token on team-b's folder and on the
    platform's, and on the platform's and team-b's roles; team-a's store asking for the
    platform's path is refused; as team-a (kubectl --as) the borrowing routes plus a store
    naming team-b's role all end Ready=False with no Secret (the re-run changed=0 is step 4)
 3  restarts on rotation: a value changed in Vault reaches the Secret, Stakater Reloader
    (installed by site.yml) rolls the Deployment out (a new ReplicaSet), the new pod reads
    the new value
 4  second run: changed=0 (Reloader's pod template annotation included)
 5  --check --diff run: changed=0
 6  reviewer_jwt mode in place (a reviewer ServiceAccount token Secret, seed 004)
 7  every Vault pod deleted: back sealed and not Ready; ESO reports Vault's "sealed"
 8  re-run at -vvv unseals; the Secret syncs again; nothing secret in the output
 9  the raft leader pod deleted: a follower takes over; the re-run converges
10  no unseal key or root token on any command line during any run; no route to a pod
"""

import json
import os
import socket
import time

import hvac
import pytest
from kubernetes.client.exceptions import ApiException

import e2e_site
from e2e_borrow import ESO, Tenant, login, refused_login, routes, try_routes
from e2e_cluster import DEMO_NS, ESO_NS, RELOADER_NS, VAULT_NS, VAULT_SELECTOR, ClusterSite
from e2e_site import (assert_run_ok, assert_unchanged, new_value, note, rotate_password, stopped_after,
                      switch_to_reviewer_jwt, vvv_run_leaking_nothing, wait_secret_equals_vault)
from lab_helpers import wait_until

pytestmark = pytest.mark.needs_root("a lab node (containerd, kubelet, iptables)")

ES_NAME = "demo-db"
# inventory/lab-cluster's tenants (vault_tenants_list), as inventory/lab's.
TENANTS = ("team-a", "team-b")
TENANT_STORE_SA = "vault-secrets"
REFRESH_SECONDS = 10
PROPAGATION_BOUND = REFRESH_SECONDS + 35
APP = "demo-app"
RELOADER_AUTO = "reloader.stakater.com/auto"
RELOADER_LAST = "reloader.stakater.com/last-reloaded-from"
# ESO's refresh, then Reloader's rollout: a new pod started and Ready, the old one gone.
ROLLOUT_BOUND = PROPAGATION_BOUND + 90


class Flow(e2e_site.Flow):
    def __init__(self, site):
        super().__init__(site)
        self.secret_values = {}

    def remember_secrets(self):
        """Every secret value known so far, for the command-line and output checks."""
        site = self.site
        init = site.init_data()
        values = {"unseal key %d" % i: k for i, k in enumerate(init["keys"])}
        values.update({"unseal key (base64) %d" % i: k for i, k in enumerate(init["keys_base64"])})
        if init.get("root_token"):  # revoked and removed from custody by default (issue 22)
            values["root token"] = init["root_token"]
        values["keys file password"] = site.lab_value("keys-password")
        values["seeded demo/db password"] = site.lab_value("demo-db-password")
        values["seeded demo/app API_KEY"] = site.lab_value("demo-api-key")
        values.update({"seeded tenants/%s/db password" % name: site.lab_value("%s-db-password" % name)
                       for name in TENANTS})
        reviewer = site.secret_data("vault-auth", "vault-reviewer-token")
        if reviewer:
            values["reviewer JWT"] = reviewer["token"]
            values["reviewer JWT signature"] = reviewer["token"].rsplit(".", 1)[-1]
        self.secret_values.update(values)
        return self.secret_values


@pytest.fixture(scope="module")
def flow(request):
    site = ClusterSite(os.environ.get("VAULTKUBE_E2E_NODE_LAB_HOME") or None)
    with stopped_after(request, site, "teardown"):
        seconds = site.start()
        kind = "shared instance" if site.shared_home else "private instance"
        note("lab with node (up.sh --node)", "%.1f s, %s" % (seconds, kind))
        yield Flow(site)


# ------------------------------------------------------------------ helpers
def db_path(site):
    return "%s/demo/db" % site.environment


def assert_secret_matches_vault(site, timeout=PROPAGATION_BOUND):
    return wait_secret_equals_vault(site, DEMO_NS, ES_NAME, db_path(site), timeout)


def rotate_and_measure(site, label, password=None):
    wanted, seconds = rotate_password(site, DEMO_NS, ES_NAME, db_path(site), PROPAGATION_BOUND, password)
    note("propagation Vault -> Secret (%s)" % label, "%.1f s" % seconds)
    return wanted


def all_vault_pods_ready(site, count=3):
    pods = site.vault_pods()
    ready = [p.metadata.name for p in pods if site.pod_ready(p)]
    return sorted(ready) if len(ready) == count else None


def deployment_ready(site, namespace, name):
    res = site.kubectl("-n", namespace, "get", "deployment", name, "-o",
                       "jsonpath={.status.readyReplicas}/{.spec.replicas}")
    have, _sep, want = res.stdout.partition("/")
    return have == want and have not in ("", "0")


def app_replica_sets(site):
    """The demo Deployment's ReplicaSets: {name: (revision, replicas)}."""
    items = site.kubectl_json("-n", DEMO_NS, "get", "replicasets", "-l", "app=%s" % APP)["items"]
    return {rs["metadata"]["name"]: (rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision"),
                                     rs["status"].get("replicas", 0))
            for rs in items
            if any(o["kind"] == "Deployment" and o["name"] == APP for o in rs["metadata"].get("ownerReferences", []))}


def app_pods(site):
    """The demo Deployment's pods that are not being deleted: {name: (ReplicaSet, Ready)}."""
    items = site.kubectl_json("-n", DEMO_NS, "get", "pods", "-l", "app=%s" % APP)["items"]
    pods = {}
    for pod in items:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        owner = [o["name"] for o in pod["metadata"].get("ownerReferences", []) if o["kind"] == "ReplicaSet"]
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
        pods[pod["metadata"]["name"]] = (owner[0] if owner else None, ready)
    return pods


def store_sealed(site, since):
    cond = site.ready("clustersecretstores", "vault-backend")
    events = [m for m in site.warning_events("ClusterSecretStore", "vault-backend", None, since)
              if "sealed" in m.lower()]
    return (cond, events) if cond.get("status") == "False" and events else None


# ------------------------------------------------------------------ 1
def test_01_first_run_installs_vault_in_the_cluster(flow):
    site = flow.site
    run = site.site("first")
    note("site.yml first run", "%.1f s, rc=%s, recap %s" % (run.seconds, run.returncode, run.recap))
    assert_run_ok(run)

    ready, seconds = wait_until("3 Vault pods Ready", lambda: all_vault_pods_ready(site), 90, 2)
    note("Vault pods Ready after the run", "%s (%.1f s)" % (ready, seconds))
    for pod in ready:
        status = site.pod_status(pod)
        assert status["initialized"] and not status["sealed"], (pod, status)
    health = site.vault().sys.read_health_status(method="GET")
    assert health["version"] == site.server_version, (site.server, health)
    note("server in the pods", "%s %s" % (site.server, health["version"]))
    servers = site.vault().sys.read_raft_config()["data"]["config"]["servers"]
    assert sorted(s["node_id"] for s in servers) == ready, servers
    assert sum(1 for s in servers if s["leader"]) == 1
    note("raft peers", ", ".join("%s%s" % (s["node_id"], " (leader)" if s["leader"] else "") for s in servers))

    # TLS on the listener: the generated Secret, and its CA is the one the client verified with.
    tls = site.core().read_namespaced_secret("vault-tls", VAULT_NS)
    assert tls.type == "kubernetes.io/tls" and {"tls.crt", "tls.key", "ca.crt"} <= set(tls.data)
    with open(site.vault_ca, encoding="utf-8") as fh:
        assert fh.read().strip() == site.secret_data(VAULT_NS, "vault-tls")["ca.crt"].strip()
    # The UI, through its Service.
    ui = site.core().read_namespaced_service("vault-ui", VAULT_NS)
    assert [p.port for p in ui.spec.ports] == [8200]
    with site.forward("service/vault-ui") as fwd:
        import requests  # pylint: disable=import-outside-toplevel
        page = requests.get(fwd.url + "/ui/", verify=site.vault_ca, timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower(), page.status_code
    note("vault-ui Service", "GET /ui/ through it: %d, %d bytes" % (page.status_code, len(page.text)))

    # Kubernetes auth, seed 001: Vault's own pod ServiceAccount and CA.
    config = site.auth_config()
    assert config["disable_local_ca_jwt"] is False and config["token_reviewer_jwt_set"] is False, config
    assert config["kubernetes_ca_cert"] == "" and config["kubernetes_host"] == "https://kubernetes.default.svc"
    # The issuer the inventory gives is checked: validation on, and ESO's logins pass it (synced below).
    assert (config["issuer"], config["disable_iss_validation"]) == (
        "https://kubernetes.default.svc.cluster.local", False), config
    binding = site.rbac().read_cluster_role_binding("%s-vault-local-jwt-auth-delegator" % site.environment)
    assert (binding.subjects[0].name, binding.subjects[0].namespace) == ("vault", VAULT_NS)

    # ESO as pods with the HA values.
    for name in ("external-secrets", "external-secrets-webhook", "external-secrets-cert-controller"):
        assert deployment_ready(site, ESO_NS, name), name
    assert site.kubectl("-n", ESO_NS, "get", "deployment", "external-secrets", "-o",
                        "jsonpath={.spec.replicas}").stdout == "2"
    pdbs = site.kubectl("-n", ESO_NS, "get", "pdb", "-o", "jsonpath={range .items[*]}{.spec.minAvailable}{\"\\n\"}{end}")
    assert pdbs.stdout.split() == ["1"], pdbs.stdout + pdbs.stderr
    metrics = site.kubectl("-n", ESO_NS, "get", "service", "-o", "name").stdout
    assert "service/external-secrets-metrics" in metrics.split(), metrics
    leases = site.kubectl("-n", ESO_NS, "get", "lease", "-o", "name").stdout
    assert "external-secrets-controller" in leases, leases

    assert site.ready("clustersecretstores", "vault-backend").get("status") == "True"
    data, seconds = assert_secret_matches_vault(site, timeout=60)
    assert data["password"] == site.lab_value("demo-db-password")
    note("Secret demo/demo-db", "equals Vault's %s (%.1f s after the run)" % (db_path(site), seconds))

    # Audit on by default, on the chart's audit volume, 0600 and owned by the server's user:
    # OpenBao refuses API creation, so the role declares the file device in the chart's server
    # configuration; HashiCorp Vault has no such stanza, so vault_unseal enables it through
    # the API. This test's own read (just above) is in the active pod's log, hashed.
    server_config = site.core().read_namespaced_config_map("vault-config", VAULT_NS).data
    declared = any('audit "file"' in text for text in server_config.values())
    assert declared == (site.server == "openbao"), (site.server, server_config)
    devices = site.vault().sys.list_enabled_audit_devices()["data"]
    assert devices["file/"]["options"]["file_path"] == "/vault/audit/audit.log", devices
    leader = [s["node_id"] for s in servers if s["leader"]][0]
    stat = site.kubectl("-n", VAULT_NS, "exec", leader, "-c", "vault", "--", "stat", "-c", "%a %U",
                        "/vault/audit/audit.log")
    assert stat.stdout.split() == ["600", "vault"], stat.stdout + stat.stderr
    log = site.kubectl("-n", VAULT_NS, "exec", leader, "-c", "vault", "--", "cat", "/vault/audit/audit.log")
    assert log.returncode == 0, log.stderr
    entries = [json.loads(line) for line in log.stdout.splitlines() if line.strip()]
    reads = [e for e in entries if e["type"] == "response" and e["request"].get("path") == "secret/data/" + db_path(site)]
    assert reads, "no read of secret/data/%s in the audit log of %s" % (db_path(site), leader)
    assert data["password"] not in log.stdout
    note("audit log", "%s:/vault/audit/audit.log 0600 vault (%s), %d entries, %d reads of the KV path, values hashed"
         % (leader, "declared in the configuration" if declared else "enabled through the API",
            len(entries), len(reads)))
    # No standing root token: the initial one was revoked and is no longer in custody.
    assert "root_token" not in site.init_data()
    flow.remember_secrets()
    flow.done.add("converged")


# ------------------------------------------------------------------ 2
def test_02_a_pod_reads_the_secret_as_environment(flow):
    site = flow.need("converged")
    # site.yml (eso_deploy_workloads of the inventory) applied the Deployment once the
    # ExternalSecrets were synced and waited for its rollout: it is Ready already.
    assert deployment_ready(site, DEMO_NS, APP), "site.yml did not roll out Deployment %s/%s" % (DEMO_NS, APP)
    want = site.kv_read(db_path(site))
    # The value is read inside the running container (kubectl exec), never passed on a command line.
    res = site.kubectl("-n", DEMO_NS, "exec", "deploy/%s" % APP, "--", "/bin/sh", "-c",
                       'printf "%s\\n%s" "$DB_USERNAME" "$DB_PASSWORD"')
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n") == [want["username"], want["password"]]
    note("pod %s/%s environment" % (DEMO_NS, APP),
         "DB_USERNAME and DB_PASSWORD equal Vault's (Deployment rolled out by site.yml)")


# ------------------------------------------------------------------ 2b
TENANT_NS, TENANT_SA = "e2e-tenant", "tenant-app"


def test_02b_a_tenant_cannot_borrow_an_identity(flow):
    site = flow.need("converged")
    store = site.eso_object("clustersecretstores", "vault-backend")["spec"]
    ref = store["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"]
    # local_jwt: Vault reviews with its own token, so the stores ask for the audience "vault" only.
    assert ref == {"name": "vault-platform-reader", "namespace": ESO_NS, "audiences": ["vault"]}, ref
    assert store["conditions"] == [{"namespaces": [DEMO_NS]}], store
    role = site.vault().read("auth/%s/role/external-secrets" % site.auth_mount)["data"]
    assert (role["bound_service_account_names"], role["bound_service_account_namespaces"], role["audience"]) == (
        ["vault-platform-reader"], [ESO_NS], "vault"), role
    # ESO's pods' own account opens no role; nor does a token without the audience.
    note("Vault login as ESO's controller account",
         refused_login(site, ESO_NS, "external-secrets", "external-secrets", ["vault"]))
    refused_login(site, ESO_NS, "vault-platform-reader", "external-secrets", ["not-vault"])

    core = site.core()
    core.create_namespace({"metadata": {"name": TENANT_NS}})
    tenant = Tenant(site, TENANT_NS)
    try:
        core.create_namespaced_service_account(TENANT_NS, {"metadata": {"name": TENANT_SA}})
        tenant.grant()
        assert tenant.can("create", "secretstores.external-secrets.io", TENANT_NS)
        assert not tenant.can("create", "secretstores.external-secrets.io", ESO_NS)
        route_list = routes(site, TENANT_NS, db_path(site), TENANT_SA)
        verdicts = try_routes(site, tenant, route_list, wait_until, note)
        assert len(verdicts) == len(route_list) == 5
    finally:
        tenant.revoke()
        core.delete_namespace(TENANT_NS)
    assert site.ready("clustersecretstores", "vault-backend").get("status") == "True"
    assert_secret_matches_vault(site)


# ------------------------------------------------------------------ 2c
def test_02c_tenants_through_the_port_forward(flow):
    site = flow.need("converged")
    started = time.monotonic()
    vault = site.vault()
    # What site.yml's vault_tenants wrote to Vault (through its port-forward) and to the cluster.
    for name in TENANTS:
        policy = vault.sys.read_acl_policy("tenant-%s" % name)["data"]["policy"]
        assert '"secret/data/tenants/%s/*"' % name in policy, policy
        role = vault.read("auth/%s/role/tenant-%s" % (site.auth_mount, name))["data"]
        assert (role["bound_service_account_names"], role["bound_service_account_namespaces"],
                role["token_policies"], role["audience"]) == ([TENANT_STORE_SA], [name], ["tenant-%s" % name],
                                                              "vault"), role
        assert site.ready("secretstores", "vault", name).get("status") == "True", name
        want = site.kv_read("tenants/%s/db" % name)
        assert want["password"] == site.lab_value("%s-db-password" % name)
        _data, seconds = wait_until("Secret %s/app-db to equal Vault's tenants/%s/db" % (name, name),
                                    lambda n=name, w=want: site.secret_data(n, "app-db") == w or None, 60)
        note("tenant %s" % name, "policy and role tenant-%s in Vault; SecretStore Ready; Secret app-db equals "
             "tenants/%s/db (%.1f s)" % (name, name, seconds))

    # Vault's own verdict on team-a's token: its folder, not team-b's, not the platform's.
    token = login(site, "team-a", TENANT_STORE_SA, "tenant-team-a", ["vault"])["auth"]["client_token"]
    tenant_client = site.vault(token=False)
    tenant_client.token = token
    assert tenant_client.secrets.kv.v2.read_secret_version(
        path="tenants/team-a/db", mount_point="secret", raise_on_deleted_version=True)["data"]["data"]
    for path in ("tenants/team-b/db", db_path(site)):
        with pytest.raises(hvac.exceptions.Forbidden):
            tenant_client.secrets.kv.v2.read_secret_version(path=path, mount_point="secret",
                                                            raise_on_deleted_version=True)
    for role in ("external-secrets", "tenant-team-b"):
        note("Vault login team-a/%s role %s" % (TENANT_STORE_SA, role),
             refused_login(site, "team-a", TENANT_STORE_SA, role, ["vault"]))

    # As team-a (every right in its namespace only): its own store asked for the platform's
    # path, the borrowing routes, and a store naming team-b's role; each refused, no Secret.
    tenant = Tenant(site, "team-a")
    tenant.grant()
    try:
        own_store = ("team-a's own SecretStore asked for the platform's path %s" % db_path(site), [{
            "apiVersion": "%s/%s" % ESO, "kind": "ExternalSecret", "metadata": {"name": "steal-platform"},
            "spec": {"refreshInterval": "30s", "secretStoreRef": {"kind": "SecretStore", "name": "vault"},
                     "target": {"name": "steal-platform"}, "dataFrom": [{"extract": {"key": db_path(site)}}]}}])
        route_list = [own_store] + routes(site, "team-a", db_path(site), TENANT_STORE_SA,
                                          other_tenant_role="tenant-team-b")
        verdicts = try_routes(site, tenant, route_list, wait_until, note)
        assert len(verdicts) == len(route_list) == 7
    finally:
        tenant.revoke()
    # The tenants' and the platform's stores still sync.
    for name in TENANTS:
        assert site.ready("secretstores", "vault", name).get("status") == "True", name
        assert site.secret_data(name, "app-db") == site.kv_read("tenants/%s/db" % name), name
    assert_secret_matches_vault(site)
    note("tenants step", "%.1f s" % (time.monotonic() - started))
    flow.done.add("tenants")


# ------------------------------------------------------------------ 3
def test_03_rotation_rolls_the_deployment_out(flow):
    site = flow.need("converged")
    # Reloader from its own chart with the lab's image, Ready (helm waited for it).
    reloader = site.kubectl_json("-n", RELOADER_NS, "get", "deployment", "-l", "app.kubernetes.io/instance=reloader")["items"]
    assert len(reloader) == 1, [d["metadata"]["name"] for d in reloader]
    spec = reloader[0]["spec"]["template"]["spec"]["containers"][0]
    assert spec["image"] == "%s:%s" % (site.inv["vaultkube_reloader_image"]["repository"],
                                       site.inv["vaultkube_reloader_image"]["tag"]), spec["image"]
    assert "--reload-strategy=annotations" in spec.get("args", []), spec.get("args")
    assert deployment_ready(site, RELOADER_NS, reloader[0]["metadata"]["name"])
    # The role annotated the workload (read back from the API server).
    app = site.kubectl_json("-n", DEMO_NS, "get", "deployment", APP)
    assert app["metadata"]["annotations"].get(RELOADER_AUTO) == "true", app["metadata"].get("annotations")
    before_rs = app_replica_sets(site)
    before_pods = app_pods(site)
    assert before_pods and all(ready for _rs, ready in before_pods.values()), before_pods
    generation = app["metadata"]["generation"]

    # The rotation as an operator makes it: the new value in Vault and in the inventory's own
    # source (the file its password lookup reads), so the next site.yml run keeps it (step 4).
    password = new_value("rotated")
    with open(os.path.join(site.site_dir, "demo-db-password"), "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
    wanted = rotate_and_measure(site, "before the restart", password)
    rotated = time.monotonic()

    def rolled_out():
        sets = app_replica_sets(site)
        new = [name for name in sets if name not in before_rs]
        if len(new) != 1:
            return None
        pods = app_pods(site)
        if not pods or any(rs != new[0] or not ready for rs, ready in pods.values()):
            return None
        if not deployment_ready(site, DEMO_NS, APP):
            return None
        return new[0], pods

    (new_rs, pods), _s = wait_until("Deployment %s/%s rolled out on a new ReplicaSet" % (DEMO_NS, APP),
                                    rolled_out, ROLLOUT_BOUND, 1)
    note("Secret changed -> Deployment rolled out", "%.1f s: ReplicaSet %s -> %s, pod %s -> %s" % (
        time.monotonic() - rotated, ",".join(sorted(before_rs)), new_rs, ",".join(sorted(before_pods)),
        ",".join(sorted(pods))))
    assert not set(pods) & set(before_pods)
    app = site.kubectl_json("-n", DEMO_NS, "get", "deployment", APP)
    assert app["metadata"]["generation"] > generation
    # The annotations strategy: Reloader marks the pod template, the containers stay as declared.
    marker = json.loads(app["spec"]["template"]["metadata"]["annotations"][RELOADER_LAST])
    assert (marker.get("type", "").lower(), marker.get("name"), marker.get("namespace")) == (
        "secret", ES_NAME, DEMO_NS), marker
    assert marker.get("containerRefs") == ["app"], marker
    assert [e["name"] for e in app["spec"]["template"]["spec"]["containers"][0]["env"]] == [
        "DB_USERNAME", "DB_PASSWORD"]

    # The new pod reads the new value (inside the container, never on a command line).
    pod = sorted(pods)[0]
    res = site.kubectl("-n", DEMO_NS, "exec", pod, "--", "/bin/sh", "-c", 'printf "%s" "$DB_PASSWORD"')
    assert res.returncode == 0, res.stderr
    assert res.stdout == wanted["password"], "pod %s does not see the rotated password" % pod
    note("new pod %s" % pod, "DB_PASSWORD equals the value rotated in Vault")
    logs = site.kubectl("-n", RELOADER_NS, "logs", "deployment/%s" % reloader[0]["metadata"]["name"])
    lines = [line for line in logs.stdout.splitlines() if ES_NAME in line and APP in line]
    assert lines, "Reloader's log does not mention %s and %s:\n%s" % (ES_NAME, APP, logs.stdout[-2000:])
    note("  Reloader's log", lines[-1][:300])
    flow.remember_secrets()
    flow.done.add("reloaded")


# ------------------------------------------------------------------ 4, 5
def test_04_second_run_changes_nothing(flow):
    flow.need("converged")
    run = flow.site.site("second")
    note("site.yml second run", "%.1f s, recap %s" % (run.seconds, run.recap))
    assert_unchanged(run, "second run")


def test_05_check_diff_run_changes_nothing(flow):
    flow.need("converged")
    run = flow.site.site("check-diff", extra_args=("--check", "--diff"))
    note("site.yml --check --diff", "%.1f s, recap %s" % (run.seconds, run.recap))
    assert_unchanged(run, "check run")


# ------------------------------------------------------------------ 6
def test_06_reviewer_jwt_mode_in_place(flow):
    site = flow.need("converged")
    config = switch_to_reviewer_jwt(site)
    assert config["token_reviewer_jwt_set"] is True and config["disable_local_ca_jwt"] is True, config
    with pytest.raises(ApiException) as gone:
        site.rbac().read_cluster_role_binding("%s-vault-local-jwt-auth-delegator" % site.environment)
    assert site.not_found(gone.value)
    assert site.secret_data("vault-auth", "vault-reviewer-token")["token"]
    flow.remember_secrets()
    rotate_and_measure(site, "reviewer_jwt")
    flow.done.add("reviewer")


# ------------------------------------------------------------------ 7
def test_07_deleted_vault_pods_come_back_sealed(flow):
    site = flow.need("converged")
    since = time.time()
    site.close_forward()
    res = site.kubectl("-n", VAULT_NS, "delete", "pod", "-l", VAULT_SELECTOR, "--wait=true")
    assert res.returncode == 0, res.stderr
    flow.done.add("sealed")

    def sealed_and_not_ready():
        pods = site.vault_pods()
        if len(pods) != 3 or any(p.status.phase != "Running" or site.pod_ready(p) for p in pods):
            return None
        states = {p.metadata.name: site.pod_status(p.metadata.name) for p in pods}
        return states if all(s["initialized"] and s["sealed"] for s in states.values()) else None

    states, seconds = wait_until("the recreated Vault pods to run sealed", sealed_and_not_ready, 120, 2)
    note("deleted Vault pods", "back Running, sealed, not Ready after %.1f s: %s" % (seconds, sorted(states)))

    # ESO re-validates a Ready store every few minutes; an update triggers it now.
    site.custom().patch_cluster_custom_object(
        "external-secrets.io", "v1", "clustersecretstores", "vault-backend",
        {"metadata": {"annotations": {"e2e.vaultkube.io/revalidate": str(int(time.time()))}}})
    (cond, events), seconds = wait_until("ClusterSecretStore vault-backend to report the sealed Vault",
                                         lambda: store_sealed(site, since), 90, 1)
    note("sealed -> ClusterSecretStore Ready=False", "after %.1f s: %s: %s" % (
        seconds, cond.get("reason"), cond.get("message")))
    note("  Vault's reason (its Warning event)", events[-1][:300])


# ------------------------------------------------------------------ 8
def test_08_rerun_unseals_and_leaks_nothing_at_vvv(flow):
    site = flow.need("converged", "sealed")
    secrets_before = dict(flow.secret_values)
    mode = {"vault_kubernetes_auth_mode": "reviewer_jwt"} if "reviewer" in flow.done else None
    vvv_run_leaking_nothing(site, "site.yml -vvv re-run on sealed pods", mode, secrets_before)
    wait_until("3 Vault pods Ready", lambda: all_vault_pods_ready(site), 90, 2)
    wait_until("ClusterSecretStore Ready again",
               lambda: site.ready("clustersecretstores", "vault-backend").get("status") == "True", 90, 1)
    rotate_and_measure(site, "after the unseal re-run")
    flow.done.add("unsealed")


# ------------------------------------------------------------------ 9
def test_09_leader_loss_then_rerun_converges(flow):
    site = flow.need("converged")
    leader, _s = wait_until("an active Vault pod", site.active_pod, 60, 1)
    site.close_forward()
    killed = time.monotonic()
    res = site.kubectl("-n", VAULT_NS, "delete", "pod", leader, "--wait=false")
    assert res.returncode == 0, res.stderr

    def new_leader():
        for pod in site.vault_pods():
            name = pod.metadata.name
            if name == leader:
                continue
            try:
                status = site.pod_status(name)
            except Exception:  # noqa: BLE001 - a pod may be between states
                continue
            if not status["sealed"] and status.get("leader", {}).get("is_self"):
                return name
        return None

    successor, _s = wait_until("a follower to take over from %s" % leader, new_leader, 90, 1)
    note("raft leader %s deleted" % leader, "%s active after %.1f s" % (successor, time.monotonic() - killed))
    flow.remember_secrets()
    run = site.site("after-leader-loss")
    note("site.yml re-run after the leader loss", "%.1f s, recap %s" % (run.seconds, run.recap))
    assert_run_ok(run)
    ready, _s = wait_until("3 Vault pods Ready", lambda: all_vault_pods_ready(site), 90, 2)
    servers = site.vault().sys.read_raft_config()["data"]["config"]["servers"]
    assert sorted(s["node_id"] for s in servers) == ready and all(s["voter"] for s in servers), servers
    assert site.pod_status(leader)["sealed"] is False
    rotate_and_measure(site, "after the leader loss")
    config = site.auth_config()
    assert config["token_reviewer_jwt_set"] is False and config["disable_local_ca_jwt"] is False, \
        "back to local_jwt in place: %s" % config


# ------------------------------------------------------------------ 10
def test_10_no_secret_on_any_command_line_and_no_pod_route(flow):
    site = flow.need("converged")
    values = flow.remember_secrets()
    found = sorted({name for name, value in values.items() if value
                    for line in site.command_lines if value in line})
    note("command lines sampled during the runs", "%d distinct, %d samples; %d secret values checked" % (
        len(site.command_lines), site.samples, len(values)))
    # The roles' forwards (kubernetes_port_forward spells --namespace; this test's own use -n).
    forwards = sorted({line for line in site.command_lines
                       if " port-forward --address 127.0.0.1 --namespace vault " in line and " pod/vault-" in line})
    assert forwards, "the roles used no port-forward to a Vault pod"
    note("  the roles' port-forwards (e.g.)", forwards[0][forwards[0].index("port-forward"):])
    assert not found, "secret values on a command line: %s" % found
    hits = site.guard_hits()
    note("host connections to pod/Service addresses on 8200", "%d rejected (%s)" % (hits, site.guard_cidrs))
    assert hits == 0, "a role tried to reach Vault on a pod or Service address"

    # The guard does reject such a connection (so 0 above means none was tried).
    pod_ip = site.vault_pods()[0].status.pod_ip
    with pytest.raises(OSError):
        socket.create_connection((pod_ip, 8200), timeout=5).close()
    assert site.guard_hits() > hits, "the guard did not see a direct connection to %s:8200" % pod_ip
    note("guard self-check", "a direct connection to %s:8200 was rejected" % pod_ip)
