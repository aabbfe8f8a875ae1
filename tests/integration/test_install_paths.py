# -*- coding: utf-8 -*-
"""vault_install's other install paths on this host (issue 26, item 2).

- The package source: Debian's own package manager (apt, through ansible.builtin.package) installs a
  package built here (dpkg-deb) that carries the server binary, from a flat repository in a local
  folder (file:). The repository is known to apt through APT_CONFIG only, a configuration of this
  test with its own sources list, lists and cache folders: nothing under /etc/apt or in the
  machine's package lists changes, and no real source is fetched. dpkg's database is the real one:
  the package is installed for real and purged after, whatever the outcome.
- The systemd source of service handling: systemd is not PID 1 here, so it cannot run a unit. The
  role, told to use systemd, writes its unit and hands it to systemd (which refuses: no systemd);
  the unit it wrote is checked with ``systemd-analyze verify``, which loads it as systemd would
  (keys, values, the ExecStart binary) without a running systemd. ``auto`` chooses the supervised
  process on this host (the package test runs that way); where systemd runs it chooses systemd
  (the decision is the plan's use_systemd, unit-tested in tests/unit/test_install_plan.py).
"""

import grp
import json
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from email.utils import formatdate

import pytest
import requests

from test_role_vault_install import (BINARY, PLAYBOOK, SERVICE, free_pair, install_vars, process_users, server_binary,
                                     sha256_of)
# The fixture of two installation roots and a service user, removed after.
from test_role_vault_install import installs  # noqa: F401  pylint: disable=unused-import
from vaultkube_testlib import ON_VAULT, play_stats, run_playbook, task_results

pytestmark = pytest.mark.needs_root('the role installs a package with dpkg, creates a system user and '
                                    'writes under /etc/systemd/system')

ONCE = pytest.mark.skipif(ON_VAULT, reason='openbao only: apt, dpkg and the systemd unit do not depend on the '
                                           'server; this runs once, in the OpenBao suite')

# The package HashiCorp and OpenBao publish for Debian hosts: the binary in /usr/bin.
PACKAGE = 'vault' if ON_VAULT else 'openbao'
PACKAGE_VERSION = '0.0.0+vaultkube.test'
PACKAGED_BINARY = '/usr/bin/' + BINARY


def run(*argv, env=None, check=True, cwd=None):
    result = subprocess.run(list(argv), capture_output=True, text=True, env=env, check=False, timeout=600, cwd=cwd)
    if check and result.returncode != 0:
        raise AssertionError('%s failed (rc=%d):\n%s\n%s'
                             % (' '.join(argv), result.returncode, result.stdout[-2000:], result.stderr[-2000:]))
    return result


def dpkg_status(package):
    """dpkg's Status of a package, or None when dpkg knows nothing of it."""
    result = run('dpkg-query', '-W', '-f', '${Status}', package, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def machine_apt_state():
    """What this test must leave alone: the files under /etc/apt and the machine's package lists
    (names, sizes and modification times)."""
    state = {}
    for top in ('/etc/apt', '/var/lib/apt/lists'):
        for folder, _dirs, files in os.walk(top):
            for name in files:
                path = os.path.join(folder, name)
                if name == 'lock':
                    continue
                info = os.lstat(path)
                state[path] = (info.st_size, info.st_mtime_ns)
    return state


def deb822(fields):
    """A control paragraph from (name, value) pairs; a list value is a multi-line field."""
    lines = []
    for name, value in fields:
        if isinstance(value, list):
            lines.append('%s:' % name)
            lines.extend(' ' + item for item in value)
        else:
            lines.append('%s: %s' % (name, value))
    return '\n'.join(lines) + '\n'


@pytest.fixture
def apt_repository():
    """A .deb of PACKAGE carrying the server binary at /usr/bin, in a flat repository (Packages,
    Packages.gz, a Release listing them) in a folder of its own, and an apt configuration naming only
    that repository, with lists and cache folders of its own. The package is purged after the test."""
    if dpkg_status(PACKAGE) is not None or os.path.lexists(PACKAGED_BINARY):
        pytest.fail('%s is already known to dpkg or %s exists: this test installs and purges its own %s package '
                    'and must not replace one it did not install' % (PACKAGE, PACKAGED_BINARY, PACKAGE))
    base = tempfile.mkdtemp(prefix='vaultkube-apt-', dir='/opt')
    os.chmod(base, 0o755)
    build, repo, state = (os.path.join(base, name) for name in ('build', 'repo', 'apt'))
    os.makedirs(os.path.join(build, 'DEBIAN'))
    os.makedirs(os.path.join(build, 'usr', 'bin'))
    os.makedirs(repo)
    for folder in ('lists/partial', 'archives/partial', 'cache', 'sourceparts'):
        os.makedirs(os.path.join(state, folder))
    shutil.copy(server_binary(), os.path.join(build, 'usr', 'bin', BINARY))
    os.chmod(os.path.join(build, 'usr', 'bin', BINARY), 0o755)
    arch = run('dpkg', '--print-architecture').stdout.strip()
    with open(os.path.join(build, 'DEBIAN', 'control'), 'w', encoding='utf-8') as handle:
        handle.write(deb822([
            ('Package', PACKAGE), ('Version', PACKAGE_VERSION), ('Architecture', arch),
            ('Maintainer', 'vaultkube.platform tests <tests@vaultkube.invalid>'), ('Section', 'admin'),
            ('Priority', 'optional'),
            ('Description', 'the %s server binary, packaged by the vaultkube.platform tests' % BINARY)]))
    deb = os.path.join(repo, '%s_%s_%s.deb' % (PACKAGE, PACKAGE_VERSION, arch))
    # Not compressed: xz on the 180 MB binary takes minutes on two cores.
    run('dpkg-deb', '--root-owner-group', '-Znone', '--build', build, deb)
    # Run in the repository: the Filename of each entry is relative to it.
    packages = run('dpkg-scanpackages', '--multiversion', '.', cwd=repo).stdout
    with open(os.path.join(repo, 'Packages'), 'w', encoding='utf-8') as handle:
        handle.write(packages)
    run('gzip', '-k9', os.path.join(repo, 'Packages'))
    # A Release listing the index files, so that apt asks for those only (not .xz, .bz2...).
    with open(os.path.join(repo, 'Release'), 'w', encoding='utf-8') as handle:
        handle.write(deb822([
            ('Origin', 'vaultkube-test'), ('Label', 'vaultkube-test'), ('Date', formatdate(usegmt=True)),
            ('SHA256', ['%s %d %s' % (sha256_of(os.path.join(repo, name)), os.path.getsize(os.path.join(repo, name)),
                                      name) for name in ('Packages', 'Packages.gz')])]))
    # Unsigned, so trusted explicitly; the one source apt knows with this configuration.
    with open(os.path.join(state, 'sources.list'), 'w', encoding='utf-8') as handle:
        handle.write('deb [trusted=yes] file:%s ./\n' % repo)
    config = os.path.join(state, 'apt.conf')
    with open(config, 'w', encoding='utf-8') as handle:
        for key, value in (('Dir::Etc::sourcelist', state + '/sources.list'),
                           ('Dir::Etc::sourceparts', state + '/sourceparts'),
                           ('Dir::State::lists', state + '/lists'),
                           ('Dir::Cache', state + '/cache'),
                           ('Dir::Cache::archives', state + '/archives'),
                           ('APT::Sandbox::User', 'root')):
            handle.write('%s %s;\n' % (key, json.dumps(value)))
    env = dict(os.environ, APT_CONFIG=config)
    try:
        yield dict(env=env, config=config, deb=deb, sha256=sha256_of(server_binary()), state=state)
    finally:
        # Whatever happened: no server left running from the packaged binary, the package purged.
        for pid in packaged_server_pids():
            try:
                os.kill(pid, 15)
            except OSError:
                pass
        if dpkg_status(PACKAGE) is not None:
            run('dpkg', '--purge', PACKAGE, check=False)
        shutil.rmtree(base, ignore_errors=True)
        assert dpkg_status(PACKAGE) is None and not os.path.lexists(PACKAGED_BINARY), 'the package was not purged'


def packaged_server_pids():
    pids = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if os.readlink('/proc/%s/exe' % pid).replace(' (deleted)', '') == PACKAGED_BINARY:
                pids.append(int(pid))
        except OSError:
            continue
    return pids


def host_install(roots, tmp_path):
    """(service user, root folder, playbook, port) of a test installing on this host (ROOTS: the
    installs fixture), which has no systemd as PID 1."""
    user, (root, _other) = roots
    assert not os.path.isdir('/run/systemd/system'), 'this test expects a host without systemd as PID 1'
    playbook = tmp_path / 'install.yml'
    playbook.write_text(PLAYBOOK)
    return user, root, playbook, free_pair()


@ONCE
def test_package_source_installs_through_apt_from_a_local_repository(installs, apt_repository, tmp_path):
    user, root, playbook, port = host_install(installs, tmp_path)
    before = machine_apt_state()
    usr_bin = os.stat('/usr/bin')

    # The host's package lists name the repository (as `apt-get update` would after adding a source):
    # here only the test's own lists, through its own configuration.
    run('apt-get', 'update', env=apt_repository['env'])
    policy = run('apt-cache', 'policy', PACKAGE, env=apt_repository['env']).stdout
    assert 'Candidate: %s' % PACKAGE_VERSION in policy, policy

    variables = install_vars(root, user, port)
    for name in ('vault_install_binary_src', 'vault_install_bin_dir'):
        del variables[name]  # the role's default folder for a packaged binary: /usr/bin
    variables.update(vault_install_binary_source='package', vault_install_package_name=PACKAGE)

    first = run_playbook(playbook, variables, env={'APT_CONFIG': apt_repository['config']})
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    tasks = dict(task_results(first))
    assert tasks['Install the package'].get('changed') is True, tasks['Install the package']

    # dpkg has it, from this repository's .deb, and the file is the server binary.
    assert dpkg_status(PACKAGE) == 'install ok installed'
    assert run('dpkg-query', '-W', '-f', '${Version}', PACKAGE).stdout == PACKAGE_VERSION
    assert PACKAGED_BINARY in run('dpkg', '-L', PACKAGE).stdout.splitlines()
    assert sha256_of(PACKAGED_BINARY) == apt_repository['sha256']
    info = os.stat(PACKAGED_BINARY)
    assert (oct(info.st_mode & 0o777), info.st_uid, info.st_gid) == ('0o755', 0, 0)
    # The package's folder is left to the package manager: not given to the service group.
    after_usr_bin = os.stat('/usr/bin')
    assert (after_usr_bin.st_uid, after_usr_bin.st_gid, after_usr_bin.st_mode) == \
        (usr_bin.st_uid, usr_bin.st_gid, usr_bin.st_mode), grp.getgrgid(after_usr_bin.st_gid).gr_name

    # auto chose the supervised process on this host: its script runs the packaged binary as the user.
    assert not os.path.exists('/etc/systemd/system/%s.service' % SERVICE)
    with open(os.path.join(root, 'etc', SERVICE + '-ctl.sh'), encoding='utf-8') as handle:
        assert PACKAGED_BINARY in handle.read()
    pids = packaged_server_pids()
    assert len(pids) == 1
    assert pwd.getpwuid(os.stat('/proc/%d' % pids[0]).st_uid).pw_name == user
    status = requests.get('https://127.0.0.1:%d/v1/sys/seal-status' % port, verify=root + '/ca-copy.pem',
                          timeout=10).json()
    assert status['initialized'] is False and status['type'] == 'shamir', status

    # A re-run changes nothing: the package is there, the server is the same process.
    again = run_playbook(playbook, variables, env={'APT_CONFIG': apt_repository['config']})
    assert again.returncode == 0 and play_stats(again)['changed'] == 0, \
        again.stdout[-3000:]
    assert packaged_server_pids() == pids

    # A folder the package does not put the binary in: one line, before anything is configured.
    elsewhere = dict(variables, vault_install_bin_dir=root + '/nobin')
    refused = run_playbook(playbook, elsewhere, env={'APT_CONFIG': apt_repository['config']})
    assert refused.returncode != 0
    failed = [(name, res) for name, res in task_results(refused) if res.get('failed')]
    assert [name for name, _res in failed] == ['Stop when the package put no binary there'], failed
    assert failed[0][1]['msg'] == (
        'vault_install: the package %s installed no executable %s/nobin/%s: set vault_install_bin_dir to the folder '
        'it puts %s in (dpkg -L or rpm -ql lists its files).' % (PACKAGE, root, BINARY, BINARY))
    assert packaged_server_pids() == pids

    # The machine's own apt configuration and lists are as they were.
    assert machine_apt_state() == before


# ------------------------------------------------------------------------------------------
# systemd: the unit the role writes, verified by systemd's own loader.

def verify_unit(path):
    """systemd-analyze verify: the unit loads with no error and no warning (it only warns, exit 0,
    on an unknown key or a value it cannot parse, so any output fails too)."""
    result = run('systemd-analyze', 'verify', '--man=no', path, check=False)
    assert result.returncode == 0 and (result.stdout + result.stderr).strip() == '', \
        'systemd-analyze verify %s (rc=%d):\n%s%s' % (path, result.returncode, result.stdout, result.stderr)


@pytest.fixture
def unit_service():
    """A service name of this test's own, and the unit file the role writes for it removed after."""
    name = 'vkunit-' + uuid.uuid4().hex[:8]
    yield name
    unit = '/etc/systemd/system/%s.service' % name
    if os.path.lexists(unit):
        os.unlink(unit)


@ONCE
def test_systemd_unit_the_role_writes_passes_systemd_analyze_verify(installs, unit_service, tmp_path):
    user, root, playbook, port = host_install(installs, tmp_path)
    variables = dict(install_vars(root, user, port), vault_install_service_name=unit_service,
                     vault_install_service_manager='systemd')
    result = run_playbook(playbook, variables)
    # The role chose systemd and handed the unit to it; with no systemd running that is where it stops.
    failed = [(name, res) for name, res in task_results(result) if res.get('failed')]
    assert result.returncode != 0 and [name for name, _res in failed] == ['Restart Vault'], \
        result.stdout[-4000:]
    assert not os.path.exists(os.path.join(root, 'etc', unit_service + '-ctl.sh'))  # no supervisor script
    assert process_users(root) == []

    unit = '/etc/systemd/system/%s.service' % unit_service
    info = os.stat(unit)
    assert (oct(info.st_mode & 0o777), info.st_uid, info.st_gid) == ('0o644', 0, 0)
    with open(unit, encoding='utf-8') as handle:
        text = handle.read()
    binary, config = os.path.join(root, 'bin', BINARY), os.path.join(root, 'etc', unit_service + '.hcl')
    assert 'ExecStart=%s server -config=%s\n' % (binary, config) in text
    assert 'User=%s\n' % user in text and 'Group=%s\n' % user in text
    assert os.access(binary, os.X_OK) and os.path.isfile(config)
    verify_unit(unit)

    # The check is sharp: the same unit with a value systemd cannot parse, or a missing binary, fails it.
    for broken in (text.replace('Type=notify', 'Type=notifyy'), text.replace(binary, binary + '-missing')):
        copy = tmp_path / (unit_service + '.service')
        copy.write_text(broken)
        with pytest.raises(AssertionError, match='systemd-analyze verify'):
            verify_unit(str(copy))
