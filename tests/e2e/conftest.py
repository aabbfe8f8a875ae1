"""The end-to-end test runs site.yml against a PRIVATE lab instance: its own
API server, etcd and ESO controller (tests/lab with another VAULTKUBE_LAB_HOME
and free ports) and its own OpenBao (another root folder, port and service
user), so it neither disturbs nor is disturbed by the shared lab.

Everything the test measures (timings, condition and event messages) is
printed in a closing summary, also when the test passes."""

from e2e_site import REPORT
from vaultkube_testlib import NEEDS_ROOT_MARKER, fail_unless_root


def pytest_configure(config):
    config.addinivalue_line("markers", NEEDS_ROOT_MARKER)


def pytest_runtest_setup(item):
    fail_unless_root(item)


def pytest_terminal_summary(terminalreporter):
    if not REPORT:
        return
    terminalreporter.section("site.yml end-to-end: measurements")
    for label, text in REPORT:
        terminalreporter.write_line("%-44s %s" % (label, text))
