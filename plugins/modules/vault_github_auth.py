#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_github_auth
short_description: Configure Vault's GitHub auth method - the organization and the team and user to policy maps
version_added: 0.3.0
description:
  - Writes the configuration of a GitHub auth mount (C(auth/<mount_path>/config)) and its team and user maps
    (C(auth/<mount_path>/map/teams/<team>), C(auth/<mount_path>/map/users/<login>)), the access list of
    humans logging in with a GitHub token.
  - The maps are the whole list for that mount - a team or user map on the mount that O(teams) or O(users)
    does not name is removed (a stale map is a grant).
  - Only the configuration fields given are compared and written; an unchanged mount makes no write.
  - With O(organization_id) set, Vault does not ask GitHub for the organization's id when the configuration
    is written (without it, Vault looks the organization up on GitHub, which must then be reachable).
  - The mount itself is enabled or disabled with M(vaultkube.platform.vault_auth_method) (V(method_type=github)).
    OpenBao ships no GitHub auth plugin; this module needs HashiCorp Vault.
options:
  mount_path:
    description: Path of the GitHub auth mount, relative to C(auth/).
    type: str
    default: github
  organization:
    description: The GitHub organization users must belong to.
    type: str
    required: true
  organization_id:
    description: The organization's numeric id; saves Vault the lookup on GitHub.
    type: int
  base_url:
    description: API endpoint of a GitHub Enterprise server; empty for github.com.
    type: str
  token_policies:
    description: Policies every token of this mount gets, beside those of the maps.
    type: list
    elements: str
  token_ttl:
    description: Default lifetime of the tokens (seconds or a duration such as V(1h)).
    type: raw
  token_max_ttl:
    description: Longest lifetime of the tokens.
    type: raw
  teams:
    description:
      - Team slug to policies (a list, or a comma-separated string). Maps of teams not named here are removed.
    type: dict
    default: {}
  users:
    description:
      - GitHub login to policies. Maps of users not named here are removed.
    type: dict
    default: {}
  state:
    description: Only V(present); disable the mount with M(vaultkube.platform.vault_auth_method) to remove it all.
    type: str
    choices: [present]
    default: present
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
seealso:
  - module: vaultkube.platform.vault_auth_method
  - module: vaultkube.platform.vault_config
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Enable the GitHub auth method
  vaultkube.platform.vault_auth_method:
    path: github
    method_type: github

- name: Developers log in with a GitHub token; their teams decide what they may do
  vaultkube.platform.vault_github_auth:
    organization: acme
    organization_id: 1234567
    token_ttl: 1h
    teams:
      devs-rw: [rw-access]
      devs-ro: [ro-access]
    users:
      octocat: [vault-admin]
'''

RETURN = r'''
operation:
  description: What was done (or would be done in check mode).
  returned: always
  type: str
  choices: [create, update, none]
  sample: update
changed_fields:
  description: Names of the fields that differ from what Vault holds (C(teams), C(users), or configuration fields).
  returned: always
  type: list
  elements: str
  sample: [teams]
diff:
  description: The configuration and maps before and after, when diff mode is on.
  returned: when diff mode is on
  type: dict
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._github import GithubAuth
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    object_argument_spec,
    run_object_module,
)


def main():
    spec = dict(GithubAuth.argument_spec)
    spec['organization'] = dict(type='str', required=True)
    module = VaultModule(argument_spec=object_argument_spec(**spec), supports_check_mode=True)
    run_object_module(module, GithubAuth)


if __name__ == '__main__':
    main()
