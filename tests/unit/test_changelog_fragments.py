# -*- coding: utf-8 -*-
"""Changelog fragments are one line per entry, and the changelog is released for galaxy.yml.

A fragment (changelogs/fragments/<name>.yml) looks like this, every entry on one line:

    ---
    minor_changes:
      - vault_policy - what changed, for a user, in one sentence.

A role or playbook that antsibull-changelog cannot find by its version_added is announced
with a section of one-line mappings:

    ---
    add object.role:
      - name: vault_snapshot
        description: Encrypted, verified raft snapshots of Vault, kept by retention.

`antsibull-changelog release` turns the fragments into changelogs/changelog.yaml and
CHANGELOG.md and removes them (docs/releasing.md). With antsibull-changelog installed
(requirements-test.txt pins it), the last tests lint both with it and check that CHANGELOG.md
is what it generates from changelogs/changelog.yaml.
"""
import os
import re
import shutil

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CHANGELOGS = os.path.join(ROOT, 'changelogs')
FRAGMENTS = os.path.join(CHANGELOGS, 'fragments')
# One line of a changelog: long enough for "<plugin or role> - <what changed>", short
# enough to read in a list of a hundred.
MAX_ENTRY = 220
# Every physical line of a fragment: the document start, a comment, a blank line, a
# section name (release_summary holds its one line beside it), one entry, or the
# description of an "add ..." entry.
LINE = re.compile(r'^(---|#.*|[a-z_]+:( \S.*)?|add (plugin|object)\.[a-z_]+:|  - \S.*|    description: \S.*|)$')
# "add plugin.<type>" and "add object.<type>" sections (antsibull-changelog's names).
PLUGIN_TYPES = ('become', 'cache', 'callback', 'cliconf', 'connection', 'filter', 'httpapi', 'inventory',
                'lookup', 'module', 'netconf', 'shell', 'strategy', 'test', 'vars')
ADD_SECTIONS = {'add plugin.%s' % kind for kind in PLUGIN_TYPES} | {'add object.role', 'add object.playbook'}


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _version(text):
    return tuple(int(part) for part in str(text).split('.'))


def _sections():
    config = _load(os.path.join(CHANGELOGS, 'config.yaml'))
    names = {section for section, _title in config['sections']}
    return names | {config['trivial_section_name']}, config['prelude_section_name']


def _fragments():
    if not os.path.isdir(FRAGMENTS):
        return []
    return sorted(name for name in os.listdir(FRAGMENTS) if name not in ('.keep', '.gitkeep'))


def test_every_fragment_is_yaml_with_known_sections():
    sections, prelude = _sections()
    for name in _fragments():
        assert name.endswith(('.yml', '.yaml')) and not name.startswith('.'), name
        content = _load(os.path.join(FRAGMENTS, name))
        assert isinstance(content, dict) and content, '%s: a mapping of sections' % name
        for section, entries in content.items():
            assert section in sections | {prelude} | ADD_SECTIONS, '%s: unknown section %r' % (name, section)
            if section == prelude:
                assert isinstance(entries, str), '%s: %s is one string' % (name, section)
                continue
            assert isinstance(entries, list) and entries, '%s: %s is a list' % (name, section)
            for entry in entries:
                if section in ADD_SECTIONS:
                    assert isinstance(entry, dict) and sorted(entry) == ['description', 'name'], (
                        '%s: each %s entry is "name" and "description"' % (name, section))
                else:
                    assert isinstance(entry, str), '%s: %s holds strings: %r' % (name, section, entry)


def test_every_fragment_entry_is_one_line():
    prelude = _sections()[1]
    for name in _fragments():
        path = os.path.join(FRAGMENTS, name)
        with open(path) as handle:
            for number, line in enumerate(handle.read().splitlines(), 1):
                assert LINE.match(line), (
                    '%s:%d: one entry per line ("  - text"), no folded or wrapped text: %r'
                    % (name, number, line))
        for section, entries in _load(path).items():
            if section in ADD_SECTIONS:
                entries = [entry['description'] for entry in entries]
            for entry in [entries] if section == prelude else entries:
                assert isinstance(entry, str) and entry.strip() == entry and entry, (name, entry)
                assert '\n' not in entry, '%s: %r spans lines' % (name, entry)
                assert len(entry) <= MAX_ENTRY, (
                    '%s: %d characters, at most %d: say what changed for a user in one line'
                    % (name, len(entry), MAX_ENTRY))


def test_the_changelog_is_released_up_to_galaxy_version():
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        current = _version(yaml.safe_load(handle)['version'])
    releases = _load(os.path.join(CHANGELOGS, 'changelog.yaml'))['releases']
    assert releases, 'changelogs/changelog.yaml holds no release'
    latest = max(_version(version) for version in releases)
    # galaxy.yml names the latest release, or the next one while it is being made.
    assert latest <= current, (latest, current)
    with open(os.path.join(ROOT, 'CHANGELOG.md')) as handle:
        markdown = handle.read()
    for version in releases:
        # antsibull-changelog writes "## v0\.4\.0" for release 0.4.0.
        assert '## v%s\n' % version.replace('.', '\\.') in markdown, (
            'CHANGELOG.md lacks release %s: run antsibull-changelog generate' % version)


def test_no_released_fragment_is_left_to_be_released_again():
    releases = _load(os.path.join(CHANGELOGS, 'changelog.yaml'))['releases']
    released = {name for release in releases.values() for name in release.get('fragments', [])}
    assert not released & set(_fragments()), sorted(released & set(_fragments()))


def _antsibull_changelog():
    return pytest.importorskip('antsibull_changelog.cli', reason='antsibull-changelog (requirements-test.txt)')


def test_the_changelog_lints():
    _antsibull_changelog()
    from antsibull_changelog.lint import lint_changelog_yaml
    errors = lint_changelog_yaml(os.path.join(CHANGELOGS, 'changelog.yaml'), strict=True)
    assert errors == [], errors


def test_the_fragments_lint(monkeypatch, capsys):
    cli = _antsibull_changelog()
    monkeypatch.chdir(ROOT)
    rc = cli.run(['antsibull-changelog', 'lint'])
    assert rc == 0, capsys.readouterr().out


def test_changelog_md_is_what_antsibull_changelog_generates(tmp_path, monkeypatch):
    # CHANGELOG.md is never edited by hand: generated from changelogs/changelog.yaml alone.
    cli = _antsibull_changelog()
    os.makedirs(str(tmp_path / 'changelogs' / 'fragments'))
    shutil.copy(os.path.join(ROOT, 'galaxy.yml'), str(tmp_path))
    for name in ('config.yaml', 'changelog.yaml'):
        shutil.copy(os.path.join(CHANGELOGS, name), str(tmp_path / 'changelogs'))
    monkeypatch.chdir(str(tmp_path))
    assert cli.run(['antsibull-changelog', 'generate']) == 0
    with open(os.path.join(ROOT, 'CHANGELOG.md')) as handle:
        committed = handle.read()
    assert (tmp_path / 'CHANGELOG.md').read_text() == committed, (
        'CHANGELOG.md differs from what antsibull-changelog generates: run antsibull-changelog generate')
