# -*- coding: utf-8 -*-
"""The one stand-in for VaultAPI (plugins/module_utils/_client.py) that the unit tests share.

Unit tests check pure logic (what is compared, refused and which requests a change turns into);
real Vault and OpenBao behaviour is tested in tests/integration. Import it with
`from vault_fakes import FakeAPI` (tests/support is on pytest's path).
"""

import copy


class FakeAPI(object):
    """VaultAPI's read, list, write and delete, answered from tables; every call is kept in `calls`.

    bodies: path -> what a read answers; 'LIST ' + path -> what a list answers (else []).
    errors: path -> the error a read, list or write of that path raises ('DELETE ' + path: a
        delete's); a list of errors is raised one per call and the path answers again once it
        is used up.
    answer: what a write returns, or a function called with (path, data) that returns it.
    keep: a write is kept as the body {'data': data} that later reads answer, a list answers the
        kept children of a path, a delete removes the body: a Vault that remembers.
    merge: with keep, a write updates the kept data rather than replacing it (like Vault's
        autopilot configuration).
    allowed: verb -> the only paths the code under test may name with it ('read', 'list',
        'write', 'delete'); any other call fails the test.
    url: the address VaultAPI.url names in messages.
    """

    def __init__(self, bodies=None, errors=None, answer=None, keep=False, merge=False, allowed=None,
                 url='http://127.0.0.1:8200'):
        # A Vault that remembers changes its own copy, never the test's tables.
        self.bodies = copy.deepcopy(bodies or {}) if keep else (bodies or {})
        self.errors = errors or {}
        self.answer = answer
        self.keep = keep
        self.merge = merge
        self.allowed = allowed
        self.url = url
        self.calls = []

    def _call(self, verb, path, *data):
        if self.allowed is not None:
            assert path in self.allowed.get(verb, ()), 'unexpected %s of %s' % (verb, path)
        self.calls.append((verb, path) + data)

    def _raise_for(self, key):
        error = self.errors.get(key)
        if isinstance(error, list):
            error = error.pop(0) if error else None
        if error is not None:
            raise error

    def read(self, path):
        self._call('read', path)
        self._raise_for(path)
        return copy.deepcopy(self.bodies.get(path))

    def list(self, path):
        self._call('list', path)
        self._raise_for(path)
        if self.keep:
            prefix = path.rstrip('/') + '/'
            return sorted(p[len(prefix):] for p in self.bodies
                          if p.startswith(prefix) and '/' not in p[len(prefix):])
        return copy.deepcopy(self.bodies.get('LIST ' + path, []))

    def write(self, path, data=None, method='post'):
        self._call('write', path, data)
        self._raise_for(path)
        if self.keep:
            if self.merge and path in self.bodies:
                self.bodies[path]['data'].update(data)
            else:
                self.bodies[path] = {'data': dict(data)}
        return self.answer(path, data) if callable(self.answer) else copy.deepcopy(self.answer)

    def delete(self, path):
        self._call('delete', path)
        self._raise_for('DELETE ' + path)
        if self.keep:
            self.bodies.pop(path, None)

    def mutations(self):
        """The writes and deletes, in order."""
        return [call for call in self.calls if call[0] in ('write', 'delete')]
