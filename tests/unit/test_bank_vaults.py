# -*- coding: utf-8 -*-
"""bank_vaults_config: seed 000's Bank-Vaults externalConfig as a vault_config document."""
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.filter.bank_vaults_config import bank_vaults_config
from bank_vaults_hand_written import hand_written

DATA = os.path.join(os.path.dirname(__file__), '..', 'data', 'bank_vaults_external_config.yml')
HAND_WRITTEN = hand_written()


def resource():
    with open(DATA, encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def test_seed_000_resource_converts_to_the_hand_written_document():
    assert bank_vaults_config(resource()) == HAND_WRITTEN


def test_the_block_alone_and_wrapped_convert_alike():
    block = resource()['spec']['externalConfig']
    assert bank_vaults_config(block) == HAND_WRITTEN
    assert bank_vaults_config({'externalConfig': block}) == HAND_WRITTEN


def test_audit_and_mount_settings():
    out = bank_vaults_config({'audit': [{'type': 'file', 'description': 'main',
                                         'options': {'file_path': '/vault/logs/audit.log'}}],
                              'secrets': [{'path': 'pki', 'type': 'pki', 'config': {'max_lease_ttl': '8760h'}}]})
    assert out == {'audit_devices': [{'path': 'file', 'device_type': 'file', 'description': 'main',
                                      'options': {'file_path': '/vault/logs/audit.log'}}],
                   'secrets_engines': [{'path': 'pki', 'engine_type': 'pki', 'max_lease_ttl': '8760h'}]}


@pytest.mark.parametrize('block, message', [
    ({'groups': []}, 'externalConfig has key(s) groups that vault_config cannot manage'),
    ({'auth': [{'type': 'ldap'}]}, "externalConfig.auth[0].type 'ldap': this conversion handles kubernetes and github"),
    ({'auth': [{'type': 'kubernetes', 'config': {'kubernetes_host': 'h', 'foo': 1}}]},
     'externalConfig.auth[0].config has key(s) foo'),
    ({'auth': [{'type': 'kubernetes', 'roles': [{'name': 'r', 'bound_cidrs': []}]}]},
     'externalConfig.auth[0].roles[0] has key(s) bound_cidrs'),
    ({'auth': [{'type': 'github', 'map': {'groups': {}}}]}, 'externalConfig.auth[0].map has key(s) groups'),
    ({'policies': [{'name': 'p'}]}, 'externalConfig.policies[0].rules must be a non-empty string'),
    ({'startupSecrets': [{'type': 'pki', 'path': 'x'}]}, "externalConfig.startupSecrets[0].type 'pki'"),
    ({'startupSecrets': [{'type': 'kv', 'path': 'secret/app', 'data': {'data': {'a': 1}}}]},
     'is not a KV v2 data path'),
    ({'startupSecrets': [{'type': 'kv', 'path': 'secret/data/app', 'data': {'a': 1}}]}, 'under data.data'),
    ({'secrets': {'path': 'x'}}, 'externalConfig.secrets must be a list'),
])
def test_what_cannot_be_converted_is_named(block, message):
    with pytest.raises(AnsibleFilterError) as failure:
        bank_vaults_config(block)
    text = str(failure.value)
    assert message in text and '\n' not in text, text
