# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: eso_manifests
short_description: The External Secrets Operator objects of a run, from the eso_deploy settings
version_added: 0.3.0
description:
  - Builds the Namespace, ClusterSecretStore, SecretStore and ExternalSecret definitions that the
    C(eso_deploy) role applies, in the order to apply them, from one settings mapping.
  - Each entry of O(_input.vault_dynamic_secrets) (C(name), C(namespace), C(path) such as
    C(database/creds/<role>), and the optional ExternalSecret keys C(target_name), C(refresh_interval),
    C(creation_policy), C(deletion_policy), C(template)) gives a C(VaultDynamicSecret) generator and an
    ExternalSecret that writes what it generates into a Secret, as the C(vault_database_credentials) role
    applies them. The generator logs in to the role C(vault.role) with the ServiceAccount C(vault.service_account)
    of its own namespace (with O(_input.create_service_accounts), one is made in each generator namespace) and
    the audiences C(vault.audiences); its path is the entry's C(path), or C(<creds_mount>/creds/<role>).
  - Every store and generator names its ServiceAccount and audiences (C(serviceAccountRef)); without one ESO
    would log in with its own controller token. The ClusterSecretStore always has C(conditions) -
    O(_input.cluster_store_conditions) when given, else the namespaces O(_input.cluster_store_namespaces), else
    the namespaces of the ExternalSecrets that use it.
  - Names, namespaces, roles and mount paths are checked whole (Kubernetes names, Vault names and paths without
    wildcards) before anything is built.
  - Each entry of O(_input.external_secrets) and O(_input.secret_stores) takes the keys documented
    for C(eso_deploy_external_secrets) and C(eso_deploy_secret_stores) in the role.
  - An entry without a name or namespace, or an ExternalSecret without C(data) or C(data_from), fails
    with the index of the entry and the field to set.
options:
  _input:
    description:
      - Settings - C(cluster_store_enabled), C(cluster_store_name), C(cluster_store_conditions),
        C(cluster_store_namespaces), C(create_namespaces), C(create_service_accounts), C(creds_mount),
        C(namespace_labels), C(refresh_interval) (default of the ExternalSecrets),
        C(secret_stores), C(external_secrets), C(vault_dynamic_secrets) (with C(vault_dynamic_secrets_origin),
        the variable named in its messages) and C(vault) (C(server), C(path), C(version), C(ca_bundle) as
        base64, C(auth_mount_path), C(role), C(service_account), C(service_account_namespace), C(audiences)).
    type: dict
    required: true
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Apply the objects of the run in one call
  vaultkube.platform.kubernetes_objects:
    definitions: "{{ settings | vaultkube.platform.eso_manifests }}"
  vars:
    settings:
      cluster_store_name: vault-backend
      vault: {server: "https://vault.vault.svc:8200", path: secret, auth_mount_path: kubernetes,
              role: external-secrets, service_account: vault-platform-reader,
              service_account_namespace: external-secrets, audiences: [vault]}
      external_secrets:
        - {name: shop-db, namespace: shop, data_from: [{extract: {key: prod/shop/db}}]}
'''

RETURN = r'''
_value:
  description: Object definitions (Namespaces first, then stores, generators, then ExternalSecrets).
  type: list
  elements: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.module_utils._eso import SettingsError, manifests
from ansible_collections.vaultkube.platform.plugins.module_utils._names import InvalidName


def eso_manifests(settings):
    if not isinstance(settings, dict):
        raise AnsibleFilterError('eso_manifests: the input must be a mapping of settings')
    try:
        return manifests(settings)
    except (SettingsError, InvalidName) as exc:
        raise AnsibleFilterError('eso_manifests: %s' % exc)
    except KeyError as exc:
        raise AnsibleFilterError('eso_manifests: setting %s is missing' % exc)


class FilterModule(object):
    def filters(self):
        return {'eso_manifests': eso_manifests}
