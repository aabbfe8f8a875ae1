# -*- coding: utf-8 -*-
"""host_private_file: owner and mode set through a descriptor, never through a link. Real files,
links and folders of this machine; the owner changes need root (the machine's CI runs as root)."""
import grp
import os
import pwd
import stat

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._nofollow import UnsafePath, ensure_attributes

ME = pwd.getpwuid(os.geteuid()).pw_name
MY_GROUP = grp.getgrgid(os.getegid()).gr_name
ROOT = os.geteuid() == 0


def needs_root(why):
    """A test that needs root FAILS with one line as another user (never skips): the unit stage
    then cannot report passed with these tests left out (CI runs as root)."""
    if not ROOT:
        pytest.fail('needs root: %s (run this stage as root, as CI does)' % why, pytrace=False)


def state(path):
    info = os.lstat(path)
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


@pytest.fixture
def folder(tmp_path):
    """A folder another user could write (group and others may write it): no link in it is followed."""
    path = tmp_path / 'svc'
    path.mkdir()
    os.chmod(path, 0o777)
    return path


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / 'canary'
    path.write_text('do not touch\n')
    os.chmod(path, 0o644)
    return path


def test_regular_file_gets_its_mode_once(folder):
    target = folder / 'audit.log'
    target.write_text('x')
    os.chmod(target, 0o644)
    changed, before, after = ensure_attributes(str(target), ME, MY_GROUP, 0o600)
    assert changed and before['mode'] == '0644' and after == {'owner': ME, 'group': MY_GROUP, 'mode': '0600'}
    assert state(target)[2] == 0o600
    assert ensure_attributes(str(target), ME, MY_GROUP, 0o600) == (False, after, after)


def test_check_mode_changes_nothing(folder):
    target = folder / 'audit.log'
    target.write_text('x')
    os.chmod(target, 0o644)
    changed, _before, after = ensure_attributes(str(target), ME, MY_GROUP, 0o600, check_mode=True)
    assert changed and after['mode'] == '0600' and state(target)[2] == 0o644


def test_a_link_at_the_path_is_refused_and_its_target_untouched(folder, canary):
    link = folder / 'audit.log'
    link.symlink_to(canary)
    before = state(canary)
    with pytest.raises(UnsafePath, match='is a symbolic link'):
        ensure_attributes(str(link), ME, MY_GROUP, 0o600)
    assert state(canary) == before and os.path.islink(link)


def test_a_link_to_a_folder_in_a_writable_folder_is_refused(folder, tmp_path, canary):
    (folder / 'sub').symlink_to(tmp_path)
    before = state(canary)
    with pytest.raises(UnsafePath, match='sub is a symbolic link or a file in a folder that a user other than root'):
        ensure_attributes(str(folder / 'sub' / 'canary'), ME, MY_GROUP, 0o600)
    assert state(canary) == before


def test_a_link_root_made_in_a_root_only_folder_is_followed(tmp_path):
    needs_root('a folder only root writes')
    trusted = tmp_path / 'etc'
    trusted.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(trusted, 0o755)
    (trusted / 'real').mkdir()
    (trusted / 'real' / 'file').write_text('x')
    (trusted / 'alias').symlink_to('real')
    changed, _before, _after = ensure_attributes(str(trusted / 'alias' / 'file'), ME, MY_GROUP, 0o600)
    assert changed and state(trusted / 'real' / 'file')[2] == 0o600


def test_hard_link_folder_fifo_and_relative_path_are_refused(folder, canary):
    os.link(canary, folder / 'hard')
    with pytest.raises(UnsafePath, match='has 2 hard links'):
        ensure_attributes(str(folder / 'hard'), ME, MY_GROUP, 0o600)
    (folder / 'dir').mkdir()
    with pytest.raises(UnsafePath, match='not a regular file'):
        ensure_attributes(str(folder / 'dir'), ME, MY_GROUP, 0o600)
    os.mkfifo(folder / 'fifo')
    with pytest.raises(UnsafePath, match='not a regular file'):
        ensure_attributes(str(folder / 'fifo'), ME, MY_GROUP, 0o600)
    with pytest.raises(UnsafePath, match='absolute path'):
        ensure_attributes('relative/file', ME, MY_GROUP, 0o600)
    assert state(canary)[2] == 0o644


def test_missing_file_is_left_missing_unless_asked(folder):
    assert ensure_attributes(str(folder / 'none'), ME, MY_GROUP, 0o600) == (False, None, None)
    with pytest.raises(UnsafePath, match='does not exist'):
        ensure_attributes(str(folder / 'none'), ME, MY_GROUP, 0o600, missing_ok=False)
    assert not os.path.exists(folder / 'none')


def test_unknown_owner_or_group_is_named(folder):
    (folder / 'f').write_text('x')
    with pytest.raises(UnsafePath, match='owner no-such-user-vk: no such user'):
        ensure_attributes(str(folder / 'f'), 'no-such-user-vk', MY_GROUP, 0o600)
    with pytest.raises(UnsafePath, match='group no-such-group-vk: no such group'):
        ensure_attributes(str(folder / 'f'), ME, 'no-such-group-vk', 0o600)


def test_owner_and_group_are_given_to_the_service_user(folder):
    needs_root('giving a file to another user')
    target = folder / 'vault.log'
    target.write_text('x')
    nobody = pwd.getpwnam('nobody')
    group = grp.getgrgid(nobody.pw_gid).gr_name
    changed, before, after = ensure_attributes(str(target), 'nobody', group, 0o640)
    assert changed and before['owner'] == 'root' and after == {'owner': 'nobody', 'group': group, 'mode': '0640'}
    assert state(target) == (nobody.pw_uid, nobody.pw_gid, 0o640)
