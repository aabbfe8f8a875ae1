# -*- coding: utf-8 -*-
"""kubernetes_port_forward's process handling, with a stand-in for kubectl (the real
kubectl and a real pod are exercised by the in-cluster end-to-end test): the forward
outlives the task, the returned port listens, state=absent closes it, the lifetime
ends it, a kubectl error is one line, and an unrelated pid is never signalled."""
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

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
                               'kubectl_binary': str(stub), 'kubeconfig': '/tmp/kc', 'context': 'lab'})
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
                               'kubectl_binary': str(stub), 'lifetime': 2})
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
