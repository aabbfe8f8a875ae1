# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Converge a whole declarative Vault document over one client session.

The document's sections map to the object types of the single-object modules;
each entry is validated with that module's own option spec and converged with
the same :func:`reconcile`, so both paths share one comparison and one writer.
What this adds is batching: it lists what exists once per collection (one LIST
for all policies, one per KV folder...) so absent objects are created without a
read, and it reports per-object changes, a combined diff and request counts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import threading
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import (
    FieldError,
    checked_path,
    secret_leaves,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import reconcile


class Section(object):
    """One kind of object in the document."""

    def __init__(self, key, object_class, argument_spec, prunable=False, provides=None, inside=None):
        self.key = key
        self.object_class = object_class
        self.argument_spec = argument_spec
        self.prunable = prunable
        #: what its objects add for later sections to find: the mount table ('secrets' or 'auth')
        #: for mount sections, 'database connection' for database connections
        self.provides = provides
        #: the mount table its objects live in, for objects under a mount
        self.inside = inside


def validate_entries(section, entries):
    """Apply the section's option spec (types, defaults, choices) to each entry.

    Returns the validated parameter dicts. The no_log values are collected
    beforehand, over the whole document, by :func:`secret_values`.
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise FieldError('config.%s must be a list of entries, got %s' % (section.key, type(entries).__name__))
    validator = ArgumentSpecValidator(section.argument_spec)
    validated = []
    for index, entry in enumerate(entries):
        where = 'config.%s[%d]' % (section.key, index)
        if not isinstance(entry, dict):
            raise FieldError('%s must be a mapping of options, got %s' % (where, type(entry).__name__))
        result = validator.validate(entry)
        if result.error_messages:
            # The messages may quote values; they are one line and name the option.
            raise FieldError('%s: %s' % (where, result.error_messages[0]))
        validated.append(result.validated_parameters)
    return validated


def secret_values(sections, document):
    """Every value of a no_log option anywhere in the document, even in bad entries.

    Collected before anything can fail, so that no error path echoes them.
    """
    found = set()
    if not isinstance(document, dict):
        return found
    for section in sections:
        entries = document.get(section.key)
        if not isinstance(entries, list):
            continue
        validator = ArgumentSpecValidator(section.argument_spec)
        secret_options = [name for name, spec in section.argument_spec.items() if spec.get('no_log')]
        extra = getattr(section.object_class, 'extra_secret_values', None)
        for entry in entries:
            if isinstance(entry, dict):
                result = validator.validate(entry)
                found.update(result._no_log_values)
                # Values given as JSON text are parsed only by validate(): register what is inside.
                for name in secret_options:
                    found.update(secret_leaves(result.validated_parameters.get(name)))
                if extra is not None:
                    # Secrets inside options that are not secret as a whole (a password in clear
                    # in a connection URL), masked even though the entry is then refused.
                    found.update(extra(entry))
    return found


def _prefetch(object_class, api, objects):
    """Mark objects that a single listing shows as absent, to skip their reads."""
    lister = getattr(object_class, 'list_existing', None)
    if lister is None or not objects:
        return
    existing = lister(api, objects)
    if existing is None:
        return
    for obj in objects:
        obj.known_to_exist = obj.name in existing


#: how many objects one prune may delete unless prune_scope.max_deletions says otherwise
DEFAULT_MAX_DELETIONS = 10
#: Vault's own policies: never pruned, and a scope that would cover them is refused
BUILTIN_POLICIES = ('root', 'default')
#: names listed in a refusal before "and N more"
LISTED_IN_REFUSAL = 25


class PruneScope(object):
    """What prune may remove, so that several owners can share one Vault.

    ``name_prefixes``: only objects whose own name (policy, role or database role name, KV
    path inside its mount, mount path) starts with one of them; policy and Kubernetes role
    names compare lower-cased, as Vault stores them. ``kubernetes_auth_mounts``: auth mounts whose roles are looked at even
    when the document declares no role in them any more (the last one was removed).
    ``auth_methods``: also disable undeclared auth mounts, which needs prefixes.
    ``max_deletions``: a prune that would delete more objects than this is refused whole.
    """

    def __init__(self, name_prefixes=None, kubernetes_auth_mounts=None, auth_methods=False,
                 max_deletions=DEFAULT_MAX_DELETIONS):
        self.name_prefixes = list(name_prefixes or [])
        self.kubernetes_auth_mounts = [m.strip().strip('/') for m in (kubernetes_auth_mounts or [])]
        self.auth_methods = bool(auth_methods)
        self.max_deletions = DEFAULT_MAX_DELETIONS if max_deletions is None else max_deletions

    @classmethod
    def from_params(cls, params):
        """The scope of prune_scope (None: no scope, every undeclared object, still at most
        DEFAULT_MAX_DELETIONS). Refuses, before any request, a scope that would match every name
        (an empty or blank prefix: an unset variable) or Vault's own policies."""
        params = params or {}
        prefixes = params.get('name_prefix')
        if prefixes is not None:
            prefixes = check_prefixes([prefixes] if isinstance(prefixes, str) else prefixes)
        mounts = params.get('kubernetes_auth_mounts')
        for index, mount in enumerate(mounts or []):
            where = 'prune_scope.kubernetes_auth_mounts[%d]' % index
            if not isinstance(mount, str) or not mount.strip().strip('/'):
                raise FieldError('%s is empty or blank (%r): name a kubernetes auth mount such as "kubernetes" '
                                 '(an unset variable?) or leave the entry out' % (where, mount))
            if mount.strip().strip('/').startswith('auth/'):
                raise FieldError('prune_scope.kubernetes_auth_mounts is relative to auth/: write %r, not %r'
                                 % (mount.strip().strip('/')[len('auth/'):], mount))
            checked_path(mount.strip(), where)
        max_deletions = params.get('max_deletions')
        if max_deletions is not None and (isinstance(max_deletions, bool) or not isinstance(max_deletions, int)
                                          or max_deletions < 0):
            raise FieldError('prune_scope.max_deletions must be 0 or more (how many objects one prune may delete), '
                             'got %r' % (max_deletions,))
        scope = cls(prefixes, mounts, params.get('auth_methods'), max_deletions)
        if scope.auth_methods and not scope.name_prefixes:
            raise FieldError('prune_scope.auth_methods needs prune_scope.name_prefix: disabling every undeclared '
                             'auth mount would destroy the roles of mounts this document does not own')
        return scope

    def prunes_mounts(self, section):
        return self.auth_methods and section.key == 'auth_methods'

    def extra_entries(self, section):
        if section.key == 'kubernetes_auth_roles':
            return [{'mount_path': mount} for mount in self.kubernetes_auth_mounts]
        return []

    def covers(self, section, params):
        name = params.get('name') or params.get('path') or ''
        if section.key == 'policies' and name.lower() in BUILTIN_POLICIES:
            return False
        if not self.name_prefixes:
            return True
        if section.key in ('policies', 'kubernetes_auth_roles'):
            return any(name.lower().startswith(p.lower()) for p in self.name_prefixes)
        if section.key == 'auth_methods':
            name = name.strip('/')
        return any(name.startswith(p) for p in self.name_prefixes)


def check_prefixes(prefixes):
    """prune_scope.name_prefix, refused when one of them would match more than meant."""
    if not isinstance(prefixes, list) or not prefixes:
        raise FieldError('prune_scope.name_prefix is an empty list, which would prune every undeclared object: '
                         'give the prefix of the names this document owns, for example [tenant-]')
    for index, prefix in enumerate(prefixes):
        where = 'prune_scope.name_prefix[%d]' % index
        if not isinstance(prefix, str) or not prefix.strip():
            raise FieldError('%s is empty or blank (%r), which would prune every undeclared object: set it to the '
                             'prefix of the names this document owns (an unset variable?)' % (where, prefix))
        if any(char.isspace() for char in prefix) or any(char in prefix for char in '*+?{}[]'):
            raise FieldError('%s %r holds whitespace or a wildcard: it is a literal name prefix such as "tenant-"'
                             % (where, prefix))
        for builtin in BUILTIN_POLICIES:
            if builtin.startswith(prefix.lower()):
                raise FieldError('%s %r matches Vault\'s own policy %r: use a prefix that names only this '
                                 'document\'s objects, such as "tenant-"' % (where, prefix, builtin))
    return prefixes


def describe_objects(objects):
    """kind name, kind name, ... (and N more): names only, never a value."""
    shown = ['%s %s' % (kind, name) for kind, name in objects[:LISTED_IN_REFUSAL]]
    if len(objects) > LISTED_IN_REFUSAL:
        shown.append('and %d more' % (len(objects) - LISTED_IN_REFUSAL))
    return ', '.join(shown)


class ConfigRun(object):
    """One convergence of a document: sections in dependency order."""

    def __init__(self, api, sections, document, connection, check_mode=False, prune=False, parallelism=1,
                 prune_scope=None):
        self.api = api
        #: limits of prune (see PruneScope); None prunes every undeclared object of a prunable section
        self.prune_scope = prune_scope
        self.parallelism = max(1, parallelism)
        self.sections = sections
        self.document = document or {}
        self.connection = connection
        self.check_mode = check_mode
        self.prune = prune
        self.reports = []
        #: objects that failed after one of their writes had gone through
        self.partial = []
        #: (kind, name) of every object prune deletes (or would delete), known before the first write
        self.prune_candidates = []
        self._lock = threading.Lock()

    def validate(self):
        known = set(section.key for section in self.sections)
        unknown = sorted(set(self.document) - known)
        if unknown:
            raise FieldError('config has unknown section(s) %s; known sections: %s'
                             % (', '.join(unknown), ', '.join(sorted(known))))
        planned = []
        for section in self.sections:
            entries = validate_entries(section, self.document.get(section.key))
            objects = []
            seen = {}
            for index, params in enumerate(entries):
                merged = dict(self.connection)
                merged.update(params)
                obj = section.object_class(self.api, merged)
                try:
                    obj.validate()
                except FieldError as exc:
                    raise FieldError('config.%s[%d]: %s' % (section.key, index, exc))
                if obj.name in seen:
                    raise FieldError('config.%s[%d] repeats %s %r already given at index %d'
                                     % (section.key, index, obj.kind, obj.name, seen[obj.name]))
                seen[obj.name] = index
                objects.append(obj)
            planned.append((section, objects))
        return planned

    def preflight(self, planned):
        """Read-only checks of every entry against Vault (the type of the mount each
        object lives in), all before the first write: a document either passes them all
        or nothing is written. Mounts the document itself declares answer for Vault."""
        declared = {}
        for section, objects in planned:
            if section.provides:
                for obj in objects:
                    if (obj.params.get('state') or 'present') == 'present':
                        declared[(section.provides, obj.name.strip('/'))] = obj
        cache = {}
        for section, objects in planned:
            for index, obj in enumerate(objects):
                try:
                    obj.preflight(declared, cache)
                except FieldError as exc:
                    raise FieldError('config.%s[%d]: %s' % (section.key, index, exc))

    def plan_prune(self, planned):
        """What prune deletes, listed before the first write (listings only) and refused whole
        when it is more than prune_scope.max_deletions. Returns [(section, [objects])] in
        reverse dependency order: secrets and roles before their mounts."""
        scope = self.prune_scope or PruneScope()
        declared = set()
        for section, objects in planned:
            if section.provides:
                declared.update((section.provides, obj.name.strip('/')) for obj in objects
                                if (obj.params.get('state') or 'present') == 'present')
        plan = []
        for section, objects in reversed(planned):
            if section.key in self.document and (section.prunable or scope.prunes_mounts(section)):
                doomed = self._prune_candidates(section, objects, scope, declared)
                if doomed:
                    plan.append((section, doomed))
        self.prune_candidates = [(obj.kind, obj.name) for _section, doomed in plan for obj in doomed]
        count = len(self.prune_candidates)
        if count > scope.max_deletions:
            raise FieldError('prune would delete %d objects, more than prune_scope.max_deletions (%d): %s; nothing '
                             'was written: check the document and prune_scope.name_prefix, and raise '
                             'prune_scope.max_deletions to %d only if every one of them should go'
                             % (count, scope.max_deletions, describe_objects(self.prune_candidates), count))
        return plan

    def _prune_candidates(self, section, objects, scope, declared):
        wanted = set(obj.name for obj in objects)
        entries = [o.params for o in objects] + scope.extra_entries(section)
        groups = {None: entries}
        if section.inside:
            # One listing per mount, so that a mount this run creates (nothing in it yet) is told apart.
            groups = {}
            for params in entries:
                groups.setdefault(section.object_class(self.api, dict(self.connection, **params)).mount, []).append(params)
        doomed = []
        for mount in sorted(groups, key=lambda m: m or ''):
            try:
                listed = section.object_class.list_prunable(self.api, groups[mount])
            except VaultRequestError as exc:
                if exc.no_route and (section.inside, mount) in declared:
                    continue
                raise
            for params in listed:
                merged = dict(self.connection)
                merged.update(params)
                obj = section.object_class(self.api, merged)
                if obj.name in wanted or not scope.covers(section, params):
                    continue
                # Listed is not always live: a soft-deleted KV secret is still listed, and
                # deleting it again is nothing to count.
                if obj.lookup() is None:
                    continue
                doomed.append(obj)
        return doomed

    def run(self):
        planned = self.validate()
        self.preflight(planned)
        prune_plan = self.plan_prune(planned) if self.prune else []
        # Mounts this run creates. In check mode they are not really there, so what the
        # document puts inside them is known to be absent and must not be read.
        planned_mounts = set()
        for section, objects in planned:
            if section.inside:
                for obj in objects:
                    if (section.inside, obj.mount.strip('/')) in planned_mounts:
                        obj.known_to_exist = False
            _prefetch(section.object_class, self.api, [o for o in objects if o.known_to_exist is None
                                                       and o.params.get('state', 'present') == 'present'])
            reports, error = self._reconcile_all(objects)
            for obj, report in zip(objects, reports):
                if report is None:
                    continue
                if section.provides and report['action'] == 'create':
                    planned_mounts.add((section.provides, obj.name.strip('/')))
                self.reports.append(report)
            if error is not None:
                raise error
        # Remove in reverse dependency order: secrets and roles before their mounts.
        for _section, doomed in prune_plan:
            for obj in doomed:
                report = self._converge(obj, 'absent')
                report['pruned'] = True
                self.reports.append(report)
        return self.reports

    def _converge(self, obj, state):
        """reconcile() one object; when it fails after writing, what it wrote is kept."""
        writes = self.api.record_writes()
        try:
            return reconcile(obj, state, self.check_mode)
        except BaseException:
            if writes:
                with self._lock:
                    self.partial.append(dict(kind=obj.kind, name=obj.name, action='partial', writes=list(writes)))
            raise

    def _reconcile_all(self, objects):
        """Reconcile the objects of one section, several at a time.

        Objects of a section are independent of each other (names are unique, and
        whatever they depend on belongs to an earlier section), so their requests can
        overlap: each request mostly waits for Vault's storage, not for this process.
        Returns (reports in the document's order, None for an object not done; the first
        error or None). After a failure no further object is started, and every object
        already done is still reported.
        """
        stop = threading.Event()

        def one(obj):
            if stop.is_set():
                return None
            try:
                return self._converge(obj, obj.params.get('state') or 'present')
            except BaseException:
                stop.set()
                raise

        if self.parallelism == 1 or len(objects) < 2:
            reports = []
            for obj in objects:
                try:
                    reports.append(one(obj))
                except (VaultRequestError, FieldError) as exc:
                    return reports, exc
            return reports, None
        reports, error = [], None
        with ThreadPoolExecutor(max_workers=min(self.parallelism, len(objects))) as pool:
            futures = [pool.submit(one, obj) for obj in objects]
        for future in futures:
            try:
                reports.append(future.result())
            except (VaultRequestError, FieldError) as exc:
                reports.append(None)
                error = error or exc
        return reports, error

    def written(self):
        """Every object this run changed in Vault, and those it changed partly before failing."""
        done = [dict(kind=r['kind'], name=r['name'], action=r['action'], changed_fields=r['changed_fields'],
                     pruned=r.get('pruned', False)) for r in self.reports if r['changed']]
        if self.check_mode:
            return done
        return done + list(self.partial)


def summarise(reports):
    counts = {'create': 0, 'update': 0, 'delete': 0, 'none': 0}
    for report in reports:
        counts[report['action']] = counts.get(report['action'], 0) + 1
    return counts


def diff_entries(reports):
    """Ansible accepts a list of diffs: one per changed object, with headers."""
    out = []
    for report in reports:
        if not report['changed']:
            continue
        label = '%s %s' % (report['kind'], report['name'])
        before, after = report['diff']['before'], report['diff']['after']
        out.append({'before_header': label + ' (before)', 'after_header': label + ' (after)',
                    'before': before, 'after': after})
    return out


def folder_of(path):
    folder = posixpath.dirname(path.strip('/'))
    return folder + '/' if folder else ''
