# -*- coding: utf-8 -*-
"""Where things are: the checkout, the test virtualenv, scratch folders; the needs_root marker."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


REPO = Path(__file__).resolve().parents[3]


VENV_BIN = Path(sys.executable).parent


def tmpdir(prefix='vaultkube-') -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


# Tests that need root carry @pytest.mark.needs_root(reason) (or a module pytestmark). The conftests
# of the integration, e2e and fault stages call fail_unless_root from pytest_runtest_setup: as
# another user such a test FAILS with one line (before its fixtures start anything), never skips,
# so no stage reports passed with its root tests left out. CI runs as root.
NEEDS_ROOT_MARKER = 'needs_root(reason): fails with one line when not run as root (never skipped)'


def fail_unless_root(item) -> None:
    marker = item.get_closest_marker('needs_root')
    if marker is not None and os.geteuid() != 0:
        import pytest
        pytest.fail('needs root: %s (run this stage as root, as CI does)' % marker.args[0], pytrace=False)
