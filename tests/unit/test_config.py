# -*- coding: utf-8 -*-
"""The vault_config engine on an in-memory object type: order, validation, parallel runs."""
import threading
import time

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError
from ansible_collections.vaultkube.platform.plugins.module_utils._config import (
    ConfigRun,
    Section,
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
