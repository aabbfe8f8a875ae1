# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Names and paths from the inventory, checked whole and rendered through a serializer.

Internal. Every inventory value that becomes part of a Vault policy path, a Kubernetes
name or an HCL/JSON document goes through one of these checks first, so a value cannot
widen a policy (Vault's ACL treats a segment ``+`` and a trailing ``*`` as wildcards) or
change the shape of a document. Patterns are matched against the whole string
(``fullmatch``): ``$`` in a Python pattern also matches before a trailing newline.

Policies are written from data (``policy_hcl``): every string is quoted by ``hcl_string``,
never pasted into HCL text.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

# Kubernetes: a namespace or a label value is a DNS label (RFC 1123), most other
# names (ServiceAccount, SecretStore, ClusterRoleBinding) a DNS subdomain.
DNS_LABEL = re.compile(r'[a-z0-9]([-a-z0-9]*[a-z0-9])?')
DNS_SUBDOMAIN = re.compile(r'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')
# One segment of a Vault path the inventory names (a KV folder, a mount): no ACL
# wildcard (+, *), no glob or template character ({, }, [, ], ?), no . or .. segment.
PATH_SEGMENT = re.compile(r'[A-Za-z0-9_@=-][A-Za-z0-9_.@=-]*')
# A Vault object name (policy, role, mount without slashes).
VAULT_NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.@-]*')
CAPABILITIES = ('create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny', 'subscribe', 'recover')


class InvalidName(ValueError):
    """A value that cannot be used where it is meant to go; the message names the field."""


def matches(pattern, value):
    """True when ``value`` is a string that ``pattern`` matches whole (no trailing newline)."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def dns_label(value, field):
    if not matches(DNS_LABEL, value) or len(value) > 63:
        raise InvalidName('%s must be a Kubernetes name (lower-case letters, digits and -, starting and ending with a '
                          'letter or digit, at most 63 characters), got %r' % (field, value))
    return value


def dns_subdomain(value, field):
    if not matches(DNS_SUBDOMAIN, value) or len(value) > 253:
        raise InvalidName('%s must be a Kubernetes name (lower-case letters, digits, - and ., at most 253 '
                          'characters), got %r' % (field, value))
    return value


def vault_name(value, field):
    if not matches(VAULT_NAME, value) or len(value) > 128:
        raise InvalidName('%s must be a Vault name (letters, digits and _ . @ -, no slash or wildcard), got %r'
                          % (field, value))
    return value


def vault_path(value, field, allow_empty=False):
    """A Vault path the inventory names (KV folder, mount path), slashes at the ends removed.
    Each segment is checked whole: no wildcard, glob or template character, no . or .."""
    if not isinstance(value, str):
        raise InvalidName('%s must be a string path such as "team-a/app", got %r' % (field, value))
    stripped = value.strip('/')
    if not stripped:
        if allow_empty:
            return ''
        raise InvalidName('%s must name a path such as "team-a/app", got %r' % (field, value))
    for segment in stripped.split('/'):
        if segment in ('', '.', '..') or not matches(PATH_SEGMENT, segment):
            raise InvalidName('%s %r has the segment %r: use letters, digits and _ . @ = - between single slashes '
                              '(no wildcard such as + or *, no empty, . or .. segment)' % (field, value, segment))
    return stripped


def kubernetes_name(value, field):
    """A Kubernetes object name as it goes into an API path: what the API server accepts as a
    path segment (never ``.`` or ``..``, no ``/`` or ``%``), and no whitespace or control
    character. Kinds differ in what else they allow (``system:auth-delegator``), so no more."""
    if not isinstance(value, str) or not value or value in ('.', '..') or len(value) > 253 \
            or any(char in value for char in '/%') or any(char.isspace() or ord(char) < 32 for char in value):
        raise InvalidName('%s must be a Kubernetes object name (no "/", "%%", whitespace, and not . or ..), got %r'
                          % (field, value))
    return value


def hcl_string(value):
    """``value`` as a quoted HCL string. JSON's quoting is HCL's for everything but ``${``
    (an interpolation in HCL 1), which no name or path of ours needs: refused."""
    if not isinstance(value, str):
        raise InvalidName('an HCL string must be text, got %r' % (value,))
    if '${' in value or '%{' in value:
        raise InvalidName('%r holds a template sequence (${ or %%{), which HCL would interpret' % value)
    return json.dumps(value, ensure_ascii=False)


def policy_hcl(rules, comment=None):
    """An ACL policy from data: ``rules`` is a list of ``{'path': str, 'capabilities': [str]}``.
    Paths are quoted, never pasted; capabilities are checked against Vault's list."""
    lines = []
    if comment:
        for line in str(comment).splitlines():
            lines.append('# ' + line)
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict) or not isinstance(rule.get('path'), str) or not rule.get('path'):
            raise InvalidName('policy rule %d needs a path, got %r' % (index, rule))
        capabilities = rule.get('capabilities') or []
        if not isinstance(capabilities, list) or not capabilities:
            raise InvalidName('policy rule %d (%s) needs a list of capabilities' % (index, rule['path']))
        for capability in capabilities:
            if capability not in CAPABILITIES:
                raise InvalidName('policy rule %d (%s) has the capability %r: use one of %s'
                                  % (index, rule['path'], capability, ', '.join(CAPABILITIES)))
        lines.append('path %s {' % hcl_string(rule['path']))
        lines.append('  capabilities = [%s]' % ', '.join(hcl_string(c) for c in capabilities))
        lines.append('}')
    return '\n'.join(lines) + '\n'


def kv_reader_rules(kv_mount, folder):
    """The policy rules of a reader of the KV v2 secrets below ``<kv_mount>/<folder>/`` (ESO):
    ``read`` on their data; ``list`` and ``read`` on their metadata, which ESO needs to find
    secrets by path or by ``custom_metadata`` tags (``dataFrom.find``) and to fetch metadata.
    Both parts are checked whole (no wildcard or template character can widen the rules)."""
    mount = vault_path(kv_mount, 'kv_mount')
    prefix = vault_path(folder, 'kv_prefix')
    return [{'path': '%s/data/%s/*' % (mount, prefix), 'capabilities': ['read']},
            {'path': '%s/metadata/%s/*' % (mount, prefix), 'capabilities': ['read', 'list']}]
