#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_database_connection
short_description: Manage a connection of the Vault database secrets engine
version_added: 0.3.0
description:
  - Creates, updates or deletes one database connection at C(<mount_path>/config/<name>), which tells the
    database secrets engine how to reach a database (PostgreSQL by default) with a privileged ("root") user,
    and which roles may use it.
  - Only the options you set are compared; the others keep the value Vault holds. An update sends only what
    differs, because Vault keeps the fields a write leaves out (the password included).
  - The database secrets engine must already be enabled at O(mount_path) (see
    M(vaultkube.platform.vault_secrets_engine) with C(engine_type=database)); otherwise the task fails before
    writing, with a message saying so. An unknown O(plugin_name) is refused the same way when the token may
    read Vault's plugin catalog.
  - The password never appears in the result, the diff or the logs.
  - Ansible templates C({{ }}) in task arguments. Write Vault's C({{username}}) and C({{password}}) placeholders
    as C(!unsafe) strings (see the examples), or inside C({% raw %}...{% endraw %}).
options:
  mount_path:
    description: Path the database secrets engine is enabled at.
    type: str
    default: database
  name:
    description: Name of the connection; roles name it in their C(db_name).
    type: str
    required: true
  state:
    description:
      - Whether the connection should exist.
      - Deleting a connection does not revoke the credentials issued through it, and afterwards Vault cannot
        revoke them either (it no longer knows how to reach the database), so the database users stay. Revoke
        their leases first (C(sys/leases/revoke-prefix/<mount_path>/creds/<role>)).
    type: str
    choices: [present, absent]
    default: present
  plugin_name:
    description:
      - Database plugin of the connection.
    type: str
    default: postgresql-database-plugin
  connection_url:
    description:
      - Connection string of the database, with the placeholders C({{username}}) and C({{password}}) where
        Vault puts O(username) and O(password), for example
        C(postgresql://{{username}}:{{password}}@db.example.com:5432/postgres?sslmode=verify-full).
      - Required when O(state=present). A password written in clear in it is refused (Vault would keep it
        readable and could not rotate it), and so is a URL without C({{password}}) when O(password) is given
        or without C({{username}}) when O(username) is given.
    type: str
  username:
    description: The privileged database user Vault connects as, and whose password O(rotate_root) rotates.
    type: str
  password:
    description:
      - Password of O(username). Never returned by Vault, by this module or in the diff.
      - Because Vault never returns it, a changed password cannot be detected. It is written when the connection
        is created, when O(username) changes (a new user comes with its own password), and on every run with
        O(password_update=always). Other updates leave the password Vault holds as it is.
    type: str
  password_update:
    description:
      - When to write O(password) to a connection that already exists.
      - V(on_create) writes it only when the connection is created or O(username) changes. A new password alone
        is therefore not detected; use V(always) to write it.
      - V(always) writes it on every run and always reports a change (C(password) in RV(changed_fields)).
        Not allowed with O(rotate_root=true).
    type: str
    choices: [on_create, always]
    default: on_create
  password_authentication:
    description:
      - How the PostgreSQL plugin sends the passwords of the users it creates. V(scram-sha-256) sends them hashed,
        so they never reach the server in clear. Vault's default is V(password).
      - For O(plugin_name=postgresql-database-plugin) only.
    type: str
    choices: [password, scram-sha-256]
  allowed_roles:
    description:
      - Roles allowed to use this connection (names or glob patterns; V(*) allows any). Compared as a set.
      - Vault's default is none, so credentials of a role not listed here are refused.
    type: list
    elements: str
  verify_connection:
    description:
      - Log in to the database when the connection is written; a failed login refuses the write, which stores
        nothing. Not stored by Vault, so not compared.
    type: bool
    default: true
  rotate_root:
    description:
      - After writing O(password), have Vault change the root password in the database to one only Vault knows
        (C(<mount_path>/rotate-root/<name>)). The password is written, and so rotated, when the connection is
        created or O(username) changes; that is once per user, not on every run.
      - Afterwards only Vault knows the root password. O(password) no longer opens the database, so keep
        another administrative account for the database itself. Requires O(username) and O(password) and is not
        allowed with O(password_update=always).
      - If the rotation of a newly created connection fails, the connection is removed again so that the next
        run creates it and rotates.
      - A connection that already exists is not rotated by turning this on; rotate it with a write to
        C(<mount_path>/rotate-root/<name>).
    type: bool
    default: false
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
seealso:
  - module: vaultkube.platform.vault_database_role
  - module: vaultkube.platform.vault_secrets_engine
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: A PostgreSQL connection whose root password only Vault knows afterwards
  vaultkube.platform.vault_database_connection:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
    mount_path: database
    name: app-db
    connection_url: !unsafe "postgresql://{{username}}:{{password}}@db.example.com:5432/app?sslmode=verify-full"
    username: vault-root
    password: "{{ app_db_root_password }}"
    password_authentication: scram-sha-256
    allowed_roles: [app-readonly, app-readwrite]
    rotate_root: true

- name: Write a changed root password (every run reports a change)
  vaultkube.platform.vault_database_connection:
    name: reporting-db
    connection_url: !unsafe "postgresql://{{username}}:{{password}}@reporting.example.com:5432/reports"
    username: vault-root
    password: "{{ reporting_db_root_password }}"
    password_update: always
    allowed_roles: ["reports-*"]

- name: Remove a connection
  vaultkube.platform.vault_database_connection:
    name: legacy-db
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
  description:
    - Names of the options that differ from what Vault holds. C(password) means the password is written
      (never its value); C(rotate_root) means the root password is rotated after the write.
  returned: always
  type: list
  elements: str
  sample: [allowed_roles]
diff:
  description:
    - The connection before and after, when diff mode is on. The password never appears; a password written
      shows as C((hidden)) or C((hidden, changed)).
  returned: when diff mode is on
  type: dict
  sample:
    before:
      allowed_roles: [app-readonly]
      connection_url: "postgresql://{{username}}:{{password}}@db.example.com:5432/app"
      password_authentication: password
      plugin_name: postgresql-database-plugin
      username: vault-root
    after:
      allowed_roles: [app-readonly, app-readwrite]
      connection_url: "postgresql://{{username}}:{{password}}@db.example.com:5432/app"
      password_authentication: password
      plugin_name: postgresql-database-plugin
      username: vault-root
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._database import DatabaseConnection
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    object_argument_spec,
    run_object_module,
)


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**DatabaseConnection.argument_spec),
        required_if=DatabaseConnection.required_if,
        supports_check_mode=True,
        secret_values=DatabaseConnection.extra_secret_values,
    )
    run_object_module(module, DatabaseConnection)


if __name__ == '__main__':
    main()
