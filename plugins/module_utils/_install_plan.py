# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The plan of the vault_install role: what its variables mean, in one place.

Internal. ``install_plan(inputs)`` takes the role's variables (the mapping
``_vault_install_plan_inputs`` of the role's vars/main.yml, keys without the
``vault_install_`` prefix) and returns a dict:

- ``problems``: one line per value the role cannot use, naming the variable and the fix
  (never a value that may be a secret); the role fails with the first one before any write.
- ``host_config``: the server configuration of a host (without the role's ``ansible_managed``
  header line), rendered from ``host_document``.
- ``chart_values``: the values for the Vault chart (the role's, the user's merged over them,
  then the role's volumes, mounts and ``-config`` argument beside the user's), whose server
  configuration is rendered from ``chart_document``.
- the role's internal paths, the audit devices, the certificate files to read, and so on.

A configuration is a document of JSON-compatible nodes rendered by ``render_hcl``; every
value is quoted by ``hcl_string`` (never pasted into HCL text), only the user's extra HCL
(``vault_install_extra_config``) is appended verbatim.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re

from ansible_collections.vaultkube.platform.plugins.module_utils._names import InvalidName, hcl_string

# get_url's form: <algorithm>:<hex digest>, or <algorithm>:<https URL of a checksum file>.
CHECKSUM_PATTERN = re.compile(r'(sha256:[0-9A-Fa-f]{64}|sha384:[0-9A-Fa-f]{96}|sha512:[0-9A-Fa-f]{128}'
                              r'|(sha256|sha384|sha512):https://[^\s]+)\Z')
# An absolute path: no empty, . or .. part, no trailing slash, no control character.
ABS_PATH_PATTERN = re.compile(r'(/(?!\.\.?(/|\Z))[^/\x00-\x1f]+)+\Z')
# An audit option name, written unquoted in the configuration.
OPTION_NAME_PATTERN = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z')
# Folders the role must never give to the service user.
SYSTEM_DIRS = frozenset([
    '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/media', '/mnt', '/opt', '/proc', '/root', '/run',
    '/sbin', '/srv', '/sys', '/tmp', '/usr', '/usr/bin', '/usr/lib', '/usr/local', '/usr/local/bin', '/usr/sbin',
    '/var', '/var/lib', '/var/log', '/var/run', '/var/tmp'])

# Chart side: where the role mounts its Secrets in the server pods.
HELM_TLS_DIR = '/vault/userconfig/tls'
HELM_EXTRA_CONFIG_VOLUME = 'vaultkube-extra-config'
HELM_EXTRA_CONFIG_FILE = '/vault/userconfig/vaultkube-extra-config/extra.hcl'
HELM_AFFINITY = (
    'podAntiAffinity:\n'
    '  requiredDuringSchedulingIgnoredDuringExecution:\n'
    '    - labelSelector:\n'
    '        matchLabels:\n'
    '          app.kubernetes.io/name: vault\n'
    '          component: server\n'
    '      topologyKey: kubernetes.io/hostname\n')
OPENBAO_COMMENT = ("vault_unseal generates each run's short-lived admin token with sys/generate-root "
                   "(no standing root token).")

_TRUE = ('y', 'yes', 'on', '1', 'true', 't')

# The inputs every plan needs (the role's defaults give them all).
INPUTS = (
    'target', 'binary_name', 'binary_source', 'binary_checksum', 'bin_dir', 'config_dir', 'data_dir', 'tls_dir',
    'run_dir', 'log_dir', 'service_name', 'node_id', 'listen_address', 'cluster_listen_address', 'api_addr',
    'cluster_addr', 'ui', 'disable_mlock', 'raft_retry_join', 'extra_config', 'audit_method', 'audit_file_enabled',
    'audit_file_name', 'audit_file_path', 'audit_extra_devices', 'seal', 'seal_transit_address',
    'seal_transit_key_name', 'seal_transit_mount_path', 'seal_transit_token', 'seal_transit_tls_ca_file',
    'seal_transit_tls_server_name', 'tls_disable', 'tls_cert_file', 'tls_key_file', 'tls_ca_file',
    'tls_min_version', 'user', 'helm_release', 'helm_namespace', 'helm_mode', 'helm_replicas', 'helm_ui',
    'helm_injector', 'helm_tls_secret', 'helm_tls_extra_sans', 'helm_cluster_domain', 'helm_values',
    'helm_seal_secret', 'helm_extra_config_secret', 'service_manager')

# vault_install_service_manager: auto chooses on the host (use_systemd), process is the supervisor script.
SERVICE_MANAGERS = ('auto', 'systemd', 'process')


class InstallPlanError(ValueError):
    """Inputs the plan cannot be made from at all (a missing key); the message names it."""


def boolean(value):
    """Ansible's ``bool`` filter: true for True, 1 and the strings yes/on/1/true/t/y."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return False


def _text(value):
    """Jinja's ``string`` filter (``str`` of any value)."""
    return value if isinstance(value, str) else str(value)


# ------------------------------------------------------------------ HCL documents
def attribute(key, value, pad=0):
    return {'attribute': key, 'value': value, 'pad': pad}


def block(kind, labels=(), body=None):
    """A block; ``body`` None renders ``{}`` on the block's line, a list its nodes inside."""
    return {'block': kind, 'labels': list(labels), 'body': body}


def _hcl_value(key, value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    try:
        return hcl_string(value)
    except InvalidName:
        # The value may be a credential (the transit token): only the attribute is named.
        raise InvalidName('%s must be text without ${ or %%{ (HCL would interpret them)' % key)


def render_hcl(document, indent=0):
    """HCL text from a document: a list of nodes ``{attribute, value, pad}``, ``{block,
    labels, body}``, ``{comment}``, ``{blank}`` or ``{verbatim}`` (text written as it is)."""
    lead = '  ' * indent
    out = []
    for node in document:
        if 'attribute' in node:
            key = node['attribute']
            out.append('%s%s = %s\n' % (lead, key.ljust(node.get('pad') or 0), _hcl_value(key, node['value'])))
        elif 'block' in node:
            head = ' '.join([node['block']] + [_hcl_value(node['block'], label) for label in node.get('labels', [])])
            if node.get('body') is None:
                out.append('%s%s {}\n' % (lead, head))
            else:
                out.append('%s%s {\n' % (lead, head))
                out.append(render_hcl(node['body'], indent + 1))
                out.append('%s}\n' % lead)
        elif 'comment' in node:
            out.append('%s# %s\n' % (lead, node['comment']))
        elif 'blank' in node:
            out.append('\n')
        elif 'verbatim' in node:
            out.append(node['verbatim'])
        else:
            raise InvalidName('unknown HCL node %r' % sorted(node))
    return ''.join(out)


# ------------------------------------------------------------------ shared parts
def openbao(inputs):
    """OpenBao or HashiCorp Vault: the binary on a host, the image repository on Kubernetes."""
    if inputs['target'] == 'host':
        return inputs['binary_name'] == 'bao'
    server = (inputs['helm_values'] or {}).get('server') if isinstance(inputs['helm_values'], dict) else None
    image = server.get('image') if isinstance(server, dict) else None
    repository = image.get('repository') if isinstance(image, dict) else None
    return re.search('openbao', _text(repository if repository is not None else '')) is not None


def audit_devices(inputs):
    devices = []
    if boolean(inputs['audit_file_enabled']):
        devices.append({'type': 'file', 'name': inputs['audit_file_name'],
                        'options': {'file_path': inputs['audit_file_path'], 'mode': '0600'}})
    return devices + list(inputs['audit_extra_devices'] or [])


def audit_via_config(inputs):
    method = inputs['audit_method']
    return method == 'config' or (method == 'auto' and openbao(inputs))


def audit_document(devices):
    document = []
    for device in devices:
        body = []
        description = device.get('description', '')
        if len(description or '') > 0:
            body.append(attribute('description', _text(description)))
        options = [attribute(key, _text(value)) for key, value in (device.get('options') or {}).items()]
        body.append(block('options', body=options))
        document.append(block('audit', [_text(device['type']), _text(device['name'])], body))
    return document


def seal_document(inputs, host):
    body = [attribute('address', inputs['seal_transit_address'], 10),
            attribute('key_name', inputs['seal_transit_key_name'], 10),
            attribute('mount_path', inputs['seal_transit_mount_path'], 10)]
    if host:
        # The token stays out of the chart values (a ConfigMap): the pods read it as VAULT_TOKEN.
        body.append(attribute('token', inputs['seal_transit_token'], 10))
    if len(inputs['seal_transit_tls_ca_file']) > 0:
        body.append(attribute('tls_ca_cert', inputs['seal_transit_tls_ca_file']))
    if len(inputs['seal_transit_tls_server_name']) > 0:
        body.append(attribute('tls_server_name', inputs['seal_transit_tls_server_name']))
    return block('seal', ['transit'], body)


# ------------------------------------------------------------------ host target
def host_paths(inputs):
    config_dir, tls_dir, name = inputs['config_dir'], inputs['tls_dir'], inputs['service_name']
    paths = {
        'download_dir': '%s/.download' % config_dir,
        'binary_path': '%s/%s' % (inputs['bin_dir'], inputs['binary_name']),
        'config_file': '%s/%s.hcl' % (config_dir, name),
        'ctl_script': '%s/%s-ctl.sh' % (config_dir, name),
        'pid_file': '%s/%s.pid' % (inputs['run_dir'], name),
        'log_file': '%s/%s.log' % (inputs['log_dir'], name),
        'generated_ca_key': '%s/ca.key' % tls_dir,
        'generated_ca_csr': '%s/ca.csr' % tls_dir,
        'generated_ca_cert': '%s/ca.pem' % tls_dir,
        'generated_key': '%s/server.key' % tls_dir,
        'generated_csr': '%s/server.csr' % tls_dir,
        'generated_cert': '%s/server.pem' % tls_dir,
        'systemd_unit': '/etc/systemd/system/%s.service' % name,
    }
    # The files the configure phase templates (both service files: the manager is chosen later).
    paths['managed_files'] = [paths['config_file'], paths['ctl_script'], paths['systemd_unit']]
    # The generated TLS files (all six must exist for a re-run to skip generating them).
    paths['tls_paths'] = [paths[k] for k in ('generated_ca_key', 'generated_ca_csr', 'generated_ca_cert',
                                             'generated_key', 'generated_csr', 'generated_cert')]
    # The directories of a host installation: owner and mode (the group is vault_install_group). The
    # folder of a packaged binary (/usr/bin) is the package manager's: the role neither creates it nor
    # gives it to the service group.
    paths['directories'] = [] if inputs['binary_source'] == 'package' else [
        {'path': inputs['bin_dir'], 'owner': 'root', 'mode': '0755'}]
    paths['directories'] += [
        {'path': config_dir, 'owner': 'root', 'mode': '0750'},
        {'path': inputs['data_dir'], 'owner': inputs['user'], 'mode': '0700'},
        {'path': inputs['run_dir'], 'owner': inputs['user'], 'mode': '0750'},
        {'path': inputs['log_dir'], 'owner': inputs['user'], 'mode': '0750'},
    ]
    return paths


def host_tls_files(inputs, paths):
    """The listener's certificate and key, and the CA the raft joins trust ('' for none)."""
    cert_file, ca_file = inputs['tls_cert_file'], inputs['tls_ca_file']
    return {
        'cert': cert_file or paths['generated_cert'],
        'key': inputs['tls_key_file'] or paths['generated_key'],
        'ca': ca_file or (paths['generated_ca_cert'] if len(cert_file) == 0 else ''),
    }


def listener_endpoint(address):
    """The server's own listener, reached on the host (never through api_addr, which may name
    a load balancer that answers while this node is down); a wildcard address means loopback."""
    host, _sep, port = _text(address).rpartition(':')
    return {'0.0.0.0': '127.0.0.1', '[::]': '[::1]', '': '127.0.0.1'}.get(host, host) + ':' + port


def host_document(inputs, tls_files):
    bao = inputs['binary_name'] == 'bao'
    tls_disable = boolean(inputs['tls_disable'])
    document = [attribute('ui', boolean(inputs['ui']), 13)]
    if not bao:
        document.append(attribute('disable_mlock', boolean(inputs['disable_mlock']), 13))
    document += [attribute('api_addr', inputs['api_addr'], 13),
                 attribute('cluster_addr', inputs['cluster_addr'], 13),
                 {'blank': True}]
    storage = [attribute('path', inputs['data_dir'], 7), attribute('node_id', _text(inputs['node_id']), 7)]
    for leader in inputs['raft_retry_join'] or []:
        join = [attribute('leader_api_addr', leader)]
        if not tls_disable and len(tls_files['ca']) > 0:
            join.append(attribute('leader_ca_cert_file', tls_files['ca']))
        storage.append(block('retry_join', body=join))
    document += [block('storage', ['raft'], storage), {'blank': True}]
    listener = [attribute('address', inputs['listen_address'], 15),
                attribute('cluster_address', inputs['cluster_listen_address'], 15)]
    if tls_disable:
        listener.append(attribute('tls_disable', True, 15))
    else:
        listener += [attribute('tls_cert_file', tls_files['cert'], 15),
                     attribute('tls_key_file', tls_files['key'], 15),
                     attribute('tls_min_version', inputs['tls_min_version'], 15)]
    if openbao(inputs):
        listener += [{'comment': OPENBAO_COMMENT},
                     attribute('disable_unauthed_generate_root_endpoints', False)]
    document.append(block('listener', ['tcp'], listener))
    if inputs['seal'] == 'transit':
        document += [{'blank': True}, seal_document(inputs, host=True)]
    devices = audit_devices(inputs)
    if audit_via_config(inputs) and devices:
        document += [{'blank': True}] + audit_document(devices)
    if len(inputs['extra_config']) > 0:
        document += [{'blank': True}, {'verbatim': inputs['extra_config'] + '\n'}]
    return document


def private_files(inputs, paths):
    """Files of the service user that root puts back to it (owner, group, mode), never through
    a link: the audit log, and the server log of the supervisor script (none under systemd)."""
    audit = [{'path': inputs['audit_file_path'], 'mode': '0600'}] if audit_log_paths(inputs) else []
    return {'systemd': audit, 'supervised': audit + [{'path': paths['log_file'], 'mode': '0640'}]}


def audit_log_paths(inputs):
    """The audit log on the host, read with everything else (the server creates it on its first
    unseal, as the service user)."""
    if inputs['target'] == 'host' and boolean(inputs['audit_file_enabled']):
        return [inputs['audit_file_path']]
    return []


def certificates(inputs, paths):
    """The certificate files the host read parses (names and the CA's content)."""
    cert_file, ca_file = inputs['tls_cert_file'], inputs['tls_ca_file']
    files = [paths['generated_cert']] if len(cert_file) == 0 else []
    if len(ca_file) > 0 or len(cert_file) == 0:
        files.append(ca_file or paths['generated_ca_cert'])
    return files


# ------------------------------------------------------------------ kubernetes target
def helm_fullname(inputs):
    """The chart's vault.fullname: the release name when it contains the chart name."""
    values = inputs['helm_values'] if isinstance(inputs['helm_values'], dict) else {}
    release = inputs['helm_release']
    return values.get('fullnameOverride') or (release if 'vault' in release else release + '-vault')


def helm_tls_sans(inputs):
    """Every name a client may use: the chart's Services, each pod through the headless
    Service (raft joins, api_addr), and the loopback address of a port-forward."""
    fullname, ns, domain = helm_fullname(inputs), inputs['helm_namespace'], inputs['helm_cluster_domain']
    names = []
    for svc in (fullname, fullname + '-active', fullname + '-standby', fullname + '-ui', '*.' + fullname + '-internal'):
        names += ['DNS:' + svc, 'DNS:%s.%s' % (svc, ns), 'DNS:%s.%s.svc' % (svc, ns),
                  'DNS:%s.%s.svc.%s' % (svc, ns, domain)]
    return names + ['DNS:localhost', 'IP:127.0.0.1'] + list(inputs['helm_tls_extra_sans'] or [])


def chart_document(inputs):
    """The server configuration in the chart's values (integrated raft in both modes: it works
    for Vault and OpenBao, which has no "file" storage, the chart's standalone default)."""
    listener = [attribute('address', '[::]:8200', 15), attribute('cluster_address', '[::]:8201', 15)]
    if not boolean(inputs['tls_disable']):
        listener += [attribute('tls_cert_file', HELM_TLS_DIR + '/tls.crt', 15),
                     attribute('tls_key_file', HELM_TLS_DIR + '/tls.key', 15),
                     attribute('tls_min_version', inputs['tls_min_version'], 15)]
    else:
        listener.append(attribute('tls_disable', 1, 15))
    if openbao(inputs):
        listener.append(attribute('disable_unauthed_generate_root_endpoints', False))
    document = [attribute('ui', boolean(inputs['helm_ui'])), block('listener', ['tcp'], listener), {'blank': True},
                block('storage', ['raft'], [attribute('path', '/vault/data')]),
                block('service_registration', ['kubernetes'])]
    if inputs['seal'] == 'transit':
        document.append(seal_document(inputs, host=False))
    document.append({'blank': True})
    if audit_via_config(inputs):
        document += audit_document(audit_devices(inputs))
    return document


def merge(base, over):
    """Ansible's ``combine(recursive=true)``: dicts merged key by key, anything else replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def chart_values(inputs):
    tls = not boolean(inputs['tls_disable'])
    fullname = helm_fullname(inputs)
    config = render_hcl(chart_document(inputs))
    values = {
        'global': {'tlsDisable': not tls},
        'injector': {'enabled': boolean(inputs['helm_injector'])},
        'ui': {'enabled': boolean(inputs['helm_ui'])},
        'server': {
            'affinity': HELM_AFFINITY,
            'dataStorage': {'enabled': True, 'size': '10Gi'},
            'auditStorage': {'enabled': True, 'size': '10Gi'},
            'standalone': {'enabled': inputs['helm_mode'] == 'standalone', 'config': config},
            'ha': {
                'enabled': inputs['helm_mode'] == 'ha',
                'replicas': int(inputs['helm_replicas']),
                # Each pod advertises its DNS name (in the certificate), not its pod IP.
                'apiAddr': '%s://$(VAULT_K8S_POD_NAME).%s-internal:8200' % ('https' if tls else 'http', fullname),
                'raft': {'enabled': True, 'setNodeId': True, 'config': config},
            },
        },
    }
    if tls:
        values = merge(values, {'server': {'extraEnvironmentVars': {'VAULT_CACERT': HELM_TLS_DIR + '/ca.crt'}}})
    if inputs['seal'] == 'transit':
        values = merge(values, {'server': {'extraSecretEnvironmentVars': [
            {'envName': 'VAULT_TOKEN', 'secretName': inputs['helm_seal_secret'], 'secretKey': 'token'}]}})
    user_values = inputs['helm_values'] or {}
    values = merge(values, user_values)
    # vault_install_extra_config may hold credentials (a KMS seal, a token): it never goes into
    # the values (their ConfigMap) but into a Secret, mounted in the server pods and loaded as a
    # second configuration file (-config, through server.extraArgs).
    extra = len(inputs['extra_config']) > 0
    volumes, mounts = [], []
    if tls:
        volumes.append({'name': 'tls', 'secret': {'secretName': inputs['helm_tls_secret']}})
        mounts.append({'name': 'tls', 'mountPath': HELM_TLS_DIR, 'readOnly': True})
    if extra:
        volumes.append({'name': HELM_EXTRA_CONFIG_VOLUME,
                        'secret': {'secretName': inputs['helm_extra_config_secret'], 'defaultMode': 288}})
        mounts.append({'name': HELM_EXTRA_CONFIG_VOLUME, 'mountPath': HELM_EXTRA_CONFIG_FILE.rsplit('/', 1)[0],
                       'readOnly': True})
    # Merged last: the role's volumes and mounts kept beside the user's (a list in the values
    # would otherwise replace the role's), one of each name, and the -config argument.
    user = user_values.get('server') or {}
    names = [v['name'] for v in volumes]
    server = {}
    if names:
        server['volumes'] = volumes + [v for v in (user.get('volumes') or []) if v.get('name') not in names]
        server['volumeMounts'] = mounts + [v for v in (user.get('volumeMounts') or []) if v.get('name') not in names]
    if extra:
        server['extraArgs'] = ('-config=%s %s' % (HELM_EXTRA_CONFIG_FILE, _text(user.get('extraArgs') or ''))).strip()
    return merge(values, {'server': server})


def use_systemd(service_manager, service_mgr='', systemd_booted=None):
    """Whether the host's service runs under systemd: always with ``systemd``, never with ``process``
    (the supervisor script); with ``auto`` where systemd is the running service manager, as Ansible's
    ``ansible_service_mgr`` fact (``service_mgr``) says or systemd's own test (sd_booted: the folder
    /run/systemd/system exists, ``systemd_booted`` as host_state_info reads it). None for ``auto``
    while the host is not read yet (neither is known)."""
    if service_manager == 'systemd':
        return True
    if service_manager != 'auto':
        return False
    if service_mgr == 'systemd' or systemd_booted is True:
        return True
    if systemd_booted is None:
        return None
    return False


# ------------------------------------------------------------------ problems
def service_manager_problems(inputs):
    if inputs['target'] != 'host' or inputs['service_manager'] in SERVICE_MANAGERS:
        return []
    return ['vault_install_service_manager must be auto (systemd where it runs, otherwise a supervised process), '
            'systemd or process, got %s' % json.dumps(_text(inputs['service_manager']))]


def checksum_problems(inputs):
    """get_url checks the checksum before the file reaches its destination: without one, whoever
    serves (or intercepts) the URL chooses the binary that runs as the service."""
    if inputs['target'] != 'host' or inputs['binary_source'] != 'url':
        return []
    checksum = inputs['binary_checksum']
    if isinstance(checksum, str) and CHECKSUM_PATTERN.match(checksum):
        return []
    return ['vault_install_binary_source is url, so vault_install_binary_checksum must be "sha256:<hex>" of the '
            "file at vault_install_binary_url (take it from the release's SHA256SUMS file, or run sha256sum on a "
            'copy you trust) or "sha256:https://<the SHA256SUMS file>"; it is %s.'
            % ('empty' if len(checksum or '') == 0 else 'not in that form')]


def path_problems(inputs):
    """Root writes in the role's folders and chowns the service user's ones: a root folder inside a
    service user's folder (or one of those inside another) would let the service user swap it for
    a link to any file between two runs."""
    if inputs['target'] != 'host':
        return []
    problems = []
    service = [('vault_install_data_dir', inputs['data_dir']), ('vault_install_run_dir', inputs['run_dir']),
               ('vault_install_log_dir', inputs['log_dir'])]
    rooted = [('vault_install_bin_dir', inputs['bin_dir']), ('vault_install_config_dir', inputs['config_dir']),
              ('vault_install_tls_dir', inputs['tls_dir'])]
    for name in ('tls_cert_file', 'tls_key_file', 'tls_ca_file'):
        if len(inputs[name]) > 0:
            rooted.append(('vault_install_' + name, inputs[name]))
    every = service + rooted
    for name, path in every:
        if not (isinstance(path, str) and ABS_PATH_PATTERN.match(path)):
            problems.append('%s must be an absolute path with no trailing /, no . or .. part, got %s'
                            % (name, json.dumps(_text(path))))
    for name, path in service:
        if path in SYSTEM_DIRS:
            problems.append('%s is %s, a system folder the role would give to the service user: choose a folder of '
                            'its own (as the defaults /opt/vault/data, /run/vault, /var/log/vault)' % (name, path))
        for other, inner in every:
            if other != name and (_text(inner) == path or _text(inner).startswith(_text(path) + '/')):
                problems.append('%s (%s) is in %s (%s), which the service user owns and could replace with a link: '
                                'give each its own folder' % (other, inner, name, path))
    return problems


def hcl_problems(inputs):
    """The values that go into the server configuration are quoted as HCL strings; HCL would still
    interpret ${ and %{ in them, and an audit option name is written unquoted. Only the variable
    is named, never the value (the transit token is one of them)."""
    problems = []
    fields = [('vault_install_' + name, inputs[name]) for name in (
        'api_addr', 'cluster_addr', 'data_dir', 'node_id', 'listen_address', 'cluster_listen_address',
        'tls_cert_file', 'tls_key_file', 'tls_ca_file', 'tls_min_version', 'seal_transit_address',
        'seal_transit_key_name', 'seal_transit_mount_path', 'seal_transit_token', 'seal_transit_tls_ca_file',
        'seal_transit_tls_server_name')]
    for index, leader in enumerate(inputs['raft_retry_join'] or []):
        fields.append(('vault_install_raft_retry_join[%d]' % index, leader))
    for device in audit_devices(inputs):
        where = 'the audit device ' + json.dumps(_text(device['name']))
        fields += [(where + ' (its type)', device['type']), (where + ' (its name)', device['name']),
                   (where + ' (its description)', device.get('description', ''))]
        for key, value in (device.get('options') or {}).items():
            if not (isinstance(key, str) and OPTION_NAME_PATTERN.match(key)):
                problems.append('%s has the option %s: option names are letters, digits and _'
                                % (where, json.dumps(_text(key))))
            fields.append(('%s (option %s)' % (where, key), value))
    for name, value in fields:
        if '${' in _text(value) or '%{' in _text(value):
            problems.append('%s holds ${ or %%{, which HCL would interpret: remove it' % name)
    return problems


def audit_volume_problems(inputs, values):
    """A declared file device under the chart's audit mount needs that volume: without it the
    server could not open the log and would refuse every request."""
    storage = (values.get('server') or {}).get('auditStorage') or {}
    path = inputs['audit_file_path']
    if (boolean(inputs['audit_file_enabled']) and re.match(_text(storage.get('mountPath', '/vault/audit')) + '/', path)
            and not boolean(storage.get('enabled', False))):
        return ["the audit log %s is on the chart's audit volume, which vault_install_helm_values turns off "
                '(server.auditStorage.enabled): enable it, or set vault_install_audit_file_path elsewhere, or '
                'vault_install_audit_file_enabled: false.' % path]
    return []


# ------------------------------------------------------------------ the plan
def install_plan(inputs, service_mgr='', systemd_booted=None):
    """The plan; ``service_mgr`` (the ansible_service_mgr fact) and ``systemd_booted`` (host_state_info's
    ``systemd``) only decide ``use_systemd`` (see use_systemd)."""
    missing = [name for name in INPUTS if name not in inputs]
    if missing:
        raise InstallPlanError('the inputs lack %s' % ', '.join(missing))
    host = inputs['target'] == 'host'
    paths = host_paths(inputs)
    tls_files = host_tls_files(inputs, paths)
    devices = audit_devices(inputs)
    via_config = audit_via_config(inputs)
    plan = dict(paths)
    plan.update({
        'openbao': openbao(inputs),
        'audit_via_config': via_config,
        'audit_devices': devices,
        # HashiCorp Vault takes its audit devices through the API: vault_unseal enables these.
        'audit_api_devices': [] if via_config else devices,
        'audit_log_paths': audit_log_paths(inputs),
        'private_files': private_files(inputs, paths),
        # Whether the host configuration file may hold a credential (its task's result is hidden then).
        'config_secret': inputs['seal'] == 'transit' or len(inputs['extra_config']) > 0,
        'certificates': certificates(inputs, paths),
        'listener_endpoint': listener_endpoint(inputs['listen_address']),
        'tls_cert': tls_files['cert'],
        'tls_key': tls_files['key'],
        'tls_ca': tls_files['ca'],
        'helm_tls': not boolean(inputs['tls_disable']),
        'helm_fullname': helm_fullname(inputs),
        'helm_tls_sans': helm_tls_sans(inputs),
        'helm_pod_selector': 'app.kubernetes.io/name=vault,app.kubernetes.io/instance=%s,component=server'
                             % inputs['helm_release'],
        'use_systemd': use_systemd(inputs['service_manager'], service_mgr, systemd_booted),
        'host_document': [],
        'host_config': '',
        'chart_values': {},
    })
    problems = (checksum_problems(inputs) + service_manager_problems(inputs) + path_problems(inputs)
                + hcl_problems(inputs))
    if not problems:
        try:
            if host:
                plan['host_document'] = host_document(inputs, tls_files)
                plan['host_config'] = render_hcl(plan['host_document'])
            else:
                plan['chart_values'] = chart_values(inputs)
                problems += audit_volume_problems(inputs, plan['chart_values'])
        except InvalidName as exc:
            problems.append('the server configuration: %s' % exc)
    plan['problems'] = problems
    return plan
