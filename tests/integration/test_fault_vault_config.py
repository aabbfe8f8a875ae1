# -*- coding: utf-8 -*-
"""vault_config killed mid-document (SIGKILL of the whole ansible-playbook process group
while it writes), then run again: the re-run converges to exactly the document (nothing
undeclared left under the document's mounts, every declared value in place), and a third
run makes no write. Several kill points, each after a different number of writes seen in
OpenBao's audit log; the count tried and converged is printed."""

import json
import subprocess
import time
import uuid

import hvac
import pytest

from vaultkube_testlib import (AuditedDevServer, _ansible_env, first_result, kill_tree, run_playbook, scratch_server,
                               successful_writes)

# Kill after this many successful writes. The document makes about 670, so that the last
# point stays far from the end even when the machine is loaded and the kill lands late.
KILL_AFTER_WRITES = (1, 40, 120)
# vault_config's default number of requests in flight.
PARALLELISM = 4

PLAYBOOK = '''\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The document
      vaultkube.platform.vault_config:
        url: "{{ url }}"
        token: "{{ token }}"
        prune: true
        # Each kill point declares new policies: the earlier points' ones (30 each) are pruned.
        prune_scope: {max_deletions: 1000}
        config: "{{ lookup('ansible.builtin.file', document) | from_json }}"
      register: applied
'''


def document(tag, value):
    kv, k8s = 'fkv-' + tag, 'fk8s-' + tag
    return {
        'secrets_engines': [{'path': kv, 'engine_type': 'kv', 'version': 2}],
        'auth_methods': [{'path': k8s, 'method_type': 'kubernetes'}],
        'policies': [{'name': 'fault-%s-%02d' % (tag, i), 'policy': 'path "%s/data/t%02d/*" { capabilities = ["read"] }'
                      % (kv, i)} for i in range(30)],
        'kubernetes_auth_roles': [{'mount_path': k8s, 'name': 'r%02d' % i,
                                   'bound_service_account_names': ['sa%02d' % i],
                                   'bound_service_account_namespaces': ['ns'],
                                   'token_policies': ['fault-%s-%02d' % (tag, i)]} for i in range(30)],
        'kv_secrets': [{'mount_path': kv, 'path': 't%02d/app%03d' % (i % 30, i),
                        'data': {'password': '%s-%03d' % (value, i)}} for i in range(600)],
    }


def listed(client, path):
    """The keys under path; none when Vault answers 404 (the mount may not exist yet after a kill,
    or holds nothing there). Any other error fails the test."""
    try:
        answer = client.list(path)
    except hvac.exceptions.InvalidPath:
        return []
    return (answer or {}).get('data', {}).get('keys', [])


def vault_state(client, doc):
    """What Vault holds under the document's names and mounts (read back)."""
    kv = doc['secrets_engines'][0]['path']
    k8s = doc['auth_methods'][0]['path']
    tag = kv.split('-', 1)[1]
    policies = sorted(p for p in client.sys.list_acl_policies()['data']['keys'] if tag in p)
    roles = sorted(listed(client, 'auth/%s/role' % k8s))
    secrets = {}
    folders = ['']
    while folders:
        folder = folders.pop()
        for key in listed(client, '%s/metadata/%s' % (kv, folder)):
            if key.endswith('/'):
                folders.append(folder + key)
            else:
                secrets[folder + key] = client.secrets.kv.v2.read_secret_version(
                    folder + key, mount_point=kv, raise_on_deleted_version=True)['data']['data']
    return policies, roles, secrets


def declared_state(doc):
    return (sorted(p['name'] for p in doc['policies']), sorted(r['name'] for r in doc['kubernetes_auth_roles']),
            dict((s['path'], s['data']) for s in doc['kv_secrets']))


def written_count(audit_log, accessor, mark=0):
    """The successful writes of ACCESSOR logged after byte offset MARK: the poll below reads only
    the current run's part of the log, so that it keeps up with the run on a loaded machine (the
    whole log, grown by the earlier points, took seconds to parse there while the run finished)."""
    return len(successful_writes(audit_log, mark).get(accessor, []))


@pytest.fixture
def audited():
    yield from scratch_server('vaultkube-fault-cfg-', AuditedDevServer, 'dev', dev=True)


def test_vault_config_killed_mid_document_converges(audited):
    server, work = audited
    root = server.client()
    playbook = work / 'apply.yml'
    playbook.write_text(PLAYBOOK)
    tried = converged = 0
    report = []
    for kill_after in KILL_AFTER_WRITES:
        tag = uuid.uuid4().hex[:6]
        doc = document(tag, 'fault-' + uuid.uuid4().hex)
        doc_file = work / ('doc-%s.json' % tag)
        doc_file.write_text(json.dumps(doc))
        token = root.auth.token.create(policies=['root'], ttl='30m')['auth']
        extra = {'url': server.url, 'token': token['client_token'], 'document': str(doc_file)}
        cmd = ['ansible-playbook', '-i', 'localhost,', str(playbook), '-e', json.dumps(extra)]
        run_mark = server.mark()
        proc = subprocess.Popen(cmd, env=_ansible_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.time() + 120
        while written_count(server.audit_log, token['accessor'], run_mark) < kill_after:
            assert proc.poll() is None, 'the run ended before %d writes' % kill_after
            assert time.time() < deadline, 'no %d writes within 120 s' % kill_after
            time.sleep(0.05)
        killed = kill_tree(proc.pid)
        proc.wait()
        assert killed >= 2, 'only %d processes in the tree' % killed
        tried += 1
        at_kill = written_count(server.audit_log, token['accessor'], run_mark)
        # Requests already sent when the tree died are still answered (and audited) by
        # the server: at most one per worker of vault_config (parallelism, default 4).
        # Once those are drained, nothing may arrive any more.
        time.sleep(1)
        drained = written_count(server.audit_log, token['accessor'], run_mark)
        assert drained - at_kill <= PARALLELISM, \
            '%d writes after the kill: more than the %d requests in flight' % (drained - at_kill, PARALLELISM)
        time.sleep(2)
        assert written_count(server.audit_log, token['accessor'], run_mark) == drained, 'the killed run still writes'
        at_kill = drained
        partial = vault_state(root, doc)
        assert partial != declared_state(doc), 'the run finished before the kill (%d writes)' % at_kill

        rerun = run_playbook(playbook, extra_vars=extra)
        result = first_result(rerun)
        assert not result.get('failed'), result.get('msg')
        assert vault_state(root, doc) == declared_state(doc)
        third_mark = server.mark()
        third = run_playbook(playbook, extra_vars=extra)
        # Read from Vault's audit log, not from the module's counters: the third run sent no write.
        assert server.write_requests(third_mark) == [], server.write_requests(third_mark)
        third_result = first_result(third)
        assert third_result['changed'] is False
        assert third_result['requests']['write'] == 0 and third_result['requests']['delete'] == 0
        converged += 1
        report.append('killed after %d writes (%d at the kill), re-run wrote %d, third run wrote 0'
                      % (kill_after, at_kill, result['requests']['write']))
    print('\nvault_config kill points: %d tried, %d converged' % (tried, converged))
    for line in report:
        print('  ' + line)
    assert converged == tried == len(KILL_AFTER_WRITES)
