"""The fault-injection stage: site.yml on a private lab (tests/e2e's PrivateSite)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
sys.path.insert(0, HERE)

from vaultkube_testlib import NEEDS_ROOT_MARKER, fail_unless_root  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", NEEDS_ROOT_MARKER)


def pytest_runtest_setup(item):
    fail_unless_root(item)
