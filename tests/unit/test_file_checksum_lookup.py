# -*- coding: utf-8 -*-
"""The file_checksum lookup hashes controller files the way copy compares them."""
import os

import pytest
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.utils.hashing import checksum

from ansible_collections.vaultkube.platform.plugins.lookup import file_checksum


def _lookup():
    return file_checksum.LookupModule(loader=DataLoader())


def test_checksum_of_a_file_and_of_a_path_relative_to_the_playbook(tmp_path):
    binary = tmp_path / 'files' / 'bao'
    binary.parent.mkdir()
    binary.write_bytes(os.urandom(2 * (1 << 20) + 5))
    plugin = _lookup()
    assert plugin.run([str(binary)], variables={}) == [checksum(str(binary))]
    plugin._loader.set_basedir(str(tmp_path))
    assert plugin.run(['bao'], variables={}) == [checksum(str(binary))]


def test_a_missing_file_names_its_path(tmp_path):
    with pytest.raises(AnsibleLookupError, match='file_checksum: .*nothing-here not found on the controller'):
        _lookup().run([str(tmp_path / 'nothing-here')], variables={})
