#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: the whole site.yml for a fleet of 1, 2, 3 (...) clusters against one Vault.

For each size N, side by side in one run, from nothing: N lab clusters (tests/lab/fleet.sh, own
etcd, API server, CA and issuer each) and a fresh private OpenBao, then with inventory/lab-fleet
(a generated hosts.yml with N clusters):

  first   site.yml first run: OpenBao installed, initialised, unsealed; per cluster its CA, auth
          mount, policy, role, ESO chart and controller, store and ExternalSecret (synced)
  re-run  site.yml again, nothing changed (changed=0 checked)

and the Vault requests the re-run made with the bootstrap token (OpenBao's audit log). The
per-cluster part runs for every cluster at once (forks = N + 2), so the re-run should grow far
less than linearly with N. Ratios are to N=1. Figures are printed, not asserted as timings.

Usage: python tests/bench/bench_fleet.py [--sizes 1 2 3]   (root: OpenBao runs as a system user)
"""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

from e2e_fleet import Fleet, root_requests, root_writes
from vaultkube_testlib import audit_entries


def measure(size):
    fleet = Fleet(['bench-%d' % i for i in range(1, size + 1)], service_user='vkube-fleet-bench')
    try:
        lab = fleet.start()
        first = fleet.site('first')
        if not first.ok:
            raise SystemExit('site.yml first run failed for N=%d (log %s):\n%s' % (size, first.log, first.failure()))
        mark = fleet.audit_mark()
        rerun = fleet.site('rerun')
        if not rerun.ok or rerun.changed:
            raise SystemExit('site.yml re-run failed or changed for N=%d (log %s):\n%s' % (size, rerun.log, rerun.tail()))
        entries = audit_entries(fleet.audit_log, mark)
        return {'n': size, 'lab': lab, 'first': first.seconds, 'rerun': rerun.seconds,
                'requests': len(root_requests(entries)), 'writes': len(root_writes(entries))}
    finally:
        fleet.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1, 2, 3])
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        row = measure(size)
        rows.append(row)
        print('N=%d done: first %.1f s, re-run %.1f s' % (size, row['first'], row['rerun']), flush=True)
    base = rows[0]
    print()
    print('%-9s %10s %10s %8s %10s %8s %14s %12s' % (
        'clusters', 'lab up s', 'first s', 'ratio', 're-run s', 'ratio', 'Vault requests', 'Vault writes'))
    for row in rows:
        print('%-9d %10.1f %10.1f %8.2f %10.1f %8.2f %14d %12d' % (
            row['n'], row['lab'], row['first'], row['first'] / base['first'], row['rerun'],
            row['rerun'] / base['rerun'], row['requests'], row['writes']))
    print('(ratios to N=%d; re-run Vault requests and writes: made with the bootstrap token, from the audit log)'
          % base['n'])


if __name__ == '__main__':
    main()
