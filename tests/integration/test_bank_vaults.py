# -*- coding: utf-8 -*-
"""A Bank-Vaults externalConfig (seed 000's shape, tests/data) converged on real Vault through
the bank_vaults_config filter: the same Vault as the hand-written document, re-run unchanged.
HashiCorp Vault only: the document has GitHub auth, which OpenBao lacks."""

import uuid

import pytest
import yaml

from vaultkube_testlib import REPO, make_tls, play_stats, read_or_none, run_playbook, tmpdir

from bank_vaults_hand_written import hand_written

pytestmark = pytest.mark.only_on('vault', 'seed 000 configures GitHub auth, which OpenBao does not have')

PLAYBOOK = '''\
- name: Converge a Bank-Vaults externalConfig
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Apply the converted document
      vaultkube.platform.vault_config:
        url: "{{ url }}"
        token: "{{ token }}"
        config: "{{ resource | vaultkube.platform.bank_vaults_config }}"
      register: applied
    - name: Apply the hand-written one
      vaultkube.platform.vault_config:
        url: "{{ url }}"
        token: "{{ token }}"
        config: "{{ hand_written }}"
      register: by_hand
      when: hand_written is defined
'''


def test_seed_000_external_config_converges_on_vault(fresh_dev, tmp_path):
    vault = fresh_dev.client()
    with open(REPO / 'tests' / 'data' / 'bank_vaults_external_config.yml', encoding='utf-8') as handle:
        text = handle.read()
    ca = make_tls(tmpdir('vaultkube-bv-ca-'))['ca']
    with open(ca, encoding='utf-8') as handle:
        pem = handle.read()
    jwt = 'eyJhbGciOiJSUzI1NiJ9.%s.sig' % uuid.uuid4().hex
    startup = 'startup-' + uuid.uuid4().hex
    text = text.replace('REVIEWER_JWT_PLACEHOLDER', jwt).replace('STARTUP_VALUE_PLACEHOLDER', startup)
    resource = yaml.safe_load(text)
    resource['spec']['externalConfig']['auth'][0]['config']['kubernetes_ca_cert'] = pem
    playbook = tmp_path / 'converge.yml'
    playbook.write_text(PLAYBOOK)
    extra = {'url': fresh_dev.url, 'token': fresh_dev.root_token, 'resource': resource}
    first = run_playbook(playbook, extra)
    assert first.returncode == 0, first.stdout[-3000:]
    assert jwt not in first.stdout and startup not in first.stdout
    # Read back: every part of the document is in Vault.
    assert 'sudo' in vault.sys.read_policy('vault_admin')['data']['rules']
    assert read_or_none(vault, 'auth/k8s-one/config')['kubernetes_host'] == 'https://k8s-one.example.internal:6443'
    role = read_or_none(vault, 'auth/k8s-one/role/k8s-one-external-secrets-role')
    assert role['token_policies'] == ['ro_access_policy'] and role['token_max_ttl'] == 3600
    github = read_or_none(vault, 'auth/github/config')
    assert github['organization'] == 'acme-platform' and github['organization_id'] == 424242
    assert read_or_none(vault, 'auth/github/map/teams/devs-rw')['value'] == 'rw_access_policy'
    assert read_or_none(vault, 'auth/github/map/users/k4kratik')['value'] == 'vault_admin'
    assert vault.secrets.kv.v2.read_secret_version('TEST_PROJECT_ONE/test', mount_point='secret',
                                                   raise_on_deleted_version=True)['data']['data'] == \
        {'SECRET_KEY': startup}
    assert vault.sys.list_mounted_secrets_engines()['data']['secret/']['description'] == 'General secrets.'
    # The converted document again and the hand-written one: nothing to change.
    with fresh_dev.no_writes('the converted and the hand-written document again'):
        again = run_playbook(playbook, dict(extra, hand_written=hand_written(jwt, pem, startup)))
    assert again.returncode == 0, again.stdout[-3000:]
    assert play_stats(again)['changed'] == 0, again.stdout[-3000:]
