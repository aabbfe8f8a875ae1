#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tls_certificate
short_description: Keep, issue or renew the listener's CA and server certificate, in files or as PEM text
version_added: 0.6.0
description:
  - One step for the TLS material of a Vault or OpenBao listener - a CA and a server certificate it signs.
    It reads what exists and decides, for the CA and for the server certificate, to keep it, issue it
    (missing) or renew it.
  - The server certificate is renewed, with a new key, when it expires within O(renew_before), its
    common name or subjectAltNames differ from the wanted ones, its key does not match it or is of
    another type, or the CA did not sign it.
  - The CA is generated only when none is given or present. Within O(renew_before) of its expiry it is
    renewed with its own key when the key is at hand (the server certificates it signed stay valid);
    without its key a new CA is made, and the previous CA stays in the returned bundle while it is
    valid, so that clients keep trusting servers that still present a certificate it signed.
  - B(Files) (all four C(*_path) options) - on the host; keys are written atomically with their own
    owner, group and mode (V(0600) unless told), certificates V(0644); owner, group and mode of existing
    files are put back when they differ.
  - B(Content) (the C(*_content) options, none of the paths) - nothing is written; the module returns
    the PEM text (the server key only when it is new), for example to put in a Kubernetes Secret. The
    CA key, when given, is used and never returned; without one the CA key lives only in this call.
options:
  ca_certificate_path:
    description: File of the CA certificate (may hold former CAs after it). Files mode.
    type: path
  ca_privatekey_path:
    description: File of the CA key. Files mode.
    type: path
  certificate_path:
    description: File of the server certificate. Files mode.
    type: path
  privatekey_path:
    description: File of the server key. Files mode.
    type: path
  ca_certificate_content:
    description: PEM text of the CA certificate, possibly a bundle (the current CA, then former ones). Content mode.
    type: str
  ca_privatekey_content:
    description: PEM text of the CA key, when it is kept somewhere. Content mode.
    type: str
  certificate_content:
    description: PEM text of the server certificate. Content mode.
    type: str
  privatekey_content:
    description: PEM text of the server key. Content mode.
    type: str
  ca_common_name:
    description: Common name of a CA this module makes.
    type: str
    required: true
  common_name:
    description: Common name of the server certificate.
    type: str
    required: true
  subject_alt_names:
    description: subjectAltNames of the server certificate, each V(DNS:<name>) or V(IP:<address>); order does not matter.
    type: list
    elements: str
    default: []
  key_type:
    description: Type of the keys this module makes.
    type: str
    choices: [ecdsa-p384, ecdsa-p256, rsa-2048, rsa-3072, rsa-4096]
    default: ecdsa-p384
  ca_valid_days:
    description: Validity of a CA this module makes, in days.
    type: int
    default: 3650
  valid_days:
    description: Validity of a server certificate this module makes, in days (never past the CA's expiry).
    type: int
    default: 825
  renew_before:
    description:
      - Renewal window - a certificate that expires within it is renewed. A duration such as V(30d), V(12h),
        V(2w) or V(1d12h).
      - A window as long as the validity renews on every run (the module warns).
    type: str
    default: 30d
  ca_privatekey_owner:
    description: Owner of the CA key file (files mode); default the user running the module.
    type: str
  ca_privatekey_group:
    description: Group of the CA key file (files mode).
    type: str
  ca_privatekey_mode:
    description: Mode of the CA key file (files mode).
    type: str
    default: "0600"
  privatekey_owner:
    description: Owner of the server key file (files mode); default the user running the module.
    type: str
  privatekey_group:
    description: Group of the server key file (files mode), for example the service's group when it reads the key through it.
    type: str
  privatekey_mode:
    description: Mode of the server key file (files mode).
    type: str
    default: "0600"
attributes:
  check_mode:
    support: full
    description: Decides and reports what would change; writes no file. In content mode the new PEM text is returned all the same (nothing is written).
  diff_mode:
    support: full
    description: Subjects, issuers, subjectAltNames, serials and expiry of the CAs and the server certificate before and after; never key material.
  action_group:
    description: Member of C(group/vaultkube.platform.host) (no connection options).
    support: full
    membership:
      - vaultkube.platform.host
notes:
  - Needs the C(cryptography) Python library where the module runs.
  - Give every C(*_path) option (files mode) or none (content mode).
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: CA and server certificate on the host, renewed 30 days before expiry
  vaultkube.platform.tls_certificate:
    ca_certificate_path: /etc/vault.d/tls/ca.pem
    ca_privatekey_path: /etc/vault.d/tls/ca.key
    certificate_path: /etc/vault.d/tls/server.pem
    privatekey_path: /etc/vault.d/tls/server.key
    ca_common_name: vault CA (vault1)
    common_name: vault1.example.com
    subject_alt_names: ["DNS:vault1.example.com", "DNS:localhost", "IP:127.0.0.1"]
    privatekey_group: vault
    privatekey_mode: "0640"
    renew_before: 30d
  register: tls
  notify: Reload Vault certificates

- name: PEM text for a Kubernetes Secret (the CA key is not kept)
  vaultkube.platform.tls_certificate:
    ca_certificate_content: "{{ secret.data['ca.crt'] | b64decode }}"
    certificate_content: "{{ secret.data['tls.crt'] | b64decode }}"
    privatekey_content: "{{ secret.data['tls.key'] | b64decode }}"
    ca_common_name: vault CA (vault)
    common_name: vault.vault.svc
    subject_alt_names: ["DNS:vault.vault.svc", "DNS:localhost", "IP:127.0.0.1"]
  register: tls
  no_log: true
'''

RETURN = r'''
ca_action:
  description: What was done with the CA - V(keep), V(issue) or V(renew).
  returned: always
  type: str
  sample: keep
certificate_action:
  description: What was done with the server certificate - V(keep), V(issue) or V(renew).
  returned: always
  type: str
  sample: renew
reasons:
  description: Why, in words (CA reasons first).
  returned: always
  type: list
  elements: str
  sample: ["subjectAltNames DNS:localhost, wanted DNS:localhost, DNS:vault1"]
certificate_info:
  description: Subject, issuer, subjectAltNames, serial (hex) and expiry of the server certificate after the run.
  returned: always
  type: dict
  sample: {"subject": "CN=vault1", "issuer": "CN=vault CA (vault1)", "subject_alt_names": ["DNS:vault1"],
           "serial": "4f2a...", "not_after": "2029-03-10T12:00:00Z"}
ca_certificate:
  description: PEM text of the CA bundle (the current CA first). Public.
  returned: always
  type: str
certificate:
  description: PEM text of the server certificate. Public.
  returned: always
  type: str
privatekey:
  description:
    - PEM text of the new server key. Secret - run the task with C(no_log).
    - Only in content mode, and only when the server certificate was issued or renewed.
  returned: content mode, when RV(certificate_action) is not V(keep)
  type: str
'''

import grp
import pwd
import re
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.vaultkube.platform.plugins.module_utils import _certificates as certs

PATHS = ('ca_certificate_path', 'ca_privatekey_path', 'certificate_path', 'privatekey_path')
CONTENTS = ('ca_certificate_content', 'ca_privatekey_content', 'certificate_content', 'privatekey_content')


def ids(module, owner_field, group_field):
    uid = gid = -1
    owner, group = module.params[owner_field], module.params[group_field]
    try:
        if owner:
            uid = pwd.getpwnam(owner).pw_uid
    except KeyError:
        module.fail_json(msg='%s: no user %r on this host: create it first or give another owner' % (owner_field, owner))
    try:
        if group:
            gid = grp.getgrnam(group).gr_gid
    except KeyError:
        module.fail_json(msg='%s: no group %r on this host: create it first or give another group' % (group_field, group))
    return uid, gid


def octal(module, field):
    value = module.params[field]
    if not re.fullmatch(r'0?[0-7]{3}', value or ''):
        module.fail_json(msg='%s: %r is not an octal mode such as "0600"' % (field, value))
    return int(value, 8)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ca_certificate_path=dict(type='path'),
            ca_privatekey_path=dict(type='path'),
            certificate_path=dict(type='path'),
            privatekey_path=dict(type='path'),
            ca_certificate_content=dict(type='str'),
            ca_privatekey_content=dict(type='str', no_log=True),
            certificate_content=dict(type='str'),
            privatekey_content=dict(type='str', no_log=True),
            ca_common_name=dict(type='str', required=True),
            common_name=dict(type='str', required=True),
            subject_alt_names=dict(type='list', elements='str', default=[]),
            key_type=dict(type='str', choices=list(certs.KEY_TYPES), default='ecdsa-p384'),
            ca_valid_days=dict(type='int', default=3650),
            valid_days=dict(type='int', default=825),
            renew_before=dict(type='str', default='30d'),
            ca_privatekey_owner=dict(type='str', no_log=False),
            ca_privatekey_group=dict(type='str', no_log=False),
            ca_privatekey_mode=dict(type='str', default='0600', no_log=False),
            privatekey_owner=dict(type='str', no_log=False),
            privatekey_group=dict(type='str', no_log=False),
            privatekey_mode=dict(type='str', default='0600', no_log=False),
        ),
        required_together=[list(PATHS)],
        mutually_exclusive=[(path, content) for path in PATHS for content in CONTENTS],
        supports_check_mode=True,
    )
    if not certs.HAS_CRYPTOGRAPHY:
        error = certs.CRYPTOGRAPHY_IMPORT_ERROR
        module.fail_json(msg=missing_required_lib('cryptography'),
                         exception=''.join(traceback.format_exception_only(type(error), error)))
    p = module.params
    files = p['certificate_path'] is not None
    ca_key_mode, key_mode = octal(module, 'ca_privatekey_mode'), octal(module, 'privatekey_mode')
    ca_key_ids = ids(module, 'ca_privatekey_owner', 'ca_privatekey_group')
    key_ids = ids(module, 'privatekey_owner', 'privatekey_group')
    try:
        wanted = certs.Wanted(p['ca_common_name'], p['common_name'], p['subject_alt_names'], p['key_type'],
                              p['ca_valid_days'], p['valid_days'], p['renew_before'])
        if files:
            texts = [certs.read_text(p[name]) for name in PATHS]
        else:
            texts = [p[name] or '' for name in CONTENTS]
        current = certs.Current(*texts)
    except certs.CertificateError as exc:
        module.fail_json(msg='tls_certificate: %s' % exc)
    except (IOError, OSError) as exc:
        module.fail_json(msg='tls_certificate: %s: %s' % (getattr(exc, 'filename', ''), exc.strerror or exc))
    if wanted.renews_every_run():
        module.warn('renew_before (%s) is at least valid_days (%d): the certificate is renewed on every run'
                    % (p['renew_before'], p['valid_days']))

    plan = certs.plan(current, wanted)
    result = certs.apply(current, wanted, plan) if plan.changed and not (files and module.check_mode) else None
    changed = plan.changed
    if files:
        attributes = [(p['ca_privatekey_path'], ca_key_mode) + ca_key_ids, (p['privatekey_path'], key_mode) + key_ids,
                      (p['ca_certificate_path'], 0o644, -1, -1), (p['certificate_path'], 0o644, -1, -1)]
        try:
            if result is not None:
                # Keys before the certificates that name them; each file replaced atomically.
                if result.new_ca:
                    certs.write_file(p['ca_privatekey_path'], certs.key_pem(result.ca_key), ca_key_mode, *ca_key_ids)
                if result.new_ca or result.new_bundle:
                    certs.write_file(p['ca_certificate_path'], result.ca_bundle_pem, 0o644)
                if result.new_cert:
                    certs.write_file(p['privatekey_path'], certs.key_pem(result.key), key_mode, *key_ids)
                    certs.write_file(p['certificate_path'], certs.pem(result.cert), 0o644)
            for path, mode, uid, gid in attributes:
                changed = certs.fix_attributes(path, mode, uid, gid, check_mode=module.check_mode) or changed
        except (IOError, OSError) as exc:
            where = getattr(exc, 'filename', None) or 'writing'
            module.fail_json(msg='tls_certificate: %s: %s' % (where, exc.strerror or exc))

    cert_after = result.cert if result is not None else current.cert
    bundle_after = result.ca_bundle_pem if result is not None else ''.join(certs.pem(c) for c in current.ca_bundle)
    output = dict(
        changed=changed,
        ca_action=plan.ca_action,
        certificate_action=plan.action,
        reasons=plan.ca_reasons + plan.reasons,
        certificate_info=certs.describe(cert_after) or {},
        ca_certificate=bundle_after,
        certificate=certs.pem(cert_after) if cert_after is not None else '',
    )
    if not files and result is not None and result.new_cert:
        output['privatekey'] = certs.key_pem(result.key)
    if module._diff and changed:
        before, after = certs.diff(current, result if result is not None else plan)
        if after is None:
            after = dict(before, planned={'ca': plan.ca_action, 'certificate': plan.action})
        output['diff'] = dict(before=before, after=after)
    module.exit_json(**output)


if __name__ == '__main__':
    main()
