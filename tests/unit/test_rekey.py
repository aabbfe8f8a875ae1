# -*- coding: utf-8 -*-
"""vault_rekey's pure logic: the plan a run takes from custody and the server's attempt, custody's
promotion and retirement, the shape checks. The servers are exercised in
tests/integration/test_rekey.py."""

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._rekey import (
    PATHS, RekeyError, check_shape, data_of, drop_pending, holder, newer, plan, promote, refused, retire, set_of)

OLD = ['old-%d' % i for i in range(3)]
NEW = ['new-%d' % i for i in range(4)]


def custody(**extra):
    content = dict(keys=list(OLD), keys_base64=['b' + k for k in OLD], secret_shares=3, secret_threshold=2,
                   root_token='r', generation=4)
    content.update(extra)
    return content


def pending(kind='unseal', nonce='n1'):
    return holder(kind, NEW, ['b' + k for k in NEW], 4, 3, nonce=nonce, verification_nonce='v1')


@pytest.mark.parametrize('content, server, expected', [
    (custody(), {'started': False}, 'fresh'),
    (custody(), {'started': True, 'nonce': 'x'}, 'fresh'),  # a killed run's attempt: cancelled by run()
    (custody(pending=pending()), {'started': True, 'nonce': 'n1', 'verification_nonce': 'v1'}, 'verify'),
    (custody(pending=pending()), {'started': True, 'nonce': 'other', 'verification_nonce': 'v9'}, 'check_pending'),
    (custody(pending=pending()), {'started': True, 'nonce': 'n1', 'verification_nonce': ''}, 'check_pending'),
    (custody(pending=pending()), {'started': False}, 'check_pending'),
    (custody(pending={'nonce': 'n1'}), {'started': True, 'nonce': 'n1'}, 'drop_marker'),
    (custody(previous={'keys': OLD}), {'started': False}, 'check_current'),
    (custody(pending=pending(), previous={'keys': OLD}), {'started': False}, 'check_pending'),
])
def test_plan(content, server, expected):
    assert plan(content, server, 'unseal') == expected


def test_plan_recovery_reads_recovery_fields():
    content = dict(recovery_keys=OLD, pending=pending('recovery'))
    assert plan(content, {'started': True, 'nonce': 'n1', 'verification_nonce': 'v'}, 'recovery') == 'verify'
    # Unseal-kind fields in a recovery pending entry are not shares of that kind.
    assert plan(dict(recovery_keys=OLD, pending=pending('unseal')), {}, 'recovery') == 'drop_marker'


def test_promote_keeps_old_as_previous_and_everything_else():
    before = custody(pending=pending())
    after = promote(before, 'unseal')
    assert after['keys'] == NEW and after['secret_shares'] == 4 and after['secret_threshold'] == 3
    assert after['keys_base64'] == ['b' + k for k in NEW]
    assert after['previous']['keys'] == OLD and after['previous']['secret_threshold'] == 2
    assert 'pending' not in after and after['root_token'] == 'r' and after['generation'] == 4
    assert before['keys'] == OLD  # not modified in place
    retired = retire(after)
    assert 'previous' not in retired and retired['keys'] == NEW


def test_promote_recovery():
    before = dict(recovery_keys=OLD, recovery_keys_base64=[], recovery_shares=3, recovery_threshold=2,
                  pending=pending('recovery'))
    after = promote(before, 'recovery')
    assert after['recovery_keys'] == NEW and after['recovery_shares'] == 4 and 'keys' not in after
    assert after['previous']['recovery_keys'] == OLD


def test_drop_pending_and_set_of():
    content = custody(pending=pending())
    assert 'pending' not in drop_pending(content) and drop_pending(content)['keys'] == OLD
    assert set_of(content, 'unseal') == dict(keys=OLD, shares=3, threshold=2)
    assert set_of(dict(keys_base64=['x']), 'unseal')['keys'] == ['x']
    assert set_of(None, 'recovery')['keys'] == []


@pytest.mark.parametrize('shares, threshold, field', [
    (0, 1, 'secret_shares'), (256, 2, 'secret_shares'), (3, 4, 'secret_threshold'), (3, 0, 'secret_threshold'),
    (3, 1, 'at least 2'),
])
def test_bad_shape_names_the_field(shares, threshold, field):
    with pytest.raises(RekeyError) as raised:
        check_shape(shares, threshold)
    assert field in str(raised.value) and '\n' not in str(raised.value)


@pytest.mark.parametrize('shares, threshold', [(1, 1), (3, 2), (5, 3), (255, 255)])
def test_good_shapes(shares, threshold):
    check_shape(shares, threshold)


def test_refused_markers():
    # What OpenBao (400) and Vault (500) answer for shares that are not the server's key.
    bao = VaultRequestError('x', 400, ['failed to read root key: failed to decrypt keys from storage: cipher: '
                                       'message authentication failed'])
    vault = VaultRequestError('x', 500, ['failed to read root key: invalid key: failed to decrypt keys'])
    other = VaultRequestError('x', 400, ['incorrect nonce supplied'])
    assert refused(bao) and refused(vault) and not refused(other)


def test_data_of_and_paths():
    assert data_of({'data': {'nonce': 'a'}, 'request_id': 'r'}) == {'nonce': 'a'}
    assert data_of({'nonce': 'a', 'data': None}) == {'nonce': 'a', 'data': None}
    assert data_of(None) == {}
    # Recovery never falls through to OpenBao's path on Vault.
    assert PATHS[('vault', 'recovery')] == 'sys/rekey-recovery-key'
    assert PATHS[('openbao', 'recovery')] == 'sys/rotate/recovery'


def test_newer_copy_wins():
    old, new = custody(generation=4), custody(generation=5, pending=pending())
    assert newer(new, old) is new and newer(old, new) is new
    assert newer(None, old) is old and newer(old, None) is old and newer(None, None) is None
    # Equal generations: the Secret (the copy other controllers share).
    same = custody(generation=4)
    assert newer(old, same) is same
