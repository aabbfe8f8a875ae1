"""site.yml with inventory/lab-cluster on a lab that has a node: Vault installed in
the cluster by the official chart, ESO as pods. Builds on e2e_site.PrivateSite
(site runs, Vault and Kubernetes reads) and adds what the in-cluster topology
needs:

* Vault is reached the way the roles reach it: a kubectl port-forward through the
  API server (to the active pod or one given pod), never a pod IP;
* while site.yml runs, the host may not open a connection to any pod or Service
  address on Vault's port (an iptables OUTPUT rule rejects it), so a role that
  routed to a pod IP would fail;
* while site.yml runs, every command line of every process on the machine (the
  controller's and, as containers share the host's process table, the pods') is
  sampled, to prove no unseal key or root token is ever an argument.

With VAULTKUBE_TEST_SERVER=vault the pods run HashiCorp Vault (the image `tests/lab/build.sh
vault-image` builds) instead of the lab's OpenBao image; everything else is the same.

The lab is either the one named by VAULTKUBE_E2E_NODE_LAB_HOME (an instance that
`tests/lab/up.sh --node` started, with VAULTKUBE_CACHE the folder above it or
VAULTKUBE_E2E_NODE_LAB_CACHE: used, cleaned after, never stopped) or a private one
the test starts with `up.sh --node` and removes with `down.sh --purge` (only one
lab with a node can run on a machine).
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import hvac

from e2e_site import REPO, PrivateSite, inventory_vars
from lab_helpers import LAB, LAB_DIR, _lab_env, kubectl_json, kubectl_run, use_private_lab, wait_for
from vaultkube_testlib import admin_token

CLUSTER_INVENTORY = os.path.join(REPO, "inventory", "lab-cluster")
VAULT_NS = "vault"
VAULT_RELEASE = "vault"
VAULT_PORT = 8200
VAULT_SELECTOR = "app.kubernetes.io/name=vault,app.kubernetes.io/instance=vault,component=server"
ESO_NS = "external-secrets"
DEMO_NS = "demo"
# Stakater Reloader (inventory/lab-cluster enables the reloader role).
RELOADER_NS = "reloader"
GUARD_CHAIN = "VAULTKUBE-E2E-NO-POD-ROUTE"
FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> \d+")


class Forward:
    """kubectl port-forward to one resource, as the roles use it (context manager)."""

    def __init__(self, kubectl_bin, kubeconfig, resource, namespace=VAULT_NS, port=VAULT_PORT):
        self.kubectl_bin, self.kubeconfig = kubectl_bin, kubeconfig
        self.resource, self.namespace, self.port = resource, namespace, port
        self.proc, self.local_port = None, None

    def __enter__(self):
        self.proc = subprocess.Popen(
            [self.kubectl_bin, "--kubeconfig", self.kubeconfig, "port-forward", "--address",
             "127.0.0.1", "-n", self.namespace, self.resource, ":%d" % self.port],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            match = FORWARDING.search(line)
            if match:
                self.local_port = int(match.group(1))
                # Keep draining kubectl's "Handling connection" lines.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return self
        self.__exit__()
        raise RuntimeError("port-forward to %s/%s failed: %s" % (self.namespace, self.resource, " | ".join(lines)))

    def __exit__(self, *_exc):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.local_port


class CommandLineSampler:
    """Collects every distinct command line on the machine while it runs."""

    def __init__(self, interval=0.05):
        self.interval, self.seen, self.samples = interval, set(), 0
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % pid, "rb") as fh:
                        raw = fh.read()
                except OSError:
                    continue
                if raw:
                    self.seen.add(raw.replace(b"\0", b" ").decode("utf-8", "replace"))
            self.samples += 1
            time.sleep(self.interval)


class ClusterSite(PrivateSite):
    """The lab with a node + site.yml with inventory/lab-cluster."""

    inventory = CLUSTER_INVENTORY

    def __init__(self, lab_home=None):  # pylint: disable=super-init-not-called
        # PrivateSite's OpenBao host process is not part of this topology.
        self.shared_home = lab_home
        self.home = lab_home or tempfile.mkdtemp(prefix="vaultkube-e2e-cluster-")
        self.work = tempfile.mkdtemp(prefix="vaultkube-e2e-cluster-run-")
        self.vault_base = None
        self.kept_logs = None
        self.site_dir = os.path.join(self.work, "site")
        self.kubeconfig = os.path.join(self.home, "kubeconfig")
        self.inv = inventory_vars(CLUSTER_INVENTORY)
        self.environment = self.inv["vaultkube_environment"]
        self.auth_mount = "%s-kubernetes" % self.environment
        self.vault_ca = os.path.join(self.site_dir, "vault-ca.pem")
        # The server inside the cluster: the lab's OpenBao image (the inventory's), or with
        # VAULTKUBE_TEST_SERVER=vault the image of HashiCorp Vault that tests/lab/build.sh
        # vault-image builds from the same binary the integration suite runs on.
        self.server = os.environ.get("VAULTKUBE_TEST_SERVER", "openbao")
        if self.server not in ("openbao", "vault"):
            raise ValueError("VAULTKUBE_TEST_SERVER=%s: openbao or vault" % self.server)
        self.runs = []
        self.command_lines = set()
        self.samples = 0
        self._api = None
        self._forward = None
        self.guarded = False

    # ------------------------------------------------------------ lifecycle
    def start(self):
        started = time.monotonic()
        if self.shared_home:
            os.environ["VAULTKUBE_LAB_HOME"] = self.shared_home
            os.environ["LAB_NODE"] = "1"
            LAB.clear()
            LAB.update(_lab_env())
        else:
            use_private_lab(self.home, node=True)
        # Idempotent on a running lab (and it recycles volumes released by an earlier run).
        env = self.env()
        if self.shared_home:
            # The instance's own cache, so that up.sh sees the command lines it started.
            env["VAULTKUBE_CACHE"] = (os.environ.get("VAULTKUBE_E2E_NODE_LAB_CACHE")
                                      or os.path.dirname(self.shared_home))
        res = subprocess.run(["bash", os.path.join(LAB_DIR, "up.sh"), "--node"], capture_output=True, text=True,
                             env=env, timeout=900, check=False)
        if res.returncode != 0:
            raise RuntimeError("tests/lab/up.sh --node failed:\n%s\n%s" % (res.stdout[-3000:], res.stderr[-3000:]))
        self.lab_seconds = time.monotonic() - started
        self.kubectl_bin = os.path.join(LAB["LAB_BIN"], "kubectl")
        self._write_extra_vars()
        return self.lab_seconds

    def stop(self, keep_logs=False):
        self.unguard()
        self.close_forward()
        if keep_logs:
            self.kept_logs = tempfile.mkdtemp(prefix="vaultkube-e2e-cluster-logs-")
            runs = os.path.join(self.work, "runs")
            if os.path.isdir(runs):
                shutil.copytree(runs, os.path.join(self.kept_logs, "runs"))
            if os.path.isdir(os.path.join(self.home, "logs")):
                shutil.copytree(os.path.join(self.home, "logs"), os.path.join(self.kept_logs, "lab"))
            self.dump_cluster(os.path.join(self.kept_logs, "cluster.txt"))
        if self.shared_home:
            self.clean_shared_lab()
        else:
            self.sh(["bash", os.path.join(LAB_DIR, "down.sh"), "--purge"], timeout=300)
            shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)
        return self.kept_logs

    def clean_shared_lab(self):
        """Everything site.yml and the test created, so that the next run starts from nothing."""
        kubectl, helm = self.kubectl, self.helm
        # ESO's objects first, while its controller still runs to remove their finalizers.
        kubectl("delete", "namespace", DEMO_NS, "--ignore-not-found", "--wait=true", "--timeout=120s")
        kubectl("delete", "clustersecretstore", "--all", "--ignore-not-found")
        for release, ns in (("reloader", RELOADER_NS), ("external-secrets", ESO_NS), (VAULT_RELEASE, VAULT_NS)):
            helm("uninstall", release, "-n", ns, "--wait", "--timeout", "120s")
        kubectl("delete", "namespace", VAULT_NS, ESO_NS, RELOADER_NS, "vault-auth", "--ignore-not-found",
                "--wait=true", "--timeout=180s")
        kubectl("delete", "clusterrolebinding", "-l", "app.kubernetes.io/managed-by=vaultkube.platform",
                "--ignore-not-found")

    def dump_cluster(self, path):
        out = []
        for args in (("get", "pods,pvc,svc,endpoints", "-A", "-o", "wide"),
                     ("get", "events", "-A", "--sort-by=.lastTimestamp"),
                     ("-n", VAULT_NS, "logs", "-l", VAULT_SELECTOR, "--tail=80", "--prefix"),
                     ("-n", ESO_NS, "logs", "-l", "app.kubernetes.io/name=external-secrets", "--tail=80",
                      "--prefix"),
                     ("-n", RELOADER_NS, "logs", "-l", "app.kubernetes.io/instance=reloader", "--tail=80",
                      "--prefix")):
            res = self.kubectl(*args)
            out.append("$ kubectl %s\n%s%s" % (" ".join(args), res.stdout, res.stderr))
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(out))

    def env(self):
        env = super().env()
        env["VAULTKUBE_LAB_HOME"] = self.home
        env["LAB_NODE"] = "1"
        chart = os.environ.get("VAULTKUBE_VAULT_CHART")
        if chart:
            env["VAULTKUBE_VAULT_CHART"] = chart
        return env

    def _write_extra_vars(self):
        external_secrets = [dict(item, refresh_interval="10s") for item in self.inv["eso_deploy_external_secrets"]]
        self.extra_vars = {"vaultkube_files": self.site_dir, "eso_deploy_external_secrets": external_secrets}
        if self.server == "vault":
            repository, _sep, tag = LAB["LAB_IMAGE_VAULT"].rpartition(":")
            self.extra_vars["vaultkube_vault_image"] = {"repository": repository, "tag": tag, "pullPolicy": "Never"}
        os.makedirs(self.work, exist_ok=True)
        self.extra_vars_file = os.path.join(self.work, "e2e-vars.json")
        with open(os.open(self.extra_vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
            json.dump(self.extra_vars, fh, indent=1)

    @property
    def server_version(self):
        """The version the server in the pods should report."""
        if self.server == "vault":
            return LAB["LAB_VAULT_VERSION"].lstrip("v")
        return self.inv["vaultkube_vault_image"]["tag"]

    # ------------------------------------------------------------ tools
    def kubectl(self, *args, stdin=None, timeout=240):
        return kubectl_run(*args, binary=self.kubectl_bin, kubeconfig=self.kubeconfig, env=self.env(), check=False,
                           stdin=stdin, timeout=timeout)

    def kubectl_json(self, *args, timeout=240):
        return kubectl_json(*args, binary=self.kubectl_bin, kubeconfig=self.kubeconfig, env=self.env(),
                            timeout=timeout)

    def helm(self, *args, timeout=240):
        return self.sh([os.path.join(LAB["LAB_BIN"], "helm"), "--kubeconfig", self.kubeconfig, *args],
                       timeout=timeout)

    # ------------------------------------------------------------ the no-pod-route guard
    def guard(self):
        """Rejects host connections to pod and Service addresses on Vault's port."""
        if self.guarded:
            return
        cidrs = [LAB.get("LAB_NODE_POD_CIDR"), LAB.get("LAB_NODE_SERVICE_CIDR") or LAB.get("LAB_SERVICE_CIDR")]
        cidrs = [c for c in cidrs if c]
        assert cidrs, "the lab reports no pod or service CIDR"
        subprocess.run(["iptables", "-w", "-N", GUARD_CHAIN], capture_output=True, check=False)
        subprocess.run(["iptables", "-w", "-F", GUARD_CHAIN], check=True)
        for cidr in cidrs:
            subprocess.run(["iptables", "-w", "-A", GUARD_CHAIN, "-d", cidr, "-p", "tcp", "--dport",
                            str(VAULT_PORT), "-j", "REJECT", "--reject-with", "tcp-reset"], check=True)
        subprocess.run(["iptables", "-w", "-I", "OUTPUT", "-j", GUARD_CHAIN], check=True)
        self.guarded = True
        self.guard_cidrs = cidrs

    def unguard(self):
        while subprocess.run(["iptables", "-w", "-D", "OUTPUT", "-j", GUARD_CHAIN], capture_output=True,
                             check=False).returncode == 0:
            pass
        subprocess.run(["iptables", "-w", "-F", GUARD_CHAIN], capture_output=True, check=False)
        subprocess.run(["iptables", "-w", "-X", GUARD_CHAIN], capture_output=True, check=False)
        self.guarded = False

    def guard_hits(self):
        """Packets the guard rejected (a role that tried a pod or Service address directly)."""
        out = subprocess.run(["iptables", "-w", "-L", GUARD_CHAIN, "-v", "-n", "-x"], capture_output=True,
                             text=True, check=False).stdout
        return sum(int(line.split()[0]) for line in out.splitlines()[2:] if line.split())

    # ------------------------------------------------------------ site.yml
    def runs_dir(self):
        return self.work

    def site(self, name, overrides=None, verbosity=0, extra_args=()):
        self.guard()
        with CommandLineSampler() as sampler:
            run = super().site(name, overrides=overrides, verbosity=verbosity, extra_args=extra_args)
        self.command_lines |= sampler.seen
        self.samples += sampler.samples
        return run

    # ------------------------------------------------------------ Vault, through port-forwards
    def forward(self, resource, namespace=VAULT_NS, port=VAULT_PORT):
        return Forward(self.kubectl_bin, self.kubeconfig, resource, namespace, port)

    def close_forward(self):
        if self._forward:
            self._forward.__exit__()
            self._forward = None

    def cluster_admin_token(self, url):
        """An admin token made from the keys file through the forward (site.yml leaves no root token)."""
        with open(os.path.join(self.site_dir, "keys-password"), encoding="utf-8") as fh:
            password = fh.read().split()[0]
        return admin_token(url, os.path.join(self.site_dir, "vault-init.vault"), password, ca_cert=self.vault_ca)

    def vault(self, token=True):
        """A client on the active pod, through a port-forward (re-opened when it ended or the
        active pod changed)."""
        fwd = self._forward
        active = wait_for("an active Vault pod", self.active_pod, timeout=90, interval=1)
        if fwd is None or fwd.proc.poll() is not None or fwd.resource != "pod/" + active:
            self.close_forward()
            fwd = self.forward("pod/" + active).__enter__()
            self._forward = fwd
        client = hvac.Client(url=fwd.url, verify=self.vault_ca, timeout=10)
        if token:
            client.token = self.cluster_admin_token(fwd.url)
        return client

    def pod_status(self, pod):
        """sys/seal-status and sys/leader of one pod, through its own port-forward."""
        with self.forward("pod/%s" % pod) as fwd:
            client = hvac.Client(url=fwd.url, verify=self.vault_ca, timeout=10)
            status = client.sys.read_seal_status()
            if not status["sealed"]:
                status["leader"] = client.sys.read_leader_status()
            return status

    def vault_pods(self):
        return self.core().list_namespaced_pod(VAULT_NS, label_selector=VAULT_SELECTOR).items

    def pod_ready(self, pod):
        for cond in pod.status.conditions or []:
            if cond.type == "Ready":
                return cond.status == "True"
        return False

    def active_pod(self):
        """The pod service registration labels active (vault-active=true from HashiCorp Vault,
        openbao-active=true from OpenBao)."""
        pods = [p.metadata.name for p in self.vault_pods()
                if "true" in ((p.metadata.labels or {}).get("vault-active"),
                              (p.metadata.labels or {}).get("openbao-active"))]
        return pods[0] if len(pods) == 1 else None
