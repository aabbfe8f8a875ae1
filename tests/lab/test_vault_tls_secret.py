"""vault_install's TLS Secret on the kubernetes target (issue 24 item 4, issue 23 item 1: one
CA/certificate step), against the lab's real API server: the role's helm_tls tasks (the part of
helm.yml that makes the Secret, run alone: the lab has no node, so the chart's pods would not
run) create the Secret with a certificate for every name of the chart, a re-run changes nothing,
a new subjectAltName renews it (a new CA, the previous one kept in ca.crt so that pods still
presenting the old certificate stay trusted), and a Secret the user made is left alone.
Rolling the pods after a renewal is not covered here (it needs the node lab)."""

import base64
import json
import os
import subprocess
import sys

from cryptography import x509

from lab_helpers import LAB, kubectl, role_play

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_role(tmp_path, namespace, **extra):
    play = tmp_path / "tls.yml"
    play.write_text(role_play("vaultkube.platform.vault_install", "helm_tls"))
    variables = dict(vault_install_target="kubernetes", vault_install_helm_namespace=namespace,
                     vault_install_kubeconfig=LAB["KUBECONFIG"],
                     vault_install_ca_cert_controller_path=str(tmp_path / "ca" / "vault-ca.pem"))
    variables.update(extra)
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json")
    res = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                          "-c", "local", str(play), "-e", json.dumps(variables)],
                         capture_output=True, text=True, cwd=REPO, env=env, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "PRIVATE KEY" not in res.stdout + res.stderr
    return json.loads(res.stdout)["stats"]["localhost"]["changed"]


def secret(namespace, name="vault-tls"):
    doc = json.loads(kubectl("get", "secret", name, "-n", namespace, "-o", "json").stdout)
    data = {k: base64.b64decode(v).decode() for k, v in doc["data"].items()}
    return doc, data


def certificates(pem):
    return x509.load_pem_x509_certificates(pem.encode())


def sans(cert):
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set("DNS:" + n for n in ext.get_values_for_type(x509.DNSName)) | set(
        "IP:" + str(a) for a in ext.get_values_for_type(x509.IPAddress))


def test_secret_is_created_kept_and_renewed(lab, namespace, tmp_path):
    assert run_role(tmp_path, namespace) > 0
    doc, data = secret(namespace)
    assert doc["type"] == "kubernetes.io/tls"
    assert doc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "vaultkube.platform"
    [ca] = certificates(data["ca.crt"])
    [cert] = certificates(data["tls.crt"])
    cert.verify_directly_issued_by(ca)
    names = sans(cert)
    assert {"DNS:vault.%s.svc" % namespace, "DNS:*.vault-internal", "DNS:localhost", "IP:127.0.0.1"} <= names
    assert "PRIVATE KEY" in data["tls.key"]
    with open(tmp_path / "ca" / "vault-ca.pem", encoding="ascii") as handle:
        assert handle.read().strip() == data["ca.crt"].strip()

    # Nothing to do: changed=0, the Secret untouched.
    assert run_role(tmp_path, namespace) == 0
    assert secret(namespace)[0]["metadata"]["resourceVersion"] == doc["metadata"]["resourceVersion"]

    # A new subjectAltName: a new certificate and key from a new CA (the CA key is never kept);
    # the old CA follows it in ca.crt, and the controller's copy is the new bundle.
    extra = ["DNS:vault.renewal.test"]
    assert run_role(tmp_path, namespace, vault_install_helm_tls_extra_sans=extra) > 0
    _doc, renewed = secret(namespace)
    new_ca, old_ca = certificates(renewed["ca.crt"])
    assert old_ca.serial_number == ca.serial_number and new_ca.serial_number != ca.serial_number
    [new_cert] = certificates(renewed["tls.crt"])
    new_cert.verify_directly_issued_by(new_ca)
    assert sans(new_cert) == names | {"DNS:vault.renewal.test"}
    assert renewed["tls.key"] != data["tls.key"]
    with open(tmp_path / "ca" / "vault-ca.pem", encoding="ascii") as handle:
        assert handle.read().strip() == renewed["ca.crt"].strip()
    assert run_role(tmp_path, namespace, vault_install_helm_tls_extra_sans=extra) == 0


def test_a_secret_the_user_made_is_left_alone(lab, namespace, tmp_path):
    # A Secret of the role from another namespace, copied without the role's label: "given".
    assert run_role(tmp_path, namespace, vault_install_helm_tls_secret="made") > 0
    _doc, data = secret(namespace, "made")
    kubectl("create", "secret", "generic", "given", "-n", namespace, "--type=kubernetes.io/tls",
            "--from-literal=tls.crt=" + data["tls.crt"], "--from-literal=tls.key=" + data["tls.key"],
            "--from-literal=ca.crt=" + data["ca.crt"])
    before = secret(namespace, "given")[0]["metadata"]["resourceVersion"]
    # Other names than its certificate has, and a window longer than its validity: still left alone.
    assert run_role(tmp_path, namespace, vault_install_helm_tls_secret="given",
                    vault_install_helm_tls_extra_sans=["DNS:other.test"], vault_install_tls_renew_before="900d") == 0
    assert secret(namespace, "given")[0]["metadata"]["resourceVersion"] == before
