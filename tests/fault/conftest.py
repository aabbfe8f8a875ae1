"""The fault-injection stage: site.yml on a private lab (tests/e2e's PrivateSite)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
