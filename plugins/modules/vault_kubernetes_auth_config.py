#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_kubernetes_auth_config
short_description: Configure a Vault Kubernetes auth method mount
version_added: 0.1.0
description:
  - Manages the configuration C(auth/<mount_path>/config) of a Kubernetes auth method - the Kubernetes API
    address, its CA, the token reviewer JWT, issuer validation and the keys used to check service account
    tokens.
  - The auth method must already be enabled at O(mount_path) (see M(vaultkube.platform.vault_auth_method));
    otherwise the task fails with a message saying so.
  - Vault replaces the whole configuration on every write, so this module always writes the full
    configuration. Options left unset keep the value Vault holds, except O(token_reviewer_jwt); see there.
  - The config cannot be deleted in Vault (it answers C(unsupported operation)), so this module has no
    C(state) option. Disable the auth method to remove it.
  - The reviewer JWT never appears in the result, the diff or the logs.
options:
  mount_path:
    description: Path the Kubernetes auth method is enabled at, without the C(auth/) prefix.
    type: str
    default: kubernetes
  kubernetes_host:
    description:
      - URL of the Kubernetes API server as Vault reaches it, for example C(https://kubernetes.default.svc:443).
    type: str
    required: true
  kubernetes_ca_cert:
    description:
      - PEM text of the CA that signed the Kubernetes API server certificate.
      - Compared ignoring blank lines and white space around lines, so a trailing newline is not a change.
      - When neither this nor O(kubernetes_ca_cert_file) is given, the CA Vault holds is kept; when Vault
        holds none and runs in a pod, Vault uses the pod's own CA.
      - An empty string clears the CA Vault holds, so that a Vault running in a pod uses its pod's CA
        (with O(disable_local_ca_jwt=false)).
      - Mutually exclusive with O(kubernetes_ca_cert_file).
    type: str
  kubernetes_ca_cert_file:
    description:
      - Path, on the host the module runs on, of a PEM file with the Kubernetes CA. Read and used as
        O(kubernetes_ca_cert).
    type: path
  token_reviewer_jwt:
    description:
      - JWT of a service account allowed to call the Kubernetes TokenReview API (C(system:auth-delegator)).
      - Vault never returns this JWT; it only reports whether one is set. When this option is given and
        Vault reports no JWT, the config is written. When it is not given and Vault reports a JWT, the
        config is written without it, which removes it (client-JWT mode, where each client's own JWT
        reviews itself).
      - Whether a JWT that is already set is written again is chosen with O(token_reviewer_jwt_update).
    type: str
  token_reviewer_jwt_update:
    description:
      - When to write O(token_reviewer_jwt) if Vault already reports a JWT as set.
      - V(on_create) writes it only when the config is written anyway, that is when it is created, when
        Vault has no JWT, or when another option differs (every write carries the full config, JWT
        included). A new JWT alone is therefore not detected; use V(always) to rotate it.
      - V(always) writes the config on every run and always reports a change.
    type: str
    choices: [on_create, always]
    default: on_create
  disable_local_ca_jwt:
    description:
      - Do not use the CA and JWT of the pod Vault runs in. Needed when Vault runs outside the cluster.
      - Vault refuses V(true) without a CA, so V(true) requires O(kubernetes_ca_cert) or
        O(kubernetes_ca_cert_file); the task fails before writing otherwise.
    type: bool
  issuer:
    description:
      - Expected C(iss) claim of service account tokens (the API server's C(--service-account-issuer)).
      - Vault checks it only with O(disable_iss_validation=false). When O(disable_iss_validation) is not
        given, a non-empty issuer turns the check on and an empty one turns it off, so that setting an
        issuer has an effect; a token with another C(iss) is then refused at login.
      - Not given, the issuer and the check Vault holds are kept.
    type: str
  disable_iss_validation:
    description:
      - Skip the issuer check of service account tokens (Vault's default is V(true)).
      - Not given, it follows O(issuer) (see there); give it to override that, for example V(true) to store
        an issuer without checking it.
    type: bool
  pem_keys:
    description:
      - PEM public keys used to verify service account JWTs locally instead of through TokenReview.
      - Compared as a set, ignoring order and white space.
    type: list
    elements: str
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
notes:
  - Vault does not check that O(kubernetes_ca_cert) is a certificate; this module fails unless it holds a
    C(-----BEGIN CERTIFICATE-----) block.
  - Without a CA and with O(disable_local_ca_jwt=false), Vault reads the pod's CA file; outside a pod that
    write fails with Vault's own message naming the missing file.
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Reviewer-JWT mode, Vault outside the cluster
  vaultkube.platform.vault_kubernetes_auth_config:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
    mount_path: kubernetes/prod
    kubernetes_host: https://k8s-api.example.com:6443
    kubernetes_ca_cert_file: /etc/vaultkube/prod-cluster-ca.crt
    token_reviewer_jwt: "{{ reviewer_jwt }}"
    disable_local_ca_jwt: true

- name: Check the issuer of service account tokens (turns disable_iss_validation off)
  vaultkube.platform.vault_kubernetes_auth_config:
    mount_path: kubernetes/prod
    kubernetes_host: https://k8s-api.example.com:6443
    kubernetes_ca_cert_file: /etc/vaultkube/prod-cluster-ca.crt
    disable_local_ca_jwt: true
    issuer: https://kubernetes.default.svc.cluster.local

- name: Rotate the reviewer JWT on every run
  vaultkube.platform.vault_kubernetes_auth_config:
    mount_path: kubernetes/prod
    kubernetes_host: https://k8s-api.example.com:6443
    kubernetes_ca_cert: "{{ cluster_ca_pem }}"
    token_reviewer_jwt: "{{ reviewer_jwt }}"
    token_reviewer_jwt_update: always
    disable_local_ca_jwt: true

- name: Client-JWT mode (no reviewer JWT), Vault running inside the cluster
  vaultkube.platform.vault_kubernetes_auth_config:
    kubernetes_host: https://kubernetes.default.svc:443
'''

RETURN = r'''
operation:
  description: What was done (or would be done in check mode). A config is never deleted.
  returned: always
  type: str
  choices: [create, update, none]
  sample: update
changed_fields:
  description:
    - Names of the fields that differ from what Vault holds. C(token_reviewer_jwt_set) means a JWT is
      being added or removed; C(token_reviewer_jwt) means it is rewritten because of
      O(token_reviewer_jwt_update=always).
  returned: always
  type: list
  elements: str
  sample: [kubernetes_host, token_reviewer_jwt_set]
diff:
  description:
    - Config before and after, when diff mode is on. The JWT itself never appears; C(token_reviewer_jwt_set)
      tells whether one is set and a rewritten JWT shows as C((hidden, changed)).
  returned: when diff mode is on
  type: dict
  sample:
    before:
      kubernetes_host: https://old:6443
      token_reviewer_jwt_set: true
    after:
      kubernetes_host: https://k8s-api.example.com:6443
      token_reviewer_jwt_set: true
      token_reviewer_jwt: (hidden, changed)
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes_auth import KubernetesAuthConfig
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    object_argument_spec,
    run_object_module,
)


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**KubernetesAuthConfig.argument_spec),
        mutually_exclusive=KubernetesAuthConfig.mutually_exclusive,
        supports_check_mode=True,
    )
    run_object_module(module, KubernetesAuthConfig)


if __name__ == '__main__':
    main()
