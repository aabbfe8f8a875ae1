# -*- coding: utf-8 -*-
"""host_state_info reads real paths, users and groups of this machine."""
import grp
import os
import pwd

from ansible_collections.vaultkube.platform.plugins.modules import host_state_info


def test_paths_report_type_owner_group_and_mode(tmp_path):
    folder = tmp_path / 'data'
    folder.mkdir()
    os.chmod(str(folder), 0o750)
    key = folder / 'server.key'
    key.write_text('x')
    os.chmod(str(key), 0o640)
    link = tmp_path / 'link'
    link.symlink_to(key)
    owner = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    assert host_state_info.path_state(str(folder)) == {
        'exists': True, 'type': 'directory', 'owner': owner, 'group': group, 'mode': '0750'}
    assert host_state_info.path_state(str(key))['mode'] == '0640'
    assert host_state_info.path_state(str(key))['type'] == 'file'
    assert host_state_info.path_state(str(link))['type'] == 'link'
    assert host_state_info.path_state(str(tmp_path / 'missing')) == {'exists': False}


def test_users_and_groups():
    me = pwd.getpwuid(os.getuid())
    state = host_state_info.user_state(me.pw_name)
    assert state['exists'] and state['uid'] == me.pw_uid and state['shell'] == me.pw_shell
    assert host_state_info.user_state('no-such-user-vaultkube') == {'exists': False}
    group = grp.getgrgid(os.getgid())
    assert host_state_info.group_state(group.gr_name) == {'exists': True, 'gid': group.gr_gid}
    assert host_state_info.group_state('no-such-group-vaultkube') == {'exists': False}
