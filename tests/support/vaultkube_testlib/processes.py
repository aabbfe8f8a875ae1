# -*- coding: utf-8 -*-
"""Process trees: find and kill everything below a process (ansible's workers leave its session)."""

from __future__ import annotations

import os
import signal


def descendants(pid: int) -> list:
    """Every live process below pid (by parent id; ansible's workers leave its session)."""
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(')') + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int) -> int:
    """SIGKILL pid and every process below it; returns how many were killed.

    ansible-playbook's workers call setsid(), so killing its process group misses them
    and the modules they run. The tree is stopped first (SIGSTOP, repeated until no new
    process appears) so that nothing forks away while it is being killed."""
    stopped = set()
    while True:
        tree = [pid] + descendants(pid)
        new = [p for p in tree if p not in stopped]
        if not new:
            break
        for member in new:
            try:
                os.kill(member, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            stopped.add(member)
    for member in stopped:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(stopped)
