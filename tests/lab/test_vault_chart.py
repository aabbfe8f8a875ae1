"""vault_install's chart values against the unmodified official Vault chart (0.34.1):
the values the role composes (for inventory/lab-cluster and with the role's own
defaults) are rendered with `helm template` and the manifests are checked: HA raft
with 3 replicas, TLS from the Secret on the listener, each pod's DNS name as API
address, the UI Service, and a generated certificate that names every Service the
chart creates. No cluster is needed."""

import os
import subprocess
import sys

import yaml

from lab_helpers import LAB, role_play

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHART = os.environ.get("VAULTKUBE_VAULT_CHART") or os.path.join(REPO, "..", "shared", "charts", "vault-0.34.1")

# The role's values and certificate names, written as YAML for the test to read.
EXPORT = "{{ {'values': _vault_install_helm_final_values, 'sans': _vault_install_helm_sans} | to_nice_yaml }}"


def compose(tmp_path, inventory=None, *extra):
    """The role's values and certificate names, as the role computes them."""
    play, out = tmp_path / "values.yml", tmp_path / "composed.yml"
    play.write_text(role_play("vaultkube.platform.vault_install", "helm_values", {
        "ansible.builtin.copy": {"content": EXPORT, "dest": str(out), "mode": "0600"}}))
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(play),
           "-e", "vault_install_target=kubernetes"]
    if inventory:
        cmd += ["-i", os.path.join(REPO, "inventory", inventory)]
    for item in extra:
        cmd += ["-e", item]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return yaml.safe_load(out.read_text())


def template(tmp_path, values):
    assert os.path.isfile(os.path.join(CHART, "Chart.yaml")), (
        "the official Vault chart 0.34.1 is expected at %s (or set VAULTKUBE_VAULT_CHART)" % CHART)
    path = tmp_path / "chart-values.yml"
    path.write_text(yaml.safe_dump(values))
    res = subprocess.run([os.path.join(LAB["LAB_BIN"], "helm"), "template", "vault", CHART, "-n", "vault",
                          "-f", str(path)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    docs = [d for d in yaml.safe_load_all(res.stdout) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def container(manifests):
    return manifests[("StatefulSet", "vault")]["spec"]["template"]["spec"]["containers"][0]


def test_lab_cluster_values_render_ha_raft_with_tls_and_ui(tmp_path):
    composed = compose(tmp_path, "lab-cluster")
    manifests = template(tmp_path, composed["values"])
    sts = manifests[("StatefulSet", "vault")]
    assert sts["spec"]["replicas"] == 3
    pod = sts["spec"]["template"]["spec"]
    assert "affinity" not in pod, "one node: no anti-affinity"
    vault = container(manifests)
    assert vault["image"] == "vaultkube.local/openbao:2.7.2" and vault["imagePullPolicy"] == "Never"
    env = {e["name"]: e.get("value") for e in vault["env"]}
    assert env["VAULT_ADDR"] == "https://127.0.0.1:8200"
    assert env["VAULT_API_ADDR"] == "https://$(VAULT_K8S_POD_NAME).vault-internal:8200"
    assert env["VAULT_CACERT"] == "/vault/userconfig/tls/ca.crt"
    assert env["VAULT_RAFT_NODE_ID"] is None  # from the pod name (fieldRef)
    # $(VAULT_K8S_POD_NAME) only expands when that variable comes earlier in the list.
    names = [e["name"] for e in vault["env"]]
    assert names.index("VAULT_K8S_POD_NAME") < names.index("VAULT_API_ADDR")
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "vault-tls"
    mounts = {m["name"]: m for m in vault["volumeMounts"]}
    assert mounts["tls"]["mountPath"] == "/vault/userconfig/tls" and mounts["tls"]["readOnly"] is True
    claims = {c["metadata"]["name"]: c for c in sts["spec"]["volumeClaimTemplates"]}
    assert set(claims) == {"data", "audit"}
    assert {claims[c]["spec"]["resources"]["requests"]["storage"] for c in claims} == {"1Gi"}
    assert mounts["audit"]["mountPath"] == "/vault/audit"

    config = manifests[("ConfigMap", "vault-config")]["data"]["extraconfig-from-values.hcl"]
    for line in ('tls_cert_file   = "/vault/userconfig/tls/tls.crt"', 'tls_key_file    = "/vault/userconfig/tls/tls.key"',
                 'storage "raft"', 'service_registration "kubernetes" {}', "ui = true"):
        assert line in config, (line, config)
    assert "tls_disable" not in config
    # OpenBao: the default file audit device is declared in the configuration, on the audit volume.
    assert 'audit "file" "file" {' in config and 'file_path = "/vault/audit/audit.log"' in config, config
    assert 'mode = "0600"' in config and 'seal "transit"' not in config

    services = sorted(name for kind, name in manifests if kind == "Service")
    assert services == ["vault", "vault-active", "vault-internal", "vault-standby", "vault-ui"]
    assert [p["port"] for p in manifests[("Service", "vault-ui")]["spec"]["ports"]] == [8200]
    assert not [name for kind, name in manifests if "injector" in name]

    # Every Service and every pod is named in the certificate the role generates.
    sans = set(composed["sans"])
    for name in services:
        if name != "vault-internal":
            for suffix in ("", ".vault", ".vault.svc", ".vault.svc.cluster.local"):
                assert "DNS:%s%s" % (name, suffix) in sans
    assert {"DNS:*.vault-internal", "DNS:*.vault-internal.vault.svc", "IP:127.0.0.1", "DNS:localhost"} <= sans


def test_role_defaults_render_production_values(tmp_path):
    composed = compose(tmp_path)
    manifests = template(tmp_path, composed["values"])
    sts = manifests[("StatefulSet", "vault")]
    assert sts["spec"]["replicas"] == 3
    anti = sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == "kubernetes.io/hostname"
    claims = sorted(c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"])
    assert claims == ["audit", "data"]
    assert container(manifests)["image"] == "hashicorp/vault:2.0.4"
    assert ("Service", "vault-ui") in manifests
    # HashiCorp Vault takes its audit devices through the API (vault_unseal), not the configuration.
    config = manifests[("ConfigMap", "vault-config")]["data"]["extraconfig-from-values.hcl"]
    assert "audit " not in config


def test_transit_seal_keeps_the_token_out_of_the_config(tmp_path):
    token = "s.not-in-any-configmap"
    composed = compose(tmp_path, "lab-cluster", "vault_install_seal=transit",
                       "vault_install_seal_transit_address=https://transit.example.com:8200",
                       "vault_install_seal_transit_token=" + token,
                       "vault_install_seal_transit_tls_ca_file=/vault/userconfig/transit/ca.crt")
    manifests = template(tmp_path, composed["values"])
    config = manifests[("ConfigMap", "vault-config")]["data"]["extraconfig-from-values.hcl"]
    assert 'seal "transit" {' in config and 'address    = "https://transit.example.com:8200"' in config
    assert 'tls_ca_cert = "/vault/userconfig/transit/ca.crt"' in config
    assert token not in config and token not in str(composed["values"])
    env = {e["name"]: e for e in container(manifests)["env"]}
    assert env["VAULT_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "vault-seal-transit", "key": "token"}
    # The TLS Secret's CA variable is kept beside it (lists are not merged: both come from the role).
    assert env["VAULT_CACERT"]["value"] == "/vault/userconfig/tls/ca.crt"


def test_standalone_uses_single_node_raft(tmp_path):
    composed = compose(tmp_path, "lab-cluster", "vault_install_helm_mode=standalone")
    manifests = template(tmp_path, composed["values"])
    config = manifests[("ConfigMap", "vault-config")]["data"]["extraconfig-from-values.hcl"]
    assert 'storage "raft"' in config and 'storage "file"' not in config
    assert manifests[("StatefulSet", "vault")]["spec"]["replicas"] == 1
    assert ("Service", "vault-active") not in manifests
