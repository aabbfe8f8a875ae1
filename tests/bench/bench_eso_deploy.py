#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: eso_deploy against the kubectl floor, and the whole site.yml re-run, on the lab.

Needs the shared lab (tests/lab/up.sh) and runs site.yml with inventory/lab first (OpenBao,
Kubernetes auth, ESO controller, the ClusterSecretStore). Then, for each size N, side by side
in one run, each way with its own namespaces so that both start from nothing:

  A  eso_deploy first apply   site.yml --tags eso_deploy with N ExternalSecrets (returns once all are synced)
  B  eso_deploy re-run        the same, nothing changed
  S  fair floor first apply   one `kubectl apply --server-side` of the same objects (field manager
                              of its own, durations spelled as the API server stores them:
                              `1h0m0s`), then readiness from one `kubectl get -w` (one LIST and
                              one watch of all ExternalSecrets)
  T  fair floor re-run        the same again
  F  old floor first apply    one client-side `kubectl apply -f` (a GET and a write per object,
                              `1h` as written) + `kubectl wait`, which checks object by object
  G  old floor re-run         the same again

Write requests are counted from the lab API server's audit log (the lab admin's requests only:
ESO's own status writes are not the role's); a server-side apply that changes nothing is still
a PATCH request there, so the floors also print how many objects a run changed (their
resourceVersion, read in one LIST before and after). Last, site.yml with inventory/lab is re-run whole:
its time, its API server writes and its Vault writes with the bootstrap token (OpenBao's file audit
device of the lab).

Usage: python tests/bench/bench_eso_deploy.py [--sizes 10 100 500] [--site-extra JSON]
  --site-extra: extra variables for every site.yml run (for example another
  vaultkube_lab_vault_root and vaultkube_lab_vault_port beside a lab already in use)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

from e2e_fleet import admin_token_requests, site_writes
from lab_helpers import LAB, LAB_ADMIN_USER, AuditLog, kubectl
from vaultkube_testlib import _ansible_env, audit_entries

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import (
    go_duration_ns, go_duration_string)
from ansible_collections.vaultkube.platform.plugins.module_utils._eso import manifests

NAMESPACES = 10
VAULT_KEY = 'lab/demo/app'
INVENTORY = REPO / 'inventory' / 'lab'
SITE = REPO / 'playbooks' / 'site.yml'
SITE_EXTRA: dict = {}
FIELD_MANAGER = 'vaultkube-bench-floor'
# One row per object, also for the objects of the initial LIST (a jsonpath would be applied
# to that LIST as a whole).
READY_COLUMNS = ('custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,'
                 'READY:.status.conditions[?(@.type=="Ready")].status')


def vault_audit_log() -> Path:
    return Path(SITE_EXTRA.get('vaultkube_lab_vault_root', '/opt/vaultkube-lab/openbao')) / 'log' / 'audit.log'


def external_secrets(prefix: str, n: int) -> list[dict]:
    return [{'name': 'es-%04d' % i, 'namespace': '%s-%02d' % (prefix, i % NAMESPACES),
             'data_from': [{'extract': {'key': VAULT_KEY}}]} for i in range(n)]


def site(extra: dict | None = None, tags: str | None = None) -> tuple[float, list[str]]:
    cmd = ['ansible-playbook', '-i', str(INVENTORY), str(SITE)]
    if tags:
        cmd += ['--tags', tags]
    extra = dict(SITE_EXTRA, **(extra or {}))
    if extra:
        handle = tempfile.NamedTemporaryFile('w', suffix='.json', delete=False)
        json.dump(extra, handle)
        handle.close()
        cmd += ['-e', '@' + handle.name]
    env = _ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'default'})
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(REPO), check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit('site.yml failed:\n%s\n%s' % (proc.stdout[-4000:], proc.stderr[-2000:]))
    recap = [line for line in proc.stdout.splitlines() if 'changed=' in line]
    return elapsed, recap


def floor(path: Path, label: str) -> float:
    """The old floor: client-side `kubectl apply` (a GET and a write per object), `kubectl wait`."""
    start = time.perf_counter()
    kubectl('apply', '-f', str(path))
    kubectl('wait', '--for=condition=Ready', 'externalsecrets.external-secrets.io', '-A',
            '-l', 'vaultkube.io/bench=%s' % label, '--timeout=900s')
    return time.perf_counter() - start


def wait_ready_watch(label: str, n: int, timeout: float = 900.0) -> None:
    """Until all N labelled ExternalSecrets are Ready, from one LIST and one watch (kubectl get -w)."""
    cmd = [str(Path(LAB['LAB_BIN']) / 'kubectl'), 'get', 'externalsecrets.external-secrets.io', '-A',
           '-l', 'vaultkube.io/bench=%s' % label, '-w', '--no-headers', '-o', READY_COLUMNS]
    ready: dict[str, bool] = {}
    deadline = time.monotonic() + timeout
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ, **LAB)) as proc:
        # A watch that sees no change blocks on its next line: the timer ends it at the deadline.
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            for line in proc.stdout:
                fields = line.split()
                if len(fields) == 3:
                    ready[fields[0] + '/' + fields[1]] = fields[2] == 'True'
                if len(ready) >= n and all(ready.values()):
                    return
                if time.monotonic() > deadline:
                    break
        finally:
            timer.cancel()
            proc.kill()
    raise SystemExit('%s: %d of %d ExternalSecrets Ready (watch ended or timed out)'
                     % (label, sum(ready.values()), n))


def fair_floor(path: Path, label: str, n: int) -> float:
    """The fair floor: one server-side apply of all objects, readiness from one LIST + watch."""
    start = time.perf_counter()
    kubectl('apply', '--server-side', '--field-manager=%s' % FIELD_MANAGER, '-f', str(path))
    wait_ready_watch(label, n)
    return time.perf_counter() - start


def versions(label: str) -> dict[str, str]:
    """resourceVersion of every object of LABEL (namespaces and ExternalSecrets), in one LIST each."""
    found = {}
    for kind in ('namespaces', 'externalsecrets.external-secrets.io'):
        listed = json.loads(kubectl('get', kind, '-A', '-l', 'vaultkube.io/bench=%s' % label, '-o', 'json').stdout)
        for item in listed['items']:
            meta = item['metadata']
            found['%s %s/%s' % (kind, meta.get('namespace', ''), meta['name'])] = meta['resourceVersion']
    return found


def changed_objects(before: dict[str, str], after: dict[str, str]) -> int:
    return sum(1 for key, version in after.items() if before.get(key) != version)


def floor_file(work: Path, prefix: str, n: int, label: str, canonical: bool = False) -> Path:
    settings = {'cluster_store_enabled': False, 'cluster_store_name': 'vault-backend', 'create_namespaces': True,
                'external_secrets': external_secrets(prefix, n), 'vault': {}}
    objects = manifests(settings)
    for item in objects:
        item['metadata'].setdefault('labels', {})['vaultkube.io/bench'] = label
        spec = item.get('spec', {})
        if canonical and 'refreshInterval' in spec:
            # What the API server stores: "1h" is kept as "1h0m0s".
            spec['refreshInterval'] = go_duration_string(go_duration_ns(spec['refreshInterval']))
    path = work / ('%s.json' % prefix)
    path.write_text(json.dumps({'apiVersion': 'v1', 'kind': 'List', 'items': objects}))
    return path


def vault_writes(mark: int) -> tuple[list[str], list[str]] | None:
    """(site.yml's write requests to Vault, the admin token's lifecycle writes) since MARK, from
    OpenBao's file audit device. Every run makes and revokes its own short-lived admin token
    (sys/generate-root, auth/token/create-orphan, two auth/token/revoke-self): those paths are
    named apart; ESO's logins and its token revocations are not site.yml's."""
    if not vault_audit_log().exists():
        return None
    entries = audit_entries(vault_audit_log(), mark)
    return site_writes(entries), admin_token_requests(entries)


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[10, 100, 500])
    parser.add_argument('--site-extra', default='{}', help='JSON: extra variables of every site.yml run')
    args = parser.parse_args()
    SITE_EXTRA.update(json.loads(args.site_extra))
    began = time.perf_counter()
    subprocess.run(['bash', str(REPO / 'tests' / 'lab' / 'up.sh')], check=True, capture_output=True)
    audit = AuditLog()
    work = Path(tempfile.mkdtemp(prefix='vaultkube-bench-eso-'))
    site()  # converge the lab's site before measuring anything
    # The ClusterSecretStore serves only the namespaces of its conditions: every run here (the
    # role's and the floors') uses namespaces the lab's own ExternalSecrets do not, so they are
    # added to the conditions once, before anything is measured.
    store = json.loads(kubectl('get', 'clustersecretstore', 'vault-backend', '-o', 'json').stdout)
    served = {name for condition in store['spec'].get('conditions') or [] for name in condition.get('namespaces') or []}
    served.update('bench-%s%d-%02d' % (kind, n, index) for kind in 'rfs' for n in args.sizes
                  for index in range(NAMESPACES))
    SITE_EXTRA['eso_deploy_cluster_store_namespaces'] = sorted(served)
    site()
    rows, prefixes = [], []
    try:
        for n in args.sizes:
            row = {'N': n}
            role_prefix, floor_prefix, fair_prefix = 'bench-r%d' % n, 'bench-f%d' % n, 'bench-s%d' % n
            prefixes += [role_prefix, floor_prefix, fair_prefix]
            extra = {'eso_deploy_external_secrets': external_secrets(role_prefix, n),
                     'eso_deploy_ready_timeout': 900}
            for key in ('A', 'B'):
                mark = audit.mark()
                row[key], _recap = site(extra, tags='eso_deploy')
                row[key + '_w'] = audit.writes(mark, LAB_ADMIN_USER)[0]
            path = floor_file(work, fair_prefix, n, fair_prefix, canonical=True)
            for key in ('S', 'T'):
                before, mark = versions(fair_prefix), audit.mark()
                row[key] = fair_floor(path, fair_prefix, n)
                row[key + '_w'] = audit.writes(mark, LAB_ADMIN_USER)[0]
                row[key + '_c'] = changed_objects(before, versions(fair_prefix))
            path = floor_file(work, floor_prefix, n, floor_prefix)
            for key in ('F', 'G'):
                before, mark = versions(floor_prefix), audit.mark()
                row[key] = floor(path, floor_prefix)
                row[key + '_w'] = audit.writes(mark, LAB_ADMIN_USER)[0]
                row[key + '_c'] = changed_objects(before, versions(floor_prefix))
            rows.append(row)
            print('N=%d done after %.0f s' % (n, time.perf_counter() - began), file=sys.stderr, flush=True)

        mark, vault_mark = audit.mark(), size(vault_audit_log())
        site_rerun, recap = site()
        site_row = {'time': site_rerun, 'api_writes': audit.writes(mark, LAB_ADMIN_USER),
                    'vault_writes': vault_writes(vault_mark), 'recap': recap}
    finally:
        for prefix in prefixes:
            for index in range(NAMESPACES):
                kubectl('delete', 'namespace', '%s-%02d' % (prefix, index), '--ignore-not-found', '--wait=false',
                        check=False)

    print()
    print('eso_deploy benchmark on the lab (real kube-apiserver, ESO controller, OpenBao); seconds;')
    print('A/B: site.yml --tags eso_deploy (whole ansible-playbook run, waits until all are synced);')
    print('S/T: kubectl apply --server-side (one call) + one kubectl get -w (the fair floor);')
    print('F/G: kubectl apply -f (client-side) + kubectl wait (the old floor); load average: %s'
          % ' '.join('%.2f' % x for x in os.getloadavg()))
    print('run: %s UTC, %d cores, python tests/bench/bench_eso_deploy.py --sizes %s'
          % (time.strftime('%Y-%m-%d %H:%M', time.gmtime()), os.cpu_count() or 0, ' '.join(map(str, args.sizes))))
    print()
    header = ('N', 'A first apply', 'B re-run', 'S fair floor', 'T fair re-run', 'F old floor',
              'G old re-run', 'A/S', 'B/T', 'A/F', 'B/G')
    print(' | '.join(header))
    print(' | '.join(['---'] * len(header)))
    for r in rows:
        print(' | '.join([str(r['N'])] + ['%.1f' % r[k] for k in 'ABSTFG']
                         + ['%.2f' % (r[a] / r[b]) for a, b in ('AS', 'BT', 'AF', 'BG')]))
    print()
    print('write requests of the lab admin in the API server audit log (objects changed, by resourceVersion)')
    header = ('N', 'A', 'B', 'S', 'T', 'F', 'G')
    print(' | '.join(header))
    print(' | '.join(['---'] * len(header)))
    for r in rows:
        print(' | '.join([str(r['N']), str(r['A_w']), str(r['B_w'])]
                         + ['%d (%d)' % (r[k + '_w'], r[k + '_c']) for k in 'STFG']))
    print()
    for r in rows:
        print('N=%d: fair floor re-run T: %d write requests, %d objects changed (%s); old floor re-run G: '
              '%d objects changed' % (r['N'], r['T_w'], r['T_c'], 'a no-op' if r['T_c'] == 0 else 'NOT a no-op',
                                      r['G_c']))
    print()
    print('site.yml re-run on inventory/lab: %.1f s, API server writes %d %s'
          % (site_row['time'], site_row['api_writes'][0], site_row['api_writes'][1]))
    if site_row['vault_writes'] is None:
        print('Vault writes: not counted (no audit log at %s)' % vault_audit_log())
    else:
        writes, lifecycle = site_row['vault_writes']
        print('Vault writes of site.yml (audit log): %d %s; the admin token\'s own lifecycle, left out: %d %s'
              % (len(writes), writes, len(lifecycle), lifecycle))
    for line in site_row['recap']:
        print('  ' + line.strip())
    failures = []
    if site_row['api_writes'][0]:
        failures.append('the site.yml re-run wrote to the API server: %s' % site_row['api_writes'][1])
    if site_row['vault_writes'] and site_row['vault_writes'][0]:
        failures.append('the site.yml re-run wrote to Vault: %s' % site_row['vault_writes'][0])
    print('wall time of this run: %.0f s' % (time.perf_counter() - began))
    for failure in failures:
        print('FAILED: ' + failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
