# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Kubernetes auth method: its config (auth/<mount>/config) and roles (auth/<mount>/role/<name>).

Facts about OpenBao 2.7 this relies on (checked against a real server):

* A config write replaces the whole config: every field left out goes back to
  its default (issuer cleared, disable_iss_validation true, reviewer JWT
  dropped). So every write sends the full config.
* A config read never returns the reviewer JWT, only ``token_reviewer_jwt_set``.
* The config cannot be deleted (DELETE answers 405 "unsupported operation").
* ``disable_local_ca_jwt=true`` without ``kubernetes_ca_cert`` is refused, and
  outside a pod a config without a CA fails reading the pod's CA file.
* The CA text is stored exactly as sent; it is not checked to be a certificate.
* A role write updates only the fields sent, except that a write without
  ``bound_service_account_namespace_selector`` clears the selector; so every
  update sends the whole role, current values merged with the wanted ones.
* ``issuer`` alone has no effect: the ``iss`` claim is only checked with
  ``disable_iss_validation=false`` (OpenBao 2.7 and Vault 1.21 both store and
  return the flag, default true). So a non-empty issuer turns the check on
  unless the flag is given, and an empty one turns it off.
* Vault trims white space around list items, returns ``audience`` only when it
  is set, shows host CIDRs without ``/32`` and rejects token_type values other
  than default, service and batch.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re

from ansible.module_utils.six import string_types, text_type

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError
from ansible_collections.vaultkube.platform.plugins.module_utils._compare import (
    FieldError,
    checked_path,
    normalise,
    read_text_file,
)
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import MountKind, VaultObject

DEFAULT_MOUNT = 'kubernetes'

# Stands for "the JWT will be written again" in the compared state: the state
# never holds the JWT itself, and Vault cannot tell whether its copy differs.
JWT_REWRITE = 'rewritten on every run'

PEM_CERT_BEGIN = '-----BEGIN CERTIFICATE-----'
PEM_CERT_END = '-----END CERTIFICATE-----'


def mount_of(params):
    return (params.get('mount_path') or DEFAULT_MOUNT).strip().strip('/')


def validate_mount(mount):
    if not mount:
        raise FieldError('mount_path must name the kubernetes auth mount, for example "kubernetes"')
    if mount.startswith('auth/'):
        raise FieldError('mount_path is relative to auth/: write %r, not %r' % (mount[len('auth/'):], mount))
    checked_path(mount, 'mount_path')


KUBERNETES_AUTH_MOUNT = MountKind('auth', 'kubernetes', 'auth/%s', 'auth/%s/role', {
    'missing': 'kubernetes auth mount %(mount)r does not exist: enable the kubernetes auth method at auth/%(mount)s/ '
               'first (vault_auth_method), or set mount_path (%(exc)s)',
    'declared': 'mount_path %(mount)r is declared in this document as a %(found)s auth method, not kubernetes',
    'unknown': 'cannot tell whether auth/%(mount)s is a kubernetes auth mount: %(exc)s',
    'inside': 'mount_path %(mount)r is not an auth mount: it lies in the %(found)s auth mount %(at)r; set mount_path '
              'to the mount itself',
    'wrong': 'mount_path %(mount)r is a %(found)s auth method, not kubernetes: nothing was written; point mount_path '
             'at a kubernetes auth mount',
})


def _clean_items(value):
    # Vault trims white space around list items; compare what it will store.
    if value is None:
        return None
    if isinstance(value, string_types):
        value = value.split(',')
    return [text_type(item).strip() for item in value if text_type(item).strip()]


def _pem_set(value):
    return sorted(set(normalise('pem', item) for item in (value or []) if normalise('pem', item)))


def _looks_like_certificate(text):
    return PEM_CERT_BEGIN in text and PEM_CERT_END in text


# --------------------------------------------------------------------------- config

CONFIG_KINDS = {
    'kubernetes_host': 'str',
    'kubernetes_ca_cert': 'pem',
    'disable_local_ca_jwt': 'bool',
    'issuer': 'str',
    'disable_iss_validation': 'bool',
}


class KubernetesAuthConfig(VaultObject):
    """auth/<mount>/config. There is one per mount and it cannot be deleted."""

    kind = 'kubernetes auth config'
    secret_fields = ('token_reviewer_jwt',)
    argument_spec = dict(
        mount_path=dict(type='str', default=DEFAULT_MOUNT, no_log=False),
        kubernetes_host=dict(type='str', required=True),
        kubernetes_ca_cert=dict(type='str'),
        kubernetes_ca_cert_file=dict(type='path'),
        token_reviewer_jwt=dict(type='str', no_log=True),
        token_reviewer_jwt_update=dict(type='str', default='on_create', choices=['on_create', 'always'],
                                       no_log=False),
        disable_local_ca_jwt=dict(type='bool'),
        issuer=dict(type='str'),
        disable_iss_validation=dict(type='bool'),
        pem_keys=dict(type='list', elements='str', no_log=False),
    )
    mutually_exclusive = [('kubernetes_ca_cert', 'kubernetes_ca_cert_file')]

    def __init__(self, api, params):
        super(KubernetesAuthConfig, self).__init__(api, params)
        self._raw = None
        self._ca_cert = None

    @property
    def mount(self):
        return mount_of(self.params)

    @property
    def name(self):
        return self.mount

    @property
    def path(self):
        return 'auth/%s/config' % self.name

    def validate(self):
        validate_mount(self.name)
        if (self.params.get('state') or 'present') != 'present':
            raise FieldError('state=%s is not supported: Vault cannot delete a kubernetes auth config; '
                             'disable the auth method (vault_auth_method) to remove it' % self.params['state'])
        if self.params.get('kubernetes_ca_cert') and self.params.get('kubernetes_ca_cert_file'):
            raise FieldError('kubernetes_ca_cert and kubernetes_ca_cert_file are mutually exclusive: give one')
        if not (self.params.get('kubernetes_host') or '').strip():
            raise FieldError('kubernetes_host must be the Kubernetes API URL, for example '
                             'https://kubernetes.default.svc:443')
        self._ca_cert = self._load_ca_cert()
        if self.params.get('disable_local_ca_jwt') and not self._ca_cert:
            raise FieldError('kubernetes_ca_cert (or kubernetes_ca_cert_file) must be given when '
                             'disable_local_ca_jwt is true: Vault refuses the config without a CA')
        jwt = self.params.get('token_reviewer_jwt')
        if jwt is not None and not jwt.strip():
            raise FieldError('token_reviewer_jwt is empty: give the reviewer JWT or leave the option out')
        for key in self.params.get('pem_keys') or []:
            if '-----BEGIN' not in (key or ''):
                raise FieldError('pem_keys must hold PEM public keys ("-----BEGIN PUBLIC KEY-----..."); '
                                 'one entry is not PEM')

    def preflight(self, declared_mounts, cache):
        KUBERNETES_AUTH_MOUNT.check(self.api, self.mount, declared_mounts, cache)

    def _load_ca_cert(self):
        text = self.params.get('kubernetes_ca_cert')
        source = 'kubernetes_ca_cert'
        path = self.params.get('kubernetes_ca_cert_file')
        if path:
            source = 'kubernetes_ca_cert_file %s' % path
            text = read_text_file(path, 'kubernetes_ca_cert_file')
        if text is None:
            return None
        pem = normalise('pem', text)
        if not pem and not path:
            # An empty CA clears the one Vault holds: a Vault in a pod then uses its pod's CA.
            if self.params.get('disable_local_ca_jwt'):
                return None
            return ''
        if not _looks_like_certificate(pem):
            raise FieldError('%s must hold a PEM certificate ("%s" ... "%s")'
                             % (source, PEM_CERT_BEGIN, PEM_CERT_END))
        return pem

    def read(self):
        body = KUBERNETES_AUTH_MOUNT.call(self.name, self.api.read, self.path)
        if body is None:
            return None
        self._raw = body.get('data') or {}
        state = dict((field, normalise(kind, self._raw.get(field), field))
                     for field, kind in CONFIG_KINDS.items())
        state['pem_keys'] = _pem_set(self._raw.get('pem_keys'))
        state['token_reviewer_jwt_set'] = bool(self._raw.get('token_reviewer_jwt_set'))
        return state

    def desired(self):
        wanted = {}
        for field, kind in CONFIG_KINDS.items():
            value = self._ca_cert if field == 'kubernetes_ca_cert' else self.params.get(field)
            if value is not None:
                wanted[field] = normalise(kind, value, field)
        issuer = wanted.get('issuer')
        if issuer is not None and self.params.get('disable_iss_validation') is None:
            # An issuer is only checked with validation on; no issuer, no check.
            wanted['disable_iss_validation'] = not issuer
        if self.params.get('pem_keys') is not None:
            wanted['pem_keys'] = _pem_set(self.params['pem_keys'])
        # Vault only says whether a JWT is set. Giving none while one is set is a
        # difference too: the write that follows drops it.
        jwt_given = bool(self.params.get('token_reviewer_jwt'))
        wanted['token_reviewer_jwt_set'] = jwt_given
        if jwt_given and self.params.get('token_reviewer_jwt_update') == 'always':
            wanted['token_reviewer_jwt'] = JWT_REWRITE
        return wanted

    def create(self, wanted):
        self._write(wanted)

    def update(self, current, wanted, changed_fields):
        self._write(wanted)

    def _write(self, wanted):
        # A config write replaces the whole config: start from what Vault holds so
        # fields the user did not set keep their value.
        body = {}
        raw = self._raw or {}
        for field in list(CONFIG_KINDS) + ['pem_keys']:
            if field in raw and raw[field] is not None:
                body[field] = raw[field]
        for field in list(CONFIG_KINDS) + ['pem_keys']:
            if field in wanted:
                body[field] = wanted[field]
        if self.params.get('token_reviewer_jwt'):
            body['token_reviewer_jwt'] = self.params['token_reviewer_jwt']
        self.api.write(self.path, body)

    def remove(self, current):
        raise FieldError('a kubernetes auth config cannot be deleted')


# --------------------------------------------------------------------------- role

ROLE_KINDS = {
    'bound_service_account_names': 'set',
    'bound_service_account_namespaces': 'set',
    'bound_service_account_namespace_selector': 'selector',
    'audience': 'str',
    'alias_name_source': 'str',
    'token_policies': 'set',
    'token_ttl': 'ttl',
    'token_max_ttl': 'ttl',
    'token_period': 'ttl',
    'token_explicit_max_ttl': 'ttl',
    'token_type': 'str',
    'token_bound_cidrs': 'cidrs',
    'token_no_default_policy': 'bool',
    'token_num_uses': 'int',
}

# The names Vault's kubernetes auth accepts in role/<name> (Go's \w is ASCII only).
ROLE_NAME = re.compile(r'[A-Za-z0-9_](?:[A-Za-z0-9_.@-]*[A-Za-z0-9_])?')

# Written back unchanged on update so that a merged write loses nothing.
ROLE_PRESERVED = ('token_strictly_bind_ip',)


def _selector(value):
    """A label selector as canonical JSON when it is JSON (or a dict), else the text."""
    if value is None or value == '':
        return ''
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(',', ':'))
    text = text_type(value).strip()
    try:
        return json.dumps(json.loads(text), sort_keys=True, separators=(',', ':'))
    except ValueError:
        return text


def _cidr(value, field):
    try:
        iface = ipaddress.ip_interface(text_type(value).strip())
    except ValueError:
        raise FieldError('%s must hold IP addresses or CIDR blocks, got %r' % (field, value))
    # Vault shows a single-host block as the bare address.
    if iface.network.prefixlen == iface.max_prefixlen:
        return text_type(iface.ip)
    return text_type(iface.with_prefixlen)


def normalise_role_field(field, value):
    kind = ROLE_KINDS[field]
    if kind == 'set':
        return normalise('set', _clean_items(value), field)
    if kind == 'cidrs':
        return sorted(set(_cidr(item, field) for item in (_clean_items(value) or [])))
    if kind == 'selector':
        return _selector(value)
    result = normalise(kind, value, field)
    if kind == 'ttl' and result < 0:
        raise FieldError('%s must be 0 (the default) or a positive duration, got %r' % (field, value))
    return result


class KubernetesAuthRole(VaultObject):
    """auth/<mount>/role/<name>."""

    kind = 'kubernetes auth role'
    argument_spec = dict(
        mount_path=dict(type='str', default=DEFAULT_MOUNT, no_log=False),
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        bound_service_account_names=dict(type='list', elements='str'),
        bound_service_account_namespaces=dict(type='list', elements='str'),
        bound_service_account_namespace_selector=dict(type='raw'),
        audience=dict(type='str'),
        alias_name_source=dict(type='str', choices=['serviceaccount_uid', 'serviceaccount_name']),
        token_policies=dict(type='list', elements='str', no_log=False),
        token_ttl=dict(type='raw', no_log=False),
        token_max_ttl=dict(type='raw', no_log=False),
        token_period=dict(type='raw', no_log=False),
        token_explicit_max_ttl=dict(type='raw', no_log=False),
        token_type=dict(type='str', choices=['default', 'service', 'batch'], no_log=False),
        token_bound_cidrs=dict(type='list', elements='str', no_log=False),
        token_no_default_policy=dict(type='bool', no_log=False),
        token_num_uses=dict(type='int', no_log=False),
    )
    required_if = [
        ('state', 'present', ['bound_service_account_names']),
        ('state', 'present', ['bound_service_account_namespaces',
                              'bound_service_account_namespace_selector'], True),
    ]

    def __init__(self, api, params):
        super(KubernetesAuthRole, self).__init__(api, params)
        self._raw = None

    @property
    def mount(self):
        return mount_of(self.params)

    @property
    def role(self):
        # The kubernetes auth method stores role names lower-cased ("MyRole" is "myrole").
        return (self.params.get('name') or '').lower()

    @property
    def name(self):
        return '%s/%s' % (self.mount, self.role)

    @property
    def path(self):
        return 'auth/%s/role/%s' % (self.mount, self.role)

    @classmethod
    def list_existing(cls, api, objects):
        """Names (mount/role) of the roles that exist, one LIST per mount."""
        found = set()
        for mount in sorted(set(obj.mount for obj in objects)):
            for role in KUBERNETES_AUTH_MOUNT.call(mount, api.list, 'auth/%s/role' % mount):
                found.add('%s/%s' % (mount, role))
        return found

    @classmethod
    def list_prunable(cls, api, entries):
        """Every role of the mounts the document names, as absent entries (vault_config prune)."""
        prunable = []
        for mount in sorted(set(mount_of(entry) for entry in entries)):
            for role in KUBERNETES_AUTH_MOUNT.call(mount, api.list, 'auth/%s/role' % mount):
                prunable.append({'mount_path': mount, 'name': role, 'state': 'absent', '_listed': True})
        return prunable

    def validate(self):
        validate_mount(self.mount)
        role = self.params.get('name')
        if not self.params.get('_listed') and (not role or not isinstance(role, str) or not ROLE_NAME.fullmatch(role)):
            raise FieldError('name must be a role name of ASCII letters, digits and _ - . @ (starting and '
                             'ending with a letter, digit or _), as Vault accepts them; got %r' % role)
        if (self.params.get('state') or 'present') != 'present':
            return
        if not _clean_items(self.params.get('bound_service_account_names')):
            raise FieldError('bound_service_account_names must list at least one service account '
                             '(or "*") when state=present')
        if not (_clean_items(self.params.get('bound_service_account_namespaces'))
                or self.params.get('bound_service_account_namespace_selector')):
            raise FieldError('bound_service_account_namespaces (or bound_service_account_namespace_selector) '
                             'must be given when state=present')
        wanted = self.desired()
        ttl, max_ttl = wanted.get('token_ttl'), wanted.get('token_max_ttl')
        if ttl and max_ttl and ttl > max_ttl:
            raise FieldError('token_ttl (%ds) cannot be greater than token_max_ttl (%ds)' % (ttl, max_ttl))

    def preflight(self, declared_mounts, cache):
        KUBERNETES_AUTH_MOUNT.check(self.api, self.mount, declared_mounts, cache)

    def read(self):
        body = KUBERNETES_AUTH_MOUNT.call(self.mount, self.api.read, self.path)
        if body is None:
            return None
        raw = body.get('data') or {}
        if 'bound_service_account_names' not in raw:
            raise VaultRequestError('auth/%s is not a kubernetes auth mount: role %s has no '
                                    'bound_service_account_names; check mount_path'
                                    % (self.mount, self.role))
        self._raw = raw
        return dict((field, normalise_role_field(field, raw.get(field))) for field in ROLE_KINDS)

    def desired(self):
        return dict((field, normalise_role_field(field, self.params[field]))
                    for field in ROLE_KINDS if self.params.get(field) is not None)

    def create(self, wanted):
        self.api.write(self.path, wanted)

    def update(self, current, wanted, changed_fields):
        # Send the whole role: Vault clears the namespace selector on any write
        # that leaves it out.
        body = {}
        raw = self._raw or {}
        for field in list(ROLE_KINDS) + list(ROLE_PRESERVED):
            if raw.get(field) not in (None, ''):
                body[field] = raw[field]
        body.update(wanted)
        self.api.write(self.path, body)

    def remove(self, current):
        self.api.delete(self.path)
