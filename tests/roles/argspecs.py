"""Keep each role's meta/argument_specs.yml in step with its defaults/main.yml.

The comment block above a variable in defaults/main.yml is its description; the
type is taken from the default value (str for templated values), unless the
comment has a line "type: <t>". Choices come from a comment line "choices: a|b".

  python tests/roles/argspecs.py --write   regenerate meta/argument_specs.yml of every role
  python tests/roles/argspecs.py --check   fail when a file differs from what --write would produce
"""
import copy
import json
import os
import re
import sys

import yaml

ROLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'roles')
SHORT = {
    'vault_install': 'Install Vault or OpenBao on a host or on Kubernetes (Helm).',
    'vault_unseal': 'Initialise Vault once, store the keys, unseal every node, join raft followers.',
    'ca_cert_export': 'Export the Kubernetes cluster CA to the controller and hand it to the next role.',
    'vault_kubernetes_auth': 'KV v2, the ESO policy, Kubernetes auth (reviewer or client JWT), ESO role, KV seeds.',
    'eso_deploy': 'Deploy External Secrets Operator, its stores and ExternalSecrets, and wait until synced.',
    'vault_database_credentials': 'Database secrets engine, connections, roles, and ESO generators filling Secrets.',
    'vault_tenants': 'Tenants from one list: least-privilege policy, Kubernetes auth role, ServiceAccount, SecretStore.',
    'reloader': 'Stakater Reloader from its own chart; annotates workloads to restart when their Secrets change.',
    'vault_snapshot': 'Encrypted, verified raft snapshots of Vault from its active node, kept by retention.',
}


class IndentDumper(yaml.SafeDumper):
    """Indents list items under their key, as yamllint expects."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


# Options holding secrets: masked if Ansible ever reports them.
SECRET_OPTIONS = {
    'vault_unseal_keys_password', 'vault_unseal_keys', 'vault_unseal_root_token_override', 'vault_unseal_admin_token',
    'vault_kubernetes_auth_token', 'vault_kubernetes_auth_kv_secrets', 'vault_install_seal_transit_token',
    'vault_database_credentials_token', 'vault_database_credentials_connections',
    'vault_tenants_token',
    'vault_snapshot_password', 'vault_snapshot_admin_token', 'vault_snapshot_keys_password',
}


def parse_defaults(path):
    with open(path, encoding='utf-8') as fh:
        lines = fh.read().splitlines()
    values = yaml.safe_load('\n'.join(lines)) or {}
    comments, block = {}, []
    for line in lines:
        if line.startswith('#'):
            block.append(line.lstrip('#').strip())
            continue
        match = re.match(r'^([a-z_][a-z0-9_]*):', line)
        if match:
            comments[match.group(1)] = block
        if not line.startswith(' '):
            block = []
    return values, comments


def option(name, value, comment):
    hints = dict(re.match(r'^(type|choices): (.*)$', c).groups() for c in comment
                 if re.match(r'^(type|choices): ', c))
    text = [c for c in comment if not re.match(r'^(type|choices): ', c)]
    if 'type' in hints:
        kind = hints['type']
    elif isinstance(value, bool):
        kind = 'bool'
    elif isinstance(value, int):
        kind = 'int'
    elif isinstance(value, list):
        kind = 'list'
    elif isinstance(value, dict):
        kind = 'dict'
    else:
        kind = 'str'
    description = ' '.join(text).strip() or 'See the role README.'
    spec = {'description': description, 'type': kind}
    if kind == 'list':
        spec['elements'] = 'raw'
    if '{{' not in json.dumps(value):
        spec['default'] = value
    if name in SECRET_OPTIONS:
        spec['no_log'] = True
    if 'choices' in hints:
        spec['choices'] = hints['choices'].split('|')
    return spec


def render(role):
    values, comments = parse_defaults(os.path.join(ROLES, role, 'defaults', 'main.yml'))
    options = {name: option(name, value, comments.get(name, [])) for name, value in values.items()}
    doc = {'argument_specs': {'main': {
        'short_description': SHORT[role],
        'description': ['See roles/%s/README.md.' % role],
        'author': ['vaultkube.platform maintainers'],
        'options': options,
    }}}
    if role == 'vault_unseal':
        doc['argument_specs']['revoke'] = {
            'short_description': "Revoke the run's admin token the role made (run at the end of a play, also on failure).",
            'options': {k: copy.deepcopy(v) for k, v in options.items()
                        if k in ('vault_unseal_url', 'vault_unseal_nodes', 'vault_unseal_ca_cert',
                                 'vault_unseal_validate_certs', 'vault_unseal_admin_token')},
        }
    return '---\n# Generated from defaults/main.yml by tests/roles/argspecs.py --write\n' + \
        yaml.dump(doc, Dumper=IndentDumper, sort_keys=False, width=100, default_flow_style=False)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else '--check'
    bad = 0
    for role in sorted(SHORT):
        path = os.path.join(ROLES, role, 'meta', 'argument_specs.yml')
        text = render(role)
        if mode == '--write':
            with open(path, 'w', encoding='utf-8') as fh:
                fh.write(text)
        else:
            current = open(path, encoding='utf-8').read() if os.path.exists(path) else ''
            if current != text:
                print('%s is out of date: run python tests/roles/argspecs.py --write' % path)
                bad = 1
    return bad


if __name__ == '__main__':
    sys.exit(main())
