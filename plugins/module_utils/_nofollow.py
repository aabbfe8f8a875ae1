# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Owner and mode of a file in a directory another user controls, set by root without
following a link.

Internal. A service user that owns a directory can put a symbolic link (or a hard link,
or a directory) where root expects its file, or swap one in between root's check and its
write. Here the path is walked one folder at a time, each opened relative to the previous one; a
link is followed only where only root can write (a link an administrator made), everywhere
else the folder is opened with ``O_NOFOLLOW | O_DIRECTORY``; the file itself is opened with
``O_NOFOLLOW | O_NONBLOCK`` and its owner and mode are read and changed on that open
descriptor (``fstat``, ``fchown``, ``fchmod``): what is changed is what was checked, and a
link the service user could have made is refused, never followed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import grp
import os
import pwd
import stat


class UnsafePath(Exception):
    """The path is not a plain file root may touch; the message names it and what to do."""


def _ids(owner, group):
    try:
        uid = pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise UnsafePath('owner %s: no such user' % owner)
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise UnsafePath('group %s: no such group' % group)
    return uid, gid


def _trusted(fd):
    """Only root can add, remove or rename entries in this open folder."""
    info = os.fstat(fd)
    return info.st_uid == 0 and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _open_parent(path):
    """An open descriptor of the parent folder of ``path``, reached component by component.
    A link is followed only in a folder that only root can write (links an administrator
    made, such as /var/run -> /run); in any other folder every component is opened with
    O_NOFOLLOW, so a link put there, before or during the walk, is refused."""
    parts = [p for p in os.path.dirname(path).split('/') if p]
    fd = os.open('/', os.O_RDONLY | os.O_DIRECTORY)
    hops = 0
    try:
        while parts:
            part = parts.pop(0)
            if part == '.':
                continue
            if _trusted(fd):
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    hops += 1
                    if hops > 40:
                        raise UnsafePath('%s: too many levels of symbolic links' % path)
                    target = os.readlink(part, dir_fd=fd)
                    if target.startswith('/'):
                        os.close(fd)
                        fd = os.open('/', os.O_RDONLY | os.O_DIRECTORY)
                    parts[:0] = [p for p in target.split('/') if p]
                    continue
            try:
                nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnsafePath('%s: %s is a symbolic link or a file in a folder that a user other than root '
                                     'writes, which root does not follow: remove it, or choose a path whose '
                                     'folders only root writes' % (path, part))
                raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def describe(info):
    return {'owner': _name(pwd.getpwuid, info.st_uid), 'group': _name(grp.getgrgid, info.st_gid),
            'mode': '%04o' % stat.S_IMODE(info.st_mode)}


def _name(lookup, ident):
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def ensure_attributes(path, owner, group, mode, missing_ok=True, check_mode=False):
    """Give the regular file ``path`` ``owner``, ``group`` and ``mode`` (an int) without following
    a link. Returns ``(changed, before, after)`` (``before``/``after`` are None when the file does
    not exist and ``missing_ok``). Raises UnsafePath for a link, anything but a regular file, a file
    with more than one hard link, or a missing file when not ``missing_ok``."""
    if not os.path.isabs(path) or os.path.basename(path) in ('', '.', '..'):
        raise UnsafePath('%s: give an absolute path to a file' % path)
    uid, gid = _ids(owner, group)
    parent = _open_parent(path)
    try:
        try:
            fd = os.open(os.path.basename(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY,
                         dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                if missing_ok:
                    return False, None, None
                raise UnsafePath('%s does not exist' % path)
            if exc.errno == errno.ELOOP:
                raise UnsafePath('%s is a symbolic link, which root does not follow in a folder the service user '
                                 'writes: remove it (the service creates its own file)' % path)
            raise
    finally:
        os.close(parent)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePath('%s is not a regular file: remove it (the service creates its own file)' % path)
        if info.st_nlink != 1:
            raise UnsafePath('%s has %d hard links, so changing it would change another file too: remove it '
                             '(the service creates its own file)' % (path, info.st_nlink))
        before = describe(info)
        changed = (info.st_uid, info.st_gid) != (uid, gid) or stat.S_IMODE(info.st_mode) != mode
        if changed and not check_mode:
            if (info.st_uid, info.st_gid) != (uid, gid):
                os.fchown(fd, uid, gid)
            # After fchown: it clears the setuid/setgid bits, which fchmod then sets as asked.
            os.fchmod(fd, mode)
            after = describe(os.fstat(fd))
        else:
            after = dict(before, owner=owner, group=group, mode='%04o' % mode) if changed else before
        return changed, before, after
    finally:
        os.close(fd)
