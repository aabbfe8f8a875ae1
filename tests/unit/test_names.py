# -*- coding: utf-8 -*-
"""Names and paths from the inventory: checked whole, rendered through a quoter."""
import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._names import (
    InvalidName, dns_label, dns_subdomain, hcl_string, kubernetes_name, policy_hcl, vault_name, vault_path)
from ansible_collections.vaultkube.platform.plugins.module_utils._policy import check_hcl_syntax


CHECKS = {'dns_label': dns_label, 'kubernetes_name': kubernetes_name}


@pytest.mark.parametrize('check,field,value', [
    ('dns_label', 'ns.name', value)
    for value in ['team-a\n', 'Team', '-a', 'a-', 'a_b', '', 'a' * 64, 'a.b', None, 3]
] + [
    ('kubernetes_name', 'metadata.name', value)
    for value in ['.', '..', 'a/b', 'a%2F', 'a b', 'a\n', '', None, 'a' * 254]
])
def test_dns_label_and_kubernetes_name_refuse_naming_the_field(check, field, value):
    with pytest.raises(InvalidName, match=field):
        CHECKS[check](value, field)


@pytest.mark.parametrize('check,value', [
    ('dns_label', value) for value in ['a', 'team-a', 'a1', '0']
] + [
    ('kubernetes_name', value) for value in ['a', 'system:auth-delegator', 'a.b', 'A_b']
])
def test_dns_label_and_kubernetes_name_accept(check, value):
    assert CHECKS[check](value, 'f') == value


@pytest.mark.parametrize('value', ['a..b', 'a.-b', 'x\n', 'A', 'a b', 'a"b'])
def test_dns_subdomain_refuses(value):
    with pytest.raises(InvalidName):
        dns_subdomain(value, 'f')


def test_dns_subdomain_accepts_dots():
    assert dns_subdomain('vault.team-a', 'f') == 'vault.team-a'


@pytest.mark.parametrize('value', ['+', 'a/+/b', 'a/*', 'a*', 'a/../b', 'a/./b', 'a//b', '{{x}}', 'a?', 'a[0]',
                                   'a\n', 'a b', '', '/', 'data"x', 'a/+'])
def test_vault_path_refuses_wildcards_and_odd_segments(value):
    with pytest.raises(InvalidName, match='tenants\\[0\\].kv_prefix'):
        vault_path(value, 'tenants[0].kv_prefix')


@pytest.mark.parametrize('value,want', [('/team-a/app/', 'team-a/app'), ('a@b=c', 'a@b=c'), ('v1.2', 'v1.2')])
def test_vault_path_accepts(value, want):
    assert vault_path(value, 'f') == want


def test_vault_path_empty_when_allowed():
    assert vault_path('', 'f', allow_empty=True) == ''


@pytest.mark.parametrize('value', ['a/b', 'a*', 'a\n', '', 'a b'])
def test_vault_name_refuses(value):
    with pytest.raises(InvalidName):
        vault_name(value, 'f')


def test_hcl_string_quotes_and_refuses_templates():
    assert hcl_string('a"b\\c') == '"a\\"b\\\\c"'
    with pytest.raises(InvalidName):
        hcl_string('a${b}')
    with pytest.raises(InvalidName):
        hcl_string(3)


def test_policy_hcl_is_valid_hcl_and_quotes_paths():
    text = policy_hcl([{'path': 'secret/data/a"b/*', 'capabilities': ['read']},
                       {'path': 'secret/metadata/x/*', 'capabilities': ['read', 'list']}], comment='two\nlines')
    check_hcl_syntax(text)
    assert text.startswith('# two\n# lines\n')
    assert 'path "secret/data/a\\"b/*" {' in text
    assert 'capabilities = ["read", "list"]' in text


@pytest.mark.parametrize('rules', [[{'path': 'a', 'capabilities': ['raed']}], [{'path': '', 'capabilities': ['read']}],
                                   [{'path': 'a', 'capabilities': []}], ['a']])
def test_policy_hcl_refuses_bad_rules(rules):
    with pytest.raises(InvalidName):
        policy_hcl(rules)
