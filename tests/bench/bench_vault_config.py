#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: vault_config against one-task-per-object and a plain hvac floor.

Runs a real OpenBao (raft storage, file audit device declared in its config) and,
for each size N, applies N objects (60% KV v2 secrets, 20% policies, 20%
Kubernetes auth roles) four ways, side by side in one run:

  A  vault_config, first apply            (ansible-playbook, one task)
  B  vault_config, re-run with no change  (same document)
  C  single-object modules, one task per object (loops over the three modules)
  D  plain hvac, the minimal requests     (one write per object: the floor)
  R  plain hvac, one read per object      (the read-only floor B is held to)

D and R are each run twice: in parallel (D||, R||: a thread pool of vault_config's
default parallelism over one shared hvac session, one section after the other, as
the module keeps its requests in flight: the fair floor) and one request at a time
(D serial, R serial: the floor of earlier versions of this benchmark). Each way
writes its own objects (own name prefix), so A, C, D|| and D serial all start from
nothing. Requests are counted from Vault's own audit log, by operation.

Usage: python tests/bench/bench_vault_config.py [--sizes 100 1000] [--skip-c-above N]
       [--floor-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import hvac

HERE = Path(__file__).resolve().parent

from vaultkube_testlib import BaoServer, _ansible_env, audit_entries, wait_active

KV_MOUNT = 'bench-kv'
K8S_MOUNT = 'bench-kubernetes'
FOLDER_SIZE = 50
# vault_config's default parallelism (its `parallelism` option): the parallel floors
# keep as many requests in flight.
PARALLELISM = 4


class AuditedBao(BaoServer):
    """OpenBao with a file audit device declared in its config, to count requests."""

    def config_text(self):
        self.audit_log = self.workdir / 'audit.log'
        return super().config_text() + textwrap.dedent('''\
            audit "file" "bench" {
              options {
                file_path = "%s"
              }
            }
            ''') % self.audit_log


class RequestCounter:
    def __init__(self, path: Path):
        self.path = path
        self.offset = 0

    def mark(self):
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def since_mark(self) -> Counter:
        counts = Counter()
        for entry in audit_entries(self.path, self.offset):
            if entry.get('type') != 'request':
                continue
            op = entry['request'].get('operation', '?')
            counts[{'create': 'write', 'update': 'write'}.get(op, op)] += 1
        self.mark()
        return counts


def document(prefix: str, n: int) -> dict:
    n_kv, n_pol = int(n * 0.6), int(n * 0.2)
    n_role = n - n_kv - n_pol
    kv = [{'mount_path': KV_MOUNT, 'path': '%s/team%02d/app%04d' % (prefix, i // FOLDER_SIZE, i),
           'data': {'username': 'app%04d' % i, 'password': 'pw-%s-%04d' % (prefix, i)}}
          for i in range(n_kv)]
    policies = [{'name': '%s-team%04d' % (prefix, i),
                 'policy': 'path "%s/data/%s/team%04d/*" {\n  capabilities = ["read"]\n}\n'
                           % (KV_MOUNT, prefix, i)} for i in range(n_pol)]
    roles = [{'mount_path': K8S_MOUNT, 'name': '%s-role%04d' % (prefix, i),
              'bound_service_account_names': ['sa%04d' % i],
              'bound_service_account_namespaces': ['ns%04d' % (i % 10)],
              'token_policies': ['%s-team%04d' % (prefix, i % max(n_pol, 1))],
              'token_ttl': '1h'} for i in range(n_role)]
    return {'kv_secrets': kv, 'policies': policies, 'kubernetes_auth_roles': roles}


def run_playbook(path: Path, extra: dict) -> tuple[float, dict]:
    env = _ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'ansible.posix.json'})
    start = time.perf_counter()
    proc = subprocess.run(['ansible-playbook', '-i', 'localhost,', str(path), '-e', '@' + str(extra)],
                          capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit('playbook %s failed:\n%s\n%s' % (path, proc.stdout[-4000:], proc.stderr[-2000:]))
    return elapsed, json.loads(proc.stdout)


def write_vars(work: Path, name: str, data: dict) -> Path:
    path = work / name
    path.write_text(json.dumps(data))
    return path


PLAY_CONFIG = '''\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Apply the document
      vaultkube.platform.vault_config:
        url: "{{ url }}"
        token: "{{ token }}"
        config: "{{ doc }}"
'''

PLAY_LOOP = '''\
- hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/vaultkube.platform.vault:
      url: "{{ url }}"
      token: "{{ token }}"
  tasks:
    - name: Policies, one task each
      vaultkube.platform.vault_policy: "{{ item }}"
      loop: "{{ doc.policies }}"
      loop_control: {label: "{{ item.name }}"}
    - name: Kubernetes roles, one task each
      vaultkube.platform.vault_kubernetes_auth_role: "{{ item }}"
      loop: "{{ doc.kubernetes_auth_roles }}"
      loop_control: {label: "{{ item.name }}"}
    - name: KV secrets, one task each
      vaultkube.platform.vault_kv2_secret: "{{ item }}"
      loop: "{{ doc.kv_secrets }}"
      loop_control: {label: "{{ item.path }}"}
      no_log: true
'''


def _run(calls, parallelism):
    """Send the requests of one section: serially, or `parallelism` at a time."""
    if parallelism == 1:
        for call in calls:
            call()
        return
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


def hvac_floor(client: hvac.Client, doc: dict, parallelism: int = 1) -> None:
    """The minimal requests: one write per object, no reads; sections one after the other."""
    post = client.adapter.post
    sections = [
        [(lambda p=p: post('/v1/sys/policies/acl/%s' % p['name'], json={'policy': p['policy']}))
         for p in doc['policies']],
        [(lambda r=r: post('/v1/auth/%s/role/%s' % (K8S_MOUNT, r['name']),
                           json=dict((k, v) for k, v in r.items() if k not in ('mount_path', 'name'))))
         for r in doc['kubernetes_auth_roles']],
        [(lambda s=s: post('/v1/%s/data/%s' % (KV_MOUNT, s['path']), json={'data': s['data']}))
         for s in doc['kv_secrets']],
    ]
    for calls in sections:
        _run(calls, parallelism)


def hvac_read_floor(client: hvac.Client, doc: dict, parallelism: int = 1) -> None:
    """The read-only floor: one read per object; sections one after the other."""
    get = client.adapter.get
    sections = [
        [(lambda p=p: get('/v1/sys/policies/acl/%s' % p['name'])) for p in doc['policies']],
        [(lambda r=r: get('/v1/auth/%s/role/%s' % (K8S_MOUNT, r['name'])))
         for r in doc['kubernetes_auth_roles']],
        [(lambda s=s: get('/v1/%s/data/%s' % (KV_MOUNT, s['path']))) for s in doc['kv_secrets']],
    ]
    for calls in sections:
        _run(calls, parallelism)


def fmt_counts(counts: Counter) -> str:
    return 'r%d l%d w%d d%d' % (counts.get('read', 0), counts.get('list', 0), counts.get('write', 0),
                                counts.get('delete', 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[100, 1000])
    parser.add_argument('--skip-c-above', type=int, default=10 ** 9,
                        help='do not run C (one task per object) for sizes above this')
    parser.add_argument('--floor-runs', type=int, default=3,
                        help='runs of each hvac floor per size (their median time is printed)')
    args = parser.parse_args()

    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix='vaultkube-bench-'))
    server = AuditedBao(work / 'bao').start()
    try:
        client = server.client()
        init = client.sys.initialize(1, 1)
        client.sys.submit_unseal_key(init['keys'][0])
        client.token = init['root_token']
        wait_active(server)  # until this single node has elected itself leader
        client.sys.enable_secrets_engine('kv', path=KV_MOUNT, options={'version': '2'})
        client.sys.enable_auth_method('kubernetes', path=K8S_MOUNT)
        time.sleep(1)  # KV v2 upgrades its fresh mount before accepting writes
        counter = RequestCounter(server.audit_log)
        base = {'url': server.url, 'token': init['root_token']}
        play_config = work / 'config.yml'
        play_config.write_text(PLAY_CONFIG)
        play_loop = work / 'loop.yml'
        play_loop.write_text(PLAY_LOOP)

        rows = []
        for n in args.sizes:
            row = {'N': n, 'floor_runs': args.floor_runs}
            doc_a, doc_c = document('a%d' % n, n), document('c%d' % n, n)
            # Each floor is run `--floor-runs` times, serial and parallel interleaved, each
            # write run on its own objects; the median time is kept, the requests of the first.
            times = {'Ds': [], 'Dp': [], 'Rs': [], 'Rp': []}
            counter.mark()
            for run in range(args.floor_runs):
                docs = {1: document('d%d-%d' % (n, run), n), PARALLELISM: document('p%d-%d' % (n, run), n)}
                for key, function, parallelism in (('Ds', hvac_floor, 1), ('Dp', hvac_floor, PARALLELISM),
                                                   ('Rs', hvac_read_floor, 1),
                                                   ('Rp', hvac_read_floor, PARALLELISM)):
                    start = time.perf_counter()
                    function(client, docs[parallelism], parallelism)
                    times[key].append(time.perf_counter() - start)
                    requests = counter.since_mark()
                    row.setdefault(key + '_req', requests)
            for key, values in times.items():
                row[key] = statistics.median(values)

            vars_a = write_vars(work, 'a%d.json' % n, dict(base, doc=doc_a))
            row['A'], out = run_playbook(play_config, vars_a)
            row['A_req'] = counter.since_mark()
            row['A_module'] = out['plays'][0]['tasks'][0]['hosts']['localhost']['elapsed']

            row['B'], out = run_playbook(play_config, vars_a)
            row['B_req'] = counter.since_mark()
            result_b = out['plays'][0]['tasks'][0]['hosts']['localhost']
            row['B_module'] = result_b['elapsed']
            row['B_changed'] = result_b['changed']

            if n <= args.skip_c_above:
                vars_c = write_vars(work, 'c%d.json' % n, dict(base, doc=doc_c))
                row['C'] = run_playbook(play_loop, vars_c)[0]
                row['C_req'] = counter.since_mark()
            rows.append(row)
            print('N=%d done after %.0f s' % (n, time.perf_counter() - began), file=sys.stderr, flush=True)

        print_table(rows)
        print('wall time of this run: %.0f s' % (time.perf_counter() - began))
        return 0
    finally:
        server.stop()


def print_table(rows):
    print()
    print('vault_config benchmark: real OpenBao (raft storage), 60% KV / 20% policies / 20% k8s roles')
    print('times in seconds (A/B/C: whole ansible-playbook run; "module" = time inside the module);')
    print('D||/R||: hvac, %d requests in flight over one session (vault_config\'s default parallelism);'
          % PARALLELISM)
    print('D ser/R ser: hvac, one request at a time; requests counted from the Vault audit log as')
    print('r(ead) l(ist) w(rite) d(elete); floors: median of %d runs; load average at the end: %s'
          % (rows[0]['floor_runs'], ' '.join('%.2f' % x for x in os.getloadavg())))
    print('run: %s UTC, %d cores, %s' % (time.strftime('%Y-%m-%d %H:%M', time.gmtime()), os.cpu_count() or 0,
                                         ' '.join(['python', 'tests/bench/bench_vault_config.py'] + sys.argv[1:])))
    print()
    header = ('N', 'A first apply', 'B re-run', 'C task/object', 'D|| hvac', 'D ser hvac',
              'R|| read', 'R ser read')
    print(' | '.join(header))
    print(' | '.join(['---'] * len(header)))
    for r in rows:
        c = r.get('C')
        print(' | '.join([
            str(r['N']),
            '%.2f (module %.2f)' % (r['A'], r['A_module']),
            '%.2f (module %.2f)' % (r['B'], r['B_module']),
            '%.1f' % c if c is not None else 'not run',
            '%.2f' % r['Dp'], '%.2f' % r['Ds'], '%.2f' % r['Rp'], '%.2f' % r['Rs'],
        ]))
    print()
    header = ('N', 'A/D||', 'A/D ser', 'Amod/D||', 'Amod/D ser', 'B/R||', 'B/R ser', 'Bmod/R||',
              'Bmod/R ser', 'C/A')
    print(' | '.join(header))
    print(' | '.join(['---'] * len(header)))
    for r in rows:
        c = r.get('C')
        print(' | '.join([str(r['N'])] + [
            '%.2f' % (r[num] / r[den]) for num, den in (
                ('A', 'Dp'), ('A', 'Ds'), ('A_module', 'Dp'), ('A_module', 'Ds'),
                ('B', 'Rp'), ('B', 'Rs'), ('B_module', 'Rp'), ('B_module', 'Rs'))
        ] + ['%.1f' % (c / r['A']) if c is not None else '-']))
    print()
    print('requests | ' + ' | '.join('N=%d' % r['N'] for r in rows))
    print('--- | ' + ' | '.join(['---'] * len(rows)))
    for key, label in (('A_req', 'A vault_config first apply'), ('B_req', 'B vault_config re-run'),
                       ('C_req', 'C one task per object'), ('Dp_req', 'D|| hvac minimal writes'),
                       ('Ds_req', 'D ser hvac minimal writes'), ('Rp_req', 'R|| hvac one read each'),
                       ('Rs_req', 'R ser hvac one read each')):
        print(label + ' | ' + ' | '.join(fmt_counts(r[key]) if key in r else 'not run' for r in rows))
    print()
    for r in rows:
        writes_b = r['B_req'].get('write', 0) + r['B_req'].get('delete', 0)
        print('N=%d: B changed=%s, B write+delete requests=%d' % (r['N'], r['B_changed'], writes_b))


if __name__ == '__main__':
    sys.exit(main())
