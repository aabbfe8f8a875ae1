# -*- coding: utf-8 -*-
"""vault_init's request and keys file for the Shamir seal and for an auto-unseal seal."""

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError
from ansible_collections.vaultkube.platform.plugins.module_utils._lifecycle import (
    init_request,
    key_file_content,
    validate_init,
)

PARAMS = dict(secret_shares=5, secret_threshold=3, pgp_keys=None, root_token_pgp_key=None, stored_shares=None,
              recovery_shares=3, recovery_threshold=2, recovery_pgp_keys=None)


def test_shamir_request_carries_the_share_settings():
    assert init_request(dict(PARAMS, recovery_shares=None, recovery_threshold=None)) == \
        {'secret_shares': 5, 'secret_threshold': 3}


def test_auto_seal_request_leaves_the_share_settings_out():
    # OpenBao answers 400 "parameters secret_shares,secret_threshold not applicable to seal type transit".
    assert init_request(PARAMS, auto_seal=True) == {'recovery_shares': 3, 'recovery_threshold': 2}


def test_auto_seal_keys_file_records_the_recovery_settings():
    answer = {'keys': [], 'keys_base64': [], 'root_token': 't', 'recovery_keys': ['a', 'b', 'c'],
              'recovery_keys_base64': ['A', 'B', 'C']}
    content = key_file_content(answer, PARAMS, auto_seal=True)
    assert content['recovery_keys'] == ['a', 'b', 'c'] and content['keys'] == []
    assert (content['recovery_shares'], content['recovery_threshold']) == (3, 2)
    assert 'secret_shares' not in content
    assert key_file_content({'keys': ['k'], 'root_token': 't'}, PARAMS)['secret_shares'] == 5


# -- keybase names are refused before sys/init -------------------------------------


def init_params(**extra):
    params = dict(PARAMS, secret_shares=1, secret_threshold=1, recovery_shares=None, recovery_threshold=None,
                  output_file=None, return_keys=True, output_encryption='none', output_vault_password=None)
    params.update(extra)
    return params


@pytest.mark.parametrize('value', ['keybase:operator', ' keybase:operator', 'Keybase:operator'])
def test_keybase_root_token_key_is_refused_in_one_line(value):
    with pytest.raises(FieldError) as caught:
        validate_init(init_params(root_token_pgp_key=value))
    message = str(caught.value)
    assert message.startswith('root_token_pgp_key ') and 'keybase' in message and '\n' not in message


def test_keybase_unseal_and_recovery_keys_are_refused_too():
    with pytest.raises(FieldError, match=r'^pgp_keys\[0\] .*keybase'):
        validate_init(init_params(pgp_keys=['keybase:holder']))
    with pytest.raises(FieldError, match=r'^recovery_pgp_keys\[0\] .*keybase'):
        validate_init(init_params(recovery_shares=1, recovery_threshold=1, recovery_pgp_keys=['keybase:holder']))
