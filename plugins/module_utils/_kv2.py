# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One secret in a KV version 2 engine (<mount>/data/<path>, <mount>/metadata/<path>).

Facts about OpenBao 2.7 this relies on (checked against a real server):

* Reading a soft-deleted or destroyed latest version answers 404 (with the
  metadata in the body), so it reads as absent: writing again creates a new
  version.
* Values keep their JSON type, but numbers are stored as float64: ``1.0`` reads
  back as ``1`` and integers beyond 2**53 lose precision; ``"1"`` stays a string.
* On a KV version 1 mount ``<mount>/data/<path>`` is an ordinary key, so a read
  finds nothing and a write would store the payload under a key named
  ``data/...``. The mount's version is therefore checked before anything else,
  with the same preflight request the ``bao kv`` CLI uses.
* That preflight answers 403 for a path under no mount even to root; the read
  of the secret then tells "no such mount" ("no handler for route") apart.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import FieldError, checked_path, normalise
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    HIDDEN,
    HIDDEN_CHANGED,
    VaultObject,
    cached_check,
)

DEFAULT_MOUNT = 'secret'
KV_TYPES = ('kv', 'kv-v2')


def _same(left, right):
    return normalise('json', left) == normalise('json', right)


def changed_keys(before, after):
    """Keys added, removed or holding a different value (names only)."""
    before, after = before or {}, after or {}
    keys = set(before) | set(after)
    return sorted(key for key in keys
                  if key not in before or key not in after or not _same(before[key], after[key]))


def missing_mount_error(mount, exc):
    return VaultRequestError(
        'mount_path %r: no secrets engine is mounted at %s/; enable a kv version 2 secrets engine '
        'there first or fix mount_path (%s)' % (mount, mount, exc), status=404, errors=exc.errors)


class KV2Secret(VaultObject):
    kind = 'kv2 secret'
    argument_spec = dict(
        mount_path=dict(type='str', default=DEFAULT_MOUNT, no_log=False),
        path=dict(type='str', required=True, no_log=False),
        data=dict(type='dict', no_log=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        cas=dict(type='int'),
        destroy=dict(type='bool', default=False),
    )
    required_if = [('state', 'present', ['data'])]

    def __init__(self, api, params):
        super(KV2Secret, self).__init__(api, params)
        self.mount_checked = False
        #: version of the latest readable data (None: absent)
        self.version = None
        #: metadata current_version (counts soft-deleted versions), when read
        self.metadata_version = None
        self._current_data = None

    # -- identity ---------------------------------------------------------------
    @property
    def mount(self):
        return (self.params.get('mount_path') or DEFAULT_MOUNT).strip().strip('/')

    @property
    def secret_path(self):
        # Vault ignores leading, trailing and repeated "/": "/a//b/" is the secret "a/b".
        return '/'.join(part for part in (self.params.get('path') or '').strip().split('/') if part)

    @property
    def name(self):
        return '%s/%s' % (self.mount, self.secret_path)

    @property
    def data_path(self):
        return '%s/data/%s' % (self.mount, self.secret_path)

    @property
    def metadata_path(self):
        return '%s/metadata/%s' % (self.mount, self.secret_path)

    @property
    def absent_wanted(self):
        return (self.params.get('state') or 'present') == 'absent'

    # -- checks -----------------------------------------------------------------
    def validate(self):
        if not self.mount:
            raise FieldError('mount_path must name a kv version 2 mount, for example "secret"')
        if not self.secret_path:
            raise FieldError('path must name the secret inside mount_path, for example "myapp/db"')
        checked_path(self.mount, 'mount_path')
        if not self.params.get('_listed'):
            checked_path(self.secret_path, 'path')
            self._refuse_api_prefix()
        if not self.absent_wanted and not isinstance(self.params.get('data'), dict):
            raise FieldError('data must be a mapping of keys to values when state=present')
        cas = self.params.get('cas')
        if cas is not None and cas < 0:
            raise FieldError('cas must be 0 (only create) or the current version number, got %d' % cas)

    def _refuse_api_prefix(self):
        """A path written as the API or CLI spells it would land under a doubled prefix
        (secret/data/secret/data/x): refuse it and say what to write instead."""
        parts = self.secret_path.split('/')
        mount = self.mount.split('/')
        for prefix in (mount + ['data'], mount + ['metadata'], ['data'], ['metadata']):
            if parts[:len(prefix)] == prefix and len(parts) > len(prefix):
                raise FieldError('path %r starts with the KV version 2 API prefix %r; path is relative to '
                                 'mount_path %r and the module adds "data/" itself: write path %r'
                                 % (self.params.get('path'), '/'.join(prefix) + '/', self.mount,
                                    '/'.join(parts[len(prefix):])))

    def check_mount(self):
        """Fail unless mount_path is a KV version 2 mount."""
        if self.mount_checked:
            return
        try:
            info = self.api.read('sys/internal/ui/mounts/%s' % self.name)
        except VaultRequestError as exc:
            self._explain_failed_preflight(exc)
        data = (info or {}).get('data') or {}
        mounted_at = (data.get('path') or '').strip('/')
        if mounted_at != self.mount:
            raise FieldError('mount_path %r is not a mount point: %s lies in mount %r; set mount_path to %r '
                             'and path relative to it' % (self.mount, self.name, mounted_at, mounted_at))
        engine = data.get('type')
        version = str((data.get('options') or {}).get('version') or ('2' if engine == 'kv-v2' else '1'))
        if engine not in KV_TYPES:
            raise FieldError('mount_path %r is a %s secrets engine; vault_kv2_secret needs a kv version 2 mount'
                             % (self.mount, engine))
        if version != '2':
            raise FieldError('mount_path %r is a kv version %s mount; vault_kv2_secret needs a kv version 2 '
                             'mount (enable one with options version=2, or upgrade this mount)'
                             % (self.mount, version))
        self.mount_checked = True

    def preflight(self, declared_mounts, cache):
        declared = declared_mounts.get(('secrets', self.mount))
        if declared is not None:
            engine, version = declared.declared_type()
            if engine != 'kv' or version != '2':
                raise FieldError('mount_path %r is declared in this document as a %s secrets engine; '
                                 'vault_kv2_secret needs a kv version 2 mount (engine_type: kv, version: 2)'
                                 % (self.mount, engine if engine != 'kv' else 'kv version %s' % (version or '1')))
        else:
            cached_check(cache, ('kv2 mount', self.mount), self.check_mount)
        self.mount_checked = True

    def _explain_failed_preflight(self, preflight_error):
        try:
            self.api.read(self.data_path)
        except VaultRequestError as exc:
            if exc.no_route:
                raise missing_mount_error(self.mount, exc)
            raise
        raise VaultRequestError('cannot tell whether mount_path %r is kv version 2: %s'
                                % (self.mount, preflight_error))

    @classmethod
    def list_existing(cls, api, objects):
        """Names (mount/path) with metadata, one LIST per folder; checks each mount once."""
        checked = {}
        found = set()
        folders = set()
        for obj in objects:
            if obj.mount not in checked:
                obj.check_mount()
                checked[obj.mount] = True
            obj.mount_checked = True
            folders.add((obj.mount, posixpath.dirname(obj.secret_path)))
        for mount, folder in sorted(folders):
            prefix = folder + '/' if folder else ''
            for key in api.list('%s/metadata/%s' % (mount, prefix)):
                if not key.endswith('/'):
                    found.add('%s/%s%s' % (mount, prefix, key))
        return found

    @classmethod
    def list_prunable(cls, api, entries):
        """Every secret under the mounts the document names (one LIST per folder)."""
        mounts = sorted(set((e.get('mount_path') or DEFAULT_MOUNT).strip().strip('/') for e in entries))
        found = []
        for mount in mounts:
            folders = ['']
            while folders:
                folder = folders.pop()
                for key in api.list('%s/metadata/%s' % (mount, folder)):
                    if key.endswith('/'):
                        folders.append(folder + key)
                    else:
                        # Soft delete only: the versions stay and can be undeleted.
                        found.append({'mount_path': mount, 'path': folder + key, 'state': 'absent',
                                      'destroy': False, '_listed': True})
        return found

    # -- reconcile --------------------------------------------------------------
    def read(self):
        self.check_mount()
        body = self.api.read(self.data_path)
        content = (body or {}).get('data') or {}
        metadata = content.get('metadata') or {}
        live = body is not None and content.get('data') is not None and not metadata.get('deletion_time') \
            and not metadata.get('destroyed')
        if live:
            self.version = metadata.get('version')
            self._current_data = content['data']
            return {'data': content['data']}
        if self.absent_wanted and self.params.get('destroy'):
            # Older versions may remain after a soft delete: destroy removes them too.
            return {'data': {}} if self._read_metadata() else None
        return None

    def _read_metadata(self):
        body = self.api.read(self.metadata_path)
        if body is None:
            return None
        meta = body.get('data') or {}
        self.metadata_version = meta.get('current_version')
        return meta

    def desired(self):
        wanted = {'data': dict(self.params['data'])}
        self._check_cas(wanted['data'])
        return wanted

    def _check_cas(self, wanted_data):
        cas = self.params.get('cas')
        if cas is None or (self._current_data is not None and not changed_keys(self._current_data, wanted_data)):
            return
        if self.version is not None:
            current_version = self.version
        elif self.known_to_exist is False:
            current_version = 0
        else:
            self._read_metadata()
            current_version = self.metadata_version or 0
        if cas != current_version:
            raise FieldError('cas=%d does not match the current version %d of %s: nothing was written; '
                             're-read the secret or drop cas' % (cas, current_version, self.name))

    def changes(self, current, wanted):
        return ['data'] if changed_keys(current.get('data'), wanted.get('data')) else []

    def create(self, wanted):
        body = {'data': wanted['data']}
        if self.params.get('cas') is not None:
            body['options'] = {'cas': self.params['cas']}
        response = self.api.write(self.data_path, body) or {}
        self.version = (response.get('data') or {}).get('version')

    def update(self, current, wanted, changed_fields):
        self.create(wanted)

    def remove(self, current):
        if self.params.get('destroy'):
            self.api.delete(self.metadata_path)
        else:
            self.api.delete(self.data_path)
        self.version = None

    def diff_view(self, state, other=None):
        """Key names only; every value is replaced by a marker."""
        if state is None:
            return {}
        data = state.get('data') or {}
        moved = set(changed_keys(data, (other or {}).get('data')))
        return {'data': dict((key, HIDDEN_CHANGED if key in moved else HIDDEN) for key in data)}

    def extra_result(self):
        wanted = None if self.absent_wanted else self.params.get('data')
        return {'version': self.version, 'changed_keys': changed_keys(self._current_data, wanted)}
