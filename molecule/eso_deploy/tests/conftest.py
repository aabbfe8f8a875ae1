"""Makes tests/roles/roles_testlib.py importable for this scenario's verifier."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "roles"))
