# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Connection options of the modules that talk to the Kubernetes API server themselves."""

    DOCUMENTATION = r'''
options:
  kubeconfig:
    description: Path of the kubeconfig; empty uses C($KUBECONFIG), C(~/.kube/config), or the pod's ServiceAccount.
    type: path
  context:
    description: Kubeconfig context; empty uses the current context.
    type: str
  request_timeout:
    description: Seconds for one API request.
    type: int
    default: 30
requirements:
  - kubernetes (Python library, for kubeconfig loading)
'''
