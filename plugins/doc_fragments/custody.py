# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Where a module finds Vault's key shares (module_utils/_custody.py)."""

    DOCUMENTATION = r'''
options:
  keys:
    description:
      - Key shares given directly (for example decrypted by their PGP holders). When set, custody is not read.
    type: list
    elements: str
    default: []
  keys_file:
    description:
      - The keys file M(vaultkube.platform.vault_init) wrote (ansible-vault encrypted JSON, 0600), on the host that
        runs the module.
    type: path
  keys_file_vault_password:
    description: ansible-vault password of O(keys_file) and of the keys Secret's content.
    type: str
  keys_secret_namespace:
    description: Namespace of the keys Secret.
    type: str
  keys_secret_name:
    description:
      - Name of a Secret that holds the custody content encrypted (data key C(init.vault)); read before O(keys_file).
        A Secret of an earlier version with plain C(init.json) is read too.
    type: str
  kubeconfig:
    description: Path of the kubeconfig for the keys Secret; empty uses C($KUBECONFIG) or C(~/.kube/config).
    type: path
  context:
    description: Kubeconfig context; empty uses the current context.
    type: str
  request_timeout:
    description: Seconds for one Kubernetes API request.
    type: int
    default: 30
'''
