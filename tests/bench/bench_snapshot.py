#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""Benchmark: raft snapshot save and restore with N KV secrets, vault_raft_snapshot against the floor.

Runs a real OpenBao (raft storage, one node), writes N KV v2 secrets, then for each N, side by side
in one run:

  save floor     GET sys/storage/raft/snapshot streamed to a file: the bytes Vault sends, nothing else
  save module    vault_raft_snapshot state=saved through ansible: the same stream encrypted
                 (ansible-vault AES256), read back, decrypted and checked member by member against
                 the snapshot's own SHA256SUMS before it takes its name
  restore floor  POST sys/storage/raft/snapshot-force of the floor's file
  restore module vault_raft_snapshot state=restored: verify the encrypted file, decrypt, force-restore

Both restores go into the same Vault (same keyring: it stays unsealed), after a canary written
since the snapshot; the canary must be gone and a sample of the N secrets must read back after each
restore (the figures count only when the restore really happened). The module's times include
ansible's own start (printed apart: an `ansible -m ping` on localhost). Figures are printed, not
asserted.

Usage: python tests/bench/bench_snapshot.py [--sizes 1000 10000]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import hvac
import requests

from vaultkube_testlib import FastRaftServer, run_module, tmpdir, wait_active

KV_MOUNT = 'bench-kv'
PASSWORD = 'bench-snapshot-password'
WRITERS = 8


def start_server(work):
    server = FastRaftServer(work / 'node').start()
    client = server.client()
    init = client.sys.initialize(secret_shares=1, secret_threshold=1)
    client.sys.submit_unseal_key(init['keys'][0])
    server.root_token = init['root_token']
    wait_active(server)
    server.client().sys.enable_secrets_engine('kv', path=KV_MOUNT, options={'version': '2'})
    return server


def write_secrets(server, start, count):
    session = requests.Session()
    headers = {'X-Vault-Token': server.root_token}

    def write(index):
        answer = session.post('%s/v1/%s/data/app/%05d' % (server.url, KV_MOUNT, index), headers=headers,
                              json={'data': {'password': 'value-%05d' % index, 'user': 'u%05d' % index}}, timeout=30)
        answer.raise_for_status()

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(start, start + count)))


def read_sample(server, total, sample=50):
    client = server.client()
    for index in random.Random(total).sample(range(total), min(sample, total)):
        data = client.secrets.kv.v2.read_secret_version('app/%05d' % index, mount_point=KV_MOUNT,
                                                        raise_on_deleted_version=True)['data']['data']
        assert data['password'] == 'value-%05d' % index, (index, data)


def canary(server, present):
    client = server.client()
    if present:
        client.secrets.kv.v2.create_or_update_secret('canary', secret={'v': 'after the snapshot'}, mount_point=KV_MOUNT)
        return
    try:
        client.secrets.kv.v2.read_secret_version('canary', mount_point=KV_MOUNT, raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath:
        return
    raise AssertionError('the canary written after the snapshot is still there: the restore did not happen')


def timed(fn):
    start = time.monotonic()
    result = fn()
    return time.monotonic() - start, result


def save_floor(server, path):
    with requests.get(server.url + '/v1/sys/storage/raft/snapshot', headers={'X-Vault-Token': server.root_token},
                      stream=True, timeout=600) as answer, open(path, 'wb') as handle:
        answer.raise_for_status()
        for chunk in answer.iter_content(1 << 20):
            handle.write(chunk)
    return path.stat().st_size


def restore_floor(server, path):
    with open(path, 'rb') as handle:
        answer = requests.post(server.url + '/v1/sys/storage/raft/snapshot-force', data=handle,
                               headers={'X-Vault-Token': server.root_token}, timeout=600)
    answer.raise_for_status()


def module(server, **args):
    result = run_module('vault_raft_snapshot', dict(url=server.url, token=server.root_token, password=PASSWORD,
                                                    **args))
    assert not result.get('failed'), result.get('msg')
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 10000])
    args = parser.parse_args()
    work = tmpdir('vaultkube-bench-snapshot-')
    server = start_server(work)
    rows = []
    try:
        ansible_start = timed(lambda: run_module('ansible.builtin.ping', {}))[0]
        written = 0
        for size in sorted(args.sizes):
            write_secrets(server, written, size - written)
            written = size
            dest = work / ('snapshots-%d' % size)
            dest.mkdir(mode=0o700)
            raw = work / ('floor-%d.snap' % size)
            save_s, raw_size = timed(lambda: save_floor(server, raw))
            module_save_s, saved = timed(lambda: module(server, state='saved', dest=str(dest), name='bench'))
            canary(server, True)
            restore_s = timed(lambda: restore_floor(server, raw))[0]
            wait_active(server)
            canary(server, False)
            read_sample(server, size)
            canary(server, True)
            module_restore_s = timed(lambda: module(server, state='restored', path=saved['path']))[0]
            wait_active(server)
            canary(server, False)
            read_sample(server, size)
            rows.append((size, raw_size, saved['size'], save_s, module_save_s, restore_s, module_restore_s))
            print('N=%d: saved and restored twice, canary gone and %d secrets read back each time' % (size, min(50, size)),
                  flush=True)
            shutil.rmtree(dest, ignore_errors=True)
            raw.unlink()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print('\nraft snapshot, one OpenBao node, N KV v2 secrets (seconds; module = through ansible, '
          'whose own start is %.2f s)' % ansible_start)
    header = ('N', 'raw bytes', 'encrypted', 'save', 'module', 'm-start', 'restore', 'module', 'm-start')
    print('%7s %10s %10s | %8s %8s %8s | %8s %8s %8s' % header)
    for size, raw_size, enc_size, save_s, msave_s, restore_s, mrestore_s in rows:
        print('%7d %10d %10d | %8.2f %8.2f %8.2f | %8.2f %8.2f %8.2f' % (
            size, raw_size, enc_size, save_s, msave_s, msave_s - ansible_start,
            restore_s, mrestore_s, mrestore_s - ansible_start))
    print('m-start: the module without ansible\'s own start; the floor is the raw API call alone. The encrypted')
    print('file is about 4x the raw snapshot: ansible-vault 1.1 writes its ciphertext hex-encoded, twice.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
