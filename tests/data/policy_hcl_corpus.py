# -*- coding: utf-8 -*-
"""Policy HCL texts with the verdict of OpenBao 2.7's own parser: VALID it accepts, INVALID it refuses
(each with a fragment of the syntax check's message). Shared by the unit test of the check and the
integration test that compares it with a real server."""

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
