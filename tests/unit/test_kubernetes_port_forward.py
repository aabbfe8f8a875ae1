# -*- coding: utf-8 -*-
"""kubernetes_port_forward's process handling, with a stand-in for kubectl (the real
kubectl and a real pod are exercised by tests/lab/test_vault_chart.py on the node lab):
the forward outlives the task, the returned port listens, state=absent closes it, the
lifetime ends it, the end of the Ansible run (even kill -9) ends it, killing its
supervisor ends kubectl, a kubectl error is one line, and an unrelated pid is never
signalled. The supervisor's rules (owner, lifetime, /proc parsing) are tested as pure
functions."""
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils import _port_forward as pf

STUB = textwrap.dedent('''\
    #!%s
    import socket, sys, time
    args = sys.argv[1:]
    with open(%r, 'w') as fh:
        fh.write(' '.join(args))
    if 'pod/broken' in args:
        print('error: unable to forward port because pod is not running. Current status=Pending', flush=True)
        sys.exit(1)
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    s.listen(5)
    print('Forwarding from 127.0.0.1:%%d -> 8200' %% s.getsockname()[1], flush=True)
    while True:
        conn, _ = s.accept()
        print('Handling connection for 8200', flush=True)
        conn.close()
''')


def run_module(args):
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible'), 'localhost', '-o',
           '-m', 'vaultkube.platform.kubernetes_port_forward', '-a', json.dumps(args)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    out = res.stdout
    body = out[out.index('{'):] if '{' in out else '{}'
    return res.returncode, json.loads(body), out + res.stderr


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open('/proc/%d/stat' % pid) as fh:
        return fh.read().split()[2] != 'Z'


@pytest.fixture
def kubectl(tmp_path):
    argv_file = tmp_path / 'argv'
    stub = tmp_path / 'kubectl'
    stub.write_text(STUB % (sys.executable, str(argv_file)))
    stub.chmod(0o755)
    return stub, argv_file


def test_open_listen_close(kubectl):
    stub, argv_file = kubectl
    rc, res, out = run_module({'namespace': 'vault', 'resource': 'pod/vault-0', 'remote_port': 8200,
                               'kubectl_binary': str(stub), 'kubeconfig': '/tmp/kc', 'context': 'lab',
                               'close_with_controller': False})
    assert rc == 0, out
    assert res['changed'] is False
    pid, port = res['pid'], res['local_port']
    try:
        assert alive(pid), 'the forward must outlive the task'
        with socket.create_connection(('127.0.0.1', port), timeout=5):
            pass
        argv = argv_file.read_text().split()
        assert argv == ['port-forward', '--address', '127.0.0.1', '--namespace', 'vault', '--kubeconfig',
                        '/tmp/kc', '--context', 'lab', 'pod/vault-0', ':8200']
    finally:
        rc, res, out = run_module({'state': 'absent', 'pid': pid})
    assert rc == 0 and res['closed'] is True, out
    deadline = time.time() + 5
    while time.time() < deadline and alive(pid):
        time.sleep(0.1)
    assert not alive(pid)
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', port), timeout=2).close()


def test_lifetime_ends_the_forward(kubectl):
    stub, _argv = kubectl
    rc, res, out = run_module({'namespace': 'vault', 'resource': 'pod/vault-0', 'remote_port': 8200,
                               'kubectl_binary': str(stub), 'lifetime': 2, 'close_with_controller': False})
    assert rc == 0, out
    deadline = time.time() + 10
    while time.time() < deadline and alive(res['pid']):
        time.sleep(0.2)
    assert not alive(res['pid'])
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', res['local_port']), timeout=2).close()


def test_kubectl_error_is_one_line(kubectl):
    stub, _argv = kubectl
    rc, res, out = run_module({'namespace': 'vault', 'resource': 'pod/broken', 'remote_port': 8200,
                               'kubectl_binary': str(stub)})
    assert rc != 0
    assert res['msg'].startswith('kubectl port-forward to vault/pod/broken port 8200 failed: error: unable '
                                 'to forward port because pod is not running'), res['msg']
    assert 'Traceback' not in out


def test_absent_leaves_other_processes_alone():
    other = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
    try:
        rc, res, out = run_module({'state': 'absent', 'pid': other.pid})
        assert rc == 0 and res['closed'] is False, out
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_missing_field_is_named():
    rc, res, _out = run_module({'namespace': 'vault', 'remote_port': 8200})
    assert rc != 0 and res['msg'] == 'resource is required to open a port-forward (state=present)'


def wait_gone(pids, seconds):
    """Seconds until every pid is gone (polling /proc), or None when one still runs after seconds."""
    started = time.time()
    while time.time() - started < seconds:
        if not any(alive(pid) for pid in pids):
            return time.time() - started
        time.sleep(0.1)
    return None


def children(pid):
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as fh:
            return [int(child) for child in fh.read().split()]
    except OSError:
        return []


def test_the_end_of_an_ad_hoc_run_closes_its_forward(kubectl):
    stub, _argv = kubectl
    cmd = [os.path.join(os.path.dirname(sys.executable), 'ansible'), 'localhost', '-o',
           '-m', 'vaultkube.platform.kubernetes_port_forward',
           '-a', json.dumps({'namespace': 'vault', 'resource': 'pod/vault-0', 'remote_port': 8200,
                             'kubectl_binary': str(stub)})]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=60)
    res = json.loads(out[out.index('{'):])
    assert res['owner_pid'] == proc.pid, out + err
    assert res['kubectl_pid'] in children(res['pid']) or not alive(res['pid'])
    bound = pf.POLL_SECONDS + pf.STOP_GRACE_SECONDS + 2
    assert wait_gone([res['pid'], res['kubectl_pid']], bound) is not None, \
        'the forward outlived the ansible command by more than %ss' % bound


PLAY = textwrap.dedent('''\
    - hosts: localhost
      gather_facts: false
      tasks:
        - vaultkube.platform.kubernetes_port_forward:
            namespace: vault
            resource: pod/vault-0
            remote_port: 8200
            kubectl_binary: %s
          register: forward
        - ansible.builtin.copy:
            content: "{{ forward | to_json }}"
            dest: %s
        - ansible.builtin.pause:
            seconds: 120
''')


def test_a_killed_run_leaves_no_forward(kubectl, tmp_path):
    stub, _argv = kubectl
    result = tmp_path / 'forward.json'
    (tmp_path / 'play.yml').write_text(PLAY % (stub, result))
    run = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
                            str(tmp_path / 'play.yml')], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           stdin=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (result.exists() and result.read_text()):
            time.sleep(0.2)
        res = json.loads(result.read_text())
        assert res['owner_pid'] == run.pid
        assert alive(res['pid']) and alive(res['kubectl_pid'])
        assert res['kubectl_pid'] in children(res['pid'])
    finally:
        run.kill()  # SIGKILL: no handler, no always block, no close task
        run.wait()
    try:
        bound = pf.POLL_SECONDS + pf.STOP_GRACE_SECONDS + 2
        took = wait_gone([res['pid'], res['kubectl_pid']], bound)
        assert took is not None, 'kubectl port-forward outlived a killed run by more than %ss' % bound
    finally:
        # The run's task worker (a fork in a session of its own) outlives its killed
        # parent: end every process of this play, so the test leaves none behind.
        play = str(tmp_path / 'play.yml').encode()
        for entry in os.listdir('/proc'):
            try:
                with open('/proc/%s/cmdline' % entry, 'rb') as handle:
                    if play in handle.read().split(b'\0'):
                        os.kill(int(entry), signal.SIGKILL)
            except (OSError, ValueError):
                pass


def test_killing_the_supervisor_ends_kubectl(kubectl):
    stub, _argv = kubectl
    rc, res, out = run_module({'namespace': 'vault', 'resource': 'pod/vault-0', 'remote_port': 8200,
                               'kubectl_binary': str(stub), 'close_with_controller': False})
    assert rc == 0, out
    assert alive(res['kubectl_pid']) and res['owner_pid'] is None
    os.kill(res['pid'], 9)
    assert wait_gone([res['pid'], res['kubectl_pid']], 5) is not None


def test_bad_lifetime_is_one_line():
    rc, res, _out = run_module({'namespace': 'vault', 'resource': 'pod/vault-0', 'remote_port': 8200,
                                'lifetime': 0})
    assert rc != 0 and res['msg'].startswith('lifetime must be a whole number of seconds of at least 1 (got 0)')


# ---- the supervisor's rules, as pure functions

def test_parse_stat_counts_fields_after_the_last_parenthesis():
    text = '4242 (odd) name (x)) S 17 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1 2\n'
    assert pf.parse_stat(text) == (17, 987654, 'S')


def test_read_stat_of_this_process_and_of_none():
    ppid, start, state = pf.read_stat(os.getpid())
    assert ppid == os.getppid() and start > 0 and state in 'RS'
    assert pf.read_stat(2 ** 22 + 1) is None


@pytest.mark.parametrize('argv, expected', [
    (['/venv/bin/python3', '/venv/bin/ansible-playbook', 'site.yml'], True),
    (['/usr/bin/ansible-playbook', 'site.yml'], True),
    (['python', '/usr/bin/ansible', 'localhost', '-m', 'ping'], True),
    (['/bin/sh', '-c', 'ansible-playbook site.yml'], False),
    (['python', '/venv/bin/molecule', 'test'], False),
    (['python', '/venv/bin/ansible-runner', 'run'], False),
    ([], False),
])
def test_is_ansible_cli(argv, expected):
    assert pf.is_ansible_cli(argv) is expected


PLAYBOOK = ['/venv/bin/python3', '/venv/bin/ansible-playbook', 'site.yml']


@pytest.mark.parametrize('chain, expected', [
    # module <- sh <- sh <- worker (fork of ansible-playbook) <- ansible-playbook <- bash
    ([(30, ['/bin/sh', '-c', 'python AnsiballZ']), (29, ['/bin/sh', '-c', "/bin/sh -c 'python'"]),
      (20, PLAYBOOK), (10, PLAYBOOK), (5, ['bash'])], 10),
    # under molecule or pytest: the run is still the topmost ansible-playbook
    ([(30, ['sh']), (20, PLAYBOOK), (10, PLAYBOOK), (5, ['python', '/venv/bin/molecule', 'test'])], 10),
    # a play whose task runs another ansible-playbook: the inner run owns its forwards
    ([(60, ['sh']), (50, PLAYBOOK), (40, PLAYBOOK), (30, ['/bin/sh', '-c', 'ansible-playbook x.yml']),
      (20, PLAYBOOK), (10, PLAYBOOK)], 40),
    # over SSH on a remote host: no Ansible ancestor, nothing to watch
    ([(30, ['/bin/sh', '-c', 'python AnsiballZ']), (20, ['sshd: deploy']), (1, ['/sbin/init'])], None),
    ([], None),
])
def test_pick_owner(chain, expected):
    assert pf.pick_owner(chain) == expected


def test_find_owner_under_no_ansible_is_none():
    assert pf.find_owner() is None  # pytest and its shells are no Ansible program


def test_owner_alive_checks_pid_start_time_and_state():
    stats = {10: (1, 500, 'S'), 11: (1, 777, 'Z')}
    assert pf.owner_alive((10, 500), stats.get)
    assert not pf.owner_alive((10, 499), stats.get), 'a recycled pid is another process'
    assert not pf.owner_alive((11, 777), stats.get), 'a zombie has ended'
    assert not pf.owner_alive((12, 1), stats.get)
    assert pf.owner_alive(None, stats.get), 'no owner: only the lifetime bounds the forward'


@pytest.mark.parametrize('value', [0, -5, None, '900', 1.5, True])
def test_lifetime_error(value):
    assert pf.lifetime_error(value).startswith('lifetime must be a whole number of seconds of at least 1')
    with pytest.raises(ValueError):
        pf.deadline(100.0, value)


def test_deadline_and_stop_reason():
    end = pf.deadline(100.0, 900)
    assert pf.lifetime_error(900) is None and end == 1000.0
    assert pf.stop_reason(999.9, end, (10, 5), lambda owner: True) is None
    assert pf.stop_reason(1000.0, end, (10, 5), lambda owner: True) == 'lifetime'
    assert pf.stop_reason(500.0, end, (10, 5), lambda owner: False) == 'owner'
    assert pf.stop_reason(500.0, end, None) is None


@pytest.mark.parametrize('line, port', [
    ('Forwarding from 127.0.0.1:39211 -> 8200', 39211),
    ('Forwarding from [::1]:39211 -> 8200', 39211),
    ('Handling connection for 8200', None),
    ('error: Forwarding from 127.0.0.1:1 -> 2', None),
])
def test_forwarding_port(line, port):
    assert pf.forwarding_port(line) == port


def test_url_gives_the_remote_port_and_the_api_url(kubectl):
    stub, argv_file = kubectl
    rc, res, out = run_module({'url': 'https://vault.vault.svc:8300', 'namespace': 'vault',
                               'resource': 'service/vault', 'kubectl_binary': str(stub),
                               'close_with_controller': False})
    assert rc == 0, out
    try:
        assert res['forwarded'] is True
        assert res['api_url'] == 'https://127.0.0.1:%d' % res['local_port']
        assert argv_file.read_text().split()[-2:] == ['service/vault', ':8300']
    finally:
        run_module({'state': 'absent', 'pid': res['pid']})


def test_url_without_resource_opens_nothing():
    rc, res, out = run_module({'url': 'http://127.0.0.1:8200', 'kubectl_binary': '/nonexistent/kubectl'})
    assert rc == 0, out
    assert res['forwarded'] is False and res['api_url'] == 'http://127.0.0.1:8200'
    assert 'pid' not in res and 'local_port' not in res


def test_bad_url_is_one_line():
    rc, res, _out = run_module({'url': 'vault.vault.svc:8200', 'namespace': 'vault', 'resource': 'service/vault'})
    assert rc != 0 and res['msg'].startswith("url 'vault.vault.svc:8200' must be an http:// or https:// URL")


@pytest.mark.parametrize('url, parts', [
    ('https://vault.vault.svc:8200', ('https', 8200)),
    ('http://127.0.0.1', ('http', 8200)),
    ('https://[::1]:9200/', ('https', 9200)),
])
def test_vault_url_parts(url, parts):
    assert pf.vault_url_parts(url) == parts


@pytest.mark.parametrize('url', ['', 'vault:8200', 'ftp://vault:8200', 'https://vault:port', 'https://:8200'])
def test_vault_url_parts_refuses(url):
    with pytest.raises(ValueError, match='^vault_x_url '):
        pf.vault_url_parts(url, field='vault_x_url')


@pytest.mark.parametrize('scheme, address, port, url', [
    ('https', '127.0.0.1', 39211, 'https://127.0.0.1:39211'),
    ('http', '::1', 8200, 'http://[::1]:8200'),
])
def test_forwarded_url(scheme, address, port, url):
    assert pf.forwarded_url(scheme, address, port) == url
