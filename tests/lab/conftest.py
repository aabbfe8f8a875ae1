"""Fixtures for the lab smoke test: a running lab, the ESO chart, the ESO
controller process and an OpenBao dev server. Everything is real; nothing is
mocked.

By default the smoke test starts its own private lab instance (up.sh with a
temporary VAULTKUBE_LAB_HOME and free ports; the built binaries are shared) and
stops and deletes it at the end, so it neither disturbs nor is disturbed by
others using the shared lab. LAB_SHARED=1 runs it against the shared lab
instead (started by up.sh if needed, left running)."""

import os
import shutil
import signal
import subprocess
import tempfile
import uuid

import pytest


from lab_helpers import (
    LAB, LAB_DIR, VAULT_AUTH_PATH, VAULT_ROLE, VAULT_SECRET, b64d, delete_namespace, find_bao,
    helm, kubectl, run, use_private_lab, wait_for,
)
from vaultkube_testlib import preferred_port

_PRIVATE = {}


def pytest_configure(config):
    config.addinivalue_line("markers", "lab: needs the local lab (tests/lab/up.sh)")
    if os.environ.get("LAB_SHARED") != "1" and not _PRIVATE:
        _PRIVATE["home"] = tempfile.mkdtemp(prefix="vaultkube-lab-")
        use_private_lab(_PRIVATE["home"])


def pytest_sessionfinish(session, exitstatus):
    home = _PRIVATE.pop("home", None)
    if not home:
        return
    run(["bash", os.path.join(LAB_DIR, "down.sh")], check=False)
    if exitstatus == 0:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print("\nprivate lab stopped; its logs are kept in %s/logs" % home)


@pytest.fixture(scope="session")
def lab():
    """The running lab (started by up.sh if needed) and a kubernetes API client.
    The private lab (the default) is stopped in pytest_sessionfinish."""
    res = run(["bash", os.path.join(LAB_DIR, "up.sh")], check=False)
    if res.returncode != 0:
        pytest.fail("tests/lab/up.sh failed:\n%s\n%s" % (res.stdout, res.stderr))
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=LAB["KUBECONFIG"])
    return {"env": LAB, "api_client": api_client, "client": client}


@pytest.fixture
def namespace(lab):
    """A fresh namespace, deleted (and waited for) afterwards."""
    core = lab["client"].CoreV1Api(lab["api_client"])
    name = "lab-" + uuid.uuid4().hex[:8]
    core.create_namespace({"metadata": {"name": name}})
    yield name
    delete_namespace(lab, name)


@pytest.fixture(scope="session")
def eso_chart(lab):
    """The ESO Helm chart, installed from the cached chart if no release is
    there yet (webhook and cert controller disabled, leader election on).

    The lab is shared (the collection's own tests install the same release with
    kubernetes.core.helm), so the chart is never uninstalled here: removing it
    would delete the CRDs, and with them everybody's ExternalSecrets. Use
    tests/lab/down.sh --purge for a clean slate."""
    ns, release = LAB["LAB_ESO_NAMESPACE"], LAB["LAB_ESO_DEPLOYMENT"]
    if helm("status", release, "-n", ns, check=False).returncode != 0:
        res = helm(
            "install", release, LAB["LAB_CHART_DIR"], "-n", ns, "--create-namespace",
            "--set", "webhook.create=false",
            "--set", "certController.create=false",
            "--set", "leaderElect=true",
            "--set", "concurrent=2",
            check=False,
        )
        if res.returncode != 0:
            pytest.fail("helm install failed:\n%s\n%s" % (res.stdout, res.stderr))
    # The controller refuses to start while its CRDs are not served yet. (kubectl wait fails
    # at once on a CRD whose status has no conditions yet, so poll.)

    def established():
        for name in ("externalsecrets", "secretstores", "clustersecretstores"):
            res = kubectl("get", "crd", "%s.external-secrets.io" % name, "-o",
                          'jsonpath={.status.conditions[?(@.type=="Established")].status}', check=False)
            if res.returncode != 0 or res.stdout.strip() != "True":
                return False
        return True

    wait_for("ESO CRDs Established", established, timeout=120)
    return {"namespace": ns, "release": release, "service_account": LAB["LAB_ESO_SERVICE_ACCOUNT"]}


@pytest.fixture(scope="session")
def eso_controller(lab, eso_chart):
    """The ESO controller running as a local process (eso-controller.sh)."""
    script = os.path.join(LAB_DIR, "eso-controller.sh")
    was_running = run(["bash", script, "status"], check=False).returncode == 0
    if not was_running:
        res = run(["bash", script, "start"], check=False)
        if res.returncode != 0:
            pytest.fail("eso-controller.sh start failed:\n%s\n%s" % (res.stdout, res.stderr))
    yield eso_chart
    if not was_running:
        run(["bash", script, "stop"], check=False)


@pytest.fixture(scope="session")
def bao_dev(tmp_path_factory):
    """A real OpenBao dev server on 127.0.0.1 (in-memory, unsealed, root token), with a file audit
    device (audit_log): "no write" claims are read from it (vaultkube_testlib.write_requests)."""
    import hvac

    port = preferred_port(int(os.environ.get("LAB_BAO_PORT", "18200")))
    token = "lab-root-" + uuid.uuid4().hex
    addr = "http://127.0.0.1:%d" % port
    logdir = LAB["LAB_LOGS"]
    os.makedirs(logdir, exist_ok=True)
    log = open(os.path.join(logdir, "bao-dev.log"), "ab")
    work = tmp_path_factory.mktemp("bao")
    audit_log = str(work / "audit.log")
    (work / "audit.hcl").write_text(
        'audit "file" "lab" {\n  options {\n    file_path = "%s"\n    hmac_accessor = "false"\n  }\n}\n' % audit_log)
    proc = subprocess.Popen(
        [find_bao(), "server", "-dev", "-dev-listen-address=127.0.0.1:%d" % port,
         "-dev-root-token-id=" + token, "-dev-no-store-token", "-config=%s" % (work / "audit.hcl")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        cwd=str(work),
    )
    try:
        client = hvac.Client(url=addr, token=token)

        def ready():
            if proc.poll() is not None:
                pytest.fail("bao server -dev exited with %s" % proc.returncode)
            return client.sys.is_initialized() and not client.sys.is_sealed()

        wait_for("OpenBao dev server", ready, timeout=60)
        yield {"addr": addr, "client": client, "audit_log": audit_log}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def vault_k8s_auth(lab, bao_dev, eso_chart):
    """Configure OpenBao kubernetes auth against the lab API server (reviewer
    JWT mode) with a role bound to the ESO ServiceAccount."""
    core = lab["client"].CoreV1Api(lab["api_client"])
    rbac = lab["client"].RbacAuthorizationV1Api(lab["api_client"])
    suffix = uuid.uuid4().hex[:6]
    ns = "vault-auth-" + suffix
    crb = "vault-lab-reviewer-" + suffix
    core.create_namespace({"metadata": {"name": ns}})
    core.create_namespaced_service_account(ns, {"metadata": {"name": "vault-reviewer"}})
    rbac.create_cluster_role_binding({
        "metadata": {"name": crb},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:auth-delegator"},
        "subjects": [{"kind": "ServiceAccount", "name": "vault-reviewer", "namespace": ns}],
    })
    core.create_namespaced_secret(ns, {
        "metadata": {"name": "vault-reviewer-token",
                     "annotations": {"kubernetes.io/service-account.name": "vault-reviewer"}},
        "type": "kubernetes.io/service-account-token",
    })
    data = wait_for("reviewer token",
                    lambda: (core.read_namespaced_secret("vault-reviewer-token", ns).data or {})
                    .get("token"), timeout=30)
    reviewer_jwt = b64d(data)
    # An extra ServiceAccount that the Vault role does not bind.
    core.create_namespaced_service_account(ns, {"metadata": {"name": "not-bound"}})

    vault = bao_dev["client"]
    vault.sys.enable_auth_method("kubernetes", path=VAULT_AUTH_PATH)
    with open(lab["env"]["LAB_CA_CERT"], encoding="ascii") as fh:
        ca_pem = fh.read()
    vault.auth.kubernetes.configure(
        kubernetes_host=lab["env"]["LAB_API_URL"],
        kubernetes_ca_cert=ca_pem,
        token_reviewer_jwt=reviewer_jwt,
        disable_local_ca_jwt=True,
        mount_point=VAULT_AUTH_PATH,
    )
    vault.sys.create_or_update_policy(
        "eso-myapp-read", 'path "secret/data/myapp/*" { capabilities = ["read"] }\n')
    vault.auth.kubernetes.create_role(
        VAULT_ROLE,
        bound_service_account_names=[eso_chart["service_account"]],
        bound_service_account_namespaces=[eso_chart["namespace"]],
        policies=["eso-myapp-read"],
        ttl="10m",
        mount_point=VAULT_AUTH_PATH,
    )
    vault.secrets.kv.v2.create_or_update_secret("myapp/config", secret=VAULT_SECRET,
                                                mount_point="secret")
    yield {"namespace": ns, "addr": bao_dev["addr"], "client": vault}
    rbac.delete_cluster_role_binding(crb)
    delete_namespace(lab, ns)
