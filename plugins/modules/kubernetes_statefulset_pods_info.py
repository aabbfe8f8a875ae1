#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: kubernetes_statefulset_pods_info
short_description: List the pods a StatefulSet's controller made, and only those
version_added: 0.3.0
description:
  - Reads a StatefulSet, then the pods of its namespace that carry its selector's labels, and keeps only
    those its controller made - the pod's controller reference (C(ownerReferences) entry with
    C(controller=true)) names kind C(StatefulSet), the StatefulSet's name B(and) its uid, the pod matches
    the StatefulSet's whole selector (C(matchLabels) and C(matchExpressions)), and its name is a member name
    C(<statefulset>-<ordinal>) with the ordinal in the StatefulSet's range.
  - Labels alone are not trusted - a pod that copies them (a stray pod, or one made by whoever can create
    pods in that namespace) is returned in RV(ignored) with the reason, never in RV(pods). So is a pod left
    by an earlier StatefulSet of the same name (another uid).
  - vault_unseal uses it to find the Vault server pods it sends unseal keys to.
  - Credentials come from O(kubeconfig) and O(context) or, inside a pod, from its ServiceAccount. They are
    never logged.
options:
  namespace:
    description: Namespace of the StatefulSet.
    type: str
    required: true
  name:
    description: Name of the StatefulSet.
    type: str
    required: true
  allow_missing:
    description:
      - With V(true) a missing StatefulSet returns RV(found=false) and no pods (the caller words its own
        message); with V(false) the task fails with one line naming it.
    type: bool
    default: false
extends_documentation_fragment:
  - vaultkube.platform.kubernetes_client
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only.
notes:
  - One GET of the StatefulSet and one LIST of pods (filtered by the server on the selector's C(matchLabels)).
  - The StatefulSet controller itself adopts an orphan pod that matches its selector and is named
    C(<statefulset>-<digits>) (it writes a genuine controller reference), and whoever can create pods in the
    namespace can write one too. Such a pod is still refused unless its name is a member name in range, and a
    member name is held by the member while it exists; what is left is a member name the controller has not
    taken yet (scaling up, a member being replaced). Keep pod creation in that namespace to the platform (RBAC).
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Find the Vault server pods of the release
  vaultkube.platform.kubernetes_statefulset_pods_info:
    namespace: vault
    name: vault
    kubeconfig: ~/.kube/config
  register: vault_pods

- name: Show the running ones
  ansible.builtin.debug:
    msg: "{{ vault_pods.pods | selectattr('phase', 'equalto', 'Running') | map(attribute='name') | list }}"
'''

RETURN = r'''
found:
  description: Whether the StatefulSet exists.
  returned: always
  type: bool
  sample: true
uid:
  description: The StatefulSet's uid, which every returned pod's controller reference names.
  returned: when found
  type: str
  sample: 0b6f2a4e-3d0c-4a8e-9a53-7f0c1f2b9d11
replicas:
  description: The StatefulSet's C(spec.replicas).
  returned: when found
  type: int
  sample: 3
pods:
  description: The StatefulSet's own pods, sorted by ordinal.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: vault-0, ordinal: 0, phase: Running, ready: true, deleting: false, uid: 5c1e...}
ignored:
  description: Pods that carry the selector's labels but that the StatefulSet's controller did not make, with the reason.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: vault-decoy, phase: Running, ready: false, deleting: false, uid: 9a2d..., reason: has no controller}
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.vaultkube.platform.plugins.module_utils._kubernetes import (
    HAS_KUBERNETES, KUBERNETES_IMPORT_ERROR, KubernetesError, client_argument_spec, client_from_params, read_statefulset_pods)


def main():
    module = AnsibleModule(
        argument_spec=client_argument_spec(
            namespace=dict(type='str', required=True),
            name=dict(type='str', required=True),
            allow_missing=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib('kubernetes'), exception=str(KUBERNETES_IMPORT_ERROR))
    params = module.params
    try:
        client = client_from_params(params)
        statefulset, pods, ignored = read_statefulset_pods(client, params['namespace'], params['name'])
    except KubernetesError as exc:
        module.fail_json(msg='kubernetes_statefulset_pods_info: %s' % exc)
    if statefulset is None:
        if not params['allow_missing']:
            module.fail_json(msg='kubernetes_statefulset_pods_info: StatefulSet %s/%s does not exist: check the '
                                 'namespace and name (is the chart installed?)' % (params['namespace'], params['name']))
        module.exit_json(changed=False, found=False, pods=[], ignored=[])
    module.exit_json(changed=False, found=True, uid=statefulset['metadata'].get('uid'),
                     replicas=(statefulset.get('spec') or {}).get('replicas', 1), pods=pods, ignored=ignored)


if __name__ == '__main__':
    main()
