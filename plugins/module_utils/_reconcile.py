# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read, compare, write: the one reconcile loop behind every object module.

An object type (policy, mount, kubernetes role, KV secret...) is a subclass of
:class:`VaultObject` that knows how to read its current state, express the
wanted state in the same normalised shape, and write or delete it. The
single-object modules and the bulk ``vault_config`` module both drive those
classes through :func:`reconcile`, so check mode, diff and idempotence are
implemented once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.vaultkube.platform.plugins.module_utils._client import (
    CONNECTION_ARGSPEC,
    VaultRequestError,
    connect,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import (
    FieldError,
    differences,
    merge_for_diff,
)

HIDDEN = '(hidden)'
HIDDEN_CHANGED = '(hidden, changed)'


class VaultObject(object):
    """One Vault object. Subclasses override the marked methods."""

    #: short type name used in reports, e.g. ``policy``
    kind = 'object'
    #: fields whose values never leave the module (masked in diff output)
    secret_fields = ()

    def __init__(self, api, params):
        self.api = api
        self.params = params
        #: set by bulk callers that already listed what exists (True/False)
        self.known_to_exist = None

    # -- to override -------------------------------------------------------
    @property
    def name(self):
        """Identity of the object for messages and reports."""
        raise NotImplementedError

    def validate(self):
        """Raise :class:`FieldError` for bad input, before anything is written."""

    def preflight(self, declared_mounts, cache):
        """Read-only checks against Vault before anything is written (the type of the
        mount the object lives in...); raise :class:`FieldError` or VaultRequestError.

        ``declared_mounts`` maps (``'secrets'`` or ``'auth'``, mount path without the
        trailing slash) to the mount object a vault_config document declares, which
        answers for that mount instead of Vault (and (``'database connection'``,
        ``mount/name``) to a declared database connection); ``cache`` is shared by the
        objects of one run so that each mount is asked about once."""

    def read(self):
        """Current state, normalised like :meth:`desired`; ``None`` if absent."""
        raise NotImplementedError

    def desired(self):
        """Wanted state: only the fields the user set, normalised."""
        raise NotImplementedError

    def create(self, wanted):
        raise NotImplementedError

    def update(self, current, wanted, changed_fields):
        """Default: an update is the same write as a create."""
        self.create(merge_for_diff(current, wanted))

    def remove(self, current):
        raise NotImplementedError

    def extra_result(self):
        """Extra, non-secret return values of the module."""
        return {}

    # -- shared ------------------------------------------------------------
    def changes(self, current, wanted):
        return differences(current, wanted)

    def diff_view(self, state, other=None):
        """What diff output may show of a state: secret fields masked."""
        if state is None:
            return {}
        view = dict(state)
        for field in self.secret_fields:
            if field in view:
                changed = other is not None and other.get(field) != view[field]
                view[field] = HIDDEN_CHANGED if changed else HIDDEN
        return view

    def lookup(self):
        if self.known_to_exist is False:
            return None
        return self.read()


class TableEntryObject(VaultObject):
    """An object that Vault lists with all its kind in one table (sys/mounts, sys/auth,
    sys/audit). One GET of the table serves every object of a bulk run."""

    #: API path of the table
    table = None

    def __init__(self, api, params):
        super(TableEntryObject, self).__init__(api, params)
        self.prefetched_table = None

    @classmethod
    def read_table(cls, api):
        body = api.read(cls.table) or {}
        return body.get('data') or {}

    @classmethod
    def list_existing(cls, api, objects):
        table = cls.read_table(api)
        # Each object reads only its own entry, which no other object of the run writes:
        # hand it the table now instead of reading it again per object.
        for obj in objects:
            obj.prefetched_table = table
        return set(table)

    def table_entry(self):
        """This object's entry of the table (read now unless a bulk run already did)."""
        table = self.prefetched_table
        self.prefetched_table = None
        return (self.read_table(self.api) if table is None else table).get(self.name)


def cached_check(cache, key, check):
    """Run check() once per key in a run; a failure is remembered and raised again."""
    if key in cache:
        if isinstance(cache[key], Exception):
            raise cache[key]
        return cache[key]
    try:
        cache[key] = check()
    except (VaultRequestError, FieldError) as exc:
        cache[key] = exc
        raise
    return cache[key]


class MountKind(object):
    """The mount an object type lives on: how a missing mount is reported, and the one check,
    before any write and cached per run, that mount_path is a mount of the wanted type.

    ``table`` is ``secrets`` or ``auth``; ``ui_path`` and ``listing`` are %-templates of the
    mount (Vault's mount info path, and a LIST that tells a missing mount apart when that info
    is refused); ``messages`` holds the texts ``missing``, ``declared``, ``unknown``, ``inside``
    and ``wrong``, %-templates over ``mount``, ``found``, ``at`` and ``exc``."""

    def __init__(self, table, wanted, ui_path, listing, messages):
        self.table, self.wanted, self.ui_path, self.listing = table, wanted, ui_path, listing
        self.messages = messages

    def _text(self, name, **values):
        return self.messages[name] % values

    def missing_error(self, mount, exc):
        return VaultRequestError(self._text('missing', mount=mount, exc=exc), status=404, errors=exc.errors)

    def call(self, mount, call, *args):
        """Run one API call; a missing mount becomes an error that says to enable it."""
        try:
            return call(*args)
        except VaultRequestError as exc:
            if exc.no_route:
                raise self.missing_error(mount, exc)
            raise

    def check(self, api, mount, declared_mounts, cache):
        """Refuse a mount_path that is not a mount of the wanted type (a mount declared in the
        same document is judged by its declaration)."""
        declared = declared_mounts.get((self.table, mount))
        if declared is not None:
            found = declared.declared_type()[0]
            if found != self.wanted:
                raise FieldError(self._text('declared', mount=mount, found=found))
            return
        cached_check(cache, ('%s mount' % self.wanted, mount), lambda: self._check_live(api, mount))

    def _check_live(self, api, mount):
        try:
            info = api.read('sys/internal/ui/mounts/' + self.ui_path % mount)
        except VaultRequestError as exc:
            # Vault answers 403 here for a path under no mount, even to root: a listing
            # on the mount tells a missing mount apart.
            self.call(mount, api.list, self.listing % mount)
            raise VaultRequestError(self._text('unknown', mount=mount, exc=exc), status=exc.status, errors=exc.errors)
        data = (info or {}).get('data') or {}
        if not data:
            raise self.missing_error(mount, VaultRequestError('no mount', status=404))
        mounted_at = (data.get('path') or '').strip('/')
        if mounted_at != mount:
            raise FieldError(self._text('inside', mount=mount, found=data.get('type'), at=mounted_at))
        if data.get('type') != self.wanted:
            raise FieldError(self._text('wrong', mount=mount, found=data.get('type')))
        return True


def reconcile(obj, state='present', check_mode=False):
    """Converge one object; returns a result dict for the module or a report.

    ``before``/``after`` are already masked for diff output.
    """
    obj.validate()
    current = obj.lookup()
    if state == 'absent':
        if current is None:
            return _result(obj, 'none', False, None, None, [])
        if not check_mode:
            obj.remove(current)
        return _result(obj, 'delete', True, current, None, sorted(current))

    wanted = obj.desired()
    if current is None:
        if not check_mode:
            obj.create(wanted)
        return _result(obj, 'create', True, None, wanted, sorted(wanted))

    changed_fields = obj.changes(current, wanted)
    if not changed_fields:
        return _result(obj, 'none', False, current, current, [])
    if not check_mode:
        obj.update(current, wanted, changed_fields)
    return _result(obj, 'update', True, current, merge_for_diff(current, wanted), changed_fields)


def _result(obj, action, changed, before, after, fields):
    return {
        'kind': obj.kind,
        'name': obj.name,
        'action': action,
        'changed': changed,
        'changed_fields': fields,
        'diff': {'before': obj.diff_view(before, after), 'after': obj.diff_view(after, before)},
    }


def object_argument_spec(**specific):
    """The connection options plus a module's own options."""
    spec = dict(CONNECTION_ARGSPEC)
    spec.update(specific)
    return spec


def run_object_module(module, object_class):
    """Entry point shared by the single-object modules."""
    try:
        api = connect(module.params)
        obj = object_class(api, module.params)
        obj.validate()
        obj.preflight({}, {})
        outcome = reconcile(obj, module.params.get('state') or 'present', module.check_mode)
        extra = obj.extra_result()
    except (VaultRequestError, FieldError) as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=outcome['changed'], operation=outcome['action'],
                  changed_fields=outcome['changed_fields'])
    result.update(extra)
    if module._diff:
        result['diff'] = outcome['diff']
    module.exit_json(**result)
