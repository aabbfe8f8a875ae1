# -*- coding: utf-8 -*-
import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import (
    FieldError,
    differences,
    merge_for_diff,
    normalise,
    normalise_fields,
    ttl_seconds,
)


@pytest.mark.parametrize('value,seconds', [
    (3600, 3600), ('3600', 3600), ('1h', 3600), ('60m', 3600), ('1h30m', 5400),
    ('90s', 90), ('2d', 172800), ('1.5h', 5400), ('', 0), (None, 0), (0, 0), ('0', 0),
    (' 1H ', 3600), ('500ms', 0),
])
def test_ttl_seconds_accepts_vault_durations(value, seconds):
    assert ttl_seconds(value) == seconds


@pytest.mark.parametrize('value', ['abc', '1x', 'h1', '1h abc', True, '-5m'])
def test_ttl_seconds_rejects_junk_naming_the_field(value):
    with pytest.raises(FieldError) as err:
        ttl_seconds(value, 'token_ttl')
    assert 'token_ttl' in str(err.value)


def test_sets_ignore_order_and_duplicates():
    assert normalise('set', ['b', 'a', 'a']) == normalise('set', 'a, b')
    assert normalise('set', None) == []


def test_lists_keep_order():
    assert normalise('list', ['b', 'a']) != normalise('list', ['a', 'b'])


def test_text_ignores_trailing_whitespace_only():
    assert normalise('text', 'a\n\n  ') == normalise('text', 'a')
    assert normalise('text', ' a') != normalise('text', 'a')
    assert normalise('text', None) == normalise('text', '   ') == ''


def test_normalise_fields_only_keeps_what_the_user_set():
    fields = {'token_ttl': 'ttl', 'token_policies': 'set', 'audience': 'str'}
    data = {'token_ttl': '1h', 'token_policies': ['b', 'a'], 'other': 1}
    assert normalise_fields(fields, data) == {'token_ttl': 3600, 'token_policies': ['a', 'b']}
    assert normalise_fields(fields, data, only=['token_ttl']) == {'token_ttl': 3600}


def test_differences_ignores_fields_the_user_did_not_set():
    current = {'a': 1, 'b': 2, 'c': 3}
    assert differences(current, {'a': 1}) == []
    assert differences(current, {'a': 2, 'b': 2}) == ['a']
    assert differences(None, {'a': 1}) == ['a']


def test_merge_for_diff_overlays_wanted():
    assert merge_for_diff({'a': 1, 'b': 2}, {'b': 3}) == {'a': 1, 'b': 3}


def test_secret_leaves_reach_every_nested_value():
    from ansible_collections.vaultkube.platform.plugins.module_utils._compare import secret_leaves
    value = {'a': 'one', 'b': {'c': ['two', {'d': 'three'}], 'n': 5432, 'f': 1.5}, 'e': '', 'z': None, 't': True}
    assert sorted(secret_leaves(value)) == sorted(['one', 'two', 'three', '5432', '1.5'])
