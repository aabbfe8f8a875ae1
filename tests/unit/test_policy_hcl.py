# -*- coding: utf-8 -*-
"""The policy HCL syntax check that runs before any write. Its verdicts were compared with
OpenBao 2.7's own parser; the integration test test_vault_policy.py does that on a real server."""
import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._policy import HCLError, check_hcl_syntax
from policy_hcl_corpus import INVALID, VALID


@pytest.mark.parametrize('text', VALID)
def test_what_vault_accepts_passes(text):
    check_hcl_syntax(text)


@pytest.mark.parametrize('text,words', INVALID)
def test_what_vault_refuses_is_one_line_with_the_place(text, words):
    with pytest.raises(HCLError) as caught:
        check_hcl_syntax(text)
    assert words in str(caught.value) and '\n' not in str(caught.value)
