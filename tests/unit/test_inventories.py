# -*- coding: utf-8 -*-
"""inventory/kind and inventory/lab-cluster set the same role variables: only their first
section (addresses, chart sources, images) differs, so the topology the lab tests is the
one the kind example gives users."""
import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
MARKER = '# ------------------------------------------------------ the same in every cluster inventory'


def group_vars(name):
    with open(os.path.join(ROOT, 'inventory', name, 'group_vars', 'all.yml'), encoding='utf-8') as handle:
        return handle.read()


def test_kind_and_lab_cluster_share_every_role_variable():
    kind, lab = group_vars('kind'), group_vars('lab-cluster')
    assert MARKER in kind and MARKER in lab
    assert kind[kind.index(MARKER):] == lab[lab.index(MARKER):]


def test_only_where_variables_differ():
    kind, lab = yaml.safe_load(group_vars('kind')), yaml.safe_load(group_vars('lab-cluster'))
    head_kind = yaml.safe_load(group_vars('kind').split(MARKER)[0])
    head_lab = yaml.safe_load(group_vars('lab-cluster').split(MARKER)[0])
    role_prefixes = ('vault_install_', 'vault_unseal_', 'ca_cert_export_', 'vault_kubernetes_auth_', 'eso_deploy_',
                     'vault_database_credentials_', 'reloader_')
    for name in (kind, lab):
        assert not [key for key in (head_kind if name is kind else head_lab) if key.startswith(role_prefixes)]
    # Every "where" variable of the lab is either lab-only plumbing or also set by kind.
    lab_only = {key for key in head_lab if key.startswith('vaultkube_lab_')} | {'vaultkube_repo'}
    assert set(head_lab) - lab_only == set(head_kind)
    assert set(kind) - set(head_kind) == set(lab) - set(head_lab)


def test_lab_inventories_check_the_labs_own_issuers():
    """vault_kubernetes_auth_issuer turns issuer validation on: it must be the issuer the lab's API
    servers are started with (tests/lab/versions.env, and fleet.sh for each fleet cluster)."""
    import re
    with open(os.path.join(ROOT, 'tests', 'lab', 'versions.env'), encoding='utf-8') as handle:
        lab_issuer = re.search(r'^LAB_SA_ISSUER=\$\{LAB_SA_ISSUER:-(\S+)\}$', handle.read(), re.M).group(1)
    assert yaml.safe_load(group_vars('lab'))['vault_kubernetes_auth_issuer'] == lab_issuer
    with open(os.path.join(ROOT, 'tests', 'lab', 'fleet.sh'), encoding='utf-8') as handle:
        fleet_issuer = re.search(r'export LAB_SA_ISSUER=(\S+)', handle.read()).group(1)
    with open(os.path.join(ROOT, 'inventory', 'lab-fleet', 'group_vars', 'kubernetes_clusters.yml'),
              encoding='utf-8') as handle:
        fleet = yaml.safe_load(handle)
    assert fleet['vault_kubernetes_auth_issuer'].replace('{{ inventory_hostname }}', '$name') == fleet_issuer
