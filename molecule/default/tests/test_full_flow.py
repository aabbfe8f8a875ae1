"""The whole flow: a value written to Vault appears in a Kubernetes Secret, a
check-mode re-run changes nothing, and -vvv output carries no secret. A change in Vault
reaching the Secret is tests/e2e/test_site_flow.py's test_03 (and its rotations in the
other auth modes): the same inventory, the value rotated and the Secret read back."""
import base64
import os
import subprocess

from roles_testlib import init_data, kube_get, lab_password

testinfra_hosts = ["localhost"]
REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")


def _secret(ns, name):
    secret = kube_get("-n", ns, "secret", name)
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_vault_value_synced_into_kubernetes_secret():
    assert _secret("demo", "demo-db") == {"username": "demo", "password": lab_password("demo-db-password")}


def test_check_mode_rerun_changes_nothing_and_leaks_nothing():
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    run = subprocess.run(
        ["ansible-playbook", "-i", os.path.join(REPO, "inventory", "lab"),
         os.path.join(REPO, "playbooks", "site.yml"), "--check", "--diff", "-vvv"],
        capture_output=True, text=True, env=env, cwd=REPO, check=False)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    recap = [line for line in out.splitlines() if "changed=" in line and "ok=" in line]
    assert recap and all("changed=0" in line for line in recap), recap
    data = init_data()
    secrets = list(data["keys"]) + list(data["keys_base64"]) + [
        lab_password("demo-db-password"),
        lab_password("demo-api-key"),
        lab_password("keys-password"),
    ]
    leaked = [s[:4] + "..." for s in secrets if s in out]
    assert not leaked, "secret values in -vvv output: %s" % leaked
