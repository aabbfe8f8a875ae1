# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The sections of a vault_config document, in the order they are applied."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vaultkube.platform.plugins.module_utils._audit import AuditDevice
from ansible_collections.vaultkube.platform.plugins.module_utils._config import Section
from ansible_collections.vaultkube.platform.plugins.module_utils._database import DatabaseConnection, DatabaseRole
from ansible_collections.vaultkube.platform.plugins.module_utils._github import GithubAuth
from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes_auth import (
    KubernetesAuthConfig,
    KubernetesAuthRole,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._kv2 import KV2Secret
from ansible_collections.vaultkube.platform.plugins.module_utils._mounts import AuthMethod, SecretsEngine
from ansible_collections.vaultkube.platform.plugins.module_utils._policy import Policy


def _section(key, object_class, prunable, provides=None, inside=None):
    return Section(key, object_class, object_class.argument_spec, prunable=prunable,
                   provides=provides, inside=inside)


def sections():
    # Mounts first: everything else lives under them. Mounts are never pruned, because
    # disabling one destroys every secret or role inside it.
    return [
        _section('secrets_engines', SecretsEngine, False, provides='secrets'),
        _section('auth_methods', AuthMethod, False, provides='auth'),
        _section('policies', Policy, True),
        _section('kubernetes_auth_configs', KubernetesAuthConfig, False, inside='auth'),
        _section('kubernetes_auth_roles', KubernetesAuthRole, True, inside='auth'),
        _section('kv_secrets', KV2Secret, True, inside='secrets'),
        # Connections before the roles that name them. Connections are never pruned: Vault
        # cannot revoke the leases of a connection that no longer exists.
        _section('database_connections', DatabaseConnection, False, provides='database connection',
                 inside='secrets'),
        _section('database_roles', DatabaseRole, True, inside='secrets'),
        _section('audit_devices', AuditDevice, False),
        _section('github_auth', GithubAuth, False, inside='auth'),
    ]
