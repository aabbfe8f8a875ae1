# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Raft autopilot configuration (sys/storage/raft/autopilot/configuration).

Internal. The configuration always exists: a read gives the server's effective values,
durations in Go's spelling (``24h0m0s``, ``10s``). Users write ``24h``, ``86400`` or
``1d``; both sides are brought to Go's spelling of a whole number of seconds before
they are compared, so a re-run with equal meaning writes nothing.

The server keeps zero values as "unset" (a ``0s`` threshold or ``max_trailing_logs: 0``
is ignored) and drops fractions of seconds, so such values could never converge: they
are refused, like ``cleanup_dead_servers`` without a ``min_quorum`` of at least 3 in
the configuration that would result. Every check runs before the one write.

:func:`role_plan` turns the role's inventory values and what it knows of the cluster
(storage type, number of raft nodes) into the settings to apply, so that the role
keeps no branching in Jinja.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.six import integer_types, string_types

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import (
    FieldError,
    go_duration_ns,
    go_duration_string,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import VaultObject

API_PATH = 'sys/storage/raft/autopilot/configuration'

DURATION_FIELDS = ('dead_server_last_contact_threshold', 'last_contact_threshold', 'server_stabilization_time')
INT_FIELDS = ('max_trailing_logs', 'min_quorum')
BOOL_FIELDS = ('cleanup_dead_servers',)
FIELDS = BOOL_FIELDS + DURATION_FIELDS + INT_FIELDS

# Autopilot refuses cleanup below this many servers, and so does the module.
MIN_QUORUM_FOR_CLEANUP = 3
# HashiCorp's recommended minimum: a joining node must load its snapshot within it.
MIN_DEAD_THRESHOLD = 60

_DAYS = re.compile(r'^(\d+)d$')
_EXAMPLE = 'for example "24h", "10s", "1h30m" or a number of seconds'


def duration_seconds(value, field):
    """Whole seconds of a duration: 86400, "86400", "24h", "86400s", "24h0m0s", "1d"."""
    if isinstance(value, bool) or value is None:
        raise FieldError('%s must be a duration, %s; got %r' % (field, _EXAMPLE, value))
    if isinstance(value, integer_types):
        seconds_ns = int(value) * 10 ** 9
    elif isinstance(value, float):
        seconds_ns = int(round(value * 10 ** 9))
    elif isinstance(value, string_types):
        text = value.strip()
        days = _DAYS.match(text)
        if re.match(r'^\d+$', text):
            seconds_ns = int(text) * 10 ** 9
        elif days:
            seconds_ns = int(days.group(1)) * 86400 * 10 ** 9
        else:
            seconds_ns = go_duration_ns(text)
        if seconds_ns is None:
            raise FieldError('%s must be a duration, %s; got %r' % (field, _EXAMPLE, value))
    else:
        raise FieldError('%s must be a duration, %s; got %r' % (field, _EXAMPLE, value))
    if seconds_ns <= 0:
        raise FieldError('%s must be more than 0 (the server ignores 0 and keeps its own value); got %r'
                         % (field, value))
    if seconds_ns % 10 ** 9:
        raise FieldError('%s must be a whole number of seconds (the server drops fractions); got %r'
                         % (field, value))
    return seconds_ns // 10 ** 9


def canonical_duration(value, field):
    """Go's spelling of a duration, as the server answers it: "24h" -> "24h0m0s"."""
    return go_duration_string(duration_seconds(value, field) * 10 ** 9)


def positive_int(value, field, minimum=1, why='the server ignores 0 and keeps its own value'):
    if isinstance(value, bool):
        raise FieldError('%s must be a whole number, got %r' % (field, value))
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise FieldError('%s must be a whole number, got %r' % (field, value))
    if isinstance(value, float) and number != value:
        raise FieldError('%s must be a whole number, got %r' % (field, value))
    if number < minimum:
        raise FieldError('%s must be at least %d (%s); got %r' % (field, minimum, why, value))
    return number


def normalise_setting(field, value):
    """Canonical form of one setting, from the user or from the server."""
    if field in BOOL_FIELDS:
        if not isinstance(value, bool):
            raise FieldError('%s must be true or false, got %r' % (field, value))
        return value
    if field in DURATION_FIELDS:
        return canonical_duration(value, field)
    if field == 'min_quorum':
        return positive_int(value, field, MIN_QUORUM_FOR_CLEANUP,
                            'autopilot needs at least 3 servers to prune dead ones')
    return positive_int(value, field)


def wanted_settings(params):
    """The settings the user gave, canonical; a FieldError names the first bad field."""
    wanted = {}
    for field in FIELDS:
        if params.get(field) is not None:
            wanted[field] = normalise_setting(field, params[field])
    if 'dead_server_last_contact_threshold' in wanted:
        seconds = duration_seconds(params['dead_server_last_contact_threshold'], 'dead_server_last_contact_threshold')
        if seconds < MIN_DEAD_THRESHOLD:
            raise FieldError('dead_server_last_contact_threshold must be at least 1m: a node that joins must load '
                             'its snapshot before it counts as dead; got %r'
                             % params['dead_server_last_contact_threshold'])
    return wanted


def current_settings(data):
    """The server's answer in canonical form (fields it does not have are left out)."""
    current = {}
    for field in FIELDS:
        if field not in data or data[field] is None:
            continue
        value = data[field]
        if field in BOOL_FIELDS:
            current[field] = bool(value)
        elif field in DURATION_FIELDS:
            ns = go_duration_ns(value) if isinstance(value, string_types) else None
            current[field] = go_duration_string(ns) if ns is not None else value
        else:
            current[field] = int(value)
    return current


def check_result(current, wanted):
    """Refuse a configuration that the server would refuse or ignore, judged on the result of
    the write (current values the user did not name stay)."""
    after = dict(current or {})
    after.update(wanted)
    if after.get('cleanup_dead_servers') and int(after.get('min_quorum') or 0) < MIN_QUORUM_FOR_CLEANUP:
        raise FieldError('cleanup_dead_servers: true needs min_quorum of at least 3 (the server has %s): set '
                         'min_quorum to the number of raft voters, or cleanup_dead_servers: false'
                         % (after.get('min_quorum') or 0))
    return after


def request_body(wanted):
    """The JSON body of the write: durations as Go strings, the rest as is."""
    return dict(wanted)


class AutopilotConfig(VaultObject):
    kind = 'raft autopilot configuration'

    argument_spec = dict(
        cleanup_dead_servers=dict(type='bool'),
        dead_server_last_contact_threshold=dict(type='raw'),
        last_contact_threshold=dict(type='raw'),
        max_trailing_logs=dict(type='int'),
        min_quorum=dict(type='int'),
        server_stabilization_time=dict(type='raw'),
    )

    def __init__(self, api, params):
        super(AutopilotConfig, self).__init__(api, params)
        self._wanted = None

    @property
    def name(self):
        return API_PATH

    def validate(self):
        self._wanted = wanted_settings(self.params)
        # cleanup_dead_servers and min_quorum both given: judged now, before any request.
        if 'cleanup_dead_servers' in self._wanted and 'min_quorum' in self._wanted:
            check_result({}, self._wanted)

    def read(self):
        try:
            body = self.api.read(API_PATH)
        except VaultRequestError as exc:
            if exc.status == 404:
                raise VaultRequestError('%s (autopilot needs raft integrated storage; this server has another '
                                        'storage)' % exc, status=exc.status, errors=exc.errors)
            raise
        if body is None:
            raise FieldError('%s answered 404: autopilot needs raft (integrated) storage' % API_PATH)
        return current_settings(body.get('data') or {})

    def desired(self):
        return dict(self._wanted if self._wanted is not None else wanted_settings(self.params))

    def changes(self, current, wanted):
        check_result(current, wanted)
        return super(AutopilotConfig, self).changes(current, wanted)

    def create(self, wanted):
        self.api.write(API_PATH, request_body(wanted))

    def update(self, current, wanted, changed_fields):
        # Only what differs is sent: the server keeps every field the body leaves out.
        self.api.write(API_PATH, request_body(dict((field, wanted[field]) for field in changed_fields)))

    def extra_result(self):
        """The configuration as the server has it now (after the write; unchanged in check mode)."""
        return {'config': self.read()}


# ------------------------------------------------------------------ the role's plan
def _count(value, field):
    if isinstance(value, (list, tuple)):
        return len(value)
    return positive_int(value, field, 0, 'a count')


def role_plan(settings, storage_type='raft', raft_nodes=1, enabled=True, prefix=''):
    """What the role vault_unseal applies, from its inventory values.

    ``settings`` maps the setting names (without the role prefix) to the inventory values,
    ``None`` meaning "the default". HA defaults for a cluster of 3 or more raft nodes:
    ``cleanup_dead_servers: true`` with ``min_quorum`` = the number of nodes; the other
    defaults are in ``settings`` already (``dead_server_last_contact_threshold: 24h``).

    Returns ``{'apply': bool, 'reason': str, 'settings': {...}}``; settings hold only the
    fields to manage (no ``None``). Storage other than raft, and clusters of fewer than 3
    raft nodes (dead server cleanup needs 3), are skipped: autopilot is left as it is;
    ``cleanup_dead_servers: true`` asked for there is an error. ``prefix`` (the role's
    variable prefix) is put before the field names of error messages.
    """
    try:
        return _role_plan(settings, storage_type, raft_nodes, enabled)
    except FieldError as exc:
        raise FieldError(prefix + str(exc))


def _role_plan(settings, storage_type, raft_nodes, enabled):
    nodes = _count(raft_nodes, 'raft_nodes')
    storage = (storage_type or 'raft').strip().lower()
    settings = dict((key, value) for key, value in (settings or {}).items()
                    if key in FIELDS and value is not None and value != '')
    if not enabled:
        return {'apply': False, 'reason': 'autopilot management is disabled', 'settings': {}}
    if storage != 'raft':
        return {'apply': False, 'reason': 'storage is %s, not raft: no autopilot' % storage, 'settings': {}}
    if nodes < MIN_QUORUM_FOR_CLEANUP:
        if settings.get('cleanup_dead_servers'):
            raise FieldError('cleanup_dead_servers: true needs at least 3 raft nodes, the '
                             'inventory has %d: leave it unset (or false) below 3 nodes' % nodes)
        return {'apply': False, 'reason': '%d raft node(s): dead server cleanup needs at least 3, autopilot left '
                                          'as it is' % nodes, 'settings': {}}
    if settings.get('cleanup_dead_servers') is None:
        settings['cleanup_dead_servers'] = True
    if settings.get('min_quorum') is None and settings['cleanup_dead_servers']:
        settings['min_quorum'] = nodes
    # Checked the way the module will check them, so the run stops before any write.
    wanted_settings(settings)
    check_result({}, settings)
    return {'apply': True, 'reason': '%d raft nodes' % nodes, 'settings': settings}
