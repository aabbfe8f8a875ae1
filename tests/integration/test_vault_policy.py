# -*- coding: utf-8 -*-
"""vault_policy against a real OpenBao: create, idempotence, check mode, diff, update, delete."""

import uuid

import hvac

from vaultkube_testlib import assert_failed_cleanly, run_module, run_without_writes

POLICY_V1 = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n'
POLICY_V2 = POLICY_V1 + 'path "secret/metadata/app/*" {\n  capabilities = ["list"]\n}\n'


def read_policy(vault, name):
    """The policy's text, or None when Vault answers 404 (absent); any other error fails the test."""
    try:
        return vault.sys.read_acl_policy(name)['data']['policy']
    except hvac.exceptions.InvalidPath:
        return None


def test_policy_lifecycle(conn, vault, bao_dev):
    name = 'p-' + uuid.uuid4().hex[:8]
    args = dict(conn, name=name, policy=POLICY_V1)

    checked = run_without_writes(bao_dev, 'vault_policy', args, check=True, diff=True)
    assert checked['changed'] is True and checked['operation'] == 'create'
    assert read_policy(vault, name) is None, 'check mode wrote to Vault'
    assert checked['diff']['after'] == POLICY_V1

    created = run_module('vault_policy', args)
    assert created['changed'] is True
    assert read_policy(vault, name) == POLICY_V1

    again = run_without_writes(bao_dev, 'vault_policy', args)
    assert again['changed'] is False and again['operation'] == 'none'

    # Trailing white space is not a change.
    padded = run_without_writes(bao_dev, 'vault_policy', dict(args, policy=POLICY_V1 + '\n\n  '))
    assert padded['changed'] is False

    update = dict(conn, name=name, policy=POLICY_V2)
    check_update = run_without_writes(bao_dev, 'vault_policy', update, check=True, diff=True)
    assert check_update['changed'] is True
    assert read_policy(vault, name) == POLICY_V1
    assert check_update['diff']['before'] == POLICY_V1
    assert check_update['diff']['after'] == POLICY_V2

    updated = run_module('vault_policy', update)
    assert updated['changed'] is True and updated['changed_fields'] == ['policy']
    assert read_policy(vault, name) == POLICY_V2

    delete = dict(conn, name=name, state='absent')
    assert run_without_writes(bao_dev, 'vault_policy', delete, check=True)['changed'] is True
    assert read_policy(vault, name) == POLICY_V2
    assert run_module('vault_policy', delete)['changed'] is True
    assert read_policy(vault, name) is None
    assert run_without_writes(bao_dev, 'vault_policy', delete)['changed'] is False


def test_invalid_hcl_is_one_line_and_keeps_the_old_policy(conn, vault):
    name = 'p-' + uuid.uuid4().hex[:8]
    run_module('vault_policy', dict(conn, name=name, policy=POLICY_V1))
    bad = run_module('vault_policy', dict(conn, name=name, policy='path "x" { capabilities = '))
    assert_failed_cleanly(bad, 'policy %r is not valid HCL' % name, 'line 1')
    assert read_policy(vault, name) == POLICY_V1


def test_wrong_token_is_403(conn, vault):
    bad = run_module('vault_policy', dict(conn, token='not-a-token', name='x', policy=POLICY_V1))
    assert_failed_cleanly(bad, '403', 'sys/policies/acl/x')


def test_unreachable_url(conn):
    bad = run_module('vault_policy', dict(conn, url='http://127.0.0.1:1', retries=0, name='x',
                                          policy=POLICY_V1))
    assert_failed_cleanly(bad, 'cannot connect to Vault at http://127.0.0.1:1')


def test_missing_url_names_the_field(conn):
    bad = run_module('vault_policy', dict(token='x', name='x', policy=POLICY_V1))
    assert_failed_cleanly(bad, 'url is required', 'VAULT_ADDR')


def test_hcl_check_agrees_with_openbao(vault):
    """The syntax check run before writing never refuses a policy OpenBao accepts, and
    what it refuses OpenBao refuses too (the unit test's corpus, against the real parser)."""
    from policy_hcl_corpus import INVALID, VALID  # pylint: disable=import-outside-toplevel

    tag = uuid.uuid4().hex[:6]
    disagree = []
    for index, (text, should_pass) in enumerate([(t, True) for t in VALID] + [(t, False) for t, _words in INVALID]):
        name = 'hcl-%s-%d' % (tag, index)
        response = vault.adapter.post('/v1/sys/policies/acl/' + name, json={'policy': text}, raise_exception=False)
        accepted = getattr(response, 'status_code', 204) < 400
        if accepted:
            vault.sys.delete_policy(name)
        if accepted != should_pass and text.strip():
            disagree.append((text, accepted))
    assert not disagree, disagree
