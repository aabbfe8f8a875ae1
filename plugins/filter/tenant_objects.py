# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: tenant_objects
short_description: The Vault document and Kubernetes objects of a list of tenants
version_added: 0.3.0
description:
  - Builds, from one list of tenants, what the C(vault_tenants) role applies - for each tenant a policy
    C(<name_prefix><name>) that reads only its KV folder (C(<kv_mount>/data/<kv_prefix>/*), and lists
    C(<kv_mount>/metadata/<kv_prefix>/*)) plus its optional C(extra_policy), a Kubernetes auth role of the same
    name bound to its namespace and ServiceAccount, and the Namespace, ServiceAccount, C(system:auth-delegator)
    binding (C(client_jwt) mode only), SecretStore and ExternalSecrets in the cluster.
  - Every list is checked first; a bad entry fails with its index and the field to fix. Refused - a missing or
    non-DNS name, two tenants with one name or one namespace (the namespace is what keeps tenants apart), a
    C(kv_prefix) inside another tenant's, a C(kv_prefix) with wildcards or starting with C(data/).
  - Kubernetes objects carry the labels C(app.kubernetes.io/managed-by=vaultkube.platform) and
    C(vaultkube.platform/tenant=<name>); with O(_input.prune), the SecretStores of O(_input.existing_stores)
    labelled with a tenant no longer listed give what to delete.
options:
  _input:
    description:
      - Settings - C(tenants) (entries with C(name), C(kv_prefix), optional C(namespace), C(service_account),
        C(store_name), C(extra_policy), C(extra_policies), C(external_secrets)), C(name_prefix), C(kv_mount),
        C(auth_mount_path), C(auth_mode), C(token_ttl), C(token_max_ttl), C(audience), C(service_account) and
        C(store_name) (defaults of the entries), C(create_namespaces), C(refresh_interval), C(vault) (C(server),
        C(ca_bundle) as base64), C(prune) and C(existing_stores).
    type: dict
    required: true
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Policies and roles of every tenant in one call
  vaultkube.platform.vault_config:
    config: "{{ (settings | vaultkube.platform.tenant_objects).vault }}"
  vars:
    settings:
      name_prefix: tenant-
      kv_mount: secret
      auth_mount_path: kubernetes
      vault: {server: "https://vault.example.internal:8200"}
      tenants:
        - {name: payments, kv_prefix: tenants/payments}
        - {name: search, kv_prefix: tenants/search, namespace: search-prod}
'''

RETURN = r'''
_value:
  description: The tenants' objects.
  type: dict
  contains:
    vault:
      description: A C(vault_config) document with the sections C(policies) and C(kubernetes_auth_roles).
      type: dict
    kubernetes:
      description: Definitions for C(kubernetes_objects), in the order to apply them.
      type: list
      elements: dict
    absent:
      description: Objects for the C(absent) option of C(kubernetes_objects).
      type: list
      elements: dict
    names:
      description: The tenant names, in the order given.
      type: list
      elements: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.module_utils._eso import SettingsError
from ansible_collections.vaultkube.platform.plugins.module_utils._tenants import tenant_objects as build


def tenant_objects(settings):
    if not isinstance(settings, dict):
        raise AnsibleFilterError('tenant_objects: the input must be a mapping of settings')
    try:
        return build(settings)
    except SettingsError as exc:
        raise AnsibleFilterError('vault_tenants: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'tenant_objects': tenant_objects}
