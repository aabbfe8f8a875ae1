"""A fleet on the lab: several lab clusters (tests/lab/fleet.sh: own etcd, ports, CA and
ServiceAccount issuer each) and one private OpenBao, and the means to run
`playbooks/site.yml` with `inventory/lab-fleet` for any subset of those clusters and to read
the state back from Vault (hvac, root token decrypted from the keys file) and from each
cluster's API server.

The inventory used is a temporary folder holding a generated hosts.yml (the clusters asked
for) and a link to inventory/lab-fleet/group_vars, so that removing a cluster from the
inventory is what the test does. Extra vars point the inventory at the private instances:
vaultkube_lab_fleet_home / vaultkube_lab_site_dir (not the cache's), the OpenBao root folder,
port, service name and user (stop() deletes the user).

Also used by tests/bench/bench_fleet.py."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

import hvac
import yaml

from e2e_site import SiteRuns, ansible_playbook
from vaultkube_testlib import admin_token, free_port_block

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLEET_SH = os.path.join(REPO, "tests", "lab", "fleet.sh")
INVENTORY = os.path.join(REPO, "inventory", "lab-fleet")
SITE_YML = os.path.join(REPO, "playbooks", "site.yml")
LAB_ADMIN_USER = "vaultkube-lab-admin"


def free_port_base(clusters, start=20000, stop=None, step=100):
    """A base B such that B+10*i+0..5 (i = 1..CLUSTERS, fleet.sh's layout) and B+90, B+91
    (OpenBao's API and cluster ports) are all free, below the kernel's ephemeral range: a listener
    chosen in that range can be taken by any client between the check and the bind (seen in CI: an
    ESO metrics port)."""
    offsets = [10 * i + k for i in range(1, clusters + 1) for k in range(6)] + [90, 91]
    return free_port_block(offsets, start=start, stop=stop, step=step)


# The admin token's own lifecycle (no standing root token): every run mints a root token from
# the custody keys with sys/generate-root (unauthenticated), exchanges it for an orphan token
# with a TTL, revokes the root token, and revokes the admin token at the end of the run.
ADMIN_TOKEN_PATHS = ("auth/token/create-orphan", "auth/token/revoke-self")


def _root_write_paths(entries):
    found = []
    for entry in entries:
        request, auth = entry.get("request") or {}, entry.get("auth") or {}
        if entry.get("type") == "response" and not entry.get("error") \
                and request.get("operation") in ("create", "update", "delete") \
                and "root" in (auth.get("policies") or []):
            found.append((request["operation"], request.get("path") or ""))
    return found


def root_writes(entries):
    """Successful create/update/delete requests made with a root-policy token (site.yml's; ESO
    logs in and reads with its own tokens), the admin token's own lifecycle left out."""
    return ["%s %s" % (op, path) for op, path in _root_write_paths(entries) if path not in ADMIN_TOKEN_PATHS]


def admin_token_writes(entries):
    """The admin token's lifecycle writes: (tokens minted, tokens revoked)."""
    paths = [path for _op, path in _root_write_paths(entries)]
    return paths.count("auth/token/create-orphan"), paths.count("auth/token/revoke-self")


# Every write request of the admin token's lifecycle, by design on every run: the generate-root
# attempt and its shares (unauthenticated), the exchange for the admin token and the two
# revocations (root-policy tokens). Nothing else a re-run sends to Vault may write.
ADMIN_TOKEN_LIFECYCLE = ("sys/generate-root/attempt", "sys/generate-root/update") + ADMIN_TOKEN_PATHS
WRITE_OPERATIONS = ("create", "update", "delete")


def vault_write_requests(entries):
    """Every create/update/delete REQUEST in the audit entries (answered or not), as
    (operation, path, token policies or None when unauthenticated, display name)."""
    found = []
    for entry in entries:
        request, auth = entry.get("request") or {}, entry.get("auth") or {}
        if entry.get("type") != "request" or request.get("operation") not in WRITE_OPERATIONS:
            continue
        authenticated = bool(auth.get("accessor") or auth.get("client_token"))
        found.append((request["operation"], request.get("path") or "",
                      (auth.get("policies") or []) if authenticated else None, auth.get("display_name") or ""))
    return found


def _is_eso(policies, path):
    """ESO's own requests: its logins (unauthenticated, auth/<mount>/login) and what it does
    with the tokens they give (no root policy)."""
    if policies is None:
        return path.startswith("auth/") and path.endswith("/login")
    return "root" not in policies


def admin_token_requests(entries):
    """The admin token's own lifecycle writes of the entries, as "operation path" lines."""
    return ["%s %s" % (op, path) for op, path, policies, _name in vault_write_requests(entries)
            if not _is_eso(policies, path) and path in ADMIN_TOKEN_LIFECYCLE]


def site_writes(entries):
    """site.yml's write requests to Vault (root-policy tokens or unauthenticated, ESO's own left
    out), the admin token's lifecycle (ADMIN_TOKEN_LIFECYCLE) left out: a re-run must have none."""
    return ["%s %s" % (op, path) for op, path, policies, _name in vault_write_requests(entries)
            if not _is_eso(policies, path) and path not in ADMIN_TOKEN_LIFECYCLE]


def root_requests(entries):
    """Every request made with the root token (reads included)."""
    return [e for e in entries if e.get("type") == "request"
            and "root" in ((e.get("auth") or {}).get("policies") or [])]


class Fleet(SiteRuns):
    """Clusters NAMES as lab instances and one private OpenBao; start() / stop()."""

    def __init__(self, names, service_user="vkube-fleet", keep=False):
        self.names = list(names)
        self.service_user = service_user
        self.keep = keep
        self.home = tempfile.mkdtemp(prefix="vaultkube-fleet-")
        self.fleet_home = os.path.join(self.home, "fleet")
        self.site_dir = os.path.join(self.home, "site")
        self.runs = []
        self.port_base = None
        self.vault_base = None
        self.vault_root = None
        self.vault_port = None
        self._clients = {}

    # ------------------------------------------------------------ lifecycle
    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_") and k != "VAULTKUBE_LAB_HOME"}
        env.update(LAB_FLEET_HOME=self.fleet_home, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   PYTHONUNBUFFERED="1")
        if self.port_base is not None:
            env["LAB_FLEET_PORT_BASE"] = str(self.port_base)
        env.pop("KUBECONFIG", None)
        return env

    def sh(self, cmd, timeout=300):
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=timeout, check=False)

    def start(self):
        """Start the clusters (in parallel); returns the seconds it took."""
        self.port_base = free_port_base(len(self.names))
        self.vault_port = self.port_base + 90
        self.new_vault_root("vaultkube-fleet-")
        started = time.monotonic()
        res = self.sh(["bash", FLEET_SH, "up"] + self.names, timeout=600)
        if res.returncode != 0:
            raise RuntimeError("fleet.sh up failed:\n%s\n%s" % (res.stdout[-3000:], res.stderr[-3000:]))
        self.extra_vars = {
            "vaultkube_lab_fleet_home": self.fleet_home,
            "vaultkube_lab_site_dir": self.site_dir,
            "vaultkube_lab_vault_root": self.vault_root,
            "vaultkube_lab_vault_port": self.vault_port,
            "vault_install_service_name": "openbao-fleet-test",
            "vault_install_user": self.service_user,
            "vault_install_group": self.service_user,
        }
        self.extra_vars_file = os.path.join(self.home, "fleet-vars.json")
        with open(os.open(self.extra_vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
            json.dump(self.extra_vars, fh)
        return time.monotonic() - started

    def stop(self, keep_logs=False):
        kept = None
        if keep_logs:
            kept = tempfile.mkdtemp(prefix="vaultkube-fleet-logs-")
            for name in self.names:
                src = os.path.join(self.fleet_home, name, "logs")
                if os.path.isdir(src):
                    shutil.copytree(src, os.path.join(kept, name))
            if os.path.isdir(os.path.join(self.home, "runs")):
                shutil.copytree(os.path.join(self.home, "runs"), os.path.join(kept, "runs"))
            if self.vault_root and os.path.isdir(os.path.join(self.vault_root, "log")):
                shutil.copytree(os.path.join(self.vault_root, "log"), os.path.join(kept, "openbao"))
        if self.vault_base:
            self.stop_vault("openbao-fleet-test", "bao")
        self.sh(["bash", FLEET_SH, "down", "--purge"] + self.names, timeout=300)
        if self.vault_base:
            shutil.rmtree(self.vault_base, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)
        self.remove_service_user()
        return kept

    # ------------------------------------------------------------ site.yml
    def inventory(self, clusters):
        """A temporary inventory with these clusters and lab-fleet's group_vars."""
        folder = os.path.join(self.home, "inventory-%s" % ("-".join(clusters) or "none"))
        if not os.path.isdir(folder):
            os.makedirs(folder)
            os.symlink(os.path.join(INVENTORY, "group_vars"), os.path.join(folder, "group_vars"))
            hosts = {"all": {"children": {
                "vault_servers": {"hosts": {"vault-lab": {"ansible_connection": "local"}}},
                "vaultkube_controller": {"hosts": {"localhost": {"ansible_connection": "local"}}},
                "kubernetes_clusters": {"hosts": {c: None for c in clusters},
                                        "vars": {"ansible_connection": "local"}},
            }}}
            with open(os.path.join(folder, "hosts.yml"), "w", encoding="utf-8") as fh:
                yaml.safe_dump(hosts, fh)
        return folder

    def site(self, name, clusters=None, overrides=None, extra_args=()):
        clusters = self.names if clusters is None else clusters
        cmd = [ansible_playbook(), "-i", self.inventory(clusters), SITE_YML, "-e", "@" + self.extra_vars_file,
               "--forks", str(max(5, len(clusters) + 2))]
        if overrides:
            cmd += ["-e", json.dumps(overrides)]
        cmd += list(extra_args)
        return self.play(name, cmd)

    # ------------------------------------------------------------ Vault
    def root_token(self):
        with open(os.path.join(self.site_dir, "keys-password"), encoding="utf-8") as fh:
            password = fh.read().split()[0]
        # The run leaves no root token: an admin token is made from the keys file (issue 22).
        return admin_token(self.vault_addr, os.path.join(self.site_dir, "vault-init.vault"), password,
                           ca_cert=self.vault_ca)

    def vault(self, token=True):
        client = hvac.Client(url=self.vault_addr, verify=self.vault_ca, timeout=10)
        if token:
            client.token = self.root_token()
        return client

    @property
    def audit_log(self):
        return os.path.join(self.vault_root, "log", "audit.log")

    def audit_mark(self):
        return os.path.getsize(self.audit_log)

    # ------------------------------------------------------------ clusters
    def cluster_home(self, name):
        return os.path.join(self.fleet_home, name)

    def api_url(self, name):
        with open(os.path.join(self.cluster_home(name), "kubeconfig"), encoding="utf-8") as fh:
            return yaml.safe_load(fh)["clusters"][0]["cluster"]["server"]

    def ca_pem(self, name):
        with open(os.path.join(self.cluster_home(name), "state", "pki", "ca.crt"), encoding="utf-8") as fh:
            return fh.read()

    def core(self, name):
        if name not in self._clients:
            from kubernetes import client, config
            self._clients[name] = client.CoreV1Api(
                config.new_client_from_config(config_file=os.path.join(self.cluster_home(name), "kubeconfig")))
        return self._clients[name]

    def secret_data(self, name, namespace, secret):
        try:
            obj = self.core(name).read_namespaced_secret(secret, namespace)
        except Exception as exc:  # noqa: BLE001 - only 404 is "absent"
            if getattr(exc, "status", None) == 404:
                return None
            raise
        return {k: base64.b64decode(v).decode() for k, v in (obj.data or {}).items()}

    def service_account_token(self, name, namespace, account, seconds=600, audiences=None):
        body = {"spec": {"expirationSeconds": seconds}}
        if audiences:
            body["spec"]["audiences"] = list(audiences)
        return self.core(name).create_namespaced_service_account_token(account, namespace, body).status.token

    def api_audit_log(self, name):
        return os.path.join(self.cluster_home(name), "logs", "audit.log")
