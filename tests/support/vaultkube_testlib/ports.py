# -*- coding: utf-8 -*-
"""Free loopback ports: one, several at once, a preferred one, a pair, a block below the kernel's
ephemeral range. Every helper of the suites takes its ports from here."""

from __future__ import annotations

import contextlib
import socket

LOOPBACK = '127.0.0.1'


def free_port() -> int:
    """A port the kernel reports free now (any may take it before the caller binds it)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list:
    """COUNT distinct free ports (all held open together while they are chosen)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _index in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind((LOOPBACK, 0))
            ports.append(sock.getsockname()[1])
        return ports


def port_free(port: int) -> bool:
    """Whether a listener could bind PORT on loopback now."""
    with socket.socket() as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def preferred_port(preferred: int) -> int:
    """PREFERRED when it is free, else any free port."""
    return preferred if port_free(preferred) else free_port()


def free_port_pair(attempts: int = 200) -> int:
    """A port P with P+1 free too (Vault's API and cluster ports)."""
    for _attempt in range(attempts):
        port = free_port()
        if port < 65535 and port_free(port) and port_free(port + 1):
            return port
    raise RuntimeError('no free pair of loopback ports')


def ephemeral_low() -> int:
    """The first port the kernel hands out to outgoing connections: a listener chosen at or above
    it can be taken by any client between the check and the bind (seen in CI: an ESO metrics port)."""
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range', encoding='utf-8') as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_block(offsets, start: int = 20000, stop: int = None, step: int = 100) -> int:
    """A base B from START by STEP such that B+o is free for every o in OFFSETS, below the
    kernel's ephemeral range (STOP, default 100 below its first port)."""
    offsets = list(offsets)
    stop = stop or ephemeral_low() - 100
    for base in range(start, stop, step):
        if all(port_free(base + offset) for offset in offsets):
            return base
    raise RuntimeError('no free block of %d loopback ports below %d' % (len(offsets), stop))
