# -*- coding: utf-8 -*-
"""Real Ansible runs of the collection: one module, a playbook, their JSON results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _ansible_env(extra=None) -> dict:
    env = dict(os.environ)
    env.update({
        'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1',
        'ANSIBLE_STDOUT_CALLBACK': 'ansible.posix.json',
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
        'ANSIBLE_HOST_KEY_CHECKING': 'False',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_NOCOLOR': '1',
    })
    # Tests pass connection options explicitly; never inherit a developer's Vault.
    for name in ('VAULT_ADDR', 'VAULT_TOKEN', 'VAULT_CACERT', 'VAULT_SKIP_VERIFY', 'VAULT_NAMESPACE'):
        env.pop(name, None)
    env.update(extra or {})
    return env


def run_module(module: str, args: dict, check=False, diff=False, env=None) -> dict:
    """Run one module of the collection through ``ansible`` and return its result."""
    name = module if '.' in module else 'vaultkube.platform.' + module
    cmd = ['ansible', 'localhost', '-i', 'localhost,', '-c', 'local', '-m', name,
           '-a', json.dumps(args)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_ansible_env(env), timeout=300,
                          check=False)
    return first_result(proc)


def first_result(proc: subprocess.CompletedProcess) -> dict:
    """The first task's result of a run with the json callback (one module through ``ansible``, or a
    playbook's first task), the whole output added under _stdout and _stderr; AssertionError with
    the return code and the output when the run printed no such result."""
    try:
        result = task_results(proc.stdout)[0][1]
    except (ValueError, KeyError, IndexError):
        raise AssertionError('ansible produced no JSON result (rc=%s):\n%s\n%s'
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    result['_stdout'] = proc.stdout
    result['_stderr'] = proc.stderr
    return result


def _document(output) -> dict:
    """The json callback's document from its text, the parsed dict or the finished run (its stdout)."""
    output = getattr(output, 'stdout', output)
    return json.loads(output) if isinstance(output, (str, bytes)) else output


_LEAVE_OUT = object()


def task_results(output, host='localhost', missing=_LEAVE_OUT) -> list:
    """[(task name, result), ...] for HOST from the ansible.posix.json callback's document (its text,
    the parsed dict or the CompletedProcess of run_playbook), every play in order. The name is the
    task's own, without the "role : " prefix. A task with no result for the host is left out, or,
    when MISSING is given, listed with MISSING as its result."""
    doc = _document(output)
    return [(task['task']['name'].split(' : ')[-1], task['hosts'].get(host, missing))
            for play in doc['plays'] for task in play['tasks']
            if host in task['hosts'] or missing is not _LEAVE_OUT]


def task_result(output, name, host='localhost') -> dict:
    """HOST's result of the first task called NAME (without the role prefix) in a json callback
    document (as task_results takes it); AssertionError when no task of that name has one."""
    for task_name, result in task_results(output, host):
        if task_name == name:
            return result
    raise AssertionError('no task %r in the run' % name)


def play_stats(output, host='localhost') -> dict:
    """HOST's recap (ok, changed, failed, skipped... counts) from a json callback document (as
    task_results takes it)."""
    return _document(output)['stats'][host]


def run_playbook(playbook: str | Path, extra_vars: dict | None = None, check=False, diff=False,
                 verbosity=0, env=None, inventory='localhost,', json_output=True,
                 extra_args=()) -> subprocess.CompletedProcess:
    """Run a playbook; with ``json_output`` the stdout is the json callback's document."""
    cmd = ['ansible-playbook', '-i', inventory, str(playbook)]
    if extra_vars:
        cmd += ['-e', json.dumps(extra_vars)]
    if check:
        cmd.append('--check')
    if diff:
        cmd.append('--diff')
    if verbosity:
        cmd.append('-' + 'v' * verbosity)
    cmd += list(extra_args)
    run_env = _ansible_env(env)
    if not json_output:
        run_env['ANSIBLE_STDOUT_CALLBACK'] = 'default'
    return subprocess.run(cmd, capture_output=True, text=True, env=run_env, timeout=1800,
                          check=False)


def assert_failed_cleanly(result: dict, *fragments: str) -> str:
    """The task failed with one line (no traceback) containing the fragments."""
    assert result.get('failed'), 'expected a failure, got %r' % {k: v for k, v in result.items()
                                                                 if not k.startswith('_')}
    msg = result.get('msg', '')
    assert '\n' not in msg.strip(), 'message is not one line: %r' % msg
    # ansible-core 2.19 always adds an 'exception' key; it must hold no traceback.
    assert 'Traceback' not in msg and 'Traceback' not in str(result.get('exception', '')), \
        'traceback in result: %r' % result
    for fragment in fragments:
        assert fragment.lower() in msg.lower(), '%r not in %r' % (fragment, msg)
    return msg


_ADMIN_TOKENS = {}


def admin_token(url, keys_file, password, ca_cert=None, display_name='vaultkube-tests', ttl='2h'):
    """A test's admin token: the role leaves no root token (issue 22), so one is made from the keys
    file with vault_admin_token (the initial root token kept if custody still holds it), cached while
    it is valid."""
    import hvac  # pylint: disable=import-outside-toplevel
    key = (url, keys_file)
    token = _ADMIN_TOKENS.get(key)
    if token and hvac.Client(url=url, verify=ca_cert or True, token=token, timeout=10).is_authenticated():
        return token
    args = {'url': url, 'keys_file': keys_file, 'keys_file_vault_password': password, 'ttl': ttl,
            'display_name': display_name, 'revoke_initial': False}
    if ca_cert:
        args['ca_cert'] = ca_cert
    result = run_module('vault_admin_token', args)
    assert not result.get('failed') and result.get('token'), result.get('msg')
    _ADMIN_TOKENS[key] = result['token']
    return result['token']


# The play the tests run vault_unseal alone with (variables given with -e).
VAULT_UNSEAL_PLAYBOOK = """\
- name: vault_unseal alone
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: vaultkube.platform.vault_unseal
"""
