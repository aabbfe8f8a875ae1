#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: host_state_info
short_description: Read, in one call, the owner, group and mode of paths, local users and groups, and whether systemd runs
version_added: 0.3.0
description:
  - Gathers what a host installation compares before writing - for each path whether it exists, its type,
    owner, group and mode; for each user and group whether it exists and its ids, home and shell; and
    whether systemd is the running service manager (the C(/run/systemd/system) test systemd itself uses).
  - One module run instead of one C(ansible.builtin.stat), C(ansible.builtin.find) or
    C(ansible.builtin.getent) per item, so that a re-run which finds everything in place writes nothing
    and runs the writing modules only for what differs.
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
systemd:
  description: Whether systemd is the running service manager.
  returned: always
  type: bool
  sample: false
'''

import grp
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule


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


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type='list', elements='path', default=[]),
            users=dict(type='list', elements='str', default=[]),
            groups=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    module.exit_json(
        changed=False,
        paths=dict((path, path_state(path)) for path in module.params['paths']),
        users=dict((name, user_state(name)) for name in module.params['users']),
        groups=dict((name, group_state(name)) for name in module.params['groups']),
        systemd=os.path.isdir('/run/systemd/system'),
    )


if __name__ == '__main__':
    main()
