# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The sections of a vault_config document, in the order they are applied."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vaultkube.platform.plugins.module_utils._audit import AuditDevice
from ansible_collections.vaultkube.platform.plugins.module_utils._config import Section
from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes_auth import (
    KubernetesAuthConfig,
    KubernetesAuthRole,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._kv2 import KV2Secret
from ansible_collections.vaultkube.platform.plugins.module_utils._mounts import AuthMethod, SecretsEngine
from ansible_collections.vaultkube.platform.plugins.module_utils._policy import Policy


def _section(key, object_class, prunable):
    return Section(key, object_class, object_class.argument_spec, prunable=prunable)


def sections():
    # Mounts first: everything else lives under them. Mounts are never pruned, because
    # disabling one destroys every secret or role inside it.
    return [
        _section('secrets_engines', SecretsEngine, False),
        _section('auth_methods', AuthMethod, False),
        _section('policies', Policy, True),
        _section('kubernetes_auth_configs', KubernetesAuthConfig, False),
        _section('kubernetes_auth_roles', KubernetesAuthRole, hasattr(KubernetesAuthRole, 'list_prunable')),
        _section('kv_secrets', KV2Secret, hasattr(KV2Secret, 'list_prunable')),
        _section('audit_devices', AuditDevice, True),
    ]
