"""Borrowing routes: what a tenant with full rights in its own namespace (and nothing else)
may try in order to use an identity that is not its own, each tried through ESO as that
tenant (kubectl --as, a Role/RoleBinding on its namespace only) and read back from the API
server: every route must end Ready=False, with Vault's 403 or ESO's refusal, and no Secret.

Used by the site flow (inventory/lab, ESO as a local process) and the cluster flow
(inventory/lab-cluster, ESO as pods).
"""

import json
import os
import time

import hvac

from lab_helpers import LAB, jwt_claims, kubectl_run

ESO = "external-secrets.io", "v1"
GENERATORS = "generators.external-secrets.io", "v1alpha1"
#: words of a refusal in ESO's condition or events: Vault's 403, or ESO's own refusal
#: (a ClusterSecretStore whose conditions exclude the namespace, a store not Ready).
REFUSED_WORDS = ("403", "permission denied", "not authorized", "not allowed", "denied", "not ready",
                 "forbidden", "invalid")
TENANT_USER = "e2e-tenant"


def api_audiences(site):
    """The API server's own audiences: those of a token requested with none."""
    token = site.service_account_token("default", "default")
    aud = jwt_claims(token)["aud"]
    return [aud] if isinstance(aud, str) else list(aud)


def login(site, namespace, service_account, role, audiences):
    """Vault's own verdict on a token of that ServiceAccount for that role."""
    body = {"spec": {"expirationSeconds": 600, "audiences": audiences}}
    jwt = site.core().create_namespaced_service_account_token(service_account, namespace, body).status.token
    return site.vault(token=False).auth.kubernetes.login(role=role, jwt=jwt, mount_point=site.auth_mount,
                                                         use_token=False)


def refused_login(site, namespace, service_account, role, audiences):
    """The error of a refused login: 403, Vault's answer for a token the role does not accept (fails
    when Vault lets it in; any other error, such as 400 for a role that does not exist, fails too)."""
    try:
        login(site, namespace, service_account, role, audiences)
    except hvac.exceptions.Forbidden as exc:
        return str(exc).split(", on post", maxsplit=1)[0]
    raise AssertionError("Vault let %s/%s log in with role %s" % (namespace, service_account, role))


class Tenant:
    """A user with every right in one namespace and none elsewhere; acts through kubectl --as."""

    def __init__(self, site, namespace, user=TENANT_USER):
        self.site, self.namespace, self.user = site, namespace, user
        self.kubectl = os.path.join(LAB["LAB_BIN"], "kubectl")

    def grant(self):
        rbac = self.site.rbac()
        name = "%s-everything" % self.user
        rbac.create_namespaced_role(self.namespace, {
            "metadata": {"name": name},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})
        rbac.create_namespaced_role_binding(self.namespace, {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": self.user}]})

    def revoke(self):
        name = "%s-everything" % self.user
        for call in (self.site.rbac().delete_namespaced_role_binding, self.site.rbac().delete_namespaced_role):
            try:
                call(name, self.namespace)
            except Exception as exc:  # noqa: BLE001 - gone already is fine
                if not self.site.not_found(exc):
                    raise

    def kubectl_as(self, *args, stdin=None):
        return kubectl_run(*args, binary=self.kubectl, kubeconfig=self.site.kubeconfig, user=self.user, check=False,
                           stdin=stdin)

    def apply(self, *objects):
        """Creates the objects as the tenant; returns the admission refusals (ESO's webhook
        refuses some stores outright), fails on any other error."""
        res = self.kubectl_as("apply", "-n", self.namespace, "-f", "-",
                              stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))
        refusals = [line for line in res.stderr.splitlines() if "denied the request" in line]
        assert res.returncode == 0 or refusals, "the tenant could not create its own objects: %s" % res.stderr
        return refusals

    def can(self, verb, resource, namespace):
        res = self.kubectl_as("auth", "can-i", verb, resource, "-n", namespace)
        return res.stdout.strip() == "yes"


def _store(name, provider, role, mount, ref=None):
    auth = {"mountPath": mount, "role": role}
    if ref is not None:
        auth["serviceAccountRef"] = ref
    vault = {k: v for k, v in provider.items() if k in ("server", "path", "version", "caBundle")}
    vault["auth"] = {"kubernetes": auth}
    return {"apiVersion": "%s/%s" % ESO, "kind": "SecretStore", "metadata": {"name": name},
            "spec": {"provider": {"vault": vault}}}


def _external(name, store_kind, store_name, key):
    return {"apiVersion": "%s/%s" % ESO, "kind": "ExternalSecret", "metadata": {"name": name},
            "spec": {"refreshInterval": "30s", "secretStoreRef": {"kind": store_kind, "name": store_name},
                     "target": {"name": name}, "dataFrom": [{"extract": {"key": key}}]}}


def _generated(name, provider, role, mount, path, ref=None):
    auth = {"mountPath": mount, "role": role}
    if ref is not None:
        auth["serviceAccountRef"] = ref
    vault = {k: v for k, v in provider.items() if k in ("server", "caBundle")}
    vault["auth"] = {"kubernetes": auth}
    generator = {"apiVersion": "%s/%s" % GENERATORS, "kind": "VaultDynamicSecret", "metadata": {"name": name},
                 "spec": {"path": path, "method": "GET", "provider": vault}}
    external = {"apiVersion": "%s/%s" % ESO, "kind": "ExternalSecret", "metadata": {"name": name},
                "spec": {"refreshInterval": "30s", "target": {"name": name},
                         "dataFrom": [{"sourceRef": {"generatorRef": {
                             "apiVersion": "%s/%s" % GENERATORS, "kind": "VaultDynamicSecret", "name": name}}}]}}
    return generator, external


def routes(site, namespace, platform_key, own_sa, database=None, other_tenant_role=None):
    """The routes as (name, objects, what is tried). platform_key: a KV key below the
    platform's prefix; own_sa: a ServiceAccount of the tenant's namespace; database: the
    database role's (vault role, creds path) when it is configured; other_tenant_role: the
    Vault role of another tenant."""
    cluster_store = site.eso_object("clustersecretstores", "vault-backend")
    provider = cluster_store["spec"]["provider"]["vault"]
    auth = provider["auth"]["kubernetes"]
    platform_ref = auth["serviceAccountRef"]
    role, mount = auth["role"], auth["mountPath"]
    audiences = list(platform_ref.get("audiences") or [])
    out = [
        ("store naming the platform role without a ServiceAccount (ESO's own token)",
         [_store("borrow-nosa", provider, role, mount), _external("borrow-nosa", "SecretStore", "borrow-nosa",
                                                                  platform_key)]),
        ("store naming the platform role with a ServiceAccount of the tenant's namespace named like the "
         "platform's (%s)" % platform_ref["name"],
         [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": platform_ref["name"]}},
          _store("borrow-same-name", provider, role, mount, {"name": platform_ref["name"], "audiences": audiences}),
          _external("borrow-same-name", "SecretStore", "borrow-same-name", platform_key)]),
        ("store naming the platform role with the tenant's own ServiceAccount %s" % own_sa,
         [_store("borrow-own-sa", provider, role, mount, {"name": own_sa, "audiences": audiences}),
          _external("borrow-own-sa", "SecretStore", "borrow-own-sa", platform_key)]),
        ("store naming the platform role with a serviceAccountRef in ESO's namespace %s" % platform_ref["namespace"],
         [_store("borrow-eso-ns", provider, role, mount, dict(platform_ref)),
          _external("borrow-eso-ns", "SecretStore", "borrow-eso-ns", platform_key)]),
        ("ExternalSecret in the tenant namespace pointing at the ClusterSecretStore",
         [_external("borrow-cluster-store", "ClusterSecretStore", "vault-backend", platform_key)]),
    ]
    if database:
        db_role, db_path, db_sa = database
        out.append(("VaultDynamicSecret naming the database role without a ServiceAccount (ESO's own token)",
                    list(_generated("borrow-db-nosa", provider, db_role, mount, db_path))))
        out.append(("VaultDynamicSecret naming the database role with a ServiceAccount of the tenant's namespace "
                    "named like the database one (%s)" % db_sa,
                    [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": db_sa}}]
                    + list(_generated("borrow-db-same-name", provider, db_role, mount, db_path,
                                      {"name": db_sa, "audiences": audiences}))))
    if other_tenant_role:
        out.append(("tenant store naming another tenant's role %s" % other_tenant_role,
                    [_store("borrow-other-tenant", provider, other_tenant_role, mount,
                            {"name": own_sa, "audiences": audiences}),
                     _external("borrow-other-tenant", "SecretStore", "borrow-other-tenant", platform_key)]))
    return out


def _words(text):
    return any(w in text.lower() for w in REFUSED_WORDS)


def try_routes(site, tenant, route_list, wait_until, note, timeout=90):
    """Creates each route as the tenant, then waits until every one is refused: the
    ExternalSecret Ready=False with a refusal in its condition or events, its store (when
    it has one) Ready=False, and no Secret. Deletes what it created. Returns the verdicts."""
    since = time.time()
    created = []
    for name, objects in route_list:
        created.append((name, objects, tenant.apply(*objects)))
    verdicts = []
    try:
        for name, objects, refusals in created:
            external = [o for o in objects if o["kind"] == "ExternalSecret"][0]["metadata"]["name"]
            stores = [o["metadata"]["name"] for o in objects if o["kind"] == "SecretStore"]
            if refusals:
                # Refused at admission: the store does not exist; its ExternalSecret (if any) must fail.
                for store in stores:
                    try:
                        site.eso_object("secretstores", store, tenant.namespace)
                        raise AssertionError("store %s exists although admission refused it" % store)
                    except Exception as exc:  # noqa: BLE001 - 404 expected
                        if not site.not_found(exc):
                            raise
                stores = []
                note("borrow route refused at admission", "%s: %s" % (name, " ".join(refusals[-1].split())[:240]))

            def refused(external=external, stores=stores):
                cond = site.ready("externalsecrets", external, tenant.namespace)
                if cond.get("status") != "False":
                    return None
                texts = [cond.get("message") or ""] + site.warning_events(
                    "ExternalSecret", external, tenant.namespace, since)
                for store in stores:
                    store_cond = site.ready("secretstores", store, tenant.namespace)
                    if store_cond.get("status") != "False":
                        return None
                    texts += [store_cond.get("message") or ""] + site.warning_events(
                        "SecretStore", store, tenant.namespace, since)
                hits = [t for t in texts if _words(t) or "not found" in t.lower()]
                return hits or None

            hits, seconds = wait_until("route '%s' to be refused" % name, refused, timeout)
            assert site.secret_data(tenant.namespace, external) is None, "a Secret was written by route %s" % name
            message = " ".join(hits[-1].split())[:240]
            verdicts.append((name, message))
            note("borrow route refused", "%s: %.1f s, %s" % (name, seconds, message))
    finally:
        for _name, objects, _refusals in reversed(created):
            tenant.kubectl_as("delete", "-n", tenant.namespace, "--ignore-not-found", "--wait=false", "-f", "-",
                              stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return verdicts
