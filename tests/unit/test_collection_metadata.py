# -*- coding: utf-8 -*-
"""Every Vault module is in the vault action group, and every module documents itself."""
import ast
import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, 'plugins', 'modules'))
                 if name.endswith('.py') and not name.startswith('_'))


def test_every_vault_module_is_in_the_action_group():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        runtime = yaml.safe_load(handle)
    group = runtime['action_groups']['vault']
    # The group carries the Vault connection options; other modules take none.
    assert sorted(group) == [name for name in MODULES if name.startswith('vault_')]
    assert group == sorted(group), 'keep the action group in alphabetical order'


def test_every_kubernetes_module_is_in_the_kubernetes_action_group():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        runtime = yaml.safe_load(handle)
    group = runtime['action_groups']['kubernetes']
    assert group == [name for name in MODULES if name.startswith('kubernetes_')]
    # Every module is in one group, so module_defaults can reach it.
    grouped = set(group) | set(runtime['action_groups']['vault']) | set(runtime['action_groups']['host'])
    assert grouped == set(MODULES)


def test_every_module_has_documentation_examples_and_return_before_imports():
    for name in MODULES:
        with open(os.path.join(ROOT, 'plugins', 'modules', name + '.py')) as handle:
            tree = ast.parse(handle.read())
        assigned = []
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not (
                    isinstance(node, ast.ImportFrom) and node.module == '__future__'):
                break
            if isinstance(node, ast.Assign):
                assigned.extend(t.id for t in node.targets if isinstance(t, ast.Name))
        for block in ('DOCUMENTATION', 'EXAMPLES', 'RETURN'):
            assert block in assigned, '%s: %s missing or after the imports' % (name, block)


def test_no_plugin_is_newer_than_the_collection():
    import glob
    import re
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        release = tuple(int(p) for p in yaml.safe_load(handle)['version'].split('.'))
    for path in glob.glob(os.path.join(ROOT, 'plugins', '*', '*.py')):
        with open(path) as handle:
            for added in re.findall(r'version_added: ([0-9.]+)', handle.read()):
                assert tuple(int(p) for p in added.split('.')) <= release, (path, added, release)
