# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The supervisor of a kubectl port-forward, and the pure rules it follows.

Internal. Standard library only: kubernetes_port_forward runs this file's source as a
detached ``python -c`` process (the supervisor), which starts kubectl as its child and
stops it when the first of these comes:

- the forward's lifetime has passed (a deadline fixed when the forward opens);
- the owner process is gone: the Ansible process that runs the play (the topmost
  ``ansible-playbook`` / ``ansible`` among the module's ancestors; the worker right
  below it ends with each task), recognised by its pid AND its start time, so that a
  recycled pid does not keep the forward alive;
- kubectl itself exits (the pod went away), or the supervisor gets TERM/INT.

kubectl also gets the parent-death signal (Linux ``prctl(PR_SET_PDEATHSIG)``): a
supervisor killed with SIGKILL takes its kubectl with it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import select
import signal
import sys
import time

try:
    from urllib.parse import urlsplit
except ImportError:  # Python 2
    from urlparse import urlsplit  # pylint: disable=import-error

# Names our supervisor processes on their command line, so that state=absent never
# signals another program.
MARKER = 'vaultkube-port-forward'

# The Ansible programs whose process outlives the tasks of a run.
ANSIBLE_CLIS = frozenset(['ansible', 'ansible-playbook', 'ansible-console', 'ansible-pull'])

# Seconds between two checks of the owner and the deadline, and granted to kubectl
# between TERM and KILL.
POLL_SECONDS = 1.0
STOP_GRACE_SECONDS = 3.0

_FORWARDING = re.compile(r'Forwarding from (\S+):(\d+) -> \d+')
_PR_SET_PDEATHSIG = 1


def parse_stat(text):
    """(ppid, start time in clock ticks, state letter) from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may hold spaces or ')', so the
    fields are counted from the last ')'.
    """
    fields = text.rsplit(')', 1)[1].split()
    return int(fields[1]), int(fields[19]), fields[0]


def read_stat(pid):
    """parse_stat of a process, or None when it does not exist (or /proc is absent)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return parse_stat(handle.read())
    except (IOError, OSError, IndexError, ValueError):
        return None


def read_argv(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return [arg.decode('utf-8', 'replace') for arg in handle.read().split(b'\0') if arg]
    except (IOError, OSError):
        return []


def is_ansible_cli(argv):
    """True when a command line is an Ansible program (run directly or by a Python interpreter)."""
    for arg in argv[:2]:
        if os.path.basename(arg) in ANSIBLE_CLIS:
            return True
    return False


def pick_owner(chain):
    """The owner among ancestors: chain is [(pid, argv), ...] from the nearest ancestor up.

    Returns the pid of the topmost Ansible program of the first unbroken run of them
    (ansible-playbook's worker is a fork of ansible-playbook with the same command line
    and ends with its task; the process above it is the run), or None when no ancestor
    is an Ansible program (the module runs on a remote host, or outside Ansible).
    """
    owner = None
    for pid, argv in chain:
        if is_ansible_cli(argv):
            owner = pid
        elif owner is not None:
            break
    return owner


def ancestors(pid, limit=64):
    """[(pid, argv), ...] of the ancestors of pid, nearest first (stops at pid 1)."""
    chain = []
    stat = read_stat(pid)
    while stat is not None and stat[0] > 1 and len(chain) < limit:
        pid = stat[0]
        chain.append((pid, read_argv(pid)))
        stat = read_stat(pid)
    return chain


def find_owner(pid=None):
    """(pid, start time) of the Ansible run that started this process, or None."""
    owner = pick_owner(ancestors(os.getpid() if pid is None else pid))
    if owner is None:
        return None
    stat = read_stat(owner)
    return None if stat is None else (owner, stat[1])


def owner_alive(owner, stat_of=read_stat):
    """Whether the owner (pid, start time) still runs; True when there is no owner to watch."""
    if not owner:
        return True
    stat = stat_of(owner[0])
    return stat is not None and stat[1] == owner[1] and stat[2] not in ('Z', 'X')


def lifetime_error(lifetime):
    """A one-line reason why a lifetime is refused, or None."""
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime < 1:
        return ('lifetime must be a whole number of seconds of at least 1 (got %r): set it longer than the '
                'play needs the forward' % (lifetime,))
    return None


def deadline(started, lifetime):
    """Monotonic time at which a forward opened at started closes by itself."""
    error = lifetime_error(lifetime)
    if error:
        raise ValueError(error)
    return started + lifetime


def stop_reason(now, end, owner, alive=owner_alive):
    """Why the forward must stop now ('lifetime', 'owner'), or None to keep it."""
    if now >= end:
        return 'lifetime'
    if not alive(owner):
        return 'owner'
    return None


def forwarding_port(line):
    """The local port of kubectl's "Forwarding from 127.0.0.1:39211 -> 8200" line, or None."""
    match = _FORWARDING.match(line)
    return int(match.group(2)) if match else None


#: The port a Vault URL means when it names none (Vault's listener default, not the scheme's).
VAULT_DEFAULT_PORT = 8200


def vault_url_parts(url, field='url'):
    """(scheme, port) of the Vault URL as the inventory knows it; the port is VAULT_DEFAULT_PORT
    when the URL names none. Raises ValueError with a one-line reason naming field."""
    try:
        parts = urlsplit(url or '')
        port = parts.port
    except ValueError as exc:
        raise ValueError('%s %r is not a valid URL (%s): give scheme://host:port, for example '
                         'https://vault.vault.svc:8200' % (field, url, exc))
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        raise ValueError('%s %r must be an http:// or https:// URL with a host, for example '
                         'https://vault.vault.svc:8200' % (field, url))
    return parts.scheme, port or VAULT_DEFAULT_PORT


def forwarded_url(scheme, address, port):
    """The URL a client on this host uses to reach the forward: the scheme of Vault's own URL
    (TLS stays end to end), the forward's local address (bracketed when IPv6) and port."""
    host = '[%s]' % address if ':' in address and not address.startswith('[') else address
    return '%s://%s:%d' % (scheme, host, port)


def _set_parent_death_signal(sig):
    """Linux: the calling process gets sig when its parent ends. False where not available."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except Exception:  # pylint: disable=broad-except
        return False


def supervise(argv, lifetime, report_fd, owner):
    """Run kubectl argv; report '<pid> <port>' or 'error <text>' on report_fd; stop it by the rules."""
    end = deadline(time.monotonic(), lifetime)
    supervisor = os.getpid()
    out_r, out_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            _set_parent_death_signal(signal.SIGKILL)
            if os.getppid() != supervisor:
                os._exit(1)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.closerange(3, 256)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    os.close(out_w)
    state = {'status': None}

    def alive():
        if state['status'] is None:
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid:
                state['status'] = status
        return state['status'] is None

    def stop(*_args):
        if alive():
            os.kill(child, signal.SIGTERM)
            limit = time.monotonic() + STOP_GRACE_SECONDS
            while alive() and time.monotonic() < limit:
                time.sleep(0.05)
            if alive():
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)
    buffered, last_lines, reported = b'', [], False
    while stop_reason(time.monotonic(), end, owner) is None:
        ready = select.select([out_r], [], [], POLL_SECONDS)[0]
        if not ready:
            if not alive():
                break
            continue
        chunk = os.read(out_r, 4096)
        if not chunk:
            break
        buffered += chunk
        while b'\n' in buffered:
            line, buffered = buffered.split(b'\n', 1)
            text = line.decode('utf-8', 'replace').strip()
            last_lines = (last_lines + [text])[-5:]
            port = forwarding_port(text)
            if port is not None and not reported:
                os.write(report_fd, ('%d %d %d\n' % (supervisor, port, child)).encode())
                os.close(report_fd)
                reported = True
    if not reported:
        alive()
        message = ' | '.join(line for line in last_lines if line) or 'kubectl exited (%s)' % state['status']
        try:
            os.write(report_fd, ('error %s\n' % message).encode('utf-8', 'replace'))
            os.close(report_fd)
        except OSError:
            pass
    stop()


def main(args=None):
    """Entry of the supervisor: MARKER <argv json> <lifetime> <report fd> <owner pid> <owner start>."""
    args = sys.argv[1:] if args is None else args
    argv, lifetime, report_fd = json.loads(args[1]), int(args[2]), int(args[3])
    owner = (int(args[4]), int(args[5])) if int(args[4]) > 0 else None
    os.set_inheritable(report_fd, False)
    supervise(argv, lifetime, report_fd, owner)
