"""playbooks/site.yml killed at task boundaries on a private lab (PrivateSite of the e2e
test), then run again until it converges.

The boundaries are not hard-coded: a baseline run from a fresh Vault numbers them
through the vaultkube_killpoint callback (the start of every task and handler, with the
role it belongs to and what each task did). A kill point N is a run from a reset state
that the callback stops at boundary N and the test SIGKILLs as a whole process tree.

Reset before a kill point: what the flow produced goes, so that the killed run starts as a
first run would and the re-run converges from exactly what the kill left (nothing of an
earlier run can pass for it). A point inside vault_install gets a host without OpenBao (its
folder, service user and CA copy removed); every later point gets a fresh, uninitialised
OpenBao (data folder removed, the installation kept). For every point the keys file, the
inventory's password-lookup files (keys password, seeded KV values) and the exported
cluster CA are removed, and so are the Kubernetes objects the flow owns (labelled
app.kubernetes.io/managed-by=vaultkube.platform): its ExternalSecrets and the Secrets ESO
synced for them, its SecretStores and ClusterSecretStore, ServiceAccounts and
ClusterRoleBindings. The namespaces stay, emptied of those (deleting them waits on the
namespace controller: a reset took 17 s a point on a loaded machine), and so does ESO's
installation (chart release, CRDs, the controller process), as OpenBao's does for points
after vault_install.

Why remove rather than keep: a kill point stands for "a run from the state before it,
SIGKILLed at N, then run again". Only the killed run may leave state for the re-run;
objects and files of the previous point's converged runs would make the point a different
experiment (a rebuilt Vault under an already wired cluster) and let the final checks pass
on what existed before the kill. Nothing is reset between the kill and the re-run.

Rotation, the proof of a re-sync: before every kill point the seeded value the flow writes
to Vault (the inventory's demo-db-password lookup file) is rewritten with a fresh random
value; after the re-run Vault's KV and the Secret ESO synced, read back from the API
server, must hold that new value and not the one the Secret held before the reset.

Equivalent boundaries: SIGKILL keeps nothing of a run but what it already did outside
itself. Two consecutive boundaries with only a task between them that did nothing (every
host skipped it, or it is a read-only action that reported no change) leave the same
state behind, so killing at either is the same experiment. Such boundaries form one
class; one kill point per class covers all of them. The baseline run decides the
classes, and every class keeps its member boundaries in the printed plan.
"""

import hashlib
import json
import os
import random
import re
import secrets
import shutil
import string
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

from e2e_site import PrivateSite
from lab_helpers import poll
from vaultkube_testlib import kill_tree

CALLBACKS = os.path.join(HERE, "callback_plugins")
# Actions that change nothing outside the run when they report no change.
READ_ONLY = {
    "ansible.builtin.set_fact", "set_fact", "ansible.builtin.assert", "assert", "ansible.builtin.debug",
    "debug", "ansible.builtin.fail", "fail", "ansible.builtin.stat", "stat", "ansible.builtin.slurp", "slurp",
    "ansible.builtin.setup", "setup", "ansible.builtin.include_tasks", "include_tasks",
    "ansible.builtin.include_role", "include_role", "ansible.builtin.import_tasks", "ansible.builtin.meta",
    "meta", "ansible.builtin.validate_argument_spec", "validate_argument_spec", "ansible.builtin.wait_for",
    "wait_for", "kubernetes.core.k8s_info", "vaultkube.platform.vault_status_info",
}
KILL_TIMEOUT = 600
# What the flow writes to the cluster carries this label (eso_deploy, vault_kubernetes_auth,
# vault_tenants); ESO's own installation (the chart's objects, labelled by Helm) does not.
FLOW_LABEL = "app.kubernetes.io/managed-by=vaultkube.platform"
ESO_API = ("external-secrets.io", "v1")
# The seeded secret the test rotates before every kill point: KV path (under the environment),
# key, the inventory's password-lookup file under the site folder, and the Secret ESO syncs it to.
ROTATED = {"path": "demo/db", "key": "password", "file": "demo-db-password", "namespace": "demo", "secret": "demo-db"}
GONE_TIMEOUT = 60


class Boundary(object):
    def __init__(self, entry):
        self.n = entry["n"]
        self.role = entry["role"]
        self.task = entry["task"]
        self.action = entry.get("action", "")
        self.handler = entry["handler"]
        self.statuses = []

    @property
    def quiet(self):
        """The task that starts here changed nothing outside the run."""
        if all(s == "skipped" for s in self.statuses):
            return True
        return self.action in READ_ONLY and "changed" not in self.statuses

    def label(self):
        return "#%d %s: %s%s" % (self.n, self.role or "(play)", self.task, " (handler)" if self.handler else "")


def read_boundaries(path):
    boundaries = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            entry = json.loads(line)
            if "n" in entry:
                boundaries[entry["n"]] = Boundary(entry)
            elif entry.get("result") in boundaries:
                boundaries[entry["result"]].statuses.append(entry["status"])
    return [boundaries[n] for n in sorted(boundaries)]


def classes(boundaries):
    """Consecutive boundaries with only quiet tasks between them, as lists."""
    groups = []
    for b in boundaries:
        if groups and b.n > 1 and boundaries[b.n - 2].quiet:
            groups[-1].append(b)
        else:
            groups.append([b])
    return groups


def plan(boundaries, roles_in_full, sample, seed, every=False):
    """Kill points, as classes: every class holding a boundary of roles_in_full, plus the
    classes of `sample` boundaries drawn (random.Random(seed)) from the other roles'
    boundaries; every class if `every`. Returns (classes, sampled boundary numbers)."""
    groups = classes(boundaries)
    if every:
        return groups, []
    rest = [b.n for b in boundaries if b.role not in roles_in_full]
    sampled = sorted(random.Random(seed).sample(rest, min(sample, len(rest))))
    chosen = [g for g in groups
              if any(b.role in roles_in_full for b in g) or any(b.n in sampled for b in g)]
    return chosen, sampled


class FaultSite(PrivateSite):
    """PrivateSite plus killed runs, resets and the checks of a kill point."""

    def env(self):
        env = super().env()
        env.update(ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, ANSIBLE_CALLBACKS_ENABLED="vaultkube_killpoint")
        env.pop("VAULTKUBE_KILLPOINT_AT", None)
        return env

    def keys_file(self):
        return os.path.join(self.site_dir, "vault-init.vault")

    def run(self, name, kill_at=None):
        """site.yml, stopped and killed at boundary kill_at (or to its end).
        Returns (SiteRun, boundaries logged, processes killed)."""
        log = os.path.join(self.home, "boundaries-%s.jsonl" % name)
        if os.path.exists(log):
            os.unlink(log)
        env = self.env()
        env["VAULTKUBE_KILLPOINT_LOG"] = log
        if kill_at:
            env["VAULTKUBE_KILLPOINT_AT"] = str(kill_at)
        cmd = self.site_command()
        started = time.monotonic()
        out_path = os.path.join(self.home, "out-%s.txt" % name)
        killed = 0
        with open(out_path, "w+", encoding="utf-8") as out:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            deadline = time.monotonic() + KILL_TIMEOUT
            while proc.poll() is None:
                if kill_at and _stopped(proc.pid):
                    killed = kill_tree(proc.pid)
                    break
                if time.monotonic() > deadline:
                    kill_tree(proc.pid)
                    break
                time.sleep(0.05)
            proc.wait()
            out.seek(0)
            text = out.read()
        return (self.record(name, cmd, proc.returncode, text, time.monotonic() - started),
                read_boundaries(log) if os.path.exists(log) else [], killed)

    # ------------------------------------------------------------ resets
    def ctl(self, action):
        script = os.path.join(self.vault_root, "etc", "%s-ctl.sh" % self.service_name)
        if os.path.exists(script):
            self.sh([script, action], timeout=60)

    def reset(self, role):
        """What a kill point in `role` needs: see the module docstring. Returns the seconds taken
        and the rotated seed value the re-run must bring to the Secret."""
        started = time.monotonic()
        self.reset_kubernetes()
        self.kube_reset_seconds = time.monotonic() - started
        self.ctl("stop")
        self._kill_leftover_vault()
        if role == "vault_install":
            shutil.rmtree(self.vault_root, ignore_errors=True)
            for path in (self.vault_ca,):
                if os.path.exists(path):
                    os.unlink(path)
            self.remove_service_user()
        else:
            data = os.path.join(self.vault_root, "data")
            for entry in os.listdir(data) if os.path.isdir(data) else []:
                path = os.path.join(data, entry)
                shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
        for name in self.seed_files() + ["vault-init.vault", os.path.basename(self.ca_export())]:
            path = os.path.join(self.site_dir, name)
            if os.path.exists(path):
                os.unlink(path)
        self._test_token = None  # the tests' admin token died with the data
        value = self.rotate_seed()
        return time.monotonic() - started, value

    def seed_files(self):
        """The inventory's password-lookup files under the site folder (read from group_vars)."""
        with open(os.path.join(self.inventory, "group_vars", "all.yml"), encoding="utf-8") as handle:
            text = handle.read()
        return sorted(set(re.findall(r"vaultkube_lab_site_dir ~ '/([\w.-]+) ", text)))

    def ca_export(self):
        return os.path.join(self.site_dir, "kubernetes-ca.crt")

    def rotate_seed(self):
        """A fresh value for the seeded KV secret, in the inventory's password-lookup file (the
        characters and length its lookup asks for); the flow writes it to Vault."""
        value = "".join(secrets.choice(string.ascii_letters + string.digits) for _index in range(24))
        os.makedirs(self.site_dir, exist_ok=True)
        path = os.path.join(self.site_dir, ROTATED["file"])
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            handle.write(value + "\n")
        return value

    def reset_kubernetes(self):
        """Delete what the flow owns in the cluster (FLOW_LABEL): its ExternalSecrets, SecretStores,
        ClusterSecretStores, ServiceAccounts and ClusterRoleBindings, then the Secrets ESO synced for
        those ExternalSecrets; wait until they are gone (a run must not meet one being deleted).
        The namespaces stay, empty of the flow's objects: deleting them waits on the namespace
        controller (17 s a point on a loaded machine) and an empty namespace holds no state a
        re-run could inherit; the flow applies them again as it does on a first run."""
        group, version = ESO_API
        custom, core, rbac = self.custom(), self.core(), self.rbac()
        reads = []
        synced = []
        for plural in ("externalsecrets", "secretstores"):
            for item in custom.list_cluster_custom_object(group, version, plural, label_selector=FLOW_LABEL)["items"]:
                meta = item["metadata"]
                args = (group, version, meta["namespace"], plural, meta["name"])
                self._gone(custom.delete_namespaced_custom_object, *args)
                reads.append((custom.get_namespaced_custom_object, args))
                if plural == "externalsecrets":
                    target = ((item.get("spec") or {}).get("target") or {}).get("name") or meta["name"]
                    synced.append((target, meta["namespace"]))
        for item in custom.list_cluster_custom_object(group, version, "clustersecretstores",
                                                      label_selector=FLOW_LABEL)["items"]:
            args = (group, version, "clustersecretstores", item["metadata"]["name"])
            self._gone(custom.delete_cluster_custom_object, *args)
            reads.append((custom.get_cluster_custom_object, args))
        for sa in core.list_service_account_for_all_namespaces(label_selector=FLOW_LABEL).items:
            args = (sa.metadata.name, sa.metadata.namespace)
            self._gone(core.delete_namespaced_service_account, *args)
            reads.append((core.read_namespaced_service_account, args))
        for binding in rbac.list_cluster_role_binding(label_selector=FLOW_LABEL).items:
            self._gone(rbac.delete_cluster_role_binding, binding.metadata.name)
            reads.append((rbac.read_cluster_role_binding, (binding.metadata.name,)))
        self._wait_gone(reads)
        # Only now: while its ExternalSecret lived, ESO could have written a Secret again.
        for name, namespace in synced:
            self._gone(core.delete_namespaced_secret, name, namespace)
        self._wait_gone([(core.read_namespaced_secret, args) for args in synced])
        return len(reads) + len(synced)

    def _wait_gone(self, reads):
        gone, last = poll(lambda: not [args for read, args in reads if self._exists(read, *args)], GONE_TIMEOUT, 0.1)
        if not gone:
            left = last if isinstance(last, Exception) else [args for read, args in reads if self._exists(read, *args)]
            raise RuntimeError("%s still there %d s after its deletion" % (left, GONE_TIMEOUT))

    def _gone(self, delete, *args):
        """Delete; an object already absent (404) is fine, any other error is not."""
        try:
            delete(*args)
        except Exception as exc:  # noqa: BLE001 - only 404 is "already gone"
            if not self.not_found(exc):
                raise

    def _exists(self, read, *args):
        try:
            read(*args)
        except Exception as exc:  # noqa: BLE001 - only 404 is "absent"
            if self.not_found(exc):
                return False
            raise
        return True

    # ------------------------------------------------------------ checks
    def vault_initialized(self):
        """Vault's own answer; None only when no Vault answers yet (its CA not written, or nothing
        listening). Any other error fails the point."""
        import requests
        if not os.path.exists(self.vault_ca):
            return None
        try:
            return requests.get(self.vault_addr + "/v1/sys/seal-status", verify=self.vault_ca,
                                timeout=5).json().get("initialized")
        except requests.exceptions.ConnectionError:  # not running or not installed at this point
            return None

    def keys_digest(self):
        """Digest of the key shares in the keys file: the file itself is rewritten once, without the
        initial root token and with the next custody generation, when the run's admin token
        revokes it (issue 22)."""
        if not os.path.exists(self.keys_file()):
            return None
        content = self.init_data()
        shares = dict((k, v) for k, v in content.items() if k not in ("root_token", "generation"))
        return hashlib.sha256(json.dumps(shares, sort_keys=True).encode()).hexdigest()

    def root_token_in_keys_file(self):
        return os.path.exists(self.keys_file()) and "root_token" in self.init_data()

    def keys_work(self):
        """The keys file decrypts, its shares make a valid admin token and Vault is unsealed."""
        client = self.vault()
        return client.is_authenticated() and not client.sys.read_seal_status()["sealed"]

    def seed_in_secret(self):
        """The seeded value in the Secret ESO syncs it to, read from the API server (None: no Secret)."""
        have = self.secret_data(ROTATED["namespace"], ROTATED["secret"])
        return None if have is None else have.get(ROTATED["key"])

    def resync_problems(self, new, old):
        """Problems with the re-sync of the rotated value `new` (the Secret held `old` before the
        reset): Vault's KV and the Secret, both read back, must hold `new`."""
        problems = []
        in_vault = self.kv_read("%s/%s" % (self.environment, ROTATED["path"])).get(ROTATED["key"])
        if in_vault != new:
            problems.append("Vault's %s/%s does not hold the rotated value" % (self.environment, ROTATED["path"]))
        have = self.seed_in_secret()
        if have is None:
            problems.append("no Secret %s/%s" % (ROTATED["namespace"], ROTATED["secret"]))
        elif have == old:
            problems.append("the Secret %s/%s still holds the value from before the kill"
                            % (ROTATED["namespace"], ROTATED["secret"]))
        elif have != new:
            problems.append("the Secret %s/%s does not hold the rotated value" % (ROTATED["namespace"], ROTATED["secret"]))
        return problems


def _stopped(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] == "T"
