#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: host_state_info
short_description: Read, in one call, paths, checksums, certificates, users, groups, listening ports and whether systemd runs
version_added: 0.3.0
description:
  - Gathers what a host installation compares before writing - for each path whether it exists, its type,
    owner, group and mode; for each user and group whether it exists and its ids, home and shell; and
    whether systemd is the running service manager (the C(/run/systemd/system) test systemd itself uses).
  - One module run instead of one C(ansible.builtin.stat), C(ansible.builtin.find) or
    C(ansible.builtin.getent) per item, so that a re-run which finds everything in place writes nothing
    and runs the writing modules only for what differs.
  - Also, where asked, the SHA-1 checksum of files (the checksum C(ansible.builtin.copy) and C(ansible.builtin.template)
    compare, so that a caller can skip those modules when the content is already in place), the public content and
    names of PEM certificates, and whether TCP ports accept connections.
  - Reads only; never changes anything.
options:
  paths:
    description: Absolute paths to look at (not followed when they are symbolic links).
    type: list
    elements: path
    default: []
  users:
    description: Local user names to look up.
    type: list
    elements: str
    default: []
  groups:
    description: Local group names to look up.
    type: list
    elements: str
    default: []
  checksums:
    description:
      - Files whose SHA-1 checksum to return (regular files only). Each is read through a descriptor opened with
        C(O_NOFOLLOW), so a symbolic link (also one swapped in while the module runs) is never followed.
    type: list
    elements: path
    default: []
  certificates:
    description:
      - PEM certificate files to read. Only C(CERTIFICATE) blocks are returned; a file holding anything
        else (a private key, say) is reported as not a certificate and its content is never returned.
      - Needs the C(cryptography) Python library on the host for the names.
    type: list
    elements: path
    default: []
  ports:
    description: TCP endpoints (C(host:port), C([ipv6]:port)) to test with one connection attempt each.
    type: list
    elements: str
    default: []
  connect_timeout:
    description: Seconds each connection attempt of O(ports) may take.
    type: float
    default: 1.0
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only.
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Read the directories, the service user and the service manager
  vaultkube.platform.host_state_info:
    paths: [/etc/vault.d, /var/lib/vault]
    users: [vault]
    groups: [vault]
  register: host_state

- name: Create a directory only when it is missing or differs
  ansible.builtin.file:
    path: /var/lib/vault
    state: directory
    owner: vault
    group: vault
    mode: "0700"
  when: >-
    host_state.paths['/var/lib/vault']
    != {'exists': true, 'type': 'directory', 'owner': 'vault', 'group': 'vault', 'mode': '0700'}
'''

RETURN = r'''
paths:
  description:
    - For each path in O(paths), C(exists) and, when it exists, C(type) (V(directory), V(file), V(link) or V(other)),
      C(owner), C(group) and C(mode) (four octal digits).
  returned: always
  type: dict
  sample: {"/var/lib/vault": {"exists": true, "type": "directory", "owner": "vault", "group": "vault", "mode": "0700"}}
users:
  description: For each user in O(users), C(exists) and, when it exists, C(uid), C(group) (primary group name), C(home) and C(shell).
  returned: always
  type: dict
  sample: {"vault": {"exists": true, "uid": 997, "group": "vault", "home": "/home/vault", "shell": "/usr/sbin/nologin"}}
groups:
  description: For each group in O(groups), C(exists) and, when it exists, C(gid).
  returned: always
  type: dict
  sample: {"vault": {"exists": true, "gid": 997}}
checksums:
  description: For each file in O(checksums), its SHA-1 checksum, or V(null) when it is not a regular file.
  returned: always
  type: dict
  sample: {"/usr/local/bin/vault": "c84d9ba09d23a13194ae66a62c7f5811d6f10c3b"}
certificates:
  description:
    - For each file in O(certificates), C(exists), and when it holds certificates, C(pem) (the certificate blocks only),
      C(subject_cn) and C(subject_alt_name) of the first certificate (V(DNS:name), V(IP:address) as
      C(community.crypto.x509_certificate_info) writes them).
  returned: always
  type: dict
  sample: {"/etc/vault.d/tls/server.pem": {"exists": true, "pem": "-----BEGIN CERTIFICATE-----...", "subject_cn": "localhost",
           "subject_alt_name": ["DNS:localhost", "IP:127.0.0.1"]}}
ports:
  description: For each endpoint in O(ports), whether a TCP connection to it succeeded.
  returned: always
  type: dict
  sample: {"127.0.0.1:8200": true}
systemd:
  description: Whether systemd is the running service manager.
  returned: always
  type: bool
  sample: false
'''

import grp
import os
import pwd
import re
import socket
import stat
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.vaultkube.platform.plugins.module_utils._checksum import descriptor_sha1

try:
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

_PEM_CERTIFICATE = re.compile(r'-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----', re.S)
# host:port or [ipv6]:port, matched whole (fullmatch: no trailing newline).
_ENDPOINT = re.compile(r'(\[[0-9a-fA-F:.]+\]|[^:\[\]\s]+):[0-9]+')


def _name(lookup, ident):
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def path_state(path):
    try:
        info = os.lstat(path)
    except OSError:
        return {'exists': False}
    if stat.S_ISDIR(info.st_mode):
        kind = 'directory'
    elif stat.S_ISREG(info.st_mode):
        kind = 'file'
    elif stat.S_ISLNK(info.st_mode):
        kind = 'link'
    else:
        kind = 'other'
    return {'exists': True, 'type': kind, 'owner': _name(pwd.getpwuid, info.st_uid),
            'group': _name(grp.getgrgid, info.st_gid), 'mode': '%04o' % stat.S_IMODE(info.st_mode)}


def user_state(name):
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return {'exists': False}
    return {'exists': True, 'uid': entry.pw_uid, 'group': _name(grp.getgrgid, entry.pw_gid),
            'home': entry.pw_dir, 'shell': entry.pw_shell}


def group_state(name):
    try:
        return {'exists': True, 'gid': grp.getgrnam(name).gr_gid}
    except KeyError:
        return {'exists': False}


def file_checksum(path):
    """SHA-1 of a regular file, read through a descriptor opened without following a link: a link
    swapped in after a check cannot make root hash another file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return descriptor_sha1(fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def _alt_name(name):
    if isinstance(name, x509.DNSName):
        return 'DNS:' + name.value
    if isinstance(name, x509.IPAddress):
        return 'IP:' + str(name.value)
    if isinstance(name, x509.RFC822Name):
        return 'email:' + name.value
    if isinstance(name, x509.UniformResourceIdentifier):
        return 'URI:' + name.value
    return str(name.value)


def certificate_state(path):
    try:
        with open(path, 'r') as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return {'exists': os.path.lexists(path)}
    blocks = _PEM_CERTIFICATE.findall(text)
    if not blocks:
        # Whatever it is (a key, say), its content stays on the host.
        return {'exists': True}
    cert = x509.load_pem_x509_certificate(blocks[0].encode('ascii'))
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        sans = [_alt_name(n) for n in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value]
    except x509.ExtensionNotFound:
        sans = []
    return {'exists': True, 'pem': '\n'.join(blocks) + '\n',
            'subject_cn': names[0].value if names else None, 'subject_alt_name': sans}


def port_open(endpoint, timeout):
    host, _sep, port = endpoint.rpartition(':')
    try:
        with socket.create_connection((host.strip('[]'), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type='list', elements='path', default=[]),
            users=dict(type='list', elements='str', default=[]),
            groups=dict(type='list', elements='str', default=[]),
            checksums=dict(type='list', elements='path', default=[]),
            certificates=dict(type='list', elements='path', default=[]),
            ports=dict(type='list', elements='str', default=[]),
            connect_timeout=dict(type='float', default=1.0),
        ),
        supports_check_mode=True,
    )
    if module.params['certificates'] and not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    for endpoint in module.params['ports']:
        if not _ENDPOINT.fullmatch(endpoint):
            module.fail_json(msg="ports: %r is not host:port (write an IPv6 address as [address]:port)" % endpoint)
    module.exit_json(
        changed=False,
        paths=dict((path, path_state(path)) for path in module.params['paths']),
        users=dict((name, user_state(name)) for name in module.params['users']),
        groups=dict((name, group_state(name)) for name in module.params['groups']),
        checksums=dict((path, file_checksum(path)) for path in module.params['checksums']),
        certificates=dict((path, certificate_state(path)) for path in module.params['certificates']),
        ports=dict((ep, port_open(ep, module.params['connect_timeout'])) for ep in module.params['ports']),
        systemd=os.path.isdir('/run/systemd/system'),
    )


if __name__ == '__main__':
    main()
