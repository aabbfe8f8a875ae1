# -*- coding: utf-8 -*-
"""The reconcile loop on an in-memory object type (pure logic; Vault itself is tested in integration)."""
import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError, normalise
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    HIDDEN,
    HIDDEN_CHANGED,
    VaultObject,
    reconcile,
)


class Thing(VaultObject):
    kind = 'thing'
    secret_fields = ('password',)

    def __init__(self, store, params):
        super(Thing, self).__init__(None, params)
        self.store = store
        self.writes = []

    @property
    def name(self):
        return 'thing/x'

    def validate(self):
        if self.params.get('ttl') == 'bad':
            raise FieldError('ttl is bad')

    def read(self):
        return self.store.get('x')

    def desired(self):
        out = {'ttl': normalise('ttl', self.params['ttl'])}
        if 'password' in self.params:
            out['password'] = self.params['password']
        return out

    def create(self, wanted):
        self.writes.append(dict(wanted))
        self.store['x'] = dict(wanted)

    def remove(self, current):
        self.writes.append(None)
        del self.store['x']


def test_create_then_unchanged():
    store = {}
    first = reconcile(Thing(store, {'ttl': '1h'}))
    assert first['changed'] and first['action'] == 'create'
    second = Thing(store, {'ttl': 3600})
    result = reconcile(second)
    assert not result['changed'] and second.writes == []


def test_check_mode_writes_nothing():
    store = {}
    obj = Thing(store, {'ttl': '1h'})
    assert reconcile(obj, check_mode=True)['changed']
    assert store == {} and obj.writes == []


def test_update_reports_only_changed_fields():
    store = {'x': {'ttl': 60}}
    result = reconcile(Thing(store, {'ttl': '2m'}))
    assert result['action'] == 'update' and result['changed_fields'] == ['ttl']
    assert result['diff']['before'] == {'ttl': 60} and result['diff']['after'] == {'ttl': 120}


def test_absent():
    store = {'x': {'ttl': 60}}
    assert reconcile(Thing(store, {}), state='absent', check_mode=True)['changed']
    assert 'x' in store
    assert reconcile(Thing(store, {}), state='absent')['action'] == 'delete'
    assert 'x' not in store
    assert not reconcile(Thing(store, {}), state='absent')['changed']


def test_secret_fields_are_masked_in_diff():
    store = {'x': {'ttl': 60, 'password': 'old-secret'}}
    result = reconcile(Thing(store, {'ttl': 60, 'password': 'new-secret'}), check_mode=True)
    assert result['diff']['before']['password'] == HIDDEN_CHANGED
    assert result['diff']['after']['password'] == HIDDEN_CHANGED
    assert 'secret' not in repr(result)
    same = reconcile(Thing({'x': {'ttl': 60, 'password': 'p'}}, {'ttl': 60, 'password': 'p'}))
    assert same['diff']['after']['password'] == HIDDEN


def test_validation_happens_before_any_write():
    store = {'x': {'ttl': 60}}
    obj = Thing(store, {'ttl': 'bad'})
    with pytest.raises(FieldError):
        reconcile(obj)
    assert store == {'x': {'ttl': 60}} and obj.writes == []


def test_known_absent_skips_the_read():
    obj = Thing({'x': {'ttl': 1}}, {'ttl': 1})
    obj.known_to_exist = False
    assert reconcile(obj, check_mode=True)['action'] == 'create'
