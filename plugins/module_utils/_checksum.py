# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The file checksum that ansible.builtin.copy and template compare (SHA-1), shared by the
host read (host_state_info) and the controller side (the file_checksum lookup), so that both
sides of a comparison are computed the same way."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib


def file_sha1(path):
    """SHA-1 of a file's content, read in 1 MiB blocks (binaries of a few hundred MB)."""
    digest = hashlib.sha1()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()
