"""Helpers for the molecule testinfra verifiers: where the lab inventory puts
things, a Vault client logged in with the bootstrap token, and kubectl."""
import json
import os

import hvac
from ansible.parsing.vault import VaultLib, VaultSecret

from lab_helpers import condition, kubectl_run
from vaultkube_testlib import admin_token as make_admin_token

CACHE = os.environ.get("VAULTKUBE_CACHE") or os.path.expanduser("~/.cache/vaultkube")
LAB_HOME = os.path.join(CACHE, "lab")
SITE_DIR = os.path.join(LAB_HOME, "site")
KUBECONFIG = os.path.join(LAB_HOME, "kubeconfig")
KUBECTL = os.path.join(LAB_HOME, "bin", "kubectl")
VAULT_ROOT = "/opt/vaultkube-lab/openbao"
VAULT_ADDR = "https://127.0.0.1:28200"
VAULT_CA = os.path.join(SITE_DIR, "vault-ca.pem")
KEYS_FILE = os.path.join(SITE_DIR, "vault-init.vault")
KEYS_PASSWORD_FILE = os.path.join(SITE_DIR, "keys-password")
ENVIRONMENT = "lab"


def init_data():
    """The vault_init output, decrypted with the lab's key password."""
    with open(KEYS_PASSWORD_FILE, encoding="utf-8") as fh:
        password = fh.read().split()[0]
    with open(KEYS_FILE, "rb") as fh:
        blob = fh.read()
    plain = VaultLib([("default", VaultSecret(password.encode()))]).decrypt(blob)
    return json.loads(plain)


def admin_token():
    """An admin token made from the keys file (the role leaves no root token standing)."""
    with open(KEYS_PASSWORD_FILE, encoding="utf-8") as fh:
        password = fh.read().split()[0]
    return make_admin_token(VAULT_ADDR, KEYS_FILE, password, ca_cert=VAULT_CA)


def vault_client(token=True):
    client = hvac.Client(url=VAULT_ADDR, verify=VAULT_CA)
    if token:
        client.token = admin_token()
    return client


def lab_password(name):
    """A value the lab inventory generated with the password lookup."""
    with open(os.path.join(SITE_DIR, name), encoding="utf-8") as fh:
        return fh.read().split()[0]


def kubectl(*args):
    return kubectl_run(*args, binary=KUBECTL, kubeconfig=KUBECONFIG, env=dict(os.environ)).stdout


def kube_get(*args):
    return json.loads(kubectl("get", "-o", "json", *args))


def ready_condition(obj):
    return condition(obj) or {}
