"""The fault-injection stage: site.yml on a private lab (tests/e2e's PrivateSite)."""

from vaultkube_testlib import NEEDS_ROOT_MARKER, fail_unless_root


def pytest_configure(config):
    config.addinivalue_line("markers", NEEDS_ROOT_MARKER)


def pytest_runtest_setup(item):
    fail_unless_root(item)
