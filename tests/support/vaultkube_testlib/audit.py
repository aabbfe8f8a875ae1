# -*- coding: utf-8 -*-
"""Vault's file audit log as the record of what a run sent: complete entries, requests, writes."""

from __future__ import annotations

import json

from .runs import run_module


# The write a vault_unseal run sends for its own short-lived admin token (an orphan token made from
# the key custody; the role alone leaves it to its TTL, site.yml revokes it with tasks_from: revoke):
# the only write a converged re-run of the role may send.
RUN_TOKEN_WRITES = ['update auth/token/create-orphan']


def run_without_writes(server, module: str, args: dict, what='', **kw) -> dict:
    """run_module that also fails unless the server's audit log shows no write request from the run
    (a re-run of converged state, a check-mode run, a refused input): Vault's record, not the module's."""
    with server.no_writes(what or '%s%s' % (module, ' in check mode' if kw.get('check') else '')):
        return run_module(module, args, **kw)


def audit_entries(audit_log, mark=0, end=None):
    """Every complete entry of a JSON-lines audit log (Vault's file device, the API server's log)
    from byte offset MARK (up to byte END), as dicts. The server may be writing a line right now:
    a last line without its newline is left for the next read, and a line that began before MARK
    (a mark taken while it was being written) is left to the read before."""
    with open(audit_log, 'rb') as handle:
        handle.seek(max(mark - 1, 0))
        text = handle.read(None if end is None else end - max(mark - 1, 0))
    if mark > 0:
        # From the byte before MARK: up to its first newline is the line MARK does not start (or that
        # byte alone, the newline ending the line before MARK).
        text = text[text.find(b'\n') + 1:]
    complete = text[:text.rfind(b'\n') + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def audit_requests(audit_log, mark=0):
    """Every request entry of a file audit log from byte offset MARK, as "operation path"
    (a request entry is logged before the server handles it: refused ones too)."""
    return ['%s %s' % ((entry.get('request') or {}).get('operation'), (entry.get('request') or {}).get('path'))
            for entry in audit_entries(audit_log, mark) if entry.get('type') == 'request']


def write_requests(audit_log, mark=0):
    """Every create/update/delete request entry of a file audit log from byte offset MARK, as
    "operation path" (a request entry is logged before the server handles it: refused ones too)."""
    return [line for line in audit_requests(audit_log, mark)
            if line.split(' ', 1)[0] in ('create', 'update', 'delete')]


def successful_writes(audit_log, mark=0):
    """{token accessor: ["update sys/policies/acl/x", ...]}: every create, update and delete
    request that succeeded, from the audit log of an AuditedDevServer (from byte offset MARK)."""
    found = {}
    for entry in audit_entries(audit_log, mark):
        request = entry.get('request') or {}
        if entry.get('type') != 'response' or entry.get('error'):
            continue
        if request.get('operation') not in ('create', 'update', 'delete'):
            continue
        accessor = (entry.get('auth') or {}).get('accessor')
        found.setdefault(accessor, []).append('%s %s' % (request['operation'], request.get('path')))
    return found
