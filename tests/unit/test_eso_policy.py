# -*- coding: utf-8 -*-
"""The ESO policy of vault_kubernetes_auth (and vault_tenants): read on the KV v2 data, read and
list on its metadata, as seed 001 grants (dataFrom.find by tags reads each secret's metadata).
tests/lab/test_eso_find_tags.py proves on the lab that ESO finds tagged secrets with it."""
import json
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.filter.kv_reader_rules import kv_reader_rules as kv_reader_filter
from ansible_collections.vaultkube.platform.plugins.module_utils._names import InvalidName, kv_reader_rules
from ansible_collections.vaultkube.platform.plugins.module_utils._policy import check_hcl_syntax

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))

EXPECTED = [{'path': 'secret/data/lab/*', 'capabilities': ['read']},
            {'path': 'secret/metadata/lab/*', 'capabilities': ['read', 'list']}]


def test_kv_reader_rules_read_the_metadata():
    assert kv_reader_rules('secret', 'lab') == EXPECTED
    assert kv_reader_rules('/kv/', '/clusters/lab-a/') == [
        {'path': 'kv/data/clusters/lab-a/*', 'capabilities': ['read']},
        {'path': 'kv/metadata/clusters/lab-a/*', 'capabilities': ['read', 'list']}]


@pytest.mark.parametrize('mount, prefix, field', [
    ('secret', 'team/*', 'kv_prefix'), ('secret', 'a/+/b', 'kv_prefix'), ('secret', '', 'kv_prefix'),
    ('secret', '../x', 'kv_prefix'), ('sec*', 'lab', 'kv_mount'), ('secret', '${x}', 'kv_prefix')])
def test_kv_reader_rules_refuse_what_would_widen_them(mount, prefix, field):
    with pytest.raises(InvalidName) as err:
        kv_reader_rules(mount, prefix)
    assert str(err.value).startswith(field)
    with pytest.raises(AnsibleFilterError) as err:
        kv_reader_filter(mount, prefix)
    assert 'kv_reader_rules: %s' % field in str(err.value)


RENDER = r'''
import json, sys, yaml
import ansible.constants as C
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
_AnsibleCollectionFinder(paths=C.COLLECTIONS_PATHS)._install()
with open(sys.argv[1]) as handle:
    role_vars = yaml.safe_load(handle)
role_vars['_vault_kubernetes_auth_names'] = {'vault_kubernetes_auth_kv_mount': sys.argv[2],
                                             'vault_kubernetes_auth_kv_prefix': sys.argv[3]}
templar = Templar(loader=DataLoader(), variables=role_vars)
print(json.dumps(templar.template(trust_as_template(role_vars['_vault_kubernetes_auth_eso_policy']))))
'''


def render_role_policy(mount, prefix):
    """The role's _vault_kubernetes_auth_eso_policy as Ansible renders it (own process: the collection
    loader Ansible installs must not leak into the other tests)."""
    done = subprocess.run([sys.executable, '-c', RENDER, os.path.join(ROOT, 'roles', 'vault_kubernetes_auth', 'vars',
                                                                      'main.yml'), mount, prefix],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_role_grants_read_and_list_on_the_metadata():
    policy = render_role_policy('secret', 'lab')
    assert policy == ('# Read-only access for External Secrets Operator to secret/lab/*.\n'
                      'path "secret/data/lab/*" {\n  capabilities = ["read"]\n}\n'
                      'path "secret/metadata/lab/*" {\n  capabilities = ["read", "list"]\n}\n')
    check_hcl_syntax(policy)
