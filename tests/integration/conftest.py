# -*- coding: utf-8 -*-
"""Fixtures: real OpenBao (or, with VAULTKUBE_TEST_SERVER=vault, HashiCorp Vault) servers
started for the tests and stopped after.

A test that holds for one server only says so with ``@pytest.mark.only_on(server, reason)``;
on the other server it is reported as skipped with that reason (never as passed). A test that
needs root says so with ``@pytest.mark.needs_root(reason)``: as another user it fails with one line.
"""

import pytest

from vaultkube_testlib import NEEDS_ROOT_MARKER, SERVER, AuditedDevServer, fail_unless_root, scratch_server


def pytest_configure(config):
    config.addinivalue_line('markers', 'only_on(server, reason): runs on that server only (openbao or vault), '
                                       'because the two differ there on purpose')
    config.addinivalue_line('markers', NEEDS_ROOT_MARKER)


def pytest_runtest_setup(item):
    fail_unless_root(item)


def pytest_report_header(config):
    return 'vaultkube server under test: %s' % SERVER


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker('only_on')
        if marker is not None and marker.args[0] != SERVER:
            item.add_marker(pytest.mark.skip(reason='%s only: %s' % (marker.args[0], marker.args[1])))


def dev_server(prefix):
    """A dev-mode server in a folder of its own, stopped and removed after (a generator for fixtures).
    It has a file audit device: a test reads "no write" claims from it (server.no_writes)."""
    for server, _work in scratch_server(prefix, AuditedDevServer, dev=True):
        yield server


@pytest.fixture(scope='session')
def bao_dev():
    """One dev-mode server for the object modules (fast, already unsealed)."""
    yield from dev_server('vaultkube-dev-')


@pytest.fixture
def fresh_dev():
    """A dev server for one test, for documents that reconfigure what the shared one has (its secret/ mount)."""
    yield from dev_server('vaultkube-fresh-')


@pytest.fixture
def conn(bao_dev):
    """Connection options for the dev server, as a module would receive them."""
    return {'url': bao_dev.url, 'token': bao_dev.root_token}


@pytest.fixture
def vault(bao_dev):
    """An hvac client with the root token, for reading state back."""
    return bao_dev.client()
