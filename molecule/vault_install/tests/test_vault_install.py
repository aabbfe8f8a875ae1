"""vault_install on the lab host: binary, user, files and modes, a TLS listener."""
import ssl
import urllib.request

from roles_testlib import VAULT_ADDR, VAULT_CA, VAULT_ROOT

testinfra_hosts = ["vault-lab"]


def test_dedicated_system_user(host):
    user = host.user("openbao")
    assert user.exists
    assert user.uid < 1000
    assert user.shell in ("/usr/sbin/nologin", "/sbin/nologin")


def test_binary_installed(host):
    binary = host.file(VAULT_ROOT + "/bin/bao")
    assert binary.is_file and binary.mode == 0o755 and binary.user == "root"
    assert "OpenBao" in host.check_output(VAULT_ROOT + "/bin/bao version")


def test_file_modes(host):
    config = host.file(VAULT_ROOT + "/etc/openbao.hcl")
    assert (config.mode, config.user, config.group) == (0o640, "root", "openbao")
    assert 'storage "raft"' in config.content_string
    assert "tls_cert_file" in config.content_string
    # The role's default audit device, declared in OpenBao's configuration.
    assert 'audit "file" "file" {' in config.content_string
    assert 'file_path = "%s/log/audit.log"' % VAULT_ROOT in config.content_string
    data = host.file(VAULT_ROOT + "/data")
    assert (data.mode, data.user) == (0o700, "openbao")
    key = host.file(VAULT_ROOT + "/etc/tls/server.key")
    assert (key.mode, key.user, key.group) == (0o640, "root", "openbao")
    ca_key = host.file(VAULT_ROOT + "/etc/tls/ca.key")
    assert (ca_key.mode, ca_key.user) == (0o600, "root")


def test_process_runs_as_service_user_and_listens(host):
    pid = host.file(VAULT_ROOT + "/run/openbao.pid").content_string.strip()
    proc = host.process.get(pid=int(pid))
    assert proc.user == "openbao"
    assert host.socket("tcp://127.0.0.1:28200").is_listening


def test_tls_listener_verifies_with_exported_ca(host):
    ctx = ssl.create_default_context(cafile=VAULT_CA)
    with urllib.request.urlopen(VAULT_ADDR + "/v1/sys/health?uninitcode=200&sealedcode=200",
                                context=ctx, timeout=10) as resp:
        assert resp.status == 200


def test_supervisor_start_is_idempotent(host):
    out = host.check_output(VAULT_ROOT + "/etc/openbao-ctl.sh start")
    assert out.strip() == "running"
