# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Connection and authentication options shared by every Vault module."""

    DOCUMENTATION = r'''
options:
  url:
    description:
      - Address of the Vault (or OpenBao) server, for example C(https://vault.example.com:8200).
      - Falls back to the E(VAULT_ADDR) environment variable.
    type: str
    aliases: [vault_addr]
  token:
    description:
      - Vault token used when O(auth_method=token).
      - Falls back to the E(VAULT_TOKEN) environment variable. Never logged.
    type: str
  ca_cert:
    description:
      - Path to a PEM file with the CA that signed the Vault server certificate.
      - Falls back to the E(VAULT_CACERT) environment variable.
    type: path
    aliases: [cacert]
  validate_certs:
    description:
      - Verify the Vault server certificate. On unless turned off.
      - When unset, the E(VAULT_SKIP_VERIFY) environment variable is read as a real boolean,
        so C(VAULT_SKIP_VERIFY=false) keeps verification on.
    type: bool
  timeout:
    description: Seconds to wait for each HTTP request.
    type: int
    default: 30
  namespace:
    description:
      - Vault Enterprise / OpenBao namespace. Falls back to E(VAULT_NAMESPACE).
    type: str
  retries:
    description:
      - How many times a request is retried on connection errors and on HTTP 429, 500, 502, 503 and
        504 (rate limited, sealed or standby nodes), with exponential backoff. C(0) disables retries.
    type: int
    default: 3
  retry_backoff:
    description: Backoff factor in seconds between retries (doubles on each retry).
    type: float
    default: 0.5
  auth_method:
    description:
      - How the module authenticates.
      - V(token) uses O(token).
      - V(kubernetes) logs in with a ServiceAccount JWT (O(jwt) or O(jwt_file)) and O(kubernetes_role).
      - V(approle) logs in with O(role_id) and O(secret_id).
    type: str
    choices: [token, kubernetes, approle]
    default: token
  auth_mount_path:
    description:
      - Mount path of the auth method used to log in.
      - Defaults to C(kubernetes) or C(approle) after O(auth_method).
    type: str
  kubernetes_role:
    description: Vault role to log in as with O(auth_method=kubernetes).
    type: str
  jwt:
    description: ServiceAccount JWT for O(auth_method=kubernetes). Never logged.
    type: str
  jwt_file:
    description:
      - File holding the ServiceAccount JWT for O(auth_method=kubernetes) when O(jwt) is not set.
      - Defaults to the in-pod path C(/var/run/secrets/kubernetes.io/serviceaccount/token).
    type: path
  role_id:
    description: AppRole role ID for O(auth_method=approle).
    type: str
  secret_id:
    description: AppRole secret ID for O(auth_method=approle). Never logged.
    type: str
requirements:
  - hvac >= 2.0 (Python library, on the host that runs the module)
notes:
  - Every module of this collection is in the C(vaultkube.platform.vault) action group, so the
    connection options can be set once with C(module_defaults).
  - Failures are reported as one line naming the Vault path, the HTTP status and Vault's message.
'''
