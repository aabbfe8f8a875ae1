"""A private lab instance plus a private OpenBao, and the means to run
playbooks/site.yml against them and read the real state back (Vault through
hvac with the root token from the encrypted keys file, Kubernetes through the
API server), never trusting what Ansible reports as changed.

Why the overrides (extra vars) are needed, in the lab inventory's own terms:
* vaultkube_lab_kubeconfig / vaultkube_lab_site_dir: the inventory derives
  them from VAULTKUBE_CACHE, not from VAULTKUBE_LAB_HOME, so without them the
  run would configure the shared lab's cluster;
* vaultkube_lab_vault_root / vaultkube_lab_vault_port: the shared lab's OpenBao
  lives in /opt/vaultkube-lab/openbao on 28200;
* vault_install_user / _group: a user of this instance alone, because stop()
  deletes it (the shared lab's `openbao` user must survive);
* eso_deploy_external_secrets: the inventory's own list, only with a 10 s
  refresh interval instead of 30 s so that rotations propagate quickly;
* vaultkube_lab_postgres_port (set_extra_vars, when the test started PostgreSQL):
  the inventory turns vault_database_credentials on only with a PostgreSQL port.
"""

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import hvac
import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from lab_helpers import LAB, LAB_DIR, condition, use_private_lab, wait_until
from vaultkube_testlib import free_port_pair, run_module

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORY = os.path.join(REPO, "inventory", "lab")
SITE_YML = os.path.join(REPO, "playbooks", "site.yml")

REFRESH_INTERVAL = "10s"
REFRESH_SECONDS = 10
SERVICE_USER = "vkube-e2e"
ESO_API = ("external-secrets.io", "v1")
# One site.yml run; a loaded machine (2 cores shared with other work) may need more.
RUN_TIMEOUT = int(os.environ.get("VAULTKUBE_E2E_RUN_TIMEOUT", "480"))

RECAP_LINE = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)", re.M)


def inventory_vars(inventory=INVENTORY):
    """An inventory's group_vars as written (Jinja left untemplated)."""
    with open(os.path.join(inventory, "group_vars", "all.yml"), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def parse_recap(output):
    """{host: {ok, changed, unreachable, failed}} from the default callback's PLAY RECAP."""
    parts = output.rpartition("PLAY RECAP")
    if not parts[1]:
        return {}
    tail = parts[2]
    return {m.group("host"): {k: int(m.group(k)) for k in ("ok", "changed", "unreachable", "failed")}
            for m in RECAP_LINE.finditer(tail)}


class SiteRun:
    def __init__(self, name, returncode, output, seconds, log):
        self.name, self.returncode, self.output, self.seconds, self.log = name, returncode, output, seconds, log
        self.recap = parse_recap(output)

    @property
    def ok(self):
        return self.returncode == 0 and bool(self.recap) and all(
            h["failed"] == 0 and h["unreachable"] == 0 for h in self.recap.values())

    @property
    def changed(self):
        return sum(h["changed"] for h in self.recap.values())

    def tail(self, lines=60):
        return "\n".join(self.output.splitlines()[-lines:])

    def failure(self):
        """The FAILED/ERROR part of the output, for assertion messages."""
        hits = [i for i, line in enumerate(self.output.splitlines())
                if line.startswith(("fatal:", "[ERROR]", "failed:"))]
        lines = self.output.splitlines()
        if not hits:
            return self.tail()
        return "\n".join(lines[max(0, hits[0] - 3):hits[0] + 12]) + "\n...\n" + self.tail(6)


def pids_running(binary):
    """The processes whose executable is that file (also when it was deleted since)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            exe = os.readlink("/proc/%s/exe" % pid)
        except OSError:  # gone, or a kernel thread
            continue
        if exe.replace(" (deleted)", "") == binary:
            pids.append(int(pid))
    return pids


def ansible_playbook():
    """The virtualenv's ansible-playbook (beside this Python), else the one on PATH."""
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return playbook if os.path.exists(playbook) else "ansible-playbook"


class SiteRuns:
    """ansible-playbook runs kept as logs under <runs_dir()>/runs and as SiteRun objects in self.runs
    (needs self.home, self.runs and env())."""

    def runs_dir(self):
        return self.home

    def record(self, name, cmd, code, out, seconds):
        """Keep a run's output under runs/ and return it as a SiteRun."""
        logdir = os.path.join(self.runs_dir(), "runs")
        os.makedirs(logdir, exist_ok=True)
        log = os.path.join(logdir, "%02d-%s.log" % (len(self.runs) + 1, name))
        with open(log, "w", encoding="utf-8") as fh:
            fh.write(" ".join(cmd) + "\n\n" + out)
        run = SiteRun(name, code, out, seconds, log)
        self.runs.append(run)
        return run

    def new_vault_root(self, prefix):
        """A fresh folder under /opt for this instance's server (vault_base, vault_root) and its
        address and CA file (vault_port, site_dir set before)."""
        self.vault_base = tempfile.mkdtemp(prefix=prefix, dir="/opt")
        # The service user must traverse it to reach its data folder.
        os.chmod(self.vault_base, 0o755)
        self.vault_root = os.path.join(self.vault_base, "openbao")
        self.vault_addr = "https://127.0.0.1:%d" % self.vault_port
        self.vault_ca = os.path.join(self.site_dir, "vault-ca.pem")

    def stop_vault(self, service_name, binary_name):
        """Stop this instance's server with its control script, then kill what is left of it: only a
        process whose binary is this instance's copy (never the shared one)."""
        ctl = os.path.join(self.vault_root, "etc", "%s-ctl.sh" % service_name)
        if os.path.exists(ctl):
            self.sh([ctl, "stop"], timeout=60)
        self.kill_leftover_vault(binary_name)

    def kill_leftover_vault(self, binary_name):
        """Only a process whose binary is this instance's copy (never the shared one)."""
        for pid in pids_running(os.path.join(self.vault_root, "bin", binary_name)):
            os.kill(pid, 9)

    def remove_service_user(self):
        subprocess.run(["userdel", self.service_user], capture_output=True, check=False)
        subprocess.run(["groupdel", self.service_user], capture_output=True, check=False)

    def play(self, name, cmd):
        """Run CMD from the checkout in env() (killed after RUN_TIMEOUT) and record it."""
        started = time.monotonic()
        try:
            res = subprocess.run(cmd, cwd=REPO, env=self.env(), capture_output=True, text=True,
                                 timeout=RUN_TIMEOUT, check=False)
            code, out = res.returncode, res.stdout + res.stderr
        except subprocess.TimeoutExpired as exc:
            code = -1
            out = ((exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes)
                   else exc.stdout or "") + "\nTIMED OUT after %ss" % RUN_TIMEOUT
        return self.record(name, cmd, code, out, time.monotonic() - started)


class PrivateSite(SiteRuns):
    """The private lab + OpenBao; start() brings the lab up, stop() removes everything."""

    inventory = INVENTORY
    #: the server binary vault_install copies to <vault_root>/bin
    binary_name = "bao"

    def __init__(self, service_user=SERVICE_USER):
        # Another user per concurrent instance: stop() deletes it.
        self.service_user = service_user
        self.home = tempfile.mkdtemp(prefix="vaultkube-e2e-")
        self.vault_base = None
        self.kept_logs = None
        self.site_dir = os.path.join(self.home, "site")
        self.kubeconfig = os.path.join(self.home, "kubeconfig")
        self.vault_port = free_port_pair()
        self.inv = inventory_vars()
        self.environment = self.inv["vaultkube_lab_environment"]
        self.auth_mount = "%s-kubernetes" % self.environment
        self.service_name = self.inv["vault_install_service_name"]
        self.runs = []
        self._api = None

    # ------------------------------------------------------------ lifecycle
    def start(self):
        use_private_lab(self.home)
        self.new_vault_root("vaultkube-e2e-")
        started = time.monotonic()
        res = self.sh(["bash", os.path.join(LAB_DIR, "up.sh")], timeout=600)
        if res.returncode != 0:
            raise RuntimeError("tests/lab/up.sh failed:\n%s\n%s" % (res.stdout[-3000:], res.stderr[-3000:]))
        self.lab_seconds = time.monotonic() - started
        self._write_extra_vars()
        return self.lab_seconds

    def stop(self, keep_logs=False):
        """Stop and delete the private OpenBao, the private lab and the service user.
        On failure the logs (lab components and ansible runs) are copied aside first;
        the site folder (keys file and its password) is never kept."""
        if keep_logs:
            self.kept_logs = tempfile.mkdtemp(prefix="vaultkube-e2e-logs-")
            for src in (os.path.join(self.home, "logs"), os.path.join(self.home, "runs")):
                if os.path.isdir(src):
                    shutil.copytree(src, os.path.join(self.kept_logs, os.path.basename(src)))
            vault_log = os.path.join(self.vault_root, "log") if self.vault_base else None
            if vault_log and os.path.isdir(vault_log):
                shutil.copytree(vault_log, os.path.join(self.kept_logs, "openbao"))
        if self.vault_base:
            self.stop_vault(self.service_name, self.binary_name)
        self.sh(["bash", os.path.join(LAB_DIR, "down.sh"), "--purge"], timeout=180)
        if self.vault_base:
            shutil.rmtree(self.vault_base, ignore_errors=True)
        shutil.rmtree(self.home, ignore_errors=True)
        self.remove_service_user()
        return self.kept_logs

    def _kill_leftover_vault(self):
        self.kill_leftover_vault(self.binary_name)

    def env(self):
        env = dict(os.environ)
        env.update(LAB)
        env.update(KUBECONFIG=self.kubeconfig, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   PYTHONUNBUFFERED="1")
        return env

    def sh(self, cmd, timeout=120, **kw):
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=timeout,
                              check=False, **kw)

    def _write_extra_vars(self):
        external_secrets = [dict(item, refresh_interval=REFRESH_INTERVAL)
                            for item in self.inv["eso_deploy_external_secrets"]]
        self.extra_vars = {
            "vaultkube_lab_kubeconfig": self.kubeconfig,
            "vaultkube_lab_site_dir": self.site_dir,
            "vaultkube_lab_vault_root": self.vault_root,
            "vaultkube_lab_vault_port": self.vault_port,
            "vault_install_user": self.service_user,
            "vault_install_group": self.service_user,
            "eso_deploy_external_secrets": external_secrets,
        }
        self.extra_vars_file = os.path.join(self.home, "e2e-vars.json")
        self._save_extra_vars()

    def set_extra_vars(self, **values):
        self.extra_vars.update(values)
        self._save_extra_vars()

    def _save_extra_vars(self):
        with open(os.open(self.extra_vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
            json.dump(self.extra_vars, fh, indent=1)

    # ------------------------------------------------------------ site.yml
    def site_command(self, overrides=None, verbosity=0, extra_args=()):
        cmd = [ansible_playbook(), "-i", self.inventory, SITE_YML, "-e", "@" + self.extra_vars_file]
        if overrides:
            cmd += ["-e", json.dumps(overrides)]
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        cmd += list(extra_args)
        return cmd

    def site(self, name, overrides=None, verbosity=0, extra_args=()):
        return self.play(name, self.site_command(overrides, verbosity, extra_args))

    # ------------------------------------------------------------ Vault
    def init_data(self):
        """vault_init's output, decrypted with ansible's VaultLib and the inventory's password file."""
        with open(os.path.join(self.site_dir, "keys-password"), encoding="utf-8") as fh:
            password = fh.read().split()[0]
        with open(os.path.join(self.site_dir, "vault-init.vault"), "rb") as fh:
            blob = fh.read()
        return json.loads(VaultLib([("default", VaultSecret(password.encode()))]).decrypt(blob))

    def test_token(self):
        """The tests' own admin token: site.yml leaves no root token (issue 22), so one is made from the
        keys file with vault_admin_token (display name vaultkube-e2e, 4h), kept while it is valid."""
        token = getattr(self, "_test_token", None)
        if token and hvac.Client(url=self.vault_addr, verify=self.vault_ca, token=token,
                                 timeout=10).is_authenticated():
            return token
        with open(os.path.join(self.site_dir, "keys-password"), encoding="utf-8") as fh:
            password = fh.read().split()[0]
        result = run_module("vault_admin_token", {
            "url": self.vault_addr, "ca_cert": self.vault_ca, "keys_file": os.path.join(self.site_dir, "vault-init.vault"),
            "keys_file_vault_password": password, "ttl": "4h", "display_name": "vaultkube-e2e",
            "revoke_initial": False})
        assert not result.get("failed") and result.get("token"), result.get("msg")
        self._test_token = result["token"]
        return self._test_token

    def vault(self, token=True):
        client = hvac.Client(url=self.vault_addr, verify=self.vault_ca, timeout=10)
        if token:
            client.token = self.test_token()
        return client

    def kv_read(self, path):
        res = self.vault().secrets.kv.v2.read_secret_version(
            path=path, mount_point="secret", raise_on_deleted_version=True)
        return res["data"]["data"]

    def kv_write(self, path, data):
        self.vault().secrets.kv.v2.create_or_update_secret(path=path, mount_point="secret", secret=data)

    def auth_config(self):
        return self.vault().read("auth/%s/config" % self.auth_mount)["data"]

    def lab_value(self, name):
        """A value the inventory generated with the password lookup (under the site folder)."""
        with open(os.path.join(self.site_dir, name), encoding="utf-8") as fh:
            return fh.read().split()[0]

    # ------------------------------------------------------------ Kubernetes
    @property
    def api(self):
        if self._api is None:
            from kubernetes import client, config
            self._api = (client, config.new_client_from_config(config_file=self.kubeconfig))
        return self._api

    def core(self):
        client, api_client = self.api
        return client.CoreV1Api(api_client)

    def custom(self):
        client, api_client = self.api
        return client.CustomObjectsApi(api_client)

    def rbac(self):
        client, api_client = self.api
        return client.RbacAuthorizationV1Api(api_client)

    def not_found(self, exc):
        client = self.api[0]
        return isinstance(exc, client.exceptions.ApiException) and exc.status == 404

    def secret_data(self, namespace, name):
        """The Secret's data decoded, or None when it does not exist."""
        try:
            secret = self.core().read_namespaced_secret(name, namespace)
        except Exception as exc:  # noqa: BLE001 - only 404 is "absent"
            if self.not_found(exc):
                return None
            raise
        return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}

    def eso_object(self, plural, name, namespace=None):
        group, version = ESO_API
        if namespace:
            return self.custom().get_namespaced_custom_object(group, version, namespace, plural, name)
        return self.custom().get_cluster_custom_object(group, version, plural, name)

    def ready(self, plural, name, namespace=None):
        """The Ready condition ({} when there is none yet)."""
        return condition(self.eso_object(plural, name, namespace)) or {}

    def warning_events(self, kind, name, namespace=None, since=None):
        """Messages of Warning events about one object (cluster-scoped ones land in "default")."""
        selector = "involvedObject.kind=%s,involvedObject.name=%s,type=Warning" % (kind, name)
        if namespace:
            items = self.core().list_namespaced_event(namespace, field_selector=selector).items
        else:
            items = self.core().list_event_for_all_namespaces(field_selector=selector).items
        out = []
        for ev in items:
            stamp = ev.last_timestamp or ev.event_time or ev.first_timestamp
            if since is None or (stamp is not None and stamp.timestamp() >= since - 1):
                out.append(ev.message or "")
        return out

    def service_account_token(self, namespace, name, seconds=600):
        body = {"spec": {"expirationSeconds": seconds}}
        return self.core().create_namespaced_service_account_token(name, namespace, body).status.token

    def eso_log_tail(self, lines=25):
        path = os.path.join(self.home, "logs", "eso-controller.log")
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                return "".join(fh.readlines()[-lines:])
        except OSError:
            return "(no ESO log)"


def new_value(prefix):
    return "%s-%s" % (prefix, secrets.token_hex(8))


# ------------------------------------------------------------ the flows (tests/e2e/test_*_flow.py)
#: (label, text) lines for the closing summary (tests/e2e/conftest.py prints them).
REPORT = []


def note(label, text):
    """A measurement for the closing summary, printed now too."""
    text = " ".join(str(text).split())
    REPORT.append((label, text))
    print("%s: %s" % (label, text))


class Flow:
    """What a flow's ordered steps share: the site and the steps done; a step skips when a step it
    builds on failed."""

    def __init__(self, site):
        self.site = site
        self.done = set()

    def need(self, *steps):
        """The site, once STEPS are done (a skip naming the missing ones otherwise)."""
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.skip("an earlier step failed: %s" % ", ".join(missing))
        return self.site


@contextlib.contextmanager
def stopped_after(request, site, teardown_label=None):
    """Stops SITE when the block ends, keeping its logs when a test failed meanwhile (site.stop(keep_logs)
    returns where, or None); notes the teardown's seconds under TEARDOWN_LABEL and where the logs went."""
    failed_before = request.session.testsfailed
    try:
        yield site
    finally:
        failed = request.session.testsfailed > failed_before
        started = time.monotonic()
        kept = site.stop(keep_logs=failed)
        if teardown_label:
            note(teardown_label, "%.1f s" % (time.monotonic() - started))
        if kept:
            note("logs kept in", kept)


def wait_secret_equals_vault(site, namespace, name, path, timeout):
    """Waits until Secret NAMESPACE/NAME holds exactly Vault's keys and values at KV PATH: (data, seconds)."""
    def synced():
        want = site.kv_read(path)
        got = site.secret_data(namespace, name)
        return want if got == want else None
    return wait_until("Secret %s/%s to equal Vault's %s" % (namespace, name, path), synced, timeout)


def rotate_password(site, namespace, name, path, timeout, password=None):
    """Writes a new password at KV PATH (hvac) and waits until Secret NAMESPACE/NAME holds it:
    (the value written, seconds from the write)."""
    wanted = dict(site.kv_read(path), password=password or new_value("rotated"))
    site.kv_write(path, wanted)
    written = time.monotonic()
    wait_until("the rotated password in Secret %s/%s" % (namespace, name),
               lambda: site.secret_data(namespace, name) == wanted, timeout, 0.25)
    return wanted, time.monotonic() - written


def assert_run_ok(run):
    assert run.ok, "site.yml (%s) failed, rc=%s, recap=%s, log %s:\n%s" % (
        run.name, run.returncode, run.recap, run.log, run.failure())


def switch_to_reviewer_jwt(site):
    """site.yml with vault_kubernetes_auth_mode reviewer_jwt, passed: Vault's auth config, read back."""
    run = site.site("reviewer-jwt", overrides={"vault_kubernetes_auth_mode": "reviewer_jwt"})
    note("site.yml switch to reviewer_jwt", "%.1f s, recap %s" % (run.seconds, run.recap))
    assert_run_ok(run)
    return site.auth_config()


def vvv_run_leaking_nothing(site, label, overrides, secret_values):
    """site.yml at -vvv (named unseal-vvv, noted under LABEL), passed, with none of SECRET_VALUES
    ({name: value}) in its output: the run."""
    run = site.site("unseal-vvv", overrides=overrides, verbosity=3)
    note(label, "%.1f s, recap %s, %d bytes of output" % (run.seconds, run.recap, len(run.output)))
    assert_run_ok(run)
    leaked = sorted(name for name, value in secret_values.items() if value and value in run.output)
    assert not leaked, "secret values in the -vvv output of site.yml (%s): %s" % (run.log, leaked)
    note("-vvv leak check", "%d secret values, none in the output" % len(secret_values))
    return run


def assert_unchanged(run, what):
    """The run passed with changed=0 (the changed tasks named otherwise)."""
    assert_run_ok(run)
    changed = [line for line in run.output.splitlines() if line.startswith("changed:")]
    assert run.changed == 0, "%s changed=%d: %s" % (what, run.changed, changed)
