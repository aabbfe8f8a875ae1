# -*- coding: utf-8 -*-
"""Fixtures: real OpenBao servers started for the tests and stopped after."""

import shutil

import pytest

from vaultkube_testlib import BaoServer, tmpdir


@pytest.fixture(scope='session')
def bao_dev():
    """One dev-mode OpenBao for the object modules (fast, already unsealed)."""
    work = tmpdir('vaultkube-dev-')
    server = BaoServer(work, dev=True).start()
    yield server
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def conn(bao_dev):
    """Connection options for the dev server, as a module would receive them."""
    return {'url': bao_dev.url, 'token': bao_dev.root_token}


@pytest.fixture
def vault(bao_dev):
    """An hvac client with the root token, for reading state back."""
    return bao_dev.client()
