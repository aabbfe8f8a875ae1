"""vault_unseal: initialised once, keys encrypted at rest, unsealed, active."""
import os
import stat

from lab_helpers import poll
from roles_testlib import KEYS_FILE, init_data, vault_client

testinfra_hosts = ["localhost"]


def test_keys_file_encrypted_and_private():
    mode = stat.S_IMODE(os.stat(KEYS_FILE).st_mode)
    assert mode == 0o600
    with open(KEYS_FILE, encoding="ascii") as fh:
        assert fh.readline().startswith("$ANSIBLE_VAULT;1.1;AES256")
    data = init_data()
    assert data["secret_shares"] == 5 and data["secret_threshold"] == 3
    assert len(data["keys"]) == 5


def test_vault_initialised_unsealed_active():
    client = vault_client(token=False)
    status = client.sys.read_seal_status()
    assert status["initialized"] is True
    assert status["sealed"] is False
    assert status["t"] == 3 and status["n"] == 5
    leader = client.sys.read_leader_status()
    assert leader["is_self"] is True


def test_no_root_token_in_custody_and_an_admin_token_from_the_keys_works():
    assert "root_token" not in init_data()
    client = vault_client()
    assert client.is_authenticated()
    assert "root" in client.auth.token.lookup_self()["data"]["policies"]


def test_restarted_node_is_unsealed_again_from_stored_keys():
    import os
    import subprocess

    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
    subprocess.run(["/opt/vaultkube-lab/openbao/etc/openbao-ctl.sh", "restart"], check=True,
                   capture_output=True)
    client = vault_client(token=False)
    poll(lambda: client.sys.read_seal_status()["sealed"], 20, 0.5)  # the API is coming back up
    assert client.sys.read_seal_status()["sealed"] is True
    run = subprocess.run(
        ["ansible-playbook", "-i", os.path.join(repo, "inventory", "lab"),
         os.path.join(repo, "molecule", "vault_unseal", "converge.yml")],
        capture_output=True, text=True, cwd=repo, check=False,
        env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
    assert run.returncode == 0, run.stdout[-3000:]
    assert client.sys.read_seal_status()["sealed"] is False
    # Only the unseal itself changed something.
    import re
    changed = re.findall(r"localhost\s+: ok=\d+\s+changed=(\d+)", run.stdout)
    assert changed == ["1"], run.stdout[-2000:]
