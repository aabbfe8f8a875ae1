# -*- coding: utf-8 -*-
"""The hcl_string filter: inventory values quoted as HCL strings for the server configuration."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vaultkube.platform.plugins.filter.hcl_string import FilterModule

hcl_string = FilterModule().filters()['hcl_string']


def test_values_are_quoted_whole():
    assert hcl_string('/opt/vault/data') == '"/opt/vault/data"'
    # A value cannot close the string and add a block of its own.
    assert hcl_string('x"\n}\nseal "transit" {') == '"x\\"\\n}\\nseal \\"transit\\" {"'
    assert hcl_string('back\\slash') == '"back\\\\slash"'


def test_template_sequences_and_non_text_are_refused():
    with pytest.raises(AnsibleFilterError, match=r'holds a template sequence'):
        hcl_string('a${b}')
    with pytest.raises(AnsibleFilterError, match='must be text'):
        hcl_string(8200)


def test_with_a_field_the_error_names_it_and_not_the_value():
    with pytest.raises(AnsibleFilterError) as err:
        hcl_string('s.secret-${x}', 'vault_install_seal_transit_token')
    assert 'vault_install_seal_transit_token' in str(err.value) and 'secret' not in str(err.value).replace(
        'vault_install_seal_transit_token', '')
