# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: bank_vaults_config
short_description: A Bank-Vaults externalConfig block as a vault_config document
version_added: 0.3.0
description:
  - Converts the C(externalConfig) of a Bank-Vaults Vault resource (the block itself, a mapping holding
    C(externalConfig), or the resource with C(spec.externalConfig)) into the document
    M(vaultkube.platform.vault_config) applies, so a Vault configured by the Bank-Vaults operator can be
    taken over without rewriting its configuration by hand.
  - C(policies) (C(name), C(rules)) become C(policies) (C(name), C(policy)).
  - C(auth) entries of type C(kubernetes) become an C(auth_methods) entry, a C(kubernetes_auth_configs) entry
    from C(config) (C(disable_issuer_verification) is renamed C(disable_iss_validation)) and
    C(kubernetes_auth_roles) from C(roles); entries of type C(github) become an C(auth_methods) entry and a
    C(github_auth) entry from C(config) and C(map.teams)/C(map.users). Policy lists written as V(a,b) become lists.
  - C(secrets) become C(secrets_engines) (C(options.version) is the KV version, C(config) the mount settings).
  - C(startupSecrets) of type C(kv) at C(<mount>/data/<path>) with C(data.data) become C(kv_secrets);
    C(audit) entries become C(audit_devices).
  - Anything else (other auth types, sections such as C(groups) or C(plugins), unknown keys) fails with the
    path of the entry and the key, instead of being dropped.
  - The result holds what the input holds, reviewer JWTs and startup secret values included; keep it in
    C(no_log) tasks and pass it to C(vault_config), which masks them.
options:
  _input:
    description: The externalConfig block, or a mapping or Vault resource holding it.
    type: dict
    required: true
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Take over the configuration the Bank-Vaults operator applied
  vaultkube.platform.vault_config:
    config: "{{ lookup('ansible.builtin.file', 'vault-cr.yaml') | ansible.builtin.from_yaml
                | vaultkube.platform.bank_vaults_config }}"
'''

RETURN = r'''
_value:
  description: A vault_config document (only the sections the input has).
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.module_utils._bank_vaults import ConversionError, convert


def bank_vaults_config(document):
    try:
        return convert(document)
    except ConversionError as exc:
        raise AnsibleFilterError('bank_vaults_config: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'bank_vaults_config': bank_vaults_config}
