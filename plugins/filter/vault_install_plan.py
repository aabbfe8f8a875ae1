# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: vault_install_plan
short_description: The plan of the vault_install role - server configuration, chart values and problems
version_added: 0.5.0
description:
  - Turns the variables of the P(vaultkube.platform.vault_install#role) role into what the role writes, in one
    place - the server configuration of a host, the values of the Vault chart, the role's paths, the audit
    devices - and the list of problems with those variables.
  - The server configuration is a document of data rendered to HCL, every value quoted as an HCL string; only
    C(vault_install_extra_config) is appended as it is.
  - The role calls it in its preflight with the mapping C(_vault_install_plan_inputs) (its variables without
    the C(vault_install_) prefix) and fails with the first problem before any write.
options:
  _input:
    description:
      - The role's variables, keyed without the C(vault_install_) prefix (C(target), C(data_dir),
        C(helm_values)...). Every key of the role's mapping C(_vault_install_plan_inputs) is required.
    type: dict
    required: true
  service_mgr:
    description:
      - The host's C(ansible_service_mgr) fact (empty when facts are not gathered). Only decides RV(_value.use_systemd).
    type: str
    default: ''
    version_added: 0.6.0
  systemd_booted:
    description:
      - Whether C(/run/systemd/system) exists on the host (the C(systemd) result of
        M(vaultkube.platform.host_state_info)). Only decides RV(_value.use_systemd); unset while the host is not read.
    type: bool
    version_added: 0.6.0
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Plan the installation
  ansible.builtin.set_fact:
    _vault_install_plan: "{{ _vault_install_plan_inputs | vaultkube.platform.vault_install_plan }}"

- name: Choose systemd or the supervised process once the host is read
  ansible.builtin.set_fact:
    _vault_install_use_systemd: >-
      {{ (_vault_install_plan_inputs | vaultkube.platform.vault_install_plan(service_mgr=ansible_service_mgr | default(''),
          systemd_booted=_vault_install_host.systemd)).use_systemd }}

- name: Stop on the first problem, before any write
  ansible.builtin.fail:
    msg: "vault_install: {{ _vault_install_plan.problems | first }}"
  when: _vault_install_plan.problems | length > 0
'''

RETURN = r'''
_value:
  description: The plan.
  type: dict
  contains:
    problems:
      description: One line per unusable value, naming the variable and the fix (never a secret value).
      type: list
      elements: str
    host_config:
      description: The server configuration of a host (empty for Kubernetes or with problems).
      type: str
    host_document:
      description: The data C(host_config) is rendered from.
      type: list
      elements: dict
    chart_values:
      description: The values of the Vault chart, the user's merged over the role's (empty for a host).
      type: dict
    helm_tls_sans:
      description: The subjectAltNames of a certificate generated for the chart's Services and pods.
      type: list
      elements: str
    use_systemd:
      description:
        - Whether the service runs under systemd - always with C(service_manager=systemd), never with C(process),
          with C(auto) where C(service_mgr) is C(systemd) or C(systemd_booted) is true. Null for C(auto) while
          neither says systemd and C(systemd_booted) is not given.
      type: bool
      version_added: 0.6.0
    audit_api_devices:
      description: The audit devices vault_unseal enables through the API (empty when they are in the configuration).
      type: list
      elements: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.module_utils._install_plan import (
    InstallPlanError, install_plan)


def _plain(value):
    # Ansible hands templated values over as subclasses of str, dict and list.
    if isinstance(value, dict):
        return dict((_plain(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def vault_install_plan(inputs, service_mgr='', systemd_booted=None):
    if not isinstance(inputs, dict):
        raise AnsibleFilterError('vault_install_plan: the input must be a mapping of the role variables')
    try:
        return install_plan(_plain(inputs), service_mgr=_plain(service_mgr or ''),
                            systemd_booted=None if systemd_booted is None else bool(systemd_booted))
    except InstallPlanError as exc:
        raise AnsibleFilterError('vault_install_plan: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'vault_install_plan': vault_install_plan}
