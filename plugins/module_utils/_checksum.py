# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The file checksum that ansible.builtin.copy and template compare (SHA-1), shared by the
host read (host_state_info) and the controller side (the file_checksum lookup), so that both
sides of a comparison are computed the same way."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os


def descriptor_sha1(fd):
    """SHA-1 of what is left to read from an open descriptor, in 1 MiB blocks (binaries of a
    few hundred MB). The controller's lookup and the host's no-follow check hash alike."""
    digest = hashlib.sha1()
    for block in iter(lambda: os.read(fd, 1 << 20), b''):
        digest.update(block)
    return digest.hexdigest()


def file_sha1(path):
    """SHA-1 of a file's content."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return descriptor_sha1(fd)
    finally:
        os.close(fd)
