"""vault_unseal: initialised once, keys encrypted at rest, unsealed, active."""
import os
import stat

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


def test_root_token_from_keys_file_works():
    client = vault_client()
    assert client.is_authenticated()
