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

from ansible_collections.vaultkube.platform.plugins.module_utils._names import InvalidName, vault_name, vault_path

_DURATION_PART = re.compile(r'(\d+(?:\.\d+)?)(ms|s|m|h|d)')
_UNITS = {'ms': 0.001, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}


class FieldError(ValueError):
    """A user value that cannot mean what its field needs."""


def checked_name(value, field):
    """``value`` if it is one Vault object name (policy, role, connection: no slash, no
    wildcard, glob, template or URL character, checked whole); else FieldError naming field."""
    try:
        return vault_name(value, field)
    except InvalidName as exc:
        raise FieldError(str(exc))


def checked_path(value, field):
    """``value`` without its end slashes if every segment is a plain Vault path segment
    (no ``+``/``*`` wildcard, no ``.``/``..``, no ``?``, ``#``, ``%``, ``{``, space or newline);
    else FieldError naming field. Used for mount paths and KV paths that go into a URL."""
    try:
        return vault_path(value, field)
    except InvalidName as exc:
        raise FieldError(str(exc))


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
    if re.fullmatch(r'\d+', text):
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


# ---------------------------------------------------------------- Kubernetes objects
# The API server (and the controllers' conversion webhooks) store some values in a
# canonical form of their own: a Go duration written "1h" is read back as "1h0m0s", a
# quantity "1024Mi" as "1Gi". Defaulted fields the user never wrote appear too. A
# declared object matches the live one when every value the user declared is there,
# equal or in the server's canonical spelling of it.

_GO_DURATION_PART = re.compile(r'(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)')
_GO_UNITS_NS = {'ns': 1, 'us': 1000, u'\u00b5s': 1000, u'\u03bcs': 1000, 'ms': 10 ** 6,
                's': 10 ** 9, 'm': 60 * 10 ** 9, 'h': 3600 * 10 ** 9}
_QUANTITY = re.compile(r'([+-]?(?:\d+(?:\.\d*)?|\.\d+))(|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)')
_QUANTITY_FACTORS = {'': 1, 'm': 0.001, 'k': 10 ** 3, 'M': 10 ** 6, 'G': 10 ** 9, 'T': 10 ** 12,
                     'P': 10 ** 15, 'E': 10 ** 18, 'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30,
                     'Ti': 2 ** 40, 'Pi': 2 ** 50, 'Ei': 2 ** 60}
# Keys whose values the API server treats as resource quantities.
_QUANTITY_PARENTS = frozenset(['limits', 'requests', 'capacity', 'allocatable', 'hard', 'used'])


def go_duration_ns(text):
    """Nanoseconds of a Go duration ("1h", "1h0m0s", "90s", "1.5m"), or None if it is not one."""
    if not isinstance(text, string_types):
        return None
    text = text.strip()
    sign = 1
    if text[:1] in ('+', '-'):
        sign = -1 if text[0] == '-' else 1
        text = text[1:]
    if text == '0':
        return 0
    pos, total = 0, 0
    for match in _GO_DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += int(round(float(match.group(1)) * _GO_UNITS_NS[match.group(2)]))
        pos = match.end()
    if not text or pos != len(text):
        return None
    return sign * total


def go_duration_string(nanoseconds):
    """Go's time.Duration.String() of a number of nanoseconds: 3600e9 -> "1h0m0s"."""
    if nanoseconds == 0:
        return '0s'
    sign = '-' if nanoseconds < 0 else ''
    value = abs(int(nanoseconds))
    if value < 10 ** 9:
        for unit, size in (('ms', 10 ** 6), (u'\u00b5s', 1000), ('ns', 1)):
            if value >= size:
                return sign + _trim_fraction(value, size) + unit
    hours, rest = divmod(value, 3600 * 10 ** 9)
    minutes, rest = divmod(rest, 60 * 10 ** 9)
    seconds = _trim_fraction(rest, 10 ** 9) + 's'
    if hours:
        return '%s%dh%dm%s' % (sign, hours, minutes, seconds)
    if minutes:
        return '%s%dm%s' % (sign, minutes, seconds)
    return sign + seconds


def _trim_fraction(value, size):
    whole, fraction = divmod(value, size)
    if not fraction:
        return str(whole)
    digits = len(str(size)) - 1
    return ('%d.%0*d' % (whole, digits, fraction)).rstrip('0')


def quantity_value(text):
    """The number a Kubernetes quantity stands for ("1Gi", "500m", "1e3"), or None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, integer_types + (float,)):
        return float(text)
    if not isinstance(text, string_types):
        return None
    match = _QUANTITY.fullmatch(text.strip())
    if not match:
        return None
    number, suffix = float(match.group(1)), match.group(2)
    if suffix[:1] in ('e', 'E'):
        return number * (10 ** int(suffix[1:]))
    return number * _QUANTITY_FACTORS[suffix]


def _same_scalar(live, wanted, parent):
    if live == wanted:
        return True
    if isinstance(wanted, string_types) and isinstance(live, string_types):
        wanted_ns = go_duration_ns(wanted)
        # Only the server's own spelling of the declared duration counts as equal, so a
        # string that merely looks like a duration (an env value) still compares as text.
        if wanted_ns is not None and live == go_duration_string(wanted_ns):
            return True
    if parent in _QUANTITY_PARENTS:
        live_q, wanted_q = quantity_value(live), quantity_value(wanted)
        if live_q is not None and wanted_q is not None:
            return abs(live_q - wanted_q) <= 1e-9 * max(abs(live_q), abs(wanted_q), 1)
    return False


def object_differences(live, wanted, path='', parent=''):
    """Paths (dotted, list items as [i]) where ``live`` lacks a value declared in ``wanted``.

    Mappings compare on the declared keys only (the server adds defaults and status);
    lists compare item by item and must have the same length; scalars compare equal,
    or as the server's canonical spelling of a duration or a quantity."""
    if isinstance(wanted, dict):
        if not isinstance(live, dict):
            return [path or '.']
        found = []
        for key in sorted(wanted):
            sub = '%s.%s' % (path, key) if path else str(key)
            if key not in live:
                if wanted[key] in (None, {}, []):
                    continue
                found.append(sub)
                continue
            # A scalar is judged by the key of the mapping holding it (limits.memory: a quantity).
            child_parent = key if isinstance(wanted[key], (dict, list, tuple)) else parent
            found.extend(object_differences(live[key], wanted[key], sub, child_parent))
        return found
    if isinstance(wanted, (list, tuple)):
        if not isinstance(live, list) or len(live) != len(wanted):
            return [path or '.']
        found = []
        for index, item in enumerate(wanted):
            found.extend(object_differences(live[index], item, '%s[%d]' % (path, index), parent))
        return found
    if wanted is None:
        return [] if live in (None, {}, [], '') else [path or '.']
    return [] if _same_scalar(live, wanted, parent) else [path or '.']
