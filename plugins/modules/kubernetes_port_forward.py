#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kubernetes_port_forward
short_description: Open or close a kubectl port-forward to a pod or Service, on the host that runs the module
version_added: 0.2.0
description:
  - Lets the controller reach a pod (for example each Vault server pod) through the Kubernetes API server
    when pod IPs are not routable from the controller, as on most real clusters.
  - O(state=present) starts C(kubectl port-forward) in the background on O(local_address), waits until it
    listens and returns the local port and a O(pid) to close it with. O(state=absent) closes it.
  - The forward carries bytes only; TLS stays end to end between the client and the pod, so the pod's
    certificate must be valid for the local address the client uses (for example C(IP:127.0.0.1)).
  - The kubeconfig is passed by path; its credentials never appear on a command line.
  - A forward is bounded in time and in owner. It closes by itself after O(lifetime) seconds; with
    O(close_with_controller) it also closes within seconds of the end of the Ansible process that runs the
    play (a run killed with C(kill -9) leaves no forward behind); and it ends when the pod goes away
    (kubectl exits then). Its supervisor process starts kubectl with the parent-death signal (Linux), so
    killing the supervisor ends kubectl too.
  - Given O(url), the address of Vault as the inventory knows it (for example its Service address inside
    the cluster), the module returns RV(api_url), the address the controller's modules use (the forward's
    local address and port with the scheme of O(url) when O(resource) is set, O(url) itself when
    O(resource) is empty, when Vault is reached directly and no forward is opened). A role then needs no branch.
  - Opening or closing a forward changes nothing on the cluster, so the module always reports
    C(changed=false).
  - Needs C(kubectl) on the host that runs the module, and a POSIX system (the forward is a detached
    background process).
options:
  state:
    description: V(present) opens a forward, V(absent) closes the one O(pid) names.
    type: str
    choices: [present, absent]
    default: present
  url:
    description:
      - Vault's URL as the inventory knows it (scheme, host, port). With it the module returns RV(api_url),
        O(remote_port) defaults to its port (V(8200) when it names none), and an empty O(resource) opens no
        forward.
    type: str
    version_added: 0.6.0
  namespace:
    description: Namespace of O(resource). Required with O(state=present) when a forward is opened.
    type: str
  resource:
    description:
      - What to forward to, as kubectl names it, for example C(pod/vault-0) or C(service/vault-active)
        (kubectl then picks one pod the Service selects). Required with O(state=present), unless O(url)
        is given (then empty means no forward, Vault is reached at O(url) directly).
    type: str
  remote_port:
    description:
      - Port of the pod (or Service) to forward to. Required with O(state=present) when a forward is opened,
        unless O(url) gives it.
    type: int
  local_address:
    description: Local address to listen on.
    type: str
    default: 127.0.0.1
  local_port:
    description: Local port to listen on; V(0) lets kubectl pick a free one (returned in RV(local_port)).
    type: int
    default: 0
  kubeconfig:
    description: Path of the kubeconfig; empty uses kubectl's own default (C($KUBECONFIG), C(~/.kube/config)).
    type: path
  context:
    description: Kubeconfig context; empty uses the current context.
    type: str
  kubectl_binary:
    description: Name or path of the kubectl program.
    type: path
    default: kubectl
  lifetime:
    description:
      - Seconds after which the forward closes by itself, counted from when it opens. Give it more than the
        play needs the forward for; the default suits a role that unseals or configures Vault (a few
        minutes). The role closes its forwards at its end anyway; the lifetime bounds a forward whose
        closing task never ran.
    type: int
    default: 900
  close_with_controller:
    description:
      - Close the forward as soon as the Ansible process that runs the play is gone (the topmost
        C(ansible-playbook) or C(ansible) process among the module's ancestors, checked every second by
        pid and start time).
      - Where no Ansible process is an ancestor (the module runs on a remote host over SSH) only
        O(lifetime) bounds the forward; RV(owner_pid) is then null.
      - V(false) keeps a forward opened by an ad hoc C(ansible) command open after that command, until
        O(lifetime) or O(state=absent).
    type: bool
    default: true
  timeout:
    description: Seconds to wait for the forward to listen (kubectl first waits for the pod to be Running).
    type: int
    default: 90
  pid:
    description: With O(state=absent), the RV(pid) that O(state=present) returned.
    type: int
attributes:
  check_mode:
    support: full
    description: Opens and closes forwards in check mode too; they change nothing and read-only checks need them.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Reach vault-0 from the controller
  vaultkube.platform.kubernetes_port_forward:
    namespace: vault
    resource: pod/vault-0
    remote_port: 8200
    kubeconfig: ~/.kube/config
  register: vault_0_forward

- name: Read its status through the forward
  vaultkube.platform.vault_status_info:
    url: "https://127.0.0.1:{{ vault_0_forward.local_port }}"
    ca_cert: ~/.vaultkube/vault-ca.pem

- name: Close the forward
  vaultkube.platform.kubernetes_port_forward:
    state: absent
    pid: "{{ vault_0_forward.pid }}"

- name: Reach Vault at its in-cluster address through a forward to its Service
  vaultkube.platform.kubernetes_port_forward:
    url: https://vault.vault.svc:8200
    namespace: vault
    resource: service/vault
  register: vault_forward

- name: Read its status at the address the forward gives (https://127.0.0.1:<port>)
  vaultkube.platform.vault_status_info:
    url: "{{ vault_forward.api_url }}"
    ca_cert: ~/.vaultkube/vault-ca.pem
'''

RETURN = r'''
api_url:
  description:
    - The address the controller's modules reach Vault at; only with O(url). With a forward, the scheme of
      O(url), the forward's local address and port; without one (O(resource) empty), O(url).
  returned: state=present and O(url) given
  type: str
  sample: https://127.0.0.1:39211
  version_added: 0.6.0
forwarded:
  description: Whether a forward was opened (false when O(url) is given and O(resource) is empty).
  returned: state=present
  type: bool
  sample: true
  version_added: 0.6.0
local_address:
  description: Address the forward listens on.
  returned: state=present and a forward was opened
  type: str
  sample: 127.0.0.1
local_port:
  description: Port the forward listens on.
  returned: state=present and a forward was opened
  type: int
  sample: 39211
pid:
  description: Process that holds the forward (the supervisor); give it to O(state=absent) to close it.
  returned: state=present and a forward was opened
  type: int
  sample: 41876
kubectl_pid:
  description: The C(kubectl port-forward) process, child of RV(pid).
  returned: state=present and a forward was opened
  type: int
  sample: 41877
owner_pid:
  description: The Ansible process whose end closes the forward; null when none is watched.
  returned: state=present and a forward was opened
  type: int
  sample: 41502
lifetime:
  description: Seconds after which the forward closes by itself.
  returned: state=present and a forward was opened
  type: int
  sample: 900
closed:
  description: Whether a running forward was closed (false when it had already ended).
  returned: state=absent
  type: bool
  sample: true
'''

import inspect
import json
import os
import select
import signal
import sys
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.vaultkube.platform.plugins.module_utils import _port_forward
from ansible_collections.vaultkube.platform.plugins.module_utils._port_forward import (
    MARKER, find_owner, forwarded_url, lifetime_error, read_argv, vault_url_parts)


def supervisor_source():
    """The supervisor program: module_utils/_port_forward.py (standard library only) and a call of its main()."""
    return inspect.getsource(_port_forward) + "\nmain()\n"


def kubectl_argv(module, kubectl):
    params = module.params
    argv = [kubectl, 'port-forward', '--address', params['local_address'], '--namespace', params['namespace']]
    if params['kubeconfig']:
        argv += ['--kubeconfig', params['kubeconfig']]
    if params['context']:
        argv += ['--context', params['context']]
    local = str(params['local_port']) if params['local_port'] else ''
    argv += [params['resource'], '%s:%d' % (local, params['remote_port'])]
    return argv


def open_forward(module):
    params = module.params
    scheme = None
    if params['url'] is not None:
        try:
            scheme, port = vault_url_parts(params['url'])
        except ValueError as exc:
            module.fail_json(msg=str(exc))
        if not params['resource']:
            # Vault is reached directly: its own URL is the address to use.
            module.exit_json(changed=False, forwarded=False, api_url=params['url'])
        if not params['remote_port']:
            params['remote_port'] = port
    for field in ('namespace', 'resource', 'remote_port'):
        if not params.get(field):
            module.fail_json(msg='%s is required to open a port-forward (state=present)' % field)
    error = lifetime_error(params['lifetime'])
    if error:
        module.fail_json(msg=error)
    kubectl = params['kubectl_binary']
    if os.sep not in kubectl:
        kubectl = module.get_bin_path(kubectl, required=True)
    elif not os.access(kubectl, os.X_OK):
        module.fail_json(msg='kubectl_binary %s is not an executable file' % kubectl)
    argv = kubectl_argv(module, kubectl)
    owner = find_owner() if params['close_with_controller'] else None

    # The supervisor's program goes in on its standard input (python -), so that its command
    # line is short: python - MARKER <kubectl argv> <lifetime> <report fd> <owner pid> <owner start>.
    program = supervisor_source().encode('utf-8')
    source_r, source_w = os.pipe()
    os.write(source_w, program)  # far below a pipe's buffer, so this never blocks
    os.close(source_w)
    read_fd, write_fd = os.pipe()
    first = os.fork()
    if first == 0:
        # Detach twice (new session, then a grandchild that is no session leader), so that the
        # forward outlives this module's process and Ansible's wait on its output; the
        # supervisor itself watches the owner and the lifetime.
        try:
            os.close(read_fd)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            os.chdir('/')
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(source_r, 0)
            for fd in (1, 2):
                os.dup2(devnull, fd)
            os.set_inheritable(write_fd, True)
            os.execv(sys.executable, [sys.executable, '-', MARKER, json.dumps(argv),
                                      str(params['lifetime']), str(write_fd),
                                      str(owner[0] if owner else 0), str(owner[1] if owner else 0)])
        finally:
            os._exit(1)
    os.close(source_r)
    os.close(write_fd)
    os.waitpid(first, 0)

    limit = time.time() + params['timeout']
    answer = b''
    while time.time() < limit and b'\n' not in answer:
        ready = select.select([read_fd], [], [], 0.5)[0]
        if ready:
            chunk = os.read(read_fd, 4096)
            if not chunk:
                break
            answer += chunk
    os.close(read_fd)
    text = answer.decode('utf-8', 'replace').strip()
    target = '%s/%s port %d' % (params['namespace'], params['resource'], params['remote_port'])
    if text.startswith('error '):
        module.fail_json(msg='kubectl port-forward to %s failed: %s' % (target, text[len('error '):]))
    parts = text.split()
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        module.fail_json(msg='kubectl port-forward to %s did not listen within %ds (is the pod Running? '
                             'raise timeout)' % (target, params['timeout']))
    result = dict(changed=False, forwarded=True, pid=int(parts[0]), local_port=int(parts[1]),
                  kubectl_pid=int(parts[2]), local_address=params['local_address'], lifetime=params['lifetime'],
                  owner_pid=owner[0] if owner else None)
    if scheme:
        result['api_url'] = forwarded_url(scheme, params['local_address'], result['local_port'])
    module.exit_json(**result)


def command_line(module, pid):
    """The process's arguments, or None when it does not exist."""
    args = read_argv(pid)
    if args:
        return args
    if os.path.isdir('/proc'):
        return None
    ps = module.get_bin_path('ps')
    if not ps:
        return None
    _rc, out, _err = module.run_command([ps, '-p', str(pid), '-o', 'command='])
    return out.split() or None


def is_our_forward(module, pid):
    """True when pid is a supervisor this module started."""
    args = command_line(module, pid) or []
    return MARKER in args


def close_forward(module):
    pid = module.params['pid']
    if not pid:
        module.fail_json(msg='pid is required to close a port-forward (state=absent): give the pid state=present returned')
    if not is_our_forward(module, pid):
        module.exit_json(changed=False, closed=False)
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        module.exit_json(changed=False, closed=False)
    deadline = time.time() + 10
    while time.time() < deadline and is_our_forward(module, pid):
        time.sleep(0.1)
    module.exit_json(changed=False, closed=True)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type='str', default='present', choices=['present', 'absent']),
            url=dict(type='str'),
            namespace=dict(type='str'),
            resource=dict(type='str'),
            remote_port=dict(type='int'),
            local_address=dict(type='str', default='127.0.0.1'),
            local_port=dict(type='int', default=0),
            kubeconfig=dict(type='path', no_log=False),
            context=dict(type='str'),
            kubectl_binary=dict(type='path', default='kubectl'),
            lifetime=dict(type='int', default=900),
            close_with_controller=dict(type='bool', default=True),
            timeout=dict(type='int', default=90),
            pid=dict(type='int'),
        ),
        supports_check_mode=True,
    )
    if module.params['state'] == 'absent':
        close_forward(module)
    open_forward(module)


if __name__ == '__main__':
    main()
