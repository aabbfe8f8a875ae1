# -*- coding: utf-8 -*-
"""Bad input, table-driven, against real OpenBao servers: each case must fail with one
line that names the field, without a traceback, and write nothing.

All cases run as the tasks of ONE ansible-playbook run (one interpreter start instead of
one per case). Each case gets its own Vault token, and the dev server's file audit
device logs token accessors in clear, so "nothing written" is read back per case from
Vault's own log: no create, update or delete request of that token succeeded. The
life-cycle cases go to an uninitialised raft node, which must still be uninitialised
afterwards, with no key file written.
"""

import json
import os
import shutil
import uuid

import pytest

from vaultkube_testlib import AuditedDevServer, FastRaftServer, run_playbook, successful_writes, task_results, tmpdir

GOOD_POLICY = 'path "secret/data/app/*" { capabilities = ["read"] }'
ROLE = {'bound_service_account_names': ['eso'], 'bound_service_account_namespaces': ['eso']}
PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----'
VALUE = 'corpus-value-' + uuid.uuid4().hex
# Without {{username}}/{{password}}: the playbook is JSON, where Ansible would template them.
DB_CONN = {'name': 'corpus-db', 'connection_url': 'postgresql://127.0.0.1:1/postgres'}
DB_ROLE = {'name': 'corpus-role', 'db_name': 'corpus-db', 'creation_statements': 'CREATE ROLE corpus'}

# (id, module, options, words the one line must hold; the field named first).
# The connection (url, token of the case) is added unless the case sets it.
DEV_CASES = [
    # vault_kv2_secret
    ('kv2-data-not-a-mapping', 'vault_kv2_secret', {'path': 'app/a', 'data': 'not a mapping'}, ['data']),
    ('kv2-cas-not-a-number', 'vault_kv2_secret', {'path': 'app/a', 'data': {'k': VALUE}, 'cas': 'abc'}, ['cas']),
    ('kv2-unknown-option', 'vault_kv2_secret', {'path': 'app/a', 'data': {'k': VALUE}, 'passwrd': 'x'},
     ['passwrd']),
    ('kv2-bad-state', 'vault_kv2_secret', {'path': 'app/a', 'data': {'k': VALUE}, 'state': 'gone'}, ['state']),
    ('kv2-negative-cas', 'vault_kv2_secret', {'path': 'app/a', 'data': {'k': VALUE}, 'cas': -1}, ['cas']),
    ('kv2-doubled-prefix', 'vault_kv2_secret', {'path': 'secret/data/app/a', 'data': {'k': VALUE}},
     ['path', 'API prefix']),
    ('kv2-data-prefix', 'vault_kv2_secret', {'path': 'data/app/a', 'data': {'k': VALUE}}, ['path', 'API prefix']),
    ('kv2-on-kv1', 'vault_kv2_secret', {'mount_path': 'kv1', 'path': 'app/a', 'data': {'k': VALUE}},
     ['mount_path', 'kv version 1']),
    ('kv2-no-mount', 'vault_kv2_secret', {'mount_path': 'nowhere', 'path': 'app/a', 'data': {'k': VALUE}},
     ['mount_path', 'no secrets engine']),
    ('kv2-cas-mismatch', 'vault_kv2_secret', {'path': 'existing', 'data': {'k': VALUE}, 'cas': 5},
     ['cas=5', 'nothing was written']),
    ('kv2-no-data', 'vault_kv2_secret', {'path': 'app/a'}, ['data']),
    ('kv2-empty-path', 'vault_kv2_secret', {'path': '/', 'data': {'k': VALUE}}, ['path']),
    ('kv2-unreachable-url', 'vault_kv2_secret', {'url': 'http://127.0.0.1:1', 'path': 'app/a', 'data': {'k': VALUE}},
     ['url', 'cannot connect']),
    ('kv2-wrong-token', 'vault_kv2_secret', {'token': 'not-a-token', 'path': 'app/a', 'data': {'k': VALUE}},
     ['token', '403']),
    ('kv2-no-token', 'vault_kv2_secret', {'token': '', 'path': 'app/a', 'data': {'k': VALUE}}, ['token']),
    ('kv2-url-without-scheme', 'vault_kv2_secret', {'url': '127.0.0.1:8200', 'path': 'app/a', 'data': {'k': VALUE}},
     ['url']),
    # vault_policy
    ('policy-bad-hcl', 'vault_policy', {'name': 'corpus-p', 'policy': 'path "x" { capabilities = ['},
     ['policy', 'not valid HCL']),
    ('policy-capabilities-text', 'vault_policy', {'name': 'corpus-p', 'policy': 'path "x" { capabilities = "read" }'},
     ['capabilities must be a list']),
    ('policy-slash-name', 'vault_policy', {'name': 'a/b', 'policy': GOOD_POLICY}, ['name']),
    ('policy-root', 'vault_policy', {'name': 'Root', 'policy': GOOD_POLICY}, ['name', 'built into Vault']),
    ('policy-no-text', 'vault_policy', {'name': 'corpus-p'}, ['policy']),
    ('policy-name-a-list', 'vault_policy', {'name': ['a', 'b'], 'policy': GOOD_POLICY}, ['name']),
    # vault_kubernetes_auth_role
    ('role-on-approle', 'vault_kubernetes_auth_role', dict(ROLE, mount_path='approle', name='eso'),
     ['mount_path', 'approle']),
    ('role-negative-ttl', 'vault_kubernetes_auth_role', dict(ROLE, name='eso', token_ttl=-5), ['token_ttl']),
    ('role-ttl-not-a-duration', 'vault_kubernetes_auth_role', dict(ROLE, name='eso', token_ttl='soon'),
     ['token_ttl']),
    ('role-ttl-above-max', 'vault_kubernetes_auth_role', dict(ROLE, name='eso', token_ttl='2h', token_max_ttl='1h'),
     ['token_ttl', 'token_max_ttl']),
    ('role-unicode-name', 'vault_kubernetes_auth_role', dict(ROLE, name=u'r\u00f4le'), ['name']),
    ('role-no-service-accounts', 'vault_kubernetes_auth_role',
     {'name': 'eso', 'bound_service_account_namespaces': ['eso']}, ['bound_service_account_names']),
    ('role-bad-cidr', 'vault_kubernetes_auth_role', dict(ROLE, name='eso', token_bound_cidrs=['not-a-cidr']),
     ['token_bound_cidrs']),
    ('role-bad-token-type', 'vault_kubernetes_auth_role', dict(ROLE, name='eso', token_type='forever'),
     ['token_type']),
    ('role-auth-prefix', 'vault_kubernetes_auth_role', dict(ROLE, mount_path='auth/kubernetes', name='eso'),
     ['mount_path', 'relative to auth/']),
    ('role-no-mount', 'vault_kubernetes_auth_role', dict(ROLE, mount_path='nowhere', name='eso'),
     ['nowhere', 'does not exist']),
    # vault_kubernetes_auth_config
    ('config-on-approle', 'vault_kubernetes_auth_config',
     {'mount_path': 'approle', 'kubernetes_host': 'https://127.0.0.1:6443'}, ['mount_path', 'approle']),
    ('config-ca-not-pem', 'vault_kubernetes_auth_config',
     {'kubernetes_host': 'https://127.0.0.1:6443', 'kubernetes_ca_cert': 'not a certificate'},
     ['kubernetes_ca_cert']),
    ('config-local-ca-without-ca', 'vault_kubernetes_auth_config',
     {'kubernetes_host': 'https://127.0.0.1:6443', 'disable_local_ca_jwt': True}, ['kubernetes_ca_cert']),
    ('config-no-host', 'vault_kubernetes_auth_config', {'kubernetes_ca_cert': PEM}, ['kubernetes_host']),
    ('config-both-cas', 'vault_kubernetes_auth_config',
     {'kubernetes_host': 'https://127.0.0.1:6443', 'kubernetes_ca_cert': PEM, 'kubernetes_ca_cert_file': '/x'},
     ['kubernetes_ca_cert']),
    # vault_secrets_engine / vault_auth_method / vault_audit_device
    ('engine-no-type', 'vault_secrets_engine', {'path': 'corpus-kv'}, ['engine_type']),
    ('engine-negative-ttl', 'vault_secrets_engine',
     {'path': 'corpus-kv', 'engine_type': 'kv', 'default_lease_ttl': '-1h'}, ['default_lease_ttl']),
    ('engine-version-3', 'vault_secrets_engine', {'path': 'corpus-kv', 'engine_type': 'kv', 'version': 3},
     ['version']),
    ('engine-kv-config-on-v1', 'vault_secrets_engine',
     {'path': 'corpus-kv', 'engine_type': 'kv', 'version': 1, 'kv_config': {'max_versions': 3}}, ['kv_config']),
    ('engine-disable-sys', 'vault_secrets_engine', {'path': 'sys', 'state': 'absent'}, ['sys']),
    ('auth-auth-prefix', 'vault_auth_method', {'path': 'auth/corpus', 'method_type': 'kubernetes'},
     ['path', 'relative to auth/']),
    ('auth-unknown-option', 'vault_auth_method', {'path': 'corpus', 'method_type': 'kubernetes', 'colour': 'red'},
     ['colour']),
    ('audit-no-type', 'vault_audit_device', {'path': 'corpus-audit'}, ['device_type']),
    # vault_database_connection / vault_database_role (refused before Vault is asked to connect)
    ('db-conn-unknown-plugin', 'vault_database_connection',
     dict(DB_CONN, plugin_name='corpus-nosuch-plugin'), ['plugin_name', 'catalog']),
    ('db-conn-no-url', 'vault_database_connection', {'name': 'corpus-db'}, ['connection_url']),
    ('db-conn-clear-password', 'vault_database_connection',
     dict(DB_CONN, connection_url='postgresql://admin:%s@127.0.0.1:1/postgres' % VALUE),
     ['connection_url', 'password in clear']),
    ('db-conn-on-kv', 'vault_database_connection', dict(DB_CONN, mount_path='kv1'),
     ['mount_path', 'not database']),
    ('db-role-negative-ttl', 'vault_database_role', dict(DB_ROLE, default_ttl=-5), ['default_ttl']),
    ('db-role-no-connection', 'vault_database_role', dict(DB_ROLE, db_name='corpus-nosuch'),
     ['db_name', 'no connection']),
    # vault_config
    ('doc-not-a-mapping', 'vault_config', {'config': 'just text'}, ['config']),
    ('doc-unknown-section', 'vault_config', {'config': {'polices': []}}, ['polices', 'unknown section']),
    ('doc-entry-not-a-mapping', 'vault_config', {'config': {'policies': ['x']}}, ['config.policies[0]']),
    ('doc-same-policy-twice', 'vault_config', {'config': {'policies': [
        {'name': 'Corpus-Dup', 'policy': GOOD_POLICY}, {'name': 'corpus-dup', 'policy': GOOD_POLICY}]}},
     ['config.policies[1]', 'repeats']),
    ('doc-second-policy-bad-hcl', 'vault_config', {'config': {'policies': [
        {'name': 'corpus-good', 'policy': GOOD_POLICY}, {'name': 'corpus-bad', 'policy': 'path "x" {'}]}},
     ['config.policies[1]', 'not valid HCL']),
    ('doc-kv2-on-kv1', 'vault_config', {'config': {
        'policies': [{'name': 'corpus-good', 'policy': GOOD_POLICY}],
        'kv_secrets': [{'mount_path': 'kv1', 'path': 'a', 'data': {'k': VALUE}}]}},
     ['config.kv_secrets[0]', 'kv version 1']),
    ('doc-role-on-approle', 'vault_config', {'config': {
        'policies': [{'name': 'corpus-good', 'policy': GOOD_POLICY}],
        'kubernetes_auth_roles': [dict(ROLE, mount_path='approle', name='eso')]}},
     ['config.kubernetes_auth_roles[0]', 'approle']),
    ('doc-doubled-prefix', 'vault_config', {'config': {
        'kv_secrets': [{'mount_path': 'secret', 'path': 'secret/data/a', 'data': {'k': VALUE}}]}},
     ['config.kv_secrets[0]', 'API prefix']),
    ('doc-negative-ttl', 'vault_config', {'config': {
        'kubernetes_auth_roles': [dict(ROLE, name='eso', token_ttl=-60)]}},
     ['config.kubernetes_auth_roles[0]', 'token_ttl']),
    ('doc-parallelism-zero', 'vault_config', {'config': {}, 'parallelism': 0}, ['parallelism']),
    ('doc-unknown-entry-option', 'vault_config', {'config': {
        'policies': [{'name': 'corpus-x', 'policy': GOOD_POLICY, 'colour': 'red'}]}},
     ['config.policies[0]', 'colour']),
    ('doc-entry-wrong-type', 'vault_config', {'config': {
        'kv_secrets': [{'path': 'a', 'data': {'k': VALUE}, 'cas': 'x'}]}}, ['config.kv_secrets[0]', 'cas']),
    ('doc-declared-mount-is-kv1', 'vault_config', {'config': {
        'secrets_engines': [{'path': 'corpus-new-kv', 'engine_type': 'kv', 'version': 1}],
        'kv_secrets': [{'mount_path': 'corpus-new-kv', 'path': 'a', 'data': {'k': VALUE}}]}},
     ['config.kv_secrets[0]', 'declared in this document']),
    ('doc-unicode-role-name', 'vault_config', {'config': {
        'kubernetes_auth_roles': [dict(ROLE, name=u'\u00e9so')]}}, ['config.kubernetes_auth_roles[0]', 'name']),
    ('doc-db-role-above-max', 'vault_config', {'config': {
        'database_connections': [DB_CONN],
        'database_roles': [dict(DB_ROLE, default_ttl='2h', max_ttl='1h')]}},
     ['config.database_roles[0]', 'default_ttl', 'max_ttl']),
    # vault_config prune: a scope that matches too much, or more deletions than allowed. The server holds
    # the policies MAXDEL (more than the default limit of 10); a prune that went through would delete them.
    ('prune-empty-prefix', 'vault_config', {'config': {'policies': []}, 'prune': True,
                                            'prune_scope': {'name_prefix': ['']}},
     ['prune_scope.name_prefix[0]', 'empty']),
    ('prune-prefix-empty-text', 'vault_config', {'config': {'policies': []}, 'prune': True,
                                                 'prune_scope': {'name_prefix': ''}},
     ['prune_scope.name_prefix[0]', 'empty']),
    ('prune-blank-prefix', 'vault_config', {'config': {'policies': []}, 'prune': True,
                                            'prune_scope': {'name_prefix': ['maxdel-', ' \t']}},
     ['prune_scope.name_prefix[1]', 'blank']),
    ('prune-empty-prefix-list', 'vault_config', {'config': {'policies': []}, 'prune': True,
                                                 'prune_scope': {'name_prefix': []}},
     ['prune_scope.name_prefix', 'empty list']),
    ('prune-prefix-matches-default', 'vault_config', {'config': {'policies': []}, 'prune': True,
                                                      'prune_scope': {'name_prefix': ['def']}},
     ['prune_scope.name_prefix[0]', "'default'"]),
    ('prune-prefix-matches-root', 'vault_config', {'config': {'policies': []}, 'prune': True,
                                                   'prune_scope': {'name_prefix': ['R']}},
     ['prune_scope.name_prefix[0]', "'root'"]),
    ('prune-prefix-wildcard', 'vault_config', {'config': {'policies': []}, 'prune': True,
                                               'prune_scope': {'name_prefix': ['maxdel-*']}},
     ['prune_scope.name_prefix[0]', 'wildcard']),
    ('prune-blank-k8s-mount', 'vault_config', {'config': {'kubernetes_auth_roles': []}, 'prune': True,
                                               'prune_scope': {'name_prefix': ['maxdel-'],
                                                               'kubernetes_auth_mounts': ['  ']}},
     ['prune_scope.kubernetes_auth_mounts[0]', 'blank']),
    ('prune-negative-max', 'vault_config', {'config': {'policies': []}, 'prune': True,
                                            'prune_scope': {'name_prefix': ['maxdel-'], 'max_deletions': -1}},
     ['prune_scope.max_deletions']),
    ('prune-above-max-deletions', 'vault_config', {
        'config': {'policies': [{'name': 'corpus-declared', 'policy': GOOD_POLICY}]}, 'prune': True,
        'prune_scope': {'name_prefix': ['maxdel-0'], 'max_deletions': 3}},
     ['prune would delete 10 objects', 'prune_scope.max_deletions (3)', 'policy maxdel-00', 'policy maxdel-09']),
    ('prune-unscoped-above-default', 'vault_config', {
        'config': {'policies': [{'name': 'corpus-declared', 'policy': GOOD_POLICY}]}, 'prune': True},
     ['prune would delete 12 objects', 'prune_scope.max_deletions (10)', 'policy maxdel-11']),
    # Names and paths that would widen or redirect a Vault path
    ('policy-name-newline', 'vault_policy', {'name': 'corpus-p\n', 'policy': GOOD_POLICY}, ['name']),
    ('policy-name-plus', 'vault_policy', {'name': 'corpus+p', 'policy': GOOD_POLICY}, ['name']),
    ('policy-name-dotdot', 'vault_policy', {'name': '..', 'policy': GOOD_POLICY}, ['name']),
    ('kv2-path-plus-segment', 'vault_kv2_secret', {'path': 'app/+/a', 'data': {'k': VALUE}}, ['path', "'+'"]),
    ('kv2-path-star', 'vault_kv2_secret', {'path': 'app/*', 'data': {'k': VALUE}}, ['path', "'*'"]),
    ('kv2-path-dotdot', 'vault_kv2_secret', {'path': 'app/../../sys/policies/acl/x', 'data': {'k': VALUE}},
     ['path', "'..'"]),
    ('kv2-path-query', 'vault_kv2_secret', {'path': 'app/a?version=1', 'data': {'k': VALUE}}, ['path']),
    ('kv2-path-fragment', 'vault_kv2_secret', {'path': 'app/a#b', 'data': {'k': VALUE}}, ['path']),
    ('kv2-path-percent', 'vault_kv2_secret', {'path': 'app/%2e%2e/a', 'data': {'k': VALUE}}, ['path']),
    ('kv2-path-newline', 'vault_kv2_secret', {'path': 'app/a\nb', 'data': {'k': VALUE}}, ['path']),
    ('kv2-mount-star', 'vault_kv2_secret', {'mount_path': 'secret/*', 'path': 'a', 'data': {'k': VALUE}},
     ['mount_path']),
    ('role-name-newline', 'vault_kubernetes_auth_role', dict(ROLE, name='eso\n'), ['name']),
    ('role-mount-dotdot', 'vault_kubernetes_auth_role', dict(ROLE, mount_path='kubernetes/..', name='eso'),
     ['mount_path', "'..'"]),
    ('config-mount-plus', 'vault_kubernetes_auth_config',
     {'mount_path': 'kube+', 'kubernetes_host': 'https://127.0.0.1:6443'}, ['mount_path']),
    ('engine-path-dotdot', 'vault_secrets_engine', {'path': 'corpus/../sys', 'engine_type': 'kv'}, ['path', "'..'"]),
    ('auth-path-wildcard', 'vault_auth_method', {'path': 'corpus*', 'method_type': 'kubernetes'}, ['path']),
    ('audit-path-fragment', 'vault_audit_device', {'path': 'corpus#x', 'device_type': 'file',
                                                   'options': {'file_path': '/dev/null'}}, ['path']),
    ('db-conn-name-newline', 'vault_database_connection', dict(DB_CONN, name='corpus-db\n'), ['name']),
    ('db-role-mount-query', 'vault_database_role', dict(DB_ROLE, mount_path='database?x=1'), ['mount_path']),
    ('github-team-wildcard', 'vault_github_auth', {'mount_path': 'corpus-gh', 'organization': 'example',
                                                   'teams': {'team*': ['default']}}, ['teams']),
    ('doc-policy-name-newline', 'vault_config', {'config': {'policies': [
        {'name': 'corpus-good', 'policy': GOOD_POLICY}, {'name': 'corpus-nl\n', 'policy': GOOD_POLICY}]}},
     ['config.policies[1]', 'name']),
    ('doc-kv-path-plus', 'vault_config', {'config': {'policies': [{'name': 'corpus-good', 'policy': GOOD_POLICY}],
                                                     'kv_secrets': [{'path': 'team-a/+', 'data': {'k': VALUE}}]}},
     ['config.kv_secrets[0]', 'path']),
]
# Policies the server holds for the prune cases (none may be deleted).
MAXDEL = ['maxdel-%02d' % i for i in range(12)]

# Life-cycle cases, against an uninitialised raft node; {tmp} is a folder of the test.
RAFT_CASES = [
    ('init-threshold-above-shares', 'vault_init',
     {'secret_shares': 3, 'secret_threshold': 4, 'output_file': '{tmp}/k1'}, ['secret_threshold']),
    ('init-zero-shares', 'vault_init', {'secret_shares': 0, 'secret_threshold': 0, 'output_file': '{tmp}/k2'},
     ['secret_shares']),
    ('init-output-folder-missing', 'vault_init',
     {'output_file': '{tmp}/missing/k3', 'output_vault_password': 'pw-corpus'}, ['output_file']),
    ('init-pgp-count', 'vault_init', {'secret_shares': 3, 'secret_threshold': 2, 'pgp_keys': ['a2V5'],
                                      'output_file': '{tmp}/k4', 'output_vault_password': 'pw-corpus'},
     ['pgp_keys']),
    ('init-keybase-root-token-pgp-key', 'vault_init',
     {'root_token_pgp_key': 'keybase:operator', 'output_file': '{tmp}/k7', 'output_vault_password': 'pw-corpus'},
     ['root_token_pgp_key', 'keybase']),
    ('init-keybase-pgp-key', 'vault_init',
     {'secret_shares': 1, 'secret_threshold': 1, 'pgp_keys': ['keybase:holder'], 'output_file': '{tmp}/k8',
      'output_vault_password': 'pw-corpus'}, ['pgp_keys[0]', 'keybase']),
    ('init-bad-root-token-pgp-key', 'vault_init',
     {'root_token_pgp_key': 'bm90IGEga2V5', 'output_file': '{tmp}/k5', 'output_vault_password': 'pw-corpus'},
     ['root_token_pgp_key']),
    ('init-no-password', 'vault_init', {'output_file': '{tmp}/k6'}, ['output_vault_password']),
    ('unseal-not-initialised', 'vault_unseal', {'keys': ['ab' * 33]}, ['not initialised']),
    ('join-address-without-scheme', 'vault_raft_join', {'leader_api_addr': 'vault-0:8200'},
     ['leader_api_addr']),
    ('status-timeout-not-a-number', 'vault_status_info', {'timeout': 'soon'}, ['timeout']),
]


@pytest.fixture(scope='module')
def corpus_run():
    work = tmpdir('vaultkube-corpus-')
    dev = AuditedDevServer(work / 'dev', dev=True).start()
    raft = FastRaftServer(work / 'raft').start()
    try:
        root = dev.client()
        root.sys.enable_secrets_engine('kv', path='kv1', options={'version': '1'})
        root.sys.enable_secrets_engine('database')
        root.sys.enable_auth_method('kubernetes')
        root.sys.enable_auth_method('approle')
        root.secrets.kv.v2.create_or_update_secret('existing', {'k': 'before'})
        for name in MAXDEL:
            root.sys.create_or_update_policy(name, GOOD_POLICY)
        tokens = {}
        tasks = []
        for case_id, module, options, _words in DEV_CASES:
            token = root.auth.token.create(policies=['root'], ttl='30m')['auth']
            tokens[case_id] = token['accessor']
            args = dict({'url': dev.url, 'token': token['client_token']}, **options)
            tasks.append({'name': case_id, 'vaultkube.platform.' + module: args, 'ignore_errors': True})
        out = work / 'out'
        out.mkdir()
        for case_id, module, options, _words in RAFT_CASES:
            args = dict({'url': raft.url}, **json.loads(json.dumps(options).replace('{tmp}', str(out))))
            tasks.append({'name': case_id, 'vaultkube.platform.' + module: args, 'ignore_errors': True})
        playbook = work / 'corpus.yml'
        playbook.write_text(json.dumps([{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
                                         'tasks': tasks}]))
        proc = run_playbook(playbook)
        results = dict(task_results(proc))
        writes = successful_writes(dev.audit_log)
        yield dict(results=results, tokens=tokens, writes=writes, raft=raft, out=out, root=root,
                   output=proc.stdout + proc.stderr)
    finally:
        dev.stop()
        raft.stop()
        shutil.rmtree(work, ignore_errors=True)


def assert_one_line_naming(result, words):
    assert result.get('failed'), 'expected a failure, got %r' % result
    msg = result.get('msg', '')
    assert msg and '\n' not in msg.strip(), 'not one line: %r' % msg
    assert 'Traceback' not in json.dumps(result), result
    for word in words:
        assert word.lower() in msg.lower(), '%r not in %r' % (word, msg)
    assert VALUE not in json.dumps(result), 'a KV value is in the result'


@pytest.mark.parametrize('case_id,module,options,words', DEV_CASES, ids=[c[0] for c in DEV_CASES])
def test_bad_input_fails_in_one_line_and_writes_nothing(corpus_run, case_id, module, options, words):
    assert_one_line_naming(corpus_run['results'][case_id], words)
    assert corpus_run['writes'].get(corpus_run['tokens'][case_id], []) == []


@pytest.mark.parametrize('case_id,module,options,words', RAFT_CASES, ids=[c[0] for c in RAFT_CASES])
def test_bad_life_cycle_input_fails_in_one_line_and_changes_nothing(corpus_run, case_id, module, options, words):
    assert_one_line_naming(corpus_run['results'][case_id], words)
    status = corpus_run['raft'].client().sys.read_seal_status()
    assert status['initialized'] is False and status['progress'] == 0
    assert os.listdir(str(corpus_run['out'])) == []


def test_corpus_wrote_nothing_at_all(corpus_run):
    """Read back the objects the cases named: none exists, the existing secret is untouched."""
    root = corpus_run['root']
    assert [w for accessor, w in corpus_run['writes'].items() if accessor in corpus_run['tokens'].values()] == []
    policies = root.sys.list_acl_policies()['data']['keys']
    assert [p for p in policies if p.startswith('corpus')] == []
    # No prune case deleted anything: every policy the server held is still there.
    assert sorted(p for p in policies if p.startswith('maxdel-')) == MAXDEL
    assert 'default' in policies
    assert 'corpus-gh/' not in root.sys.list_auth_methods()['data']
    assert 'corpus-kv/' not in root.sys.list_mounted_secrets_engines()['data']
    assert 'corpus-new-kv/' not in root.sys.list_mounted_secrets_engines()['data']
    assert 'corpus/' not in root.sys.list_auth_methods()['data']
    assert root.secrets.kv.v2.read_secret_metadata('existing')['data']['current_version'] == 1
    assert root.list('auth/kubernetes/role') is None and root.list('auth/approle/role') is None
    assert root.list('database/config') is None and root.list('database/roles') is None
    assert len(DEV_CASES) + len(RAFT_CASES) >= 40
    assert VALUE not in corpus_run['output']
