"""End-to-end: one OpenBao, three lab clusters (`inventory/lab-fleet` with
`playbooks/site.yml`): each cluster its own API server, etcd, CA and ServiceAccount
issuer (tests/lab/fleet.sh), its own auth mount, policy, ESO and Secret. Everything is
read back from Vault and from each API server, never taken from `changed`.

 1  first run: every cluster's Secret holds its own KV folder (read from its API server);
    Vault has one auth mount per cluster, configured with that cluster's API address and CA
 2  isolation: a ServiceAccount token from cluster A's API server (TokenRequest) logs in at
    A's mount and is refused at B's and C's; A's Vault token reads A's folder, not B's
 3  re-run: changed=0, no root-token write in OpenBao's audit log (the first run's writes are
    seen by the same filter), no admin write in any API server's audit log
 1b one KV prefix for two clusters is refused before any write unless declared shared
 4  cluster C removed from the inventory, run with the opt-in prune: C's auth mount (its role
    and config with it) and policy are gone; every other auth mount, policy and the KV data
    are as before (Vault listed before and after), A and B still log in
"""

import hvac
import pytest

from e2e_fleet import Fleet, admin_token_writes, root_requests, root_writes
from e2e_site import Flow, assert_run_ok, assert_unchanged, note, stopped_after
from lab_helpers import LAB_ADMIN_USER, AuditLog, jwt_claims, wait_for
from vaultkube_testlib import audit_entries

pytestmark = pytest.mark.needs_root("the lab inventory creates a system user and runs OpenBao as it")

CLUSTERS = ["fleet-a", "fleet-b", "fleet-c"]
PREFIX = "kubernetes-"
ES_NAMESPACE, ES_NAME = "demo", "cluster-demo"
# The ServiceAccount vault_kubernetes_auth made for the platform store (not ESO's controller account).
ESO_NAMESPACE, ESO_SA, ESO_ROLE = "external-secrets", "vault-platform-reader", "external-secrets"


def store_token(fleet, name):
    """A token of cluster NAME's platform ServiceAccount with the audiences its store requests
    (client_jwt: "vault" and that API server's own audience)."""
    default = jwt_claims(fleet.service_account_token(name, ESO_NAMESPACE, ESO_SA))["aud"]
    own = [default] if isinstance(default, str) else list(default)
    return fleet.service_account_token(name, ESO_NAMESPACE, ESO_SA, audiences=["vault"] + own)


@pytest.fixture(scope="module")
def flow(request):
    fleet = Fleet(CLUSTERS)
    with stopped_after(request, fleet):
        seconds = fleet.start()
        note("fleet lab start (3 clusters, fleet.sh up)", "%.1f s, ports from %d" % (seconds, fleet.port_base))
        yield Flow(fleet)


def kv(vault, path):
    return vault.secrets.kv.v2.read_secret_version(path=path, mount_point="secret",
                                                   raise_on_deleted_version=True)["data"]["data"]


def vault_listing(vault):
    """Every auth mount (path, type, accessor) and every policy with its text."""
    mounts = {path: (m["type"], m["accessor"]) for path, m in vault.sys.list_auth_methods()["data"].items()}
    policies = {name: vault.sys.read_policy(name)["data"]["rules"]
                for name in vault.sys.list_policies()["data"]["policies"]}
    return mounts, policies


def login(fleet, mount, jwt):
    """(True, policies) or (False, error text) for a Kubernetes login at MOUNT. Refused means 403
    (another cluster's token, or a mount that is gone); any other error fails the test."""
    client = fleet.vault(token=False)
    try:
        res = client.auth.kubernetes.login(ESO_ROLE, jwt, mount_point=mount)
    except hvac.exceptions.Forbidden as exc:
        return False, str(exc).splitlines()[0]
    return True, res["auth"]["policies"]


# ------------------------------------------------------------------ 1
def test_01_first_run_syncs_every_cluster(flow):
    fleet = flow.site
    run = fleet.site("first")
    note("site.yml first run, 3 clusters", "%.1f s, recap %s" % (run.seconds, run.recap))
    assert_run_ok(run)
    assert set(run.recap) == set(CLUSTERS) | {"localhost", "vault-lab"}, run.recap
    vault = fleet.vault()
    auth = vault.sys.list_auth_methods()["data"]
    for name in CLUSTERS:
        mount = PREFIX + name
        assert auth.get(mount + "/", {}).get("type") == "kubernetes", sorted(auth)
        config = vault.read("auth/%s/config" % mount)["data"]
        assert config["kubernetes_host"] == fleet.api_url(name), config
        assert config["kubernetes_ca_cert"].strip() == fleet.ca_pem(name).strip(), "%s: wrong CA in Vault" % mount
        role = vault.read("auth/%s/role/%s" % (mount, ESO_ROLE))["data"]
        assert role["token_policies"] == [mount + "-eso-read"], role
        rules = vault.sys.read_policy(mount + "-eso-read")["data"]["rules"]
        assert 'path "secret/data/clusters/%s/*"' % name in rules, rules
    # The CAs differ, so the mounts cannot accept each other's tokens by mistake.
    assert len({fleet.ca_pem(n) for n in CLUSTERS}) == len(CLUSTERS)
    for name in CLUSTERS:
        want = kv(vault, "clusters/%s/demo" % name)
        assert want["cluster"] == name
        got = wait_for("%s: Secret %s/%s equal to Vault" % (name, ES_NAMESPACE, ES_NAME),
                       lambda n=name, w=want: fleet.secret_data(n, ES_NAMESPACE, ES_NAME) == w and w,
                       timeout=90, interval=1.0)
        assert got == want
    note("first run: each cluster's Secret", "equal to its own clusters/<name>/demo in Vault (3 of 3)")
    flow.done.add("converged")


# ------------------------------------------------------------------ 1b
def test_01b_one_kv_prefix_for_two_clusters_is_refused(flow):
    fleet = flow.need("converged")
    vault_mark = fleet.audit_mark()
    run = fleet.site("shared-prefix", overrides={"vault_kubernetes_auth_kv_prefix": "clusters/shared"},
                     extra_args=("--check",))
    assert not run.ok, "three clusters on one KV prefix were accepted"
    assert "vault_kubernetes_auth_kv_prefix: clusters/shared is also the KV prefix of fleet-" in run.output, run.log
    assert root_writes(audit_entries(fleet.audit_log, vault_mark)) == []
    note("three clusters on one KV prefix", "refused in preflight, 0 writes")
    # Declared shared by every cluster: accepted (check mode only, nothing written).
    run = fleet.site("shared-prefix-declared", overrides={
        "vault_kubernetes_auth_kv_prefix": "clusters/shared", "vault_kubernetes_auth_kv_prefix_shared_by": CLUSTERS},
        extra_args=("--check",))
    assert "is also the KV prefix of" not in run.output, run.log


# ------------------------------------------------------------------ 2
def test_02_token_of_one_cluster_is_refused_by_another(flow):
    fleet = flow.need("converged")
    results = {}
    for source in CLUSTERS:
        jwt = store_token(fleet, source)
        for target in CLUSTERS:
            ok, detail = login(fleet, PREFIX + target, jwt)
            results[(source, target)] = (ok, detail)
            if source == target:
                assert ok, "%s's token refused by its own mount: %s" % (source, detail)
                assert PREFIX + source + "-eso-read" in detail
            else:
                assert not ok, "%s's token accepted by %s's mount: %s" % (source, target, detail)
    refused = [d for (s, t), (ok, d) in results.items() if s != t]
    note("cross-cluster logins", "6 of 6 refused (e.g. %s); 3 of 3 own-mount logins accepted" % refused[0])
    # A's Vault token reads A's folder and nothing of B's.
    client = fleet.vault(token=False)
    client.token = client.auth.kubernetes.login(
        ESO_ROLE, store_token(fleet, "fleet-a"),
        mount_point=PREFIX + "fleet-a")["auth"]["client_token"]
    assert kv(client, "clusters/fleet-a/demo")["cluster"] == "fleet-a"
    with pytest.raises(hvac.exceptions.Forbidden):
        kv(client, "clusters/fleet-b/demo")
    note("fleet-a's Vault token", "reads clusters/fleet-a, 403 on clusters/fleet-b")


# ------------------------------------------------------------------ 3
def test_03_rerun_writes_nothing(flow):
    fleet = flow.need("converged")
    vault_mark = fleet.audit_mark()
    api_marks = {n: AuditLog(fleet.api_audit_log(n)) for n in CLUSTERS}
    marks = {n: a.mark() for n, a in api_marks.items()}
    run = fleet.site("second")
    note("site.yml re-run, 3 clusters", "%.1f s, recap %s" % (run.seconds, run.recap))
    assert_unchanged(run, "re-run")
    first = root_writes(audit_entries(fleet.audit_log, 0))
    assert len(first) > 10, first
    entries = audit_entries(fleet.audit_log, vault_mark)
    assert root_writes(entries) == []
    # No standing root token: the run minted its admin token and revoked it and the root token
    # it was made from (two revocations for every token minted).
    minted, revoked = admin_token_writes(entries)
    assert minted >= 1 and revoked == 2 * minted, (minted, revoked)
    for name, audit in api_marks.items():
        count, described = audit.writes(marks[name], user=LAB_ADMIN_USER)
        assert count == 0, "%s: re-run wrote to its API server: %s" % (name, described)
    note("re-run read back", "0 root-token writes in OpenBao's audit log (first run: %d), %d root-token requests; "
         "0 admin writes in the 3 API servers' audit logs" % (len(first), len(root_requests(entries))))
    flow.done.add("rerun")


# ------------------------------------------------------------------ 4
def test_04_removing_a_cluster_prunes_its_mount_role_and_policy_only(flow):
    fleet = flow.need("converged")
    vault = fleet.vault()
    # Objects of other owners, one with the fleet's prefix in a place prune must not look at.
    vault.sys.enable_auth_method("kubernetes", path="team-x-kubernetes")
    vault.sys.create_or_update_policy("unrelated-read", 'path "secret/data/x/*" { capabilities = ["read"] }')
    before_mounts, before_policies = vault_listing(vault)
    kv_before = {n: kv(vault, "clusters/%s/demo" % n) for n in CLUSTERS}
    kept = CLUSTERS[:2]
    removed = CLUSTERS[2]
    # Without the opt-in, the removed cluster's objects stay.
    run = fleet.site("without-c", clusters=kept)
    assert_run_ok(run)
    assert vault_listing(vault) == (before_mounts, before_policies)
    run = fleet.site("without-c-prune", clusters=kept, overrides={"vault_kubernetes_auth_fleet_prune": True})
    note("site.yml without %s, prune on" % removed, "%.1f s, recap %s" % (run.seconds, run.recap))
    assert_run_ok(run)
    after_mounts, after_policies = vault_listing(vault)
    gone_mounts = set(before_mounts) - set(after_mounts)
    gone_policies = set(before_policies) - set(after_policies)
    assert gone_mounts == {PREFIX + removed + "/"}, gone_mounts
    assert gone_policies == {PREFIX + removed + "-eso-read"}, gone_policies
    # Nothing else changed: same accessors (not re-created), same policy texts, same KV data.
    assert after_mounts == {k: v for k, v in before_mounts.items() if k not in gone_mounts}
    assert after_policies == {k: v for k, v in before_policies.items() if k not in gone_policies}
    assert {n: kv(vault, "clusters/%s/demo" % n) for n in CLUSTERS} == kv_before
    for name in kept:
        ok, detail = login(fleet, PREFIX + name, store_token(fleet, name))
        assert ok, detail
    ok, detail = login(fleet, PREFIX + removed, store_token(fleet, removed))
    assert not ok
    note("prune of %s" % removed, "removed %s and %s; %d other auth mounts and %d policies unchanged (listed "
         "before and after), KV data kept; %s login now refused (%s)"
         % (sorted(gone_mounts)[0], sorted(gone_policies)[0], len(after_mounts), len(after_policies), removed, detail))
    run = fleet.site("without-c-prune-again", clusters=kept, overrides={"vault_kubernetes_auth_fleet_prune": True})
    assert_unchanged(run, "the pruning run re-run")
    assert vault_listing(vault) == (after_mounts, after_policies)
