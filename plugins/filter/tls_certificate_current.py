# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: tls_certificate_current
short_description: Whether a CA and server certificate read from a host need nothing from the tls_certificate module
version_added: 0.6.0
description:
  - Takes the server certificate's PEM text and checks, without the keys, what the M(vaultkube.platform.tls_certificate)
    module would check - the CA in O(ca) signed it, its common name, subjectAltNames and key type are the wanted ones,
    and neither it nor the CA expires within O(renew_before).
  - V(true) means the module would keep both (as far as the certificates tell); a role uses it to skip that module
    on a re-run. V(false) means run the module, which also checks the keys and their files.
options:
  _input:
    description: PEM text of the server certificate (empty when missing).
    type: str
    required: true
  ca:
    description: PEM text of the CA certificate or bundle.
    type: str
    required: true
  common_name:
    description: Wanted common name.
    type: str
    required: true
  subject_alt_names:
    description: Wanted subjectAltNames (V(DNS:name), V(IP:address)).
    type: list
    elements: str
    required: true
  renew_before:
    description: Renewal window, such as V(30d).
    type: str
    default: 30d
  key_type:
    description: Wanted key type.
    type: str
    default: ecdsa-p384
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Skip the certificate step when the host read shows nothing to do
  vaultkube.platform.tls_certificate:
    ca_certificate_path: /etc/vault.d/tls/ca.pem
    ca_privatekey_path: /etc/vault.d/tls/ca.key
    certificate_path: /etc/vault.d/tls/server.pem
    privatekey_path: /etc/vault.d/tls/server.key
    ca_common_name: vault CA
    common_name: vault1
    subject_alt_names: ["DNS:vault1"]
  when: >-
    not (host.certificates['/etc/vault.d/tls/server.pem'].pem | default('')
         | vaultkube.platform.tls_certificate_current(ca=host.certificates['/etc/vault.d/tls/ca.pem'].pem | default(''),
                                                      common_name='vault1', subject_alt_names=['DNS:vault1']))
'''

RETURN = r'''
_value:
  description: Whether the certificates need nothing.
  type: bool
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.module_utils import _certificates as certs


def tls_certificate_current(cert_pem, ca, common_name, subject_alt_names, renew_before='30d', key_type='ecdsa-p384'):
    if not certs.HAS_CRYPTOGRAPHY:
        raise AnsibleFilterError('tls_certificate_current: needs the cryptography Python library on the controller')
    try:
        wanted = certs.Wanted('unused', common_name, subject_alt_names, key_type, renew_before=renew_before)
    except certs.CertificateError as exc:
        raise AnsibleFilterError('tls_certificate_current: %s' % exc)
    return certs.current_without_keys(str(ca or ''), str(cert_pem or ''), wanted)


class FilterModule(object):
    def filters(self):
        return {'tls_certificate_current': tls_certificate_current}
