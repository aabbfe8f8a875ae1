# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""ACL policies (sys/policies/acl/<name>)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError, normalise
from ansible_collections.vaultkube.platform.plugins.module_utils._names import VAULT_NAME, matches
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import VaultObject

import re


# Vault manages these itself: "root" cannot be written, "default" cannot be deleted.
BUILTIN_POLICIES = ('root',)


# -- HCL syntax ------------------------------------------------------------------
# Vault has no dry run for a policy: it parses the HCL only when the policy is
# written. vault_config checks every policy's syntax (HCL 1, as Vault parses it)
# before its first write, so one bad policy cannot leave the document half applied.
# Only the syntax is checked; keys and capabilities are left to Vault.

_TOKEN = re.compile(r'''
    (?P<space>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<heredoc><<-?(?P<marker>[A-Za-z_][A-Za-z0-9_]*)[ \t]*\n)
  | (?P<string>"(?:[^"\\\n]|\\.|\$\{[^}]*\})*")
  | (?P<number>-?(?:0x[0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.\-:]*)
  | (?P<punct>[{}\[\],=])
''', re.X | re.S)


class HCLError(ValueError):
    pass


def _hcl_tokens(text):
    tokens, pos, line = [], 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise HCLError('line %d: unexpected character %r' % (line, text[pos]))
        kind = match.lastgroup if match.lastgroup != 'marker' else 'heredoc'
        if kind == 'heredoc':
            marker = match.group('marker')
            end = re.compile(r'^[ \t]*%s[ \t]*(?=\n|\Z)' % re.escape(marker), re.M).search(text, match.end())
            if not end:
                raise HCLError('line %d: heredoc <<%s is never closed' % (line, marker))
            tokens.append(('string', '', line))
            line += text.count('\n', pos, end.end())
            pos = end.end()
            continue
        value = match.group(kind)
        if kind == 'string' and '\n' in value:
            raise HCLError('line %d: string is not closed on its line' % line)
        if kind not in ('space', 'comment'):
            tokens.append((kind if kind != 'punct' else value, value, line))
        line += value.count('\n')
        pos = match.end()
    if '"' in text and not tokens and text.strip():
        raise HCLError('line 1: string is not closed')
    tokens.append(('EOF', '', line))
    return tokens


class _HCLParser(object):
    """HCL 1 as Vault's parser reads it; items are (keys, value type, nested items, line)."""

    def __init__(self, text):
        self.tokens = _hcl_tokens(text)
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos]

    def take(self, *kinds):
        token = self.tokens[self.pos]
        if token[0] not in kinds:
            raise HCLError('line %d: expected %s, got %s' % (token[2], ' or '.join(kinds),
                                                             token[1] or token[0]))
        self.pos += 1
        return token

    def object_list(self, closing):
        items = []
        while self.peek()[0] != closing:
            items.append(self.item())
            if self.peek()[0] == ',':
                self.take(',')
        return items

    def item(self):
        line = self.peek()[2]
        keys = [self.take('ident', 'string')[1].strip('"')]
        while self.peek()[0] in ('ident', 'string'):
            keys.append(self.take('ident', 'string')[1].strip('"'))
        if self.peek()[0] == '=' and len(keys) == 1:
            self.take('=')
            kind, nested = self.value()
            return keys, kind, nested, line
        return keys, 'object', self.block(), line

    def block(self):
        self.take('{')
        items = self.object_list('}')
        self.take('}')
        return items

    def value(self):
        token = self.peek()
        if token[0] in ('string', 'number') or (token[0] == 'ident' and token[1] in ('true', 'false')):
            self.take(token[0])
            return 'literal', None
        if token[0] == '{':
            return 'object', self.block()
        if token[0] == '[':
            self.take('[')
            need_comma = False
            # Like Vault's parser: commas separate items, and extra ones are skipped.
            while self.peek()[0] != ']':
                if self.peek()[0] == ',':
                    self.take(',')
                    need_comma = False
                    continue
                if need_comma:
                    self.take(',', ']')
                self.value()
                need_comma = True
            self.take(']')
            return 'list', None
        self.take('string', 'number', 'true', 'false', '{', '[')


def check_hcl_syntax(text):
    """Raise HCLError (one line, with the line number) unless text parses as a Vault policy:
    HCL 1 syntax, every "path" a block, every "capabilities" a list."""
    parser = _HCLParser(text)
    if parser.peek()[0] == '{':
        items = parser.block()
    else:
        items = parser.object_list('EOF')
    parser.take('EOF')
    for keys, kind, nested, line in items:
        if keys[0] != 'path':
            continue
        if kind != 'object' or len(keys) < 2:
            raise HCLError('line %d: path must be a block: path "<path>" { capabilities = [...] }' % line)
        for inner_keys, inner_kind, _nested, inner_line in nested or []:
            if inner_keys[0] == 'capabilities' and inner_kind != 'list':
                raise HCLError('line %d: capabilities must be a list, for example ["read", "list"]' % inner_line)


class Policy(VaultObject):
    kind = 'policy'
    argument_spec = dict(
        name=dict(type='str', required=True),
        policy=dict(type='str'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
    )

    @classmethod
    def list_existing(cls, api, objects):
        return set(api.list('sys/policies/acl'))

    @classmethod
    def list_prunable(cls, api, entries):
        # "default" is Vault's own and cannot be deleted; "root" is not listed.
        return [{'name': name, 'state': 'absent', '_listed': True} for name in api.list('sys/policies/acl')
                if name not in ('default',) + BUILTIN_POLICIES]

    @property
    def name(self):
        # Vault stores policy names lower-cased ("AppReaders" is "appreaders"): compare,
        # deduplicate and prune under that spelling, or a declared policy looks undeclared.
        return (self.params.get('name') or '').lower()

    @property
    def path(self):
        return 'sys/policies/acl/%s' % self.name

    def validate(self):
        name = self.params.get('name')
        # Vault takes almost any text, but a name with spaces, quotes or brackets is a
        # mistake (a list given where one name belongs arrives as "['a', 'b']").
        # Checked whole (a trailing newline is refused too); a name listed by Vault for prune is Vault's own.
        if not self.params.get('_listed') and not (matches(VAULT_NAME, name) and len(name) <= 128):
            raise FieldError('name must be one policy name of ASCII letters, digits and _ - . @, starting with a '
                             'letter, digit or _ (no "/", wildcard, spaces, quotes or brackets), got %r' % name)
        if self.name in BUILTIN_POLICIES:
            raise FieldError('name %r is built into Vault and cannot be managed' % name)
        if self.params.get('state', 'present') == 'present':
            if not (self.params.get('policy') or '').strip():
                raise FieldError('policy must hold the HCL text of policy %r when state=present' % name)
            try:
                check_hcl_syntax(self.params['policy'])
            except HCLError as exc:
                raise FieldError('policy %r is not valid HCL: %s' % (name, exc))

    def read(self):
        body = self.api.read(self.path)
        if body is None:
            return None
        data = body.get('data') or body
        return {'policy': normalise('text', data.get('policy'))}

    def desired(self):
        return {'policy': normalise('text', self.params['policy'])}

    def create(self, wanted):
        self.api.write(self.path, {'policy': wanted['policy']})

    def remove(self, current):
        self.api.delete(self.path)

    def diff_view(self, state, other=None):
        # Policies are text: show them as text so the diff is line by line.
        return state['policy'] if state else ''
