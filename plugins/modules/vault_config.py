#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_config
short_description: Converge Vault to a declarative configuration document in one call
version_added: 0.1.0
description:
  - Applies a whole Vault configuration (secrets engines, auth methods, policies, Kubernetes
    auth config and roles, KV v2 secrets, database connections and roles, audit devices, GitHub
    auth maps) over one client session and one login.
  - Each entry takes exactly the options of the matching single-object module (for example an
    entry of O(config.policies) takes the options of M(vaultkube.platform.vault_policy)) and is
    compared and written by the same code, so results, check mode and diff are the same.
  - What exists is listed once per collection (one LIST for all policies, one per KV folder,
    one per role mount), so objects that do not exist yet are created without a read, and an
    unchanged document makes no write request.
  - Sections are applied in dependency order (mounts, auth methods, policies, Kubernetes auth
    config, roles, secrets, database connections, database roles, audit devices, GitHub auth)
    whatever their order in the document.
  - Every entry is validated before anything is written; a bad entry fails the task with one
    line naming it, for example C(config.policies[3]) followed by what is missing or wrong. Before
    the first write every entry is also checked as far as it can be without writing - option
    types, the HCL syntax of each policy, names as Vault stores them (policy and Kubernetes role
    names lower-cased, mount paths without their slashes, KV paths without leading, trailing or
    repeated C(/)), and the type of the mount each object goes into (a KV version 2 secret needs a
    KV version 2 mount, a Kubernetes role a kubernetes auth mount, a database connection or role a
    database mount), from the document itself when it declares that mount, else from Vault; the
    connection a database role names must be in the document or in Vault too.
  - O(prune=true) compares names as Vault stores them, so a declared object is never pruned,
    whatever its spelling in the document.
  - When Vault refuses an object after others were written, RV(objects) lists every write done.
options:
  config:
    description:
      - The document. Keys are section names; each holds a list of entries.
    type: dict
    required: true
    suboptions:
      secrets_engines:
        description: Entries with the options of M(vaultkube.platform.vault_secrets_engine).
        type: list
        elements: dict
      auth_methods:
        description: Entries with the options of M(vaultkube.platform.vault_auth_method).
        type: list
        elements: dict
      policies:
        description: Entries with the options of M(vaultkube.platform.vault_policy).
        type: list
        elements: dict
      kubernetes_auth_configs:
        description: Entries with the options of M(vaultkube.platform.vault_kubernetes_auth_config).
        type: list
        elements: dict
      kubernetes_auth_roles:
        description: Entries with the options of M(vaultkube.platform.vault_kubernetes_auth_role).
        type: list
        elements: dict
      kv_secrets:
        description:
          - Entries with the options of M(vaultkube.platform.vault_kv2_secret).
          - Their C(data) values are secret; they are masked in every output.
        type: list
        elements: dict
      database_connections:
        description:
          - Entries with the options of M(vaultkube.platform.vault_database_connection).
          - Their C(password) values are secret; they are masked in every output, the diff and
            RV(objects) included, also when the task fails.
        type: list
        elements: dict
      database_roles:
        description: Entries with the options of M(vaultkube.platform.vault_database_role).
        type: list
        elements: dict
      audit_devices:
        description: Entries with the options of M(vaultkube.platform.vault_audit_device).
        type: list
        elements: dict
      github_auth:
        description:
          - GitHub auth method settings as data (organization and team/user to policy maps).
          - Each entry has C(mount_path) (default C(github)), C(organization), optional C(base_url),
            C(teams) (a mapping of team slug to a list of policies) and C(users) (login to policies).
          - Team and user maps not listed are removed from that mount.
        type: list
        elements: dict
  parallelism:
    description:
      - How many objects of one section are compared and written at the same time over the one
        session. Sections still run one after the other, in dependency order.
      - C(1) makes every request wait for the previous one.
    type: int
    default: 4
  prune:
    description:
      - Also delete objects of the kinds present in the document that the document does not list.
      - Pruning covers policies (never C(default) or C(root)), Kubernetes auth roles under the auth
        mounts the document names, KV v2 secrets under the KV mounts the document names (soft
        delete of the latest version, so C(undelete) can bring them back), and database roles under
        the database mounts the document's C(database_roles) name (credentials already issued keep
        their leases).
      - Mounts, database connections and audit devices are never pruned. Disabling a mount destroys
        everything in it, Vault cannot revoke the credentials of a connection that no longer
        exists, and audit devices declared in the server configuration cannot be removed through
        the API.
      - Off by default; try it with check mode and diff first. RV(prune_candidates) lists, in check mode too,
        what it deletes (kinds and names, never a value).
      - What prune would delete is listed before the first write; when that is more than
        O(prune_scope.max_deletions) (10 unless set, also without O(prune_scope)) the task fails naming the
        count and the objects, and nothing is written or deleted.
      - O(prune_scope) limits it to the objects this document owns when several documents share one Vault.
    type: bool
    default: false
  prune_scope:
    description:
      - Limits O(prune=true) to part of Vault, so that several documents (tenants, clusters, teams) can each
        prune their own objects without removing the others'.
      - Has no effect without O(prune=true), and is checked only then.
      - A scope that would match more than meant is refused before any request, with one line naming the field
        (an unset variable is the usual cause).
    type: dict
    suboptions:
      name_prefix:
        description:
          - Only objects whose name starts with one of these are pruned, in every section pruned.
          - The name is the policy name or Kubernetes auth role name (both compared lower-cased, as Vault
            stores them), the name of a database role, the path of a KV secret inside its mount, the path of an
            auth mount.
          - Refused when the list is empty, when an entry is empty or blank (both would match every name), holds
            whitespace or a wildcard (C(*), C(+), C(?), brackets; it is a literal prefix), or is the start of
            C(root) or C(default) (for example C(d) or C(def)). Those two policies are never pruned.
        type: list
        elements: str
      max_deletions:
        description:
          - The most objects one run may prune. When more would be deleted the task fails before its first write,
            naming the count and the objects (kinds and names); raise it only after checking that list.
          - Applies also when O(prune_scope) is not given (then it is 10). C(0) lets prune only report.
        type: int
        default: 10
      kubernetes_auth_mounts:
        description:
          - Kubernetes auth mounts whose roles are pruned beside the mounts the document's roles name.
          - Needed when the document may declare no role at all in a mount (its last owner was removed), because
            prune only looks in mounts it is told about.
          - An empty or blank entry is refused, like a path with a wildcard or C(..) segment.
        type: list
        elements: str
      auth_methods:
        description:
          - Also disable auth mounts that the document's O(config.auth_methods) does not declare and whose
            path starts with one of O(prune_scope.name_prefix), with every role and setting inside them.
          - Needs O(prune_scope.name_prefix); other mounts and secrets engines are never pruned.
        type: bool
        default: false
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
seealso:
  - module: vaultkube.platform.vault_policy
  - module: vaultkube.platform.vault_database_connection
  - module: vaultkube.platform.vault_kv2_secret
  - module: vaultkube.platform.vault_kubernetes_auth_role
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Converge the platform's Vault configuration
  vaultkube.platform.vault_config:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
    config:
      secrets_engines:
        - path: secret
          engine_type: kv
          version: 2
      auth_methods:
        - path: prod-kubernetes
          method_type: kubernetes
      policies:
        - name: eso-read
          policy: |
            path "secret/data/apps/*" { capabilities = ["read"] }
            path "secret/metadata/apps/*" { capabilities = ["list"] }
      kubernetes_auth_configs:
        - mount_path: prod-kubernetes
          kubernetes_host: https://kubernetes.default.svc
      kubernetes_auth_roles:
        - mount_path: prod-kubernetes
          name: external-secrets
          bound_service_account_names: [external-secrets]
          bound_service_account_namespaces: [external-secrets]
          token_policies: [eso-read]
          token_ttl: 1h
      kv_secrets:
        - mount_path: secret
          path: apps/myapp/config
          data:
            username: myapp
            password: "{{ myapp_password }}"
      github_auth:
        - mount_path: github
          organization: example-org
          teams:
            platform: [admin]
            developers: [dev-read]

- name: Dynamic PostgreSQL credentials (Vault's placeholders written as !unsafe strings)
  vaultkube.platform.vault_config:
    config:
      secrets_engines:
        - path: database
          engine_type: database
      database_connections:
        - name: app-db
          connection_url: !unsafe "postgresql://{{username}}:{{password}}@db.example.com:5432/app"
          username: vault-root
          password: "{{ app_db_root_password }}"
          allowed_roles: [app-readonly]
          rotate_root: true
      database_roles:
        - name: app-readonly
          db_name: app-db
          creation_statements:
            - !unsafe CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';
            - !unsafe GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{{name}}";
          default_ttl: 1h
          max_ttl: 24h

- name: Tenants own every policy and Kubernetes role named tenant-*; prune removes those no longer listed
  vaultkube.platform.vault_config:
    config:
      policies: "{{ tenant_policies }}"
      kubernetes_auth_roles: "{{ tenant_roles }}"
    prune: true
    prune_scope:
      name_prefix: [tenant-]
      # Even when the tenant list is empty, look in this mount for roles to prune.
      kubernetes_auth_mounts: [kubernetes]

- name: Show what a document would change, and what it would prune
  vaultkube.platform.vault_config:
    config: "{{ vault_document }}"
    prune: true
  check_mode: true
  diff: true
'''

RETURN = r'''
summary:
  description: How many objects were created, updated, deleted, or left as they were.
  returned: always
  type: dict
  sample: {create: 2, update: 1, delete: 0, none: 57}
objects:
  description:
    - The objects that changed (or would change in check mode). Never holds secret values.
    - When the task fails, every object already written before the failure, so that a failed run says
      exactly what it changed. An object that failed after one of its own requests had gone through has
      V(action=partial) and C(writes), the requests done (C(POST sys/mounts/kv), never a value).
  returned: always, also on failure
  type: list
  elements: dict
  sample:
    - {kind: policy, name: eso-read, action: update, changed_fields: [policy], pruned: false}
prune_candidates:
  description:
    - With O(prune=true), every object prune deletes (or, in check mode, would delete), listed before the first
      write (kinds and names, never a value). Also returned when the task fails because the list is longer than
      O(prune_scope.max_deletions).
  returned: when prune is true
  type: list
  elements: dict
  sample:
    - {kind: policy, name: tenant-gone}
requests:
  description: HTTP requests made to Vault, by kind. An unchanged document makes no write or delete.
  returned: always
  type: dict
  sample: {read: 60, list: 4, write: 0, delete: 0}
'''

import time

from ansible_collections.vaultkube.platform.plugins.module_utils._client import (
    CONNECTION_ARGSPEC,
    VaultRequestError,
    connect,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError
from ansible_collections.vaultkube.platform.plugins.module_utils._config import (
    ConfigRun,
    PruneScope,
    diff_entries,
    secret_values,
    summarise,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._config_sections import sections
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule


def main():
    argument_spec = dict(CONNECTION_ARGSPEC)
    argument_spec.update(
        config=dict(type='dict', required=True),
        prune=dict(type='bool', default=False),
        prune_scope=dict(type='dict', options=dict(
            name_prefix=dict(type='list', elements='str'),
            kubernetes_auth_mounts=dict(type='list', elements='str'),
            auth_methods=dict(type='bool', default=False),
            max_deletions=dict(type='int', default=10),
        )),
        parallelism=dict(type='int', default=4),
    )
    # no_log=True keeps the whole invocation (which holds KV values) out of the system log.
    # Secret option values inside the document are masked in every output, errors included
    # (also when Ansible's own checks of the options fail).
    module = VaultModule(argument_spec=argument_spec, supports_check_mode=True, no_log=True,
                         secret_values=lambda params: secret_values(sections(), params.get('config')))
    started = time.time()
    run = None
    if module.params['parallelism'] < 1:
        module.fail_json(msg='parallelism must be 1 or more, got %d' % module.params['parallelism'])
    try:
        # The scope is checked before the connection: a scope that matches too much makes no request.
        prune_scope = PruneScope.from_params(module.params['prune_scope']) if module.params['prune'] else None
    except FieldError as exc:
        module.fail_json(msg=str(exc))
    try:
        api = connect(module.params)
        connection = dict((k, module.params[k]) for k in CONNECTION_ARGSPEC)
        run = ConfigRun(api, sections(), module.params['config'], connection,
                        check_mode=module.check_mode, prune=module.params['prune'],
                        parallelism=module.params['parallelism'],
                        prune_scope=prune_scope)
        reports = run.run()
    except (VaultRequestError, FieldError) as exc:
        # Entries are validated and checked against Vault, and what prune would delete is
        # counted, before any write, so a later failure is Vault refusing one object: list
        # every write already done before it.
        written = run.written() if run else []
        extra = dict(prune_candidates=candidates(run)) if module.params['prune'] else {}
        module.fail_json(msg=str(exc), changed=bool(written) and not module.check_mode, objects=written, **extra)
    changed = [r for r in reports if r['changed']]
    result = dict(
        changed=bool(changed),
        summary=summarise(reports),
        objects=run.written(),
        requests=dict(api.requests),
        elapsed=round(time.time() - started, 3),
    )
    if module.params['prune']:
        result['prune_candidates'] = candidates(run)
    if module._diff:
        result['diff'] = diff_entries(reports)
    module.exit_json(**result)


def candidates(run):
    return [dict(kind=kind, name=name) for kind, name in (run.prune_candidates if run else [])]


if __name__ == '__main__':
    main()
