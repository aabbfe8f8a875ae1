# -*- coding: utf-8 -*-
"""The vault_config engine on an in-memory object type: order, validation, parallel runs."""
import threading
import time

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError
from ansible_collections.vaultkube.platform.plugins.module_utils._config import (
    DEFAULT_MAX_DELETIONS,
    ConfigRun,
    PruneScope,
    Section,
    describe_objects,
    secret_values,
    summarise,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import VaultObject


class Item(VaultObject):
    kind = 'item'
    argument_spec = dict(name=dict(type='str', required=True), value=dict(type='str', no_log=True),
                         state=dict(type='str', default='present', choices=['present', 'absent']))
    store = {}
    lock = threading.Lock()
    in_flight = [0, 0]  # now, most at once

    @property
    def name(self):
        return self.params['name']

    def read(self):
        with self.lock:
            self.in_flight[0] += 1
            self.in_flight[1] = max(self.in_flight)
        time.sleep(0.02)
        with self.lock:
            self.in_flight[0] -= 1
        return self.store.get(self.name)

    def desired(self):
        return {'value': self.params['value']}

    def create(self, wanted):
        self.store[self.name] = dict(wanted)

    def remove(self, current):
        del self.store[self.name]


@pytest.fixture(autouse=True)
def clean():
    Item.store.clear()
    Item.in_flight[:] = [0, 0]
    Refused.events[:] = []
    Listed.store = {}


class WriteLog(object):
    """Stands for the API wrapper's per-thread record of writes (the items write to a dict)."""

    def record_writes(self):
        return []


def run(doc, parallelism=1, check_mode=False):
    return ConfigRun(WriteLog(), [Section('items', Item, Item.argument_spec)], doc, {},
                     check_mode=check_mode, parallelism=parallelism).run()


class Refused(Item):
    """An item type Vault refuses for names starting with "bad"; it records when each
    object was started and when the refusal happened."""

    events = []

    def read(self):
        with self.lock:
            self.events.append(('start', self.name))
        return super(Refused, self).read()

    def create(self, wanted):
        if self.name.startswith('bad'):
            with self.lock:
                self.events.append(('refused', self.name))
            raise FieldError('refused %s' % self.name)
        super(Refused, self).create(wanted)


@pytest.mark.parametrize('parallelism', [1, 4])
def test_a_refused_object_stops_the_run_and_every_write_is_reported(parallelism):
    doc = {'items': [{'name': 'a', 'value': 'x'}, {'name': 'bad', 'value': 'x'}]
           + [{'name': 'late%02d' % i, 'value': 'x'} for i in range(20)]}
    config = ConfigRun(WriteLog(), [Section('items', Refused, Refused.argument_spec)], doc, {},
                       parallelism=parallelism)
    with pytest.raises(FieldError):
        config.run()
    written = sorted(o['name'] for o in config.written())
    assert written == sorted(Item.store), 'reported %s, stored %s' % (written, sorted(Item.store))
    assert 'a' in written and 'bad' not in Item.store
    # No object is started after the failure; those already in flight may finish (at most
    # one per other worker), and what they wrote is reported above.
    refused_at = Refused.events.index(('refused', 'bad'))
    started_after = [name for event, name in Refused.events[refused_at:] if event == 'start']
    assert len(started_after) <= parallelism - 1, started_after


def test_parallel_run_keeps_document_order_and_overlaps():
    doc = {'items': [{'name': 'i%02d' % i, 'value': 'v%d' % i} for i in range(20)]}
    reports = run(doc, parallelism=4)
    assert [r['name'] for r in reports] == ['i%02d' % i for i in range(20)]
    assert summarise(reports)['create'] == 20 and len(Item.store) == 20
    assert Item.in_flight[1] > 1, 'reads did not overlap'
    assert summarise(run(doc, parallelism=4))['none'] == 20


def test_serial_run_never_overlaps():
    run({'items': [{'name': 'i%d' % i, 'value': 'v'} for i in range(5)]}, parallelism=1)
    assert Item.in_flight[1] == 1


def test_check_mode_writes_nothing():
    reports = run({'items': [{'name': 'a', 'value': 'v'}]}, parallelism=4, check_mode=True)
    assert reports[0]['action'] == 'create' and Item.store == {}


@pytest.mark.parametrize('doc,fragment', [
    ({'items': [{'name': 'a', 'value': 'v'}, {'name': 'a', 'value': 'w'}]}, 'config.items[1] repeats'),
    ({'items': [{'value': 'v'}]}, 'config.items[0]'),
    ({'items': {'name': 'a'}}, 'config.items must be a list'),
    ({'itemz': []}, 'unknown section'),
])
def test_bad_documents_fail_before_any_write(doc, fragment):
    with pytest.raises(FieldError) as err:
        run(doc)
    assert fragment in str(err.value)
    assert Item.store == {}


def test_secret_values_are_found_even_in_bad_entries():
    sections = [Section('items', Item, Item.argument_spec)]
    found = secret_values(sections, {'items': [{'name': 'a', 'value': 's3cret'}, {'value': 'other-secret'}]})
    assert {'s3cret', 'other-secret'} <= found


# -- prune guards -----------------------------------------------------------------------

class Listed(Item):
    """A prunable item type: everything in the store is offered to prune."""

    @classmethod
    def list_prunable(cls, api, entries):
        return [{'name': name, 'state': 'absent'} for name in sorted(cls.store)]


def prune_run(doc, scope_params=None, check_mode=False, section_key='policies'):
    scope = PruneScope.from_params(scope_params)
    return ConfigRun(WriteLog(), [Section(section_key, Listed, Listed.argument_spec, prunable=True)], doc, {},
                     check_mode=check_mode, prune=True, prune_scope=scope)


@pytest.mark.parametrize('params,fragment', [
    ({'name_prefix': ['']}, 'prune_scope.name_prefix[0] is empty or blank'),
    ({'name_prefix': ''}, 'prune_scope.name_prefix[0] is empty or blank'),
    ({'name_prefix': ['team-', '  ']}, 'prune_scope.name_prefix[1] is empty or blank'),
    ({'name_prefix': ['\n']}, 'prune_scope.name_prefix[0] is empty or blank'),
    ({'name_prefix': []}, 'prune_scope.name_prefix is an empty list'),
    ({'name_prefix': ['team- ']}, 'holds whitespace or a wildcard'),
    ({'name_prefix': ['team-*']}, 'holds whitespace or a wildcard'),
    ({'name_prefix': ['d']}, "matches Vault's own policy 'default'"),
    ({'name_prefix': ['DEF']}, "matches Vault's own policy 'default'"),
    ({'name_prefix': ['ro']}, "matches Vault's own policy 'root'"),
    ({'name_prefix': ['root']}, "matches Vault's own policy 'root'"),
    ({'name_prefix': ['team-'], 'kubernetes_auth_mounts': ['']}, 'prune_scope.kubernetes_auth_mounts[0] is empty'),
    ({'name_prefix': ['team-'], 'kubernetes_auth_mounts': ['k8s/+']}, 'prune_scope.kubernetes_auth_mounts[0]'),
    ({'name_prefix': ['team-'], 'max_deletions': -1}, 'prune_scope.max_deletions must be 0 or more'),
    ({'auth_methods': True}, 'prune_scope.auth_methods needs prune_scope.name_prefix'),
])
def test_a_scope_that_matches_too_much_is_refused_in_one_line(params, fragment):
    with pytest.raises(FieldError) as err:
        PruneScope.from_params(params)
    assert fragment in str(err.value) and '\n' not in str(err.value)


def test_scope_defaults():
    assert PruneScope.from_params(None).max_deletions == DEFAULT_MAX_DELETIONS == 10
    scope = PruneScope.from_params({'name_prefix': 'team-', 'max_deletions': 0})
    assert scope.name_prefixes == ['team-'] and scope.max_deletions == 0
    # "defaults" and "rooted" do not start root or default: allowed.
    assert PruneScope.from_params({'name_prefix': ['defaults-', 'rooted']}).name_prefixes == ['defaults-', 'rooted']


def test_root_and_default_are_never_pruned_even_without_scope():
    Listed.store.update({'default': {}, 'root': {}, 'Default': {}, 'gone': {'value': 'x'}})
    run_ = prune_run({'policies': []})
    run_.run()
    assert sorted(Listed.store) == ['Default', 'default', 'root']
    assert run_.prune_candidates == [('item', 'gone')]


def test_more_than_max_deletions_is_refused_before_any_write():
    Listed.store.update(dict(('team-%02d' % i, {'value': 'x'}) for i in range(12)))
    Listed.store['other'] = {'value': 'x'}
    run_ = prune_run({'policies': [{'name': 'team-new', 'value': 'v'}]}, {'name_prefix': ['team-']})
    with pytest.raises(FieldError) as err:
        run_.run()
    message = str(err.value)
    assert message.startswith('prune would delete 12 objects, more than prune_scope.max_deletions (10): item team-00')
    assert 'item team-11' in message and 'other' not in message and 'nothing was written' in message
    assert '\n' not in message
    # Nothing written: the declared item was not created, nothing deleted.
    assert 'team-new' not in Listed.store and len(Listed.store) == 13


def test_within_max_deletions_deletes_exactly_the_undeclared_in_scope():
    Listed.store.update({'team-a': {'value': 'v'}, 'team-b': {'value': 'x'}, 'team-c': {'value': 'x'},
                         'other': {'value': 'x'}})
    doc = {'policies': [{'name': 'team-a', 'value': 'v'}]}
    check = prune_run(doc, {'name_prefix': ['team-'], 'max_deletions': 2}, check_mode=True)
    reports = check.run()
    assert check.prune_candidates == [('item', 'team-b'), ('item', 'team-c')]
    assert [(r['name'], r['action'], r.get('pruned')) for r in reports if r['changed']] == [
        ('team-b', 'delete', True), ('team-c', 'delete', True)]
    assert sorted(Listed.store) == ['other', 'team-a', 'team-b', 'team-c'], 'check mode deleted'
    prune_run(doc, {'name_prefix': ['team-'], 'max_deletions': 2}).run()
    assert sorted(Listed.store) == ['other', 'team-a']


def test_a_long_refusal_names_the_first_objects_and_counts_the_rest():
    assert describe_objects([('policy', 'p%02d' % i) for i in range(30)]).endswith('policy p24, and 5 more')


class ListedWithGhosts(Listed):
    """Lists names that no longer hold anything (a soft-deleted KV secret is still listed)."""

    @classmethod
    def list_prunable(cls, api, entries):
        return [{'name': name, 'state': 'absent'} for name in sorted(cls.store) + ['ghost-%d' % i for i in range(20)]]


def test_listed_but_already_gone_is_neither_counted_nor_deleted():
    Listed.store.update({'team-a': {'value': 'x'}})
    run_ = ConfigRun(WriteLog(), [Section('policies', ListedWithGhosts, Listed.argument_spec, prunable=True)],
                     {'policies': []}, {}, prune=True, prune_scope=PruneScope.from_params({'max_deletions': 1}))
    reports = run_.run()
    assert run_.prune_candidates == [('item', 'team-a')]
    assert [(r['name'], r['action']) for r in reports] == [('team-a', 'delete')] and Listed.store == {}
