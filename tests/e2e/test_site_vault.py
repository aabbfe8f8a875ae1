"""End-to-end on HashiCorp Vault: `ansible-playbook -i inventory/lab playbooks/site.yml`
with the lab's Vault binary (tests/lab/build.sh vault) installed by vault_install in place
of OpenBao, on a private lab. State read back from Vault and the API server.

 1  first run: Vault (not OpenBao) answers; the synced Secret equals the Vault value; the
    tenants' Secrets too; the default file audit device was enabled through the API (Vault
    has no audit stanza) and records this test's requests, 0600, owned by the service user
 1b seed 000's GitHub auth for humans, given as data (organization and its id, token TTLs, the
    teams DEVS_RW and DEVS_RO and one user mapped to the three seed-000 policies), read back
    from Vault: the configuration, the maps and the policies' text
 2  second run: PLAY RECAP changed=0 (GitHub auth included)
"""

import os
import pwd

import pytest

from e2e_fleet import admin_token_requests, site_writes
from e2e_site import PrivateSite, assert_unchanged, note, pids_running, stopped_after
from lab_helpers import LAB_ADMIN_USER, AuditLog, wait_for

from vaultkube_testlib import audit_entries, vault_binary

pytestmark = pytest.mark.needs_root("the lab inventory creates a system user and runs Vault as it")


# Seed 000's access for humans, as inventory data: three policies, two GitHub teams and one user mapped
# to them. organization_id lets Vault write the configuration without asking GitHub (none here).
SEED_000_POLICIES = [
    {"name": "vault_admin", "policy": 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list", "sudo"]\n}\n'},
    {"name": "rw_access_policy", "policy": 'path "kv/*" {\n  capabilities = ["create", "read", "update", "delete", "list"]\n}\n'},
    {"name": "ro_access_policy", "policy": 'path "kv/*" {\n  capabilities = ["read", "list"]\n}\n'},
]
SEED_000_GITHUB = {
    "vault_kubernetes_auth_github_enabled": True,
    "vault_kubernetes_auth_github_organization": "vaultkube-e2e",
    "vault_kubernetes_auth_github_organization_id": 424242,
    "vault_kubernetes_auth_github_token_ttl": "1h",
    "vault_kubernetes_auth_github_token_max_ttl": "8h",
    "vault_kubernetes_auth_github_teams": {"DEVS_RW": ["rw_access_policy"], "DEVS_RO": ["ro_access_policy"]},
    "vault_kubernetes_auth_github_users": {"vaultkube-admin": ["vault_admin"]},
    "vault_kubernetes_auth_extra_policies": SEED_000_POLICIES,
}


class VaultSite(PrivateSite):
    binary_name = "vault"

    def __init__(self):
        super().__init__(service_user="vkube-e2e-vault")
        self.service_name = "vault-e2e"

    def _write_extra_vars(self):
        super()._write_extra_vars()
        self.set_extra_vars(vault_install_binary_name="vault", vault_install_binary_src=vault_binary(),
                            vault_install_service_name=self.service_name, **SEED_000_GITHUB)


@pytest.fixture(scope="module")
def site(request):
    site_ = VaultSite()
    with stopped_after(request, site_):
        note("private lab start (up.sh)", "%.1f s" % site_.start())
        yield site_


def test_01_site_yml_on_hashicorp_vault(site):
    run = site.site("first")
    note("site.yml first run on Vault", "%.1f s, recap %s" % (run.seconds, run.recap))
    assert run.ok, run.failure()
    vault = site.vault()
    health = vault.sys.read_health_status(method="GET")
    assert health["version"] == "1.21.0" and health["initialized"] and not health["sealed"], health
    binary = os.path.join(site.vault_root, "bin", "vault")
    assert pids_running(binary), "no process runs %s" % binary
    assert site.secret_data("demo", "demo-db") == site.kv_read("%s/demo/db" % site.environment)
    for tenant in ("team-a", "team-b"):
        assert site.secret_data(tenant, "app-db") == site.kv_read("tenants/%s/db" % tenant), tenant

    devices = vault.sys.list_enabled_audit_devices()["data"]
    audit_log = os.path.join(site.vault_root, "log", "audit.log")
    assert devices["file/"]["options"]["file_path"] == audit_log, devices
    config = open(os.path.join(site.vault_root, "etc", "%s.hcl" % site.service_name), encoding="utf-8").read()
    assert 'audit "' not in config, "Vault has no audit stanza: the device must come through the API"
    canary = "/%s/demo/db" % site.environment

    def read_logged():
        site.kv_read("%s/demo/db" % site.environment)
        entries = audit_entries(audit_log)
        if any(e["type"] == "response" and e["request"].get("path", "").endswith(canary) for e in entries):
            return entries
        return None

    entries = wait_for("the test's KV read in Vault's audit log %s" % audit_log, read_logged, timeout=30, interval=1)
    info = os.stat(audit_log)
    assert (oct(info.st_mode & 0o777), pwd.getpwuid(info.st_uid).pw_name) == ("0o600", site.service_user)
    password = site.kv_read("%s/demo/db" % site.environment)["password"]
    with open(audit_log, encoding="utf-8") as handle:
        assert password not in handle.read(), "a KV value in plain text in the audit log"
    note("Vault audit device", "file/ through the API, 0600 %s, %d entries" % (site.service_user, len(entries)))


def test_01b_seed_000_github_auth_is_in_vault(site):
    vault = site.vault()
    assert vault.sys.list_auth_methods()["data"]["github/"]["type"] == "github"
    config = vault.read("auth/github/config")["data"]
    assert (config["organization"], config["organization_id"]) == ("vaultkube-e2e", 424242), config
    assert (config["token_ttl"], config["token_max_ttl"]) == (3600, 28800), config
    maps = {}
    for kind in ("teams", "users"):
        for key in vault.list("auth/github/map/%s" % kind)["data"]["keys"]:
            maps[(kind, key)] = vault.read("auth/github/map/%s/%s" % (kind, key))["data"]["value"]
    assert maps == {("teams", "devs_rw"): "rw_access_policy", ("teams", "devs_ro"): "ro_access_policy",
                    ("users", "vaultkube-admin"): "vault_admin"}, maps
    for policy in SEED_000_POLICIES:
        assert vault.sys.read_acl_policy(policy["name"])["data"]["policy"].strip() == policy["policy"].strip()
    note("seed 000 GitHub auth", "organization, id, TTLs, 2 team and 1 user maps, 3 policies read back")


def test_02_second_run_changes_nothing(site):
    audit_log, api_audit = os.path.join(site.vault_root, "log", "audit.log"), AuditLog()
    vault_mark, api_mark = os.path.getsize(audit_log), api_audit.mark()
    run = site.site("second")
    note("site.yml second run on Vault", "%.1f s, recap %s" % (run.seconds, run.recap))
    assert_unchanged(run, "second run")
    # Read from both audit logs: no write of site.yml to Vault but the admin token's own lifecycle
    # (named), none of the lab admin to the API server.
    entries = audit_entries(audit_log, vault_mark)
    note("second run, Vault writes (audit log)", "%d: %s; the admin token's own lifecycle: %s"
         % (len(site_writes(entries)), site_writes(entries) or "none", admin_token_requests(entries) or "none"))
    assert site_writes(entries) == [], "the re-run wrote to Vault: %s" % site_writes(entries)
    count, described = api_audit.writes(api_mark, LAB_ADMIN_USER)
    assert count == 0, "the re-run wrote to the API server: %s" % described
