# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one comparison helper of the collection.

Vault answers in its own canonical forms: TTLs in seconds, lists in its own
order, booleans as booleans. Users write ``1h``, ``"3600"`` or ``60m``. Every
module (and ``vault_config``) normalises both sides through the same field
kinds here before comparing, so a re-run with equal meaning is never a change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible.module_utils.six import integer_types, string_types

_DURATION_PART = re.compile(r'(\d+(?:\.\d+)?)(ms|s|m|h|d)')
_UNITS = {'ms': 0.001, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}


class FieldError(ValueError):
    """A user value that cannot mean what its field needs."""


def secret_leaves(value):
    """Every scalar inside a secret option's value, as text, for no_log_values.

    Ansible lists the no_log values of a module BEFORE it converts the options to
    their types: a dict given as JSON text (a file lookup, a variable holding JSON)
    is registered as that one string, and the values inside it, once parsed, would
    be printed in clear in the module invocation (-v). Walking the converted value
    registers each of them, nested ones included."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set)):
            stack.extend(item)
        elif item is None or isinstance(item, bool):
            continue
        elif isinstance(item, string_types):
            if item:
                found.append(item)
        elif isinstance(item, bytes):
            if item:
                found.append(item.decode('utf-8', 'replace'))
        else:
            found.append(str(item))
    return found


def mask_secret_options(module):
    """Register the parsed content of every no_log option of a module as secret."""
    for name, spec in module.argument_spec.items():
        if spec.get('no_log') and module.params.get(name) is not None:
            module.no_log_values.update(secret_leaves(module.params[name]))


def read_text_file(path, option):
    """The content of a file named by an option; a one-line error naming it if unreadable."""
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        raise FieldError('%s %s cannot be read: %s' % (option, path, exc.strerror))


def ttl_seconds(value, field='ttl'):
    """Seconds for a Vault duration: 3600, "3600", "1h", "1h30m", "90s", "2d"."""
    if value is None or value == '':
        return 0
    if isinstance(value, bool):
        raise FieldError('%s must be a duration such as 3600, "1h" or "30m", got %r' % (field, value))
    if isinstance(value, integer_types):
        return int(value)
    if isinstance(value, float):
        return int(value)
    text = str(value).strip().lower()
    if re.match(r'^\d+$', text):
        return int(text)
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise FieldError('%s must be a duration such as 3600, "1h" or "30m", got %r' % (field, value))
    return int(total)


def _as_list(value):
    if value is None or value == '':
        return []
    if isinstance(value, string_types):
        return [item.strip() for item in value.split(',') if item.strip()]
    return list(value)


def normalise(kind, value, field='value'):
    """Canonical form of ``value`` for a field of the given kind.

    Kinds: ``ttl`` (seconds), ``set`` (order-insensitive list of strings),
    ``list`` (ordered list), ``bool``, ``int``, ``str`` (stripped of trailing
    white space), ``text`` (trailing newlines ignored), ``pem`` (PEM blocks:
    blank lines and white space around lines ignored), ``json`` (canonical
    JSON text that keeps JSON types apart: ``1`` differs from ``"1"`` and from
    ``true``, while ``1`` equals ``1.0`` as it does once Vault stored it),
    ``raw`` (as is).
    """
    if kind == 'ttl':
        return ttl_seconds(value, field)
    if kind == 'set':
        return sorted(set(str(item) for item in _as_list(value)))
    if kind == 'list':
        return [str(item) for item in _as_list(value)]
    if kind == 'bool':
        return bool(value) if value is not None else False
    if kind == 'int':
        return int(value) if value not in (None, '') else 0
    if kind == 'str':
        return '' if value is None else str(value).rstrip()
    if kind == 'text':
        text = '' if value is None else str(value).rstrip()
        return text + '\n' if text else ''
    if kind == 'dict':
        return dict(value or {})
    if kind == 'pem':
        return _pem(value)
    if kind == 'json':
        return json.dumps(_json_canonical(value), sort_keys=True, separators=(',', ':'))
    return value


def _pem(value):
    lines = [line.strip() for line in ('' if value is None else str(value)).splitlines()]
    text = '\n'.join(line for line in lines if line)
    return text + '\n' if text else ''


def _json_canonical(value):
    # Vault keeps JSON numbers as float64: 1 and 1.0 are the same stored value.
    # bool is an int subclass in Python, so it must be kept apart explicitly.
    if isinstance(value, bool) or value is None or isinstance(value, string_types):
        return value
    if isinstance(value, (integer_types, float)):
        try:
            return float(value)
        except OverflowError:
            return str(value)
    if isinstance(value, dict):
        return dict((str(key), _json_canonical(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_json_canonical(item) for item in value]
    return str(value)


def normalise_fields(fields, data, only=None):
    """Normalise the fields of ``data`` named in ``fields`` ({name: kind}).

    With ``only``, keep just those names (the ones the user set); fields absent
    from ``data`` are left out rather than invented.
    """
    out = {}
    for name, kind in fields.items():
        if only is not None and name not in only:
            continue
        if name in data:
            out[name] = normalise(kind, data[name], name)
    return out


def differences(current, wanted):
    """Names of the fields of ``wanted`` whose value differs in ``current``.

    Fields the user did not set are not in ``wanted`` and never count: Vault's
    defaults for them are left alone.
    """
    current = current or {}
    return sorted(name for name, value in wanted.items() if current.get(name) != value)


def merge_for_diff(current, wanted):
    """The state after applying ``wanted`` over ``current``, for diff output."""
    after = dict(current or {})
    after.update(wanted)
    return after
