# -*- coding: utf-8 -*-
"""The policy HCL syntax check that runs before any write. Its verdicts were compared with
OpenBao 2.7's own parser; the integration test test_vault_policy.py does that on a real server."""
import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._policy import HCLError, check_hcl_syntax

VALID = [
    'path "secret/data/*" {\n  capabilities = ["read", "list"]\n}\n',
    '# note\npath "a" { capabilities = ["read"] }\npath "b/+/c" {\n capabilities = ["create","update",]\n'
    ' allowed_parameters = {\n "x" = []\n "*" = ["a"]\n }\n min_wrapping_ttl = "1s"\n}',
    'name = "x"\n/* block */ path "sys/*" { policy = "deny" }',
    'path "a" { capabilities = ["read"], }',
    'path "a" { capabilities = ["read"] }, path "b" { capabilities = ["read"] }',
    'path "a" { capabilities = ["read",,] }',
    'path "a" {}',
    '{}',
    '   \n',
    'path "a\\"b" { capabilities = ["read"] }',
    'path "${x}" { capabilities = ["read"] }',
    'path "a" { max_wrapping_ttl = 300 allowed_parameters = { "k" = [1, 2.5, true] } }',
]
INVALID = [
    ('path "x" {\n capabilities = ["read"]\n', 'line 3'),
    ('path "x" { capabilities = ["read" }', 'expected'),
    ('path x capabilities', 'expected {'),
    ('path "x { capabilities = ["read"] }', 'unexpected character'),
    ('path "a" { capabilities = }', 'expected'),
    ('path "a" = { }', 'expected {'),
    ('path "a" { capabilities = "read" }', 'capabilities must be a list'),
    ('path "a" { capabilities = [read] }', 'expected'),
    ('path "a" { capabilities = ["read"]; }', 'unexpected character'),
    ("path 'a' { capabilities = ['read'] }", 'unexpected character'),
    ('path = "x"', 'path must be a block'),
    ('path "a" { capabilities = ["read"] }\n/* unclosed', 'line 2'),
]


@pytest.mark.parametrize('text', VALID)
def test_what_vault_accepts_passes(text):
    check_hcl_syntax(text)


@pytest.mark.parametrize('text,words', INVALID)
def test_what_vault_refuses_is_one_line_with_the_place(text, words):
    with pytest.raises(HCLError) as caught:
        check_hcl_syntax(text)
    assert words in str(caught.value) and '\n' not in str(caught.value)
