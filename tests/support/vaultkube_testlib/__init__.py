# -*- coding: utf-8 -*-
"""The tests' one support package: real servers, real Ansible runs, audit logs, ports, processes.

Every suite imports from here (tests/pytest.ini puts tests/support on the path; the benchmark
scripts find it through the env.sh of tests/setup.sh). The modules:

- paths: the checkout, the virtualenv, scratch folders, the needs_root marker
- ports: free loopback ports (one, several, a preferred one, a pair, a block below the ephemeral range)
- processes: process trees, killed whole
- runs: one module or a playbook through ansible, their JSON results (tasks, recap), admin tokens
- audit: the file audit log as the record of what a run sent
- servers: OpenBao or HashiCorp Vault on loopback, dev or raft, with TLS material, a transit unsealer, mounts
"""

from .audit import (RUN_TOKEN_WRITES, audit_entries, audit_requests, run_without_writes, successful_writes,
                    write_requests)
from .paths import NEEDS_ROOT_MARKER, REPO, VENV_BIN, fail_unless_root, tmpdir
from .ports import ephemeral_low, free_port, free_port_block, free_port_pair, free_ports, port_free, preferred_port
from .processes import descendants, kill_tree
from .runs import (VAULT_UNSEAL_PLAYBOOK, _ansible_env, admin_token, assert_failed_cleanly, first_result, play_stats,
                   run_module, run_playbook, task_result, task_results)
from .servers import (ON_VAULT, SERVER, TRANSIT_POLICY, AuditedDevServer, BaoServer, FastRaftServer, bao_binary,
                      enable_audit_on_cluster, fresh_mount, make_tls, read_or_none, scratch_server, transit_seal,
                      transit_unsealer, vault_binary, wait_active, wait_http)

__all__ = [
    'AuditedDevServer', 'BaoServer', 'FastRaftServer', 'NEEDS_ROOT_MARKER', 'ON_VAULT', 'REPO', 'RUN_TOKEN_WRITES',
    'SERVER', 'TRANSIT_POLICY', 'VAULT_UNSEAL_PLAYBOOK', 'VENV_BIN', '_ansible_env', 'admin_token',
    'assert_failed_cleanly', 'audit_entries', 'audit_requests', 'bao_binary', 'descendants',
    'enable_audit_on_cluster', 'ephemeral_low', 'fail_unless_root', 'first_result', 'free_port', 'free_port_block',
    'free_port_pair', 'free_ports', 'fresh_mount', 'kill_tree', 'make_tls', 'play_stats', 'port_free',
    'preferred_port', 'read_or_none', 'run_module', 'run_playbook', 'run_without_writes', 'scratch_server',
    'successful_writes', 'task_result', 'task_results', 'tmpdir', 'transit_seal', 'transit_unsealer', 'vault_binary',
    'wait_active', 'wait_http', 'write_requests',
]
