# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
name: file_checksum
short_description: SHA-1 checksum of files on the controller
version_added: 0.3.0
description:
  - Returns the SHA-1 checksum of each file, read on the controller, in the form C(ansible.builtin.copy)
    compares. With C(vaultkube.platform.host_state_info) reading the checksum on the host, a role can
    skip copying a large binary that is already in place without running a module for it.
  - A missing or unreadable file fails with its path.
options:
  _terms:
    description:
      - Paths of files on the controller (C(~) is expanded); relative paths are searched like the C(src) of
        C(ansible.builtin.copy) (the role's C(files) folder, then the playbook's).
    type: list
    elements: path
    required: true
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Copy the binary only when the host's copy differs
  ansible.builtin.copy:
    src: dist/bao
    dest: /usr/local/bin/bao
    mode: "0755"
  when: host_state.checksums['/usr/local/bin/bao'] != lookup('vaultkube.platform.file_checksum', 'dist/bao')
'''

RETURN = r'''
_raw:
  description: One hexadecimal SHA-1 checksum per path.
  type: list
  elements: str
'''

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.vaultkube.platform.plugins.module_utils._checksum import file_sha1


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        result = []
        for term in terms:
            # Relative paths resolve like ansible.builtin.copy's src (role files/, then the playbook's).
            path = self.find_file_in_search_path(variables, 'files', os.path.expanduser(str(term)), ignore_missing=True)
            if not path:
                raise AnsibleLookupError("file_checksum: %s not found on the controller" % term)
            try:
                result.append(file_sha1(path))
            except (IOError, OSError) as exc:
                raise AnsibleLookupError("file_checksum: cannot read %s: %s" % (path, exc.strerror or exc))
        return result
