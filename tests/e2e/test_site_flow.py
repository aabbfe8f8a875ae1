"""End-to-end: `ansible-playbook -i inventory/lab playbooks/site.yml` on a
private lab (real kube-apiserver, real ESO controller, real OpenBao with TLS,
raft storage and Shamir keys), state read back from Vault and the API server.

The steps run in order and build on each other; a step whose prerequisite
failed is skipped with the reason. Each site.yml output is kept under the
private lab's runs/ folder (copied aside when a test failed).

 1  first run: the Vault value at the seeded path equals the synced Secret
 2  second run: PLAY RECAP changed=0; no write of vault_database_credentials in
    OpenBao's or the API server's audit log
 3  rotation in Vault reaches the Secret within the refresh interval
 3b dynamic PostgreSQL credentials: ESO's Vault generator fills demo/demo-pg, they
    log in to the real PostgreSQL server, and no longer once Vault revoked them;
    a forced refresh issues new ones that log in
 3c tenants (vault_tenants): each tenant's Secret holds its own folder's value; tenant A's
    ExternalSecret for tenant B's path is refused by Vault (403 in ESO's event); removing B
    with prune removes its Vault policy and role, store, ServiceAccount and binding, nothing
    else; the pruning run re-run is changed=0
 3d borrowing routes: a tenant user with every right in its namespace only (kubectl --as)
    tries each way to use an identity not its own (no serviceAccountRef, a ServiceAccount
    named like the platform's, its own, one in ESO's namespace, the ClusterSecretStore, the
    database role's generator, another tenant's role): each Ready=False with Vault's 403 or
    ESO's refusal and no Secret, while the platform's and the tenants' stores still sync
 4  a ServiceAccount the Vault role does not bind is refused (Vault and ESO); ESO's own
    controller account is refused too
 5  reviewer_jwt mode switched in place: Vault reviews with the reviewer JWT
 6  sealed Vault: ESO reports the failure with Vault's error
 7  re-run at -vvv unseals, everything Ready again, nothing secret in the output
 8  back to client_jwt in place: the reviewer JWT is gone, the Secret syncs
"""

import collections
import os
import pwd
import time

import hvac
import pytest
from kubernetes.client.exceptions import ApiException

import e2e_site
from e2e_fleet import admin_token_requests, site_writes, vault_write_requests
from e2e_borrow import Tenant, api_audiences, refused_login, routes, try_routes
from e2e_site import (REFRESH_INTERVAL, REFRESH_SECONDS, PrivateSite, assert_run_ok, assert_unchanged, note,
                      rotate_password, stopped_after, switch_to_reviewer_jwt, vvv_run_leaking_nothing,
                      wait_secret_equals_vault)
from lab_helpers import LAB_ADMIN_USER, AuditLog, wait_until

from vaultkube_postgres import PostgresServer, new_password
from vaultkube_testlib import audit_entries, read_or_none

pytestmark = pytest.mark.needs_root("the lab inventory creates a system user and runs OpenBao as it")

DB_PATH_SUFFIX = "demo/db"
ES_NAMESPACE, ES_NAME = "demo", "demo-db"
# Vault is sealed, or refuses the login: what must show up in ESO's reports.
SEALED_WORDS = ("sealed",)
REFUSED_WORDS = ("not authorized", "permission denied", "403")
PROPAGATION_BOUND = REFRESH_SECONDS + 35
# The inventory's dynamic credentials (vault_database_credentials).
PG_SECRET, PG_ROLE, PG_ROOT = "demo-pg", "demo-app", "vault_root"
PG_ROOT_PASSWORD_FILE = "postgres-vault-root-password"


class Flow(e2e_site.Flow):
    def __init__(self, site):
        super().__init__(site)
        self.password_in_vault = None
        self.pg = None
        self.dynamic_passwords = []


@pytest.fixture(scope="module")
def flow(request):
    site = PrivateSite()
    pg = None
    with stopped_after(request, site, "teardown (OpenBao, down.sh --purge)"):
        try:
            seconds = site.start()
            note("private lab start (up.sh)", "%.1f s" % seconds)
            note("private OpenBao", "%s, root %s" % (site.vault_addr, site.vault_root))
            pg = start_postgres(site)
            flow_ = Flow(site)
            flow_.pg = pg
            yield flow_
        finally:
            if pg is not None:
                pg.stop()


# ------------------------------------------------------------------ helpers
def start_postgres(site):
    """PostgreSQL on loopback with the superuser Vault's connection logs in as; its password
    goes where the inventory's password lookup reads it, so no extra var carries it."""
    started = time.monotonic()
    pg = PostgresServer().start()
    password = new_password()
    os.makedirs(site.site_dir, mode=0o700, exist_ok=True)
    path = os.path.join(site.site_dir, PG_ROOT_PASSWORD_FILE)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
    pg.create_superuser(PG_ROOT, password)
    site.set_extra_vars(vaultkube_lab_postgres_port=pg.port)
    note("PostgreSQL start (initdb, loopback)", "%.1f s, port %d" % (time.monotonic() - started, pg.port))
    return pg


def database_vault_writes(site, start=0, end=None):
    """Successful writes to what vault_database_credentials owns in Vault (engine mount,
    connections, roles, ESO's database policy and Vault role), from OpenBao's audit log
    between two byte offsets."""
    owned = ("database/", "sys/mounts/database",
             "sys/policies/acl/%s-eso-database" % site.environment,
             "auth/%s/role/external-secrets-database" % site.auth_mount)
    found = []
    for entry in audit_entries(os.path.join(site.vault_root, "log", "audit.log"), start, end):
        request = entry.get("request") or {}
        if entry.get("type") == "response" and not entry.get("error") \
                and request.get("operation") in ("create", "update", "delete") \
                and request.get("path", "").startswith(owned):
            found.append("%s %s" % (request["operation"], request["path"]))
    return found


def vault_audit_mark(site):
    return os.path.getsize(os.path.join(site.vault_root, "log", "audit.log"))


def database_api_writes(events):
    """The admin's writes (site.yml's) to the role's generator and ExternalSecret."""
    return ["%s %s/%s" % (e["verb"], e["objectRef"].get("resource"), e["objectRef"].get("name"))
            for e in events if e.get("user", {}).get("username") == LAB_ADMIN_USER
            and e.get("objectRef", {}).get("resource") in ("vaultdynamicsecrets", "externalsecrets")
            and e["objectRef"].get("name") == PG_SECRET]


def db_path(site):
    return "%s/%s" % (site.environment, DB_PATH_SUFFIX)


def live_tokens(site):
    """display_name and policies of every valid token (LIST auth/token/accessors, lookup-accessor each)."""
    vault = site.vault()
    found = []
    for accessor in vault.list("auth/token/accessors")["data"]["keys"]:
        data = vault.write("auth/token/lookup-accessor", accessor=accessor)["data"]
        found.append({"display_name": data.get("display_name"), "policies": data.get("policies") or [],
                      "ttl": data.get("ttl")})
    return found


def assert_secret_matches_vault(site, timeout=PROPAGATION_BOUND):
    """Waits until the Secret ESO writes has exactly Vault's keys and values."""
    try:
        return wait_secret_equals_vault(site, ES_NAMESPACE, ES_NAME, db_path(site), timeout)
    except BaseException:
        print("ESO log tail:\n" + site.eso_log_tail())
        raise


def rotate_and_measure(site, label):
    """Writes a new password in Vault (hvac) and measures until the Secret holds it."""
    wanted, seconds = rotate_password(site, ES_NAMESPACE, ES_NAME, db_path(site), PROPAGATION_BOUND)
    note("propagation Vault -> Secret (%s)" % label, "%.1f s (refreshInterval %s)" % (seconds, REFRESH_INTERVAL))
    assert seconds <= PROPAGATION_BOUND
    return wanted


def changed_tasks(run):
    """Names of the tasks a run reported changed."""
    task, out = None, []
    for line in run.output.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK ["):].split("]")[0]
        elif line.startswith("changed:") and task:
            out.append(task)
    return out


PLATFORM_SA = ("external-secrets", "vault-platform-reader")
ESO_CONTROLLER_SA = ("external-secrets", "external-secrets")
DATABASE_SA = "vault-database-reader"


def eso_login(site, namespace, service_account, role="external-secrets"):
    """Logs in to Vault's kubernetes auth as that ServiceAccount (TokenRequest token with the
    roles' audience "vault" and the API server's own, as the stores request in client_jwt)."""
    body = {"spec": {"expirationSeconds": 600, "audiences": ["vault"] + api_audiences(site)}}
    jwt = site.core().create_namespaced_service_account_token(service_account, namespace, body).status.token
    client = site.vault(token=False)
    return client.auth.kubernetes.login(role=role, jwt=jwt, mount_point=site.auth_mount,
                                        use_token=False)


# ------------------------------------------------------------------ 1
def test_01_first_run_syncs_the_vault_value(flow):
    site = flow.site
    run = site.site("first")
    note("site.yml first run", "%.1f s, rc=%s, recap %s" % (run.seconds, run.returncode, run.recap))
    first_failure = None if run.ok else run
    if first_failure:
        # Let the later steps still exercise the flow; this test fails below anyway.
        retry = site.site("first-retry")
        note("site.yml first run, retried after failure", "%.1f s, rc=%s" % (retry.seconds, retry.returncode))
        assert_run_ok(retry)

    vault_data, seconds = assert_secret_matches_vault(site, timeout=30)
    assert set(vault_data) == {"username", "password"}
    assert vault_data["password"] == site.lab_value("demo-db-password"), "Vault holds the seeded value"
    note("Secret demo/demo-db after first run", "keys %s equal Vault's (%.1f s)" % (sorted(vault_data), seconds))

    # Audit on by default (no audit setting in the lab inventory): the role's file device,
    # 0600 and owned by the service user, holds this test's own read of the KV path (through
    # kv_read above), with hashed values and no plain-text secret.
    audit_log = os.path.join(site.vault_root, "log", "audit.log")
    info = os.stat(audit_log)
    assert (oct(info.st_mode & 0o777), pwd.getpwuid(info.st_uid).pw_name) == ("0o600", site.service_user)
    with open(audit_log, encoding="utf-8") as fh:
        text = fh.read()
    entries = audit_entries(audit_log)
    mine = [e for e in entries if e["type"] == "response" and e["request"].get("path") == "secret/data/" + db_path(site)
            and e.get("response", {}).get("data", {}).get("data", {}).get("password", "").startswith("hmac-sha256:")]
    assert mine, "no hashed read of secret/data/%s in %s" % (db_path(site), audit_log)
    assert vault_data["password"] not in text
    note("audit log", "%s: 0600 %s, %d entries, %d hashed reads of the KV path"
         % (audit_log, site.service_user, len(entries), len(mine)))

    # No standing root token (issue 22): after the run, every valid token read back (all accessors)
    # holds neither the root policy nor the run's admin display name, except this test's own.
    assert "root_token" not in site.init_data(), "the keys file still holds the initial root token"
    alive = live_tokens(site)
    admin_left = [t for t in alive if t["display_name"] == "token-vaultkube-admin"]
    roots = [t for t in alive if "root" in t["policies"] and t["display_name"] != "token-vaultkube-e2e"]
    assert not admin_left and not roots, (admin_left, roots)
    note("tokens after the first run", "%d valid, no root or vaultkube-admin token left (initial revoked, "
         "admin token revoked)" % len(alive))

    # The inventory's default mode is client_jwt: no reviewer JWT in Vault.
    assert site.inv["vault_kubernetes_auth_mode"] == "client_jwt"
    config = site.auth_config()
    assert config["disable_local_ca_jwt"] is True and config["token_reviewer_jwt_set"] is False, config
    assert site.ready("clustersecretstores", "vault-backend").get("status") == "True"
    flow.done.add("converged")

    assert first_failure is None, (
        "the FIRST site.yml run on a fresh lab failed (a retry converged; later steps ran on that). "
        "rc=%s recap=%s log %s:\n%s"
        % (first_failure.returncode, first_failure.recap, first_failure.log, first_failure.failure()))


# ------------------------------------------------------------------ 2
def test_02_second_run_changes_nothing(flow):
    flow.need("converged")
    site, audit = flow.site, AuditLog()
    vault_mark, api_mark = vault_audit_mark(site), audit.mark()
    run = site.site("second")
    note("site.yml second run", "%.1f s, recap %s" % (run.seconds, run.recap))
    assert_unchanged(run, "second run")
    assert set(run.recap) == {"localhost", "vault-lab"}, run.recap
    # Read back for vault_database_credentials: the first run's writes are in the audit
    # logs (the filters see them), the second run's are none.
    first_vault = database_vault_writes(site, end=vault_mark)
    first_api = database_api_writes(audit.events(0))
    assert first_vault and first_api, "no database writes logged for the first run: %s %s" % (first_vault, first_api)
    assert database_vault_writes(site, start=vault_mark) == []
    assert database_api_writes(audit.events(api_mark)) == []
    note("second run, vault_database_credentials", "0 writes (first run: %d to Vault, %d to the API server)" % (
        len(first_vault), len(first_api)))
    # The whole re-run, read from both audit logs: every write request site.yml sent to Vault with
    # its tokens (the admin token's own lifecycle named and left out) and to the API server.
    entries = audit_entries(os.path.join(site.vault_root, "log", "audit.log"), vault_mark)
    lifecycle = admin_token_requests(entries)
    every = collections.Counter("%s %s %s" % (op, path, "unauthenticated" if policies is None else policies)
                                for op, path, policies, _name in vault_write_requests(entries))
    note("second run, every Vault write request", "%d: %s" % (sum(every.values()), dict(every)))
    note("second run, Vault writes (audit log)", "%d: %s; the admin token's own lifecycle: %s"
         % (len(site_writes(entries)), site_writes(entries) or "none", lifecycle or "none"))
    assert site_writes(entries) == [], "the re-run wrote to Vault: %s" % site_writes(entries)
    count, described = audit.writes(api_mark, LAB_ADMIN_USER)
    note("second run, API server writes (audit log)", "%d %s" % (count, described))
    assert count == 0, "the re-run wrote to the API server: %s" % described


# ------------------------------------------------------------------ 3
def test_03_rotation_in_vault_reaches_the_secret(flow):
    site = flow.need("converged")
    es = site.eso_object("externalsecrets", ES_NAME, ES_NAMESPACE)
    assert es["spec"]["refreshInterval"] == REFRESH_INTERVAL
    rotate_and_measure(site, "client_jwt")
    flow.done.add("rotation")


# ------------------------------------------------------------------ 3b
def test_03b_dynamic_database_credentials(flow):
    flow.need("converged")
    site, pg = flow.site, flow.pg
    vault = site.vault()
    # Vault holds what the role configured (read back, not taken from site.yml's report).
    connection = vault.read("database/config/demo-pg")["data"]
    assert connection["connection_details"]["username"] == PG_ROOT
    assert "password" not in connection["connection_details"]
    assert connection["allowed_roles"] == [PG_ROLE]
    role = vault.read("database/roles/%s" % PG_ROLE)["data"]
    assert role["db_name"] == "demo-pg" and role["default_ttl"] == 3600, role
    eso_role = vault.read("auth/%s/role/external-secrets-database" % site.auth_mount)["data"]
    assert eso_role["token_policies"] == ["%s-eso-database" % site.environment], eso_role
    # Bound to the ServiceAccount made for the generators, in their namespace only, with an audience.
    assert eso_role["bound_service_account_names"] == [DATABASE_SA], eso_role
    assert eso_role["bound_service_account_namespaces"] == [ES_NAMESPACE], eso_role
    assert eso_role["audience"] == "vault", eso_role
    policy = vault.sys.read_policy("%s-eso-database" % site.environment)["data"]["rules"]
    assert 'path "database/creds/%s"' % PG_ROLE in policy and "secret/" not in policy, policy
    generator = site.custom().get_namespaced_custom_object(
        "generators.external-secrets.io", "v1alpha1", ES_NAMESPACE, "vaultdynamicsecrets", PG_SECRET)
    assert generator["spec"]["path"] == "database/creds/%s" % PG_ROLE
    assert generator["spec"]["provider"]["auth"]["kubernetes"]["serviceAccountRef"] == {
        "name": DATABASE_SA, "audiences": ["vault"] + api_audiences(site)}, generator["spec"]
    site.core().read_namespaced_service_account(DATABASE_SA, ES_NAMESPACE)
    # client_jwt: TokenReview for the generators' ServiceAccount, and only it.
    binding = site.rbac().read_cluster_role_binding("%s-vault-database-auth-delegator" % site.environment)
    assert [(s.namespace, s.name) for s in binding.subjects] == [(ES_NAMESPACE, DATABASE_SA)]

    # Check mode with diff at -vvv on a changed TTL and refresh interval: reported, nothing
    # written (read back), and neither the root nor a dynamic password in the output.
    before_es = site.eso_object("externalsecrets", PG_SECRET, ES_NAMESPACE)
    run = site.site("database-check-diff-vvv", overrides={
        "vault_database_credentials_token_ttl": "20m", "vault_database_credentials_refresh_interval": "20m"},
        verbosity=3, extra_args=("--check", "--diff", "--tags", "vault_unseal,vault_database_credentials"))
    assert_run_ok(run)
    added = [line[1:].strip() for line in run.output.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert '"token_ttl": 1200,' in added and '"refreshInterval": "20m",' in added, "diff without the changes: %s" % run.log
    assert run.changed == 2, run.recap
    assert vault.read("auth/%s/role/external-secrets-database" % site.auth_mount)["data"]["token_ttl"] == 3600
    after_es = site.eso_object("externalsecrets", PG_SECRET, ES_NAMESPACE)
    assert after_es["spec"]["refreshInterval"] == "30m0s"
    assert after_es["metadata"]["resourceVersion"] == before_es["metadata"]["resourceVersion"]
    hidden = {"root": site.lab_value(PG_ROOT_PASSWORD_FILE), "dynamic": site.secret_data(ES_NAMESPACE, PG_SECRET)["password"]}
    assert not [name for name, value in hidden.items() if value in run.output], "a password in %s" % run.log
    note("--check --diff -vvv (database role)", "%.1f s, recap %s, no password in %d bytes" % (
        run.seconds, run.recap, len(run.output)))

    def login_with_secret():
        creds = site.secret_data(ES_NAMESPACE, PG_SECRET)
        if not creds or set(creds) != {"username", "password"}:
            return None
        return creds if pg.login_user(creds["username"], creds["password"]) == creds["username"] else None

    creds, seconds = wait_until("a login with the credentials in Secret %s/%s" % (ES_NAMESPACE, PG_SECRET),
                                login_with_secret, 30)
    flow.dynamic_passwords.append(creds["password"])
    assert creds["password"] != site.lab_value(PG_ROOT_PASSWORD_FILE)
    note("Secret demo/demo-pg (VaultDynamicSecret)", "user %s logs in to PostgreSQL (%.1f s)" % (creds["username"], seconds))

    # Revoked in Vault: the user is dropped from PostgreSQL and the login fails.
    vault.sys.revoke_prefix("database/creds/%s" % PG_ROLE)
    gone = pg.wait_role_gone(creds["username"], timeout=30)
    assert pg.login_user(creds["username"], creds["password"]) is None
    note("revoke-prefix database/creds/%s" % PG_ROLE, "user dropped after %.1f s, login refused" % gone)

    # A forced refresh makes the generator issue new credentials, which log in.
    site.custom().patch_namespaced_custom_object(
        "external-secrets.io", "v1", ES_NAMESPACE, "externalsecrets", PG_SECRET,
        {"metadata": {"annotations": {"force-sync": str(int(time.time()))}}})

    def new_login():
        current = login_with_secret()
        return current if current and current["username"] != creds["username"] else None

    fresh, seconds = wait_until("new credentials in Secret %s/%s" % (ES_NAMESPACE, PG_SECRET), new_login, 60)
    flow.dynamic_passwords.append(fresh["password"])
    note("forced refresh", "new user %s logs in (%.1f s)" % (fresh["username"], seconds))
    flow.done.add("database")


# ------------------------------------------------------------------ 3c
TENANTS = ("team-a", "team-b")
TENANT_SA = "vault-secrets"


# ------------------------------------------------------------------ 3d
def test_03d_a_tenant_cannot_borrow_an_identity(flow):
    site = flow.need("converged")
    vault = site.vault()
    audiences = ["vault"] + api_audiences(site)
    # What the roles wrote: every Vault role bound to a ServiceAccount made for it, with an audience.
    platform = vault.read("auth/%s/role/external-secrets" % site.auth_mount)["data"]
    assert (platform["bound_service_account_names"], platform["bound_service_account_namespaces"],
            platform["audience"]) == ([PLATFORM_SA[1]], [PLATFORM_SA[0]], "vault"), platform
    for name in TENANTS:
        assert vault.read("auth/%s/role/tenant-%s" % (site.auth_mount, name))["data"]["audience"] == "vault"
    store = site.eso_object("clustersecretstores", "vault-backend")["spec"]
    assert store["provider"]["vault"]["auth"]["kubernetes"]["serviceAccountRef"] == {
        "name": PLATFORM_SA[1], "namespace": PLATFORM_SA[0], "audiences": audiences}, store
    assert store["conditions"] == [{"namespaces": [ES_NAMESPACE]}], store
    # client_jwt: TokenReview for the ServiceAccounts that log in, not for ESO's controller account.
    binding = site.rbac().read_cluster_role_binding("%s-vault-client-jwt-auth-delegator" % site.environment)
    assert [(s.namespace, s.name) for s in binding.subjects] == [PLATFORM_SA]

    # Vault's own verdict: ESO's controller token and a tenant's token open no platform role.
    for namespace, account in (ESO_CONTROLLER_SA, ("team-a", TENANT_SA)):
        for role in ("external-secrets", "external-secrets-database", "tenant-team-b"):
            message = refused_login(site, namespace, account, role, audiences)
            note("Vault login %s/%s role %s" % (namespace, account, role), message)
    # A token of the platform's own account without the audience "vault": refused too.
    refused_login(site, PLATFORM_SA[0], PLATFORM_SA[1], "external-secrets", api_audiences(site))

    tenant = Tenant(site, "team-a")
    tenant.grant()
    try:
        assert tenant.can("create", "secretstores.external-secrets.io", "team-a")
        assert not tenant.can("create", "secretstores.external-secrets.io", ES_NAMESPACE)
        assert not tenant.can("create", "serviceaccounts/token", PLATFORM_SA[0])
        route_list = routes(site, "team-a", "%s/%s" % (site.environment, DB_PATH_SUFFIX), TENANT_SA,
                            database=("external-secrets-database", "database/creds/%s" % PG_ROLE, DATABASE_SA),
                            other_tenant_role="tenant-team-b")
        verdicts = try_routes(site, tenant, route_list, wait_until, note)
        assert len(verdicts) == len(route_list) == 8
    finally:
        tenant.revoke()
    # The platform's and the tenants' own stores still sync.
    assert site.ready("clustersecretstores", "vault-backend").get("status") == "True"
    assert_secret_matches_vault(site)
    for name in TENANTS:
        assert site.ready("secretstores", "vault", name).get("status") == "True"
        assert site.secret_data(name, "app-db") == site.kv_read("tenants/%s/db" % name), name
    assert site.ready("externalsecrets", PG_SECRET, ES_NAMESPACE).get("status") == "True"


def tenant_entry(name):
    """An entry of inventory/lab's vault_tenants_list."""
    return {"name": name, "kv_prefix": "tenants/%s" % name,
            "external_secrets": [{"name": "app-db", "refresh_interval": REFRESH_INTERVAL,
                                  "data_from": [{"extract": {"key": "tenants/%s/db" % name}}]}]}


def test_03c_tenants_read_only_their_own_folder(flow):
    site = flow.need("converged")
    vault = site.vault()
    for name in TENANTS:
        assert site.secret_data(name, "app-db") == site.kv_read("tenants/%s/db" % name), name
        role = vault.read("auth/%s/role/tenant-%s" % (site.auth_mount, name))["data"]
        assert role["bound_service_account_namespaces"] == [name]
        assert role["bound_service_account_names"] == [TENANT_SA]
        assert role["token_policies"] == ["tenant-%s" % name]

    # Vault's own verdict on a token of team-a's ServiceAccount: its folder, not team-b's.
    login = eso_login(site, "team-a", TENANT_SA, role="tenant-team-a")
    tenant_client = site.vault(token=False)
    tenant_client.token = login["auth"]["client_token"]
    assert tenant_client.secrets.kv.v2.read_secret_version(
        path="tenants/team-a/db", mount_point="secret", raise_on_deleted_version=True)["data"]["data"]
    with pytest.raises(hvac.exceptions.Forbidden):
        tenant_client.secrets.kv.v2.read_secret_version(path="tenants/team-b/db", mount_point="secret",
                                                        raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden, match="namespace not authorized"):
        eso_login(site, "team-b", TENANT_SA, role="tenant-team-a")

    # ESO: team-a asks for team-b's folder through its own store.
    group, version = "external-secrets.io", "v1"
    since = time.time()
    site.custom().create_namespaced_custom_object(group, version, "team-a", "externalsecrets", {
        "apiVersion": "%s/%s" % (group, version), "kind": "ExternalSecret", "metadata": {"name": "steal-b"},
        "spec": {"refreshInterval": REFRESH_INTERVAL, "secretStoreRef": {"kind": "SecretStore", "name": "vault"},
                 "target": {"name": "steal-b"}, "dataFrom": [{"extract": {"key": "tenants/team-b/db"}}]}})
    try:
        def refused():
            cond = site.ready("externalsecrets", "steal-b", "team-a")
            events = [m for m in site.warning_events("ExternalSecret", "steal-b", "team-a", since)
                      if "403" in m and "permission denied" in m]
            return (cond, events) if cond.get("status") == "False" and events else None

        (cond, events), seconds = wait_until("ExternalSecret team-a/steal-b to be refused", refused, 60)
        assert cond.get("reason") == "SecretSyncedError", cond
        assert "tenants/team-b/db" in events[-1]
        note("team-a reading team-b's folder", "refused in %.1f s; Ready=%s %s; event: %s" % (
            seconds, cond["status"], cond.get("reason"), " ".join(events[-1].split())[:300]))
        assert site.secret_data("team-a", "steal-b") is None
        assert site.ready("secretstores", "vault", "team-a").get("status") == "True"
    finally:
        site.custom().delete_namespaced_custom_object(group, version, "team-a", "externalsecrets", "steal-b")

    # team-b leaves the list; prune removes what was made for it, and nothing else.
    overrides = {"vault_tenants_prune": True, "vault_tenants_list": [tenant_entry("team-a")]}
    run = site.site("tenant-prune", overrides=overrides)
    assert_run_ok(run)
    note("site.yml without team-b, prune", "%.1f s, changed=%d" % (run.seconds, run.changed))
    tenant_changes = [task for task in changed_tasks(run) if "vault_tenants" in task]
    assert len(tenant_changes) == 2, tenant_changes  # one Vault call, one cluster call
    assert read_or_none(vault, "sys/policies/acl/tenant-team-b") is None
    assert read_or_none(vault, "auth/%s/role/tenant-team-b" % site.auth_mount) is None
    assert read_or_none(vault, "sys/policies/acl/tenant-team-a") is not None
    assert read_or_none(vault, "sys/policies/acl/%s-eso-read" % site.environment) is not None
    assert read_or_none(vault, "auth/%s/role/external-secrets" % site.auth_mount) is not None
    roles = vault.list("auth/%s/role" % site.auth_mount)["data"]["keys"]
    assert "tenant-team-a" in roles and "external-secrets" in roles and "tenant-team-b" not in roles, roles
    for plural in ("secretstores", "externalsecrets"):
        with pytest.raises(ApiException) as gone:
            site.eso_object(plural, "vault" if plural == "secretstores" else "app-db", "team-b")
        assert site.not_found(gone.value), gone.value
    with pytest.raises(ApiException) as gone:
        site.core().read_namespaced_service_account(TENANT_SA, "team-b")
    assert site.not_found(gone.value)
    with pytest.raises(ApiException) as gone:
        site.rbac().read_cluster_role_binding("vault-tenant-team-b-auth-delegator")
    assert site.not_found(gone.value)
    site.rbac().read_cluster_role_binding("vault-tenant-team-a-auth-delegator")
    assert site.ready("secretstores", "vault", "team-a").get("status") == "True"
    assert site.ready("clustersecretstores", "vault-backend").get("status") == "True"
    assert site.secret_data("team-a", "app-db") == site.kv_read("tenants/team-a/db")
    again = site.site("tenant-prune-again", overrides=overrides)
    assert_unchanged(again, "the pruning run re-run")
    flow.done.add("tenants")


# ------------------------------------------------------------------ 4
def test_04_unbound_service_account_is_refused(flow):
    site = flow.need("converged")
    core = site.core()
    ns, sa = "e2e-intruder", "intruder"
    core.create_namespace({"metadata": {"name": ns}})
    try:
        core.create_namespaced_service_account(ns, {"metadata": {"name": sa}})

        # Vault itself: the platform store's ServiceAccount may log in, the other one may not.
        allowed = eso_login(site, *PLATFORM_SA)
        assert "%s-eso-read" % site.environment in allowed["auth"]["policies"]
        with pytest.raises(hvac.exceptions.Forbidden) as refused:
            eso_login(site, ns, sa)
        note("Vault login as %s/%s" % (ns, sa), str(refused.value).split(", on post", maxsplit=1)[0])

        # ESO: a SecretStore presenting that ServiceAccount, same Vault, same role.
        cluster_store = site.eso_object("clustersecretstores", "vault-backend")
        provider = cluster_store["spec"]["provider"]
        provider["vault"]["auth"]["kubernetes"]["serviceAccountRef"] = {"name": sa}
        group, version = "external-secrets.io", "v1"
        since = time.time()
        site.custom().create_namespaced_custom_object(group, version, ns, "secretstores", {
            "apiVersion": "%s/%s" % (group, version), "kind": "SecretStore",
            "metadata": {"name": "intruder-store"}, "spec": {"provider": provider}})
        site.custom().create_namespaced_custom_object(group, version, ns, "externalsecrets", {
            "apiVersion": "%s/%s" % (group, version), "kind": "ExternalSecret",
            "metadata": {"name": "intruder-db"},
            "spec": {"refreshInterval": REFRESH_INTERVAL,
                     "secretStoreRef": {"kind": "SecretStore", "name": "intruder-store"},
                     "target": {"name": "intruder-db"},
                     "data": [{"secretKey": "password",
                               "remoteRef": {"key": db_path(site), "property": "password"}}]}})

        def failed(plural, name, kind, words):
            cond = site.ready(plural, name, ns)
            events = [m for m in site.warning_events(kind, name, ns, since)
                      if any(w in m.lower() for w in words)]
            return (cond, events) if cond.get("status") == "False" and events else None

        # Vault's refusal is reported on the store; ESO 0.20 then does not use a
        # store that is not Ready, and says so on the ExternalSecret.
        store_cond, store_events = wait_until(
            "SecretStore intruder-store to be refused",
            lambda: failed("secretstores", "intruder-store", "SecretStore", REFUSED_WORDS), 60)[0]
        es_cond, es_events = wait_until(
            "ExternalSecret intruder-db to fail",
            lambda: failed("externalsecrets", "intruder-db", "ExternalSecret", REFUSED_WORDS + ("not ready",)), 60)[0]
        assert es_cond.get("reason") == "SecretSyncedError", es_cond
        note("SecretStore intruder-store Ready", "%s %s: %s" % (store_cond["status"], store_cond.get("reason"),
                                                                store_cond.get("message")))
        note("  its Warning event", store_events[-1][:300])
        note("ExternalSecret intruder-db Ready", "%s %s: %s" % (es_cond["status"], es_cond.get("reason"),
                                                                es_cond.get("message")))
        note("  its Warning event", es_events[-1][:300])
        assert site.secret_data(ns, "intruder-db") is None, "no Secret may be written for the refused store"
        # ... while the bound store keeps working.
        assert site.ready("clustersecretstores", "vault-backend").get("status") == "True"
    finally:
        core.delete_namespace(ns)
        wait_until("namespace %s to be deleted" % ns, lambda: namespace_gone(site, core, ns), 90)


def namespace_gone(site, core, ns):
    """True once the API server answers 404 for the namespace; any other error fails."""
    try:
        core.read_namespace(ns)
    except ApiException as exc:
        if site.not_found(exc):
            return True
        raise
    return False


# ------------------------------------------------------------------ 5
def test_05_reviewer_jwt_mode_in_place(flow):
    site = flow.need("converged")
    config = switch_to_reviewer_jwt(site)
    assert config["token_reviewer_jwt_set"] is True, config

    # Proof that Vault now reviews with the reviewer JWT, not with the client's
    # own: the role removed the client_jwt mode's system:auth-delegator binding of
    # the ESO ServiceAccount, and ESO still logs in.
    binding = "%s-vault-client-jwt-auth-delegator" % site.environment
    with pytest.raises(ApiException) as gone:
        site.rbac().read_cluster_role_binding(binding)
    assert site.not_found(gone.value), "the client_jwt binding was left behind: %s" % gone.value
    with pytest.raises(ApiException) as gone:
        site.rbac().read_cluster_role_binding("%s-vault-database-auth-delegator" % site.environment)
    assert site.not_found(gone.value), "the generators' binding was left behind: %s" % gone.value
    assert "%s-eso-read" % site.environment in eso_login(site, *PLATFORM_SA)["auth"]["policies"]

    assert_secret_matches_vault(site)
    rotate_and_measure(site, "reviewer_jwt")
    flow.done.add("reviewer")


# ------------------------------------------------------------------ 6
def test_06_sealed_vault_is_reported_by_eso(flow):
    site = flow.need("converged", "reviewer")
    root = site.vault()
    # Kept for step 7's leak check: the value Vault holds while it is sealed.
    flow.password_in_vault = site.kv_read(db_path(site))["password"]
    since = time.time()
    root.sys.seal()
    assert site.vault(token=False).sys.read_seal_status()["sealed"] is True
    flow.done.add("sealed")
    sealed_at = time.monotonic()

    def es_failed():
        cond = site.ready("externalsecrets", ES_NAME, ES_NAMESPACE)
        events = [m for m in site.warning_events("ExternalSecret", ES_NAME, ES_NAMESPACE, since)
                  if any(w in m.lower() for w in SEALED_WORDS)]
        return (cond, events) if cond.get("status") == "False" and events else None

    what = "ExternalSecret %s/%s to report the sealed Vault" % (ES_NAMESPACE, ES_NAME)
    (es_cond, es_events), seconds = wait_until(what, es_failed, REFRESH_SECONDS + 50)
    assert es_cond.get("reason") == "SecretSyncedError", es_cond
    note("sealed -> ExternalSecret Ready=False",
         "after %.1f s: %s: %s" % (seconds, es_cond.get("reason"), es_cond.get("message")))
    note("  Vault's error (its Warning event)", es_events[-1][:300])

    # ESO re-validates a Ready store only every 5 minutes; any update of the store
    # triggers a reconcile, which must now find Vault sealed.
    site.custom().patch_cluster_custom_object(
        "external-secrets.io", "v1", "clustersecretstores", "vault-backend",
        {"metadata": {"annotations": {"e2e.vaultkube.io/revalidate": str(int(time.time()))}}})

    def store_failed():
        cond = site.ready("clustersecretstores", "vault-backend")
        events = [m for m in site.warning_events("ClusterSecretStore", "vault-backend", None, since)
                  if any(w in m.lower() for w in SEALED_WORDS)]
        return (cond, events) if cond.get("status") == "False" and events else None

    (store_cond, store_events), seconds = wait_until("ClusterSecretStore vault-backend to report the sealed Vault",
                                                     store_failed, 60)
    note("sealed -> ClusterSecretStore Ready=False", "after %.1f s: %s: %s" % (
        seconds, store_cond.get("reason"), store_cond.get("message")))
    note("  Vault's error (its Warning event)", store_events[-1][:300])
    note("time sealed before the re-run", "%.1f s" % (time.monotonic() - sealed_at))


# ------------------------------------------------------------------ 7
def test_07_rerun_unseals_and_leaks_nothing_at_vvv(flow):
    site = flow.need("converged", "reviewer", "sealed")
    # Values that must not appear, collected before the run (the run restores the seeds).
    init = site.init_data()
    reviewer_jwt = site.secret_data("vault-auth", "vault-reviewer-token")["token"]
    rotated = flow.password_in_vault
    secret_values = {"unseal key %d" % i: k for i, k in enumerate(init["keys"])}
    secret_values.update({"unseal key (base64) %d" % i: k for i, k in enumerate(init["keys_base64"])})
    secret_values.update({
        "root token": init.get("root_token"),
        "reviewer JWT": reviewer_jwt,
        "keys file password": site.lab_value("keys-password"),
        "seeded secret/lab/demo/db password": site.lab_value("demo-db-password"),
        "seeded secret/lab/demo/app API_KEY": site.lab_value("demo-api-key"),
        "rotated password in Vault": rotated,
        "PostgreSQL root password (Vault's connection)": site.lab_value(PG_ROOT_PASSWORD_FILE),
    })
    # The tenants' seeded values (vault_tenants; team-b comes back in this run).
    secret_values.update({"seeded secret/tenants/%s/db password" % name: site.lab_value("%s-db-password" % name)
                          for name in TENANTS})
    secret_values.update({"dynamic PostgreSQL password %d" % i: p for i, p in enumerate(flow.dynamic_passwords)})
    current = site.secret_data(ES_NAMESPACE, PG_SECRET) or {}
    secret_values["dynamic PostgreSQL password in the Secret"] = current.get("password")
    # The JWT's signature alone would identify it as well.
    secret_values["reviewer JWT signature"] = reviewer_jwt.rsplit(".", 1)[-1]

    vvv_run_leaking_nothing(site, "site.yml -vvv re-run on the sealed Vault",
                            {"vault_kubernetes_auth_mode": "reviewer_jwt"}, secret_values)

    assert site.vault(token=False).sys.read_seal_status()["sealed"] is False
    assert site.ready("clustersecretstores", "vault-backend").get("status") == "True"
    assert site.ready("externalsecrets", ES_NAME, ES_NAMESPACE).get("status") == "True"
    assert_secret_matches_vault(site)
    rotate_and_measure(site, "after unseal")


# ------------------------------------------------------------------ 8
def test_08_back_to_client_jwt_in_place(flow):
    site = flow.need("converged", "reviewer")
    run = site.site("client-jwt")
    note("site.yml switch back to client_jwt", "%.1f s, recap %s" % (run.seconds, run.recap))
    assert_run_ok(run)
    config = site.auth_config()
    assert config["token_reviewer_jwt_set"] is False, "the reviewer JWT must be gone in client_jwt mode: %s" % config
    assert config["disable_local_ca_jwt"] is True
    binding = "%s-vault-client-jwt-auth-delegator" % site.environment
    assert site.rbac().read_cluster_role_binding(binding).subjects[0].name == PLATFORM_SA[1]
    with pytest.raises(ApiException) as gone:
        site.rbac().read_cluster_role_binding("%s-vault-reviewer-jwt-auth-delegator" % site.environment)
    assert site.not_found(gone.value), "the reviewer_jwt binding was left behind: %s" % gone.value
    assert_secret_matches_vault(site)
    rotate_and_measure(site, "client_jwt again")
