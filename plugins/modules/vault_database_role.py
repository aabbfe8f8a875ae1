#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_database_role
short_description: Manage a dynamic role of the Vault database secrets engine
version_added: 0.3.0
description:
  - Creates, updates or deletes one dynamic role at C(<mount_path>/roles/<name>). Reading
    C(<mount_path>/creds/<name>) then creates a database user with the role's statements, under a lease of
    O(default_ttl) (renewable up to O(max_ttl)); Vault drops the user when the lease ends or is revoked.
  - Only the options you set are compared; the others keep the value Vault holds. Statements are compared
    in order, each trimmed of surrounding white space (as Vault stores them), empty ones left out; durations by
    their meaning (V(1h) equals V(3600)).
  - The database secrets engine must be enabled at O(mount_path) and the connection named in O(db_name) must
    exist (see M(vaultkube.platform.vault_database_connection)); otherwise the task fails before writing.
    Vault itself accepts both mistakes and fails only when credentials are requested. The connection must also
    list this role in its C(allowed_roles).
  - Ansible templates C({{ }}) in task arguments. Write Vault's C({{name}}), C({{password}}) and
    C({{expiration}}) placeholders as C(!unsafe) strings (see the examples), or inside
    C({% raw %}...{% endraw %}).
options:
  mount_path:
    description: Path the database secrets engine is enabled at.
    type: str
    default: database
  name:
    description: Name of the role; credentials are read at C(<mount_path>/creds/<name>).
    type: str
    required: true
  state:
    description:
      - Whether the role should exist.
      - Deleting a role does not revoke the credentials already issued; their leases still end on time.
    type: str
    choices: [present, absent]
    default: present
  db_name:
    description: Name of the connection the role creates users through. Required when O(state=present).
    type: str
  creation_statements:
    description:
      - SQL run to create a user, with the placeholders C({{name}}), C({{password}}) and C({{expiration}}).
        Required when O(state=present).
      - One string or a list of strings. A string is one item even when it holds commas or several statements
        separated by C(;), which the PostgreSQL plugin runs one by one.
    type: raw
  revocation_statements:
    description:
      - SQL run to drop a user at the end of its lease, with the placeholder C({{name}}). One string or a list.
      - Without it the PostgreSQL plugin revokes the user's privileges and drops it.
    type: raw
  rollback_statements:
    description: SQL run when creating a user fails part way. One string or a list.
    type: raw
  renew_statements:
    description: SQL run when a lease is renewed, with C({{name}}) and C({{expiration}}). One string or a list.
    type: raw
  default_ttl:
    description:
      - Lease duration of the credentials, as seconds or a duration like V(1h). V(0) means the mount's default.
      - Must not be negative or above O(max_ttl).
    type: raw
  max_ttl:
    description:
      - Longest lifetime of the credentials, renewals included, as seconds or a duration. V(0) means the
        mount's maximum.
    type: raw
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
seealso:
  - module: vaultkube.platform.vault_database_connection
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Read-only users valid for an hour, a day at most
  vaultkube.platform.vault_database_role:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
    mount_path: database
    name: app-readonly
    db_name: app-db
    creation_statements:
      - !unsafe CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';
      - !unsafe GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";
    default_ttl: 1h
    max_ttl: 24h

- name: Remove a role
  vaultkube.platform.vault_database_role:
    name: legacy
    state: absent
'''

RETURN = r'''
operation:
  description: What was done (or would be done in check mode).
  returned: always
  type: str
  choices: [create, update, delete, none]
  sample: update
changed_fields:
  description: Names of the options that differ from what Vault holds.
  returned: always
  type: list
  elements: str
  sample: [creation_statements, max_ttl]
diff:
  description: The role before and after, when diff mode is on, in Vault's units (durations in seconds).
  returned: when diff mode is on
  type: dict
  sample:
    before:
      db_name: app-db
      default_ttl: 3600
      max_ttl: 86400
    after:
      db_name: app-db
      default_ttl: 3600
      max_ttl: 43200
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._database import DatabaseRole
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    object_argument_spec,
    run_object_module,
)


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**DatabaseRole.argument_spec),
        required_if=DatabaseRole.required_if,
        supports_check_mode=True,
    )
    run_object_module(module, DatabaseRole)


if __name__ == '__main__':
    main()
