#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: host_private_file
short_description: Owner, group and mode of a file in a folder a service user writes, never through a link
version_added: 0.4.0
description:
  - Sets the owner, group and mode of an existing regular file that lives in a folder another user
    (a service user such as C(vault)) can write - an audit log, a log file - as root, without ever
    following a link there. C(ansible.builtin.file) checks the path and then changes it by name, so a
    symbolic link put there (before the run, or between its check and its change) makes root change
    the file the link points at.
  - The path is walked one folder at a time, each opened relative to the previous one. A link is
    followed only in a folder that only root can write (one an administrator made, such as
    C(/var/run -> /run)); in any other folder a link is refused. The file itself is opened with
    C(O_NOFOLLOW), checked on the open descriptor to be a regular file with one hard link, and changed
    through that descriptor (C(fchown), C(fchmod)), so what is changed is what was checked.
  - A symbolic link, a hard link, a folder or any other kind of file at O(path) fails the task with one
    line naming the path; nothing is changed then. A missing file is left missing (the service creates
    its own file) unless O(missing) is V(fail).
options:
  path:
    description: Absolute path of the file.
    type: path
    required: true
  owner:
    description: User name that must own the file.
    type: str
    required: true
  group:
    description: Group name of the file.
    type: str
    required: true
  mode:
    description: Mode of the file, as an octal string such as V("0600").
    type: str
    required: true
  missing:
    description: What a missing file means - V(ignore) (nothing to do) or V(fail).
    type: str
    choices: [ignore, fail]
    default: ignore
attributes:
  check_mode:
    support: full
    description: Reports what would change; changes nothing.
  diff_mode:
    support: full
    description: Owner, group and mode before and after.
notes:
  - Linux and other systems with C(O_NOFOLLOW), C(openat) and C(fchown); run as root.
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Keep the audit log private to the service user
  vaultkube.platform.host_private_file:
    path: /var/log/vault/audit.log
    owner: vault
    group: vault
    mode: "0600"
'''

RETURN = r'''
exists:
  description: Whether the file exists.
  returned: always
  type: bool
  sample: true
before:
  description: Owner, group and mode found (V(null) when the file does not exist).
  returned: always
  type: dict
  sample: {"owner": "root", "group": "root", "mode": "0644"}
after:
  description: Owner, group and mode after the change (or after it, in check mode).
  returned: always
  type: dict
  sample: {"owner": "vault", "group": "vault", "mode": "0600"}
'''

import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.vaultkube.platform.plugins.module_utils._nofollow import UnsafePath, ensure_attributes


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            owner=dict(type='str', required=True),
            group=dict(type='str', required=True),
            mode=dict(type='str', required=True),
            missing=dict(type='str', choices=['ignore', 'fail'], default='ignore'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not re.fullmatch(r'0?[0-7]{3}', params['mode']):
        module.fail_json(msg='mode: %r is not an octal mode such as "0600"' % params['mode'])
    try:
        changed, before, after = ensure_attributes(
            params['path'], params['owner'], params['group'], int(params['mode'], 8),
            missing_ok=params['missing'] == 'ignore', check_mode=module.check_mode)
    except UnsafePath as exc:
        module.fail_json(msg='host_private_file: %s' % exc)
    except OSError as exc:
        module.fail_json(msg='host_private_file: %s: %s' % (params['path'], exc.strerror or exc))
    result = dict(changed=changed, exists=before is not None, before=before, after=after)
    if module._diff and changed:
        result['diff'] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
