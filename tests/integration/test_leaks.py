# -*- coding: utf-8 -*-
"""Nothing secret in the output: every secret-handling module run at -vvv with diff on.

A real non-dev OpenBao is initialised and unsealed by the playbook itself, so the
unseal keys and the root token are real; KV values and the reviewer JWT are unique
markers. The test then searches everything ansible-playbook printed for each of them,
including a task that fails on purpose while holding secret data.
"""

import json
import uuid

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from vaultkube_testlib import make_tls, run_playbook, scratch_server

PLAYBOOK = '''\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Initialise
      vaultkube.platform.vault_init:
        url: "{{ url }}"
        secret_shares: 3
        secret_threshold: 2
        output_file: "{{ keys_file }}"
        output_vault_password: "{{ keys_password }}"

    - name: Unseal from the key file
      vaultkube.platform.vault_unseal:
        url: "{{ url }}"
        keys_file: "{{ keys_file }}"
        keys_file_vault_password: "{{ keys_password }}"

    - name: Read the key file
      ansible.builtin.slurp:
        src: "{{ keys_file }}"
      register: keys_blob
      no_log: true

    - name: Read the root token and keys
      ansible.builtin.set_fact:
        root_token: "{{ (keys_blob.content | b64decode | ansible.builtin.unvault(keys_password) | from_json).root_token }}"
        unseal_keys: "{{ (keys_blob.content | b64decode | ansible.builtin.unvault(keys_password) | from_json)['keys'] }}"
      no_log: true

    - name: Unseal again with the keys given inline (already unsealed)
      vaultkube.platform.vault_unseal:
        url: "{{ url }}"
        keys: "{{ unseal_keys }}"

    - name: Wait until active
      vaultkube.platform.vault_status_info:
        url: "{{ url }}"
        token: "{{ root_token }}"
      register: status
      until: not status.sealed and not status.standby
      retries: 30
      delay: 1

    - name: Mounts
      vaultkube.platform.vault_config:
        url: "{{ url }}"
        token: "{{ root_token }}"
        config:
          secrets_engines:
            - {path: secret, engine_type: kv, version: 2}
          auth_methods:
            - {path: leak-kubernetes, method_type: kubernetes}

    - name: A KV secret, diff on
      vaultkube.platform.vault_kv2_secret:
        url: "{{ url }}"
        token: "{{ root_token }}"
        mount_path: secret
        path: app/config
        data: {password: "{{ kv_value_1 }}", user: app}
      diff: true

    - name: The same secret changed, diff on
      vaultkube.platform.vault_kv2_secret:
        url: "{{ url }}"
        token: "{{ root_token }}"
        mount_path: secret
        path: app/config
        data: {password: "{{ kv_value_2 }}", user: app}
      diff: true

    - name: Kubernetes auth config with a reviewer JWT, diff on
      vaultkube.platform.vault_kubernetes_auth_config:
        url: "{{ url }}"
        token: "{{ root_token }}"
        mount_path: leak-kubernetes
        kubernetes_host: https://127.0.0.1:6443
        kubernetes_ca_cert: "{{ ca_pem }}"
        token_reviewer_jwt: "{{ reviewer_jwt }}"
      diff: true

    - name: A whole document holding secrets, diff on
      vaultkube.platform.vault_config:
        url: "{{ url }}"
        token: "{{ root_token }}"
        config:
          kv_secrets:
            - {mount_path: secret, path: app/other, data: {api_key: "{{ kv_value_3 }}"}}
          kubernetes_auth_configs:
            - mount_path: leak-kubernetes
              kubernetes_host: https://127.0.0.1:6443
              kubernetes_ca_cert: "{{ ca_pem }}"
              token_reviewer_jwt: "{{ reviewer_jwt }}"
              token_reviewer_jwt_update: always
      diff: true

    - name: A failing write holding a secret
      vaultkube.platform.vault_kv2_secret:
        url: "{{ url }}"
        token: "{{ root_token }}"
        mount_path: no-such-mount
        path: app/config
        data: {password: "{{ kv_value_4 }}"}
      ignore_errors: true

    - name: A failing document holding a secret
      vaultkube.platform.vault_config:
        url: "{{ url }}"
        token: "{{ root_token }}"
        config:
          kv_secrets:
            - {mount_path: secret, path: app/bad, data: {api_key: "{{ kv_value_5 }}"}, cas: "not-a-number"}
      ignore_errors: true

    # Every other form a user can give the data in (issue 10): a JSON file read with the
    # file lookup, a variable holding JSON text, nested values, a whole document as JSON.
    - name: Data as the JSON text of a file, diff on
      vaultkube.platform.vault_kv2_secret:
        url: "{{ url }}"
        token: "{{ root_token }}"
        path: app/from-file
        data: "{{ lookup('ansible.builtin.file', creds_file) }}"
      diff: true

    - name: Data as a variable holding JSON text
      vaultkube.platform.vault_kv2_secret:
        url: "{{ url }}"
        token: "{{ root_token }}"
        path: app/from-var
        data: "{{ creds_json }}"
      vars:
        creds_json: '{"password": "{{ kv_value_8 }}", "port": 5432}'

    - name: Nested values and lists
      vaultkube.platform.vault_kv2_secret:
        url: "{{ url }}"
        token: "{{ root_token }}"
        path: app/nested
        data:
          db: {password: "{{ kv_value_9 }}", hosts: ["{{ kv_value_10 }}"]}

    - name: A document whose secret data is JSON text
      vaultkube.platform.vault_config:
        url: "{{ url }}"
        token: "{{ root_token }}"
        config:
          kv_secrets:
            - {mount_path: secret, path: app/doc-json, data: "{{ lookup('ansible.builtin.file', creds_file_2) }}"}
      diff: true

    - name: A whole document as JSON text
      vaultkube.platform.vault_config:
        url: "{{ url }}"
        token: "{{ root_token }}"
        config: "{{ lookup('ansible.builtin.file', document_file) }}"

    - name: A failing write whose data is JSON text
      vaultkube.platform.vault_kv2_secret:
        url: "{{ url }}"
        token: "{{ root_token }}"
        mount_path: no-such-mount
        path: app/config
        data: "{{ lookup('ansible.builtin.file', creds_file_3) }}"
      ignore_errors: true

    # Ansible's own option checks fail before any code of the module runs.
    - name: JSON data and an option Ansible cannot convert
      vaultkube.platform.vault_kv2_secret:
        url: "{{ url }}"
        token: "{{ root_token }}"
        path: app/never
        data: '{"password": "{{ kv_value_15 }}"}'
        cas: not-a-number
      ignore_errors: true

    - name: A document holding a secret and an option Ansible cannot convert
      vaultkube.platform.vault_config:
        url: "{{ url }}"
        token: "{{ root_token }}"
        parallelism: many
        config:
          kv_secrets:
            - {mount_path: secret, path: app/never, data: {api_key: "{{ kv_value_16 }}"}}
      ignore_errors: true
'''


@pytest.fixture
def raft_server():
    yield from scratch_server('vaultkube-leak-', folder='node', dev=False)


def test_no_secret_at_vvv(raft_server):
    server, work = raft_server
    tls = make_tls(work / 'ca')
    with open(tls['ca']) as handle:
        ca_pem = handle.read()
    markers = dict(('kv_value_%d' % i, 'kvsecret-%s' % uuid.uuid4().hex) for i in range(1, 17))
    markers['reviewer_jwt'] = 'eyJhbGciOiJSUzI1NiJ9.' + uuid.uuid4().hex + '.' + uuid.uuid4().hex
    password = 'pw-' + uuid.uuid4().hex
    keys_file = work / 'keys.json.vault'
    playbook = work / 'leak.yml'
    playbook.write_text(PLAYBOOK)
    files = {
        'creds_file': {'password': markers['kv_value_6'], 'nested': {'token': markers['kv_value_7']}},
        'creds_file_2': {'api_key': markers['kv_value_11']},
        'creds_file_3': {'password': markers['kv_value_12']},
        'document_file': {'kv_secrets': [{'mount_path': 'secret', 'path': 'app/whole-json',
                                          'data': {'key': markers['kv_value_13'],
                                                   'deep': [{'x': markers['kv_value_14']}]}}]},
    }
    extra = dict(markers, url=server.url, keys_file=str(keys_file), keys_password=password, ca_pem=ca_pem)
    for name, content in files.items():
        path = work / (name + '.json')
        path.write_text(json.dumps(content))
        extra[name] = str(path)

    proc = run_playbook(playbook, extra_vars=extra, verbosity=3, json_output=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert 'ok=' in output and 'failed=0' in output

    vault = VaultLib([('default', VaultSecret(password.encode()))])
    keys = json.loads(vault.decrypt(keys_file.read_bytes()))
    secrets = dict(markers)
    secrets['root_token'] = keys['root_token']
    for i, key in enumerate(keys['keys']):
        secrets['unseal key %d (hex)' % i] = key
    for i, key in enumerate(keys['keys_base64']):
        secrets['unseal key %d (base64)' % i] = key
    secrets['key file password'] = password

    # The -e JSON holds the markers on the command line, not in the output: prove they were used.
    def stored(path):
        return server.client(keys['root_token']).secrets.kv.v2.read_secret_version(
            path, mount_point='secret', raise_on_deleted_version=True)['data']['data']

    assert stored('app/config')['password'] == markers['kv_value_2']
    assert stored('app/from-file') == files['creds_file']
    assert stored('app/from-var') == {'password': markers['kv_value_8'], 'port': 5432}
    assert stored('app/nested') == {'db': {'password': markers['kv_value_9'], 'hosts': [markers['kv_value_10']]}}
    assert stored('app/doc-json') == files['creds_file_2']
    assert stored('app/whole-json') == files['document_file']['kv_secrets'][0]['data']

    leaked = [name for name, value in secrets.items() if value in output]
    assert not leaked, 'secrets printed at -vvv: %s' % ', '.join(leaked)
