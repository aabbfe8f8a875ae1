#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_raft_snapshot
short_description: Save, verify and restore encrypted Vault raft snapshots
version_added: 0.5.0
description:
  - With O(state=saved), takes a raft snapshot through the API of the active node
    (C(GET sys/storage/raft/snapshot)) and streams it through an encryptor to disk, in the ansible-vault 1.1
    AES256 format with O(password); the snapshot is never held whole in memory nor written in clear. The file
    C(<dest>/<name>-<UTC time>.snap.vault) (mode 0600) takes its name only once it is verified, beside a
    checksum file (C(.snap.vault.sha256), read by C(sha256sum -c)) and a metadata file (C(.snap.json) with the time,
    sizes, server version, raft index and term; no secret).
  - Then, with O(retention), deletes the snapshots of O(name) in O(dest) beyond the newest O(retention), with
    their checksum and metadata files. Only regular files whose whole name is
    C(<name>-<YYYYMMDDTHHMMSSZ>.snap.vault) (or its two companions) are ever deleted, whatever O(name) is;
    anything else in O(dest) is left alone.
  - Then, with O(upload_command), runs that program (an argv list, no shell) with the snapshot path as its last
    argument, for example to copy it off the host.
  - With O(state=verified), verifies an existing snapshot O(path) - read-only.
  - With O(state=restored), verifies O(path) and then force-restores it (C(POST sys/storage/raft/snapshot-force))
    into the Vault at O(url), which must be its active node. A file that does not match its checksum file, or
    does not decrypt with O(password), is refused before anything is sent.
  - A verification checks the size (above zero), the checksum file, the HMAC of the encrypted file (the
    password), and reads the decrypted content as the gzip'd tar Vault writes, each member against the
    snapshot's own C(SHA256SUMS).
  - The result never holds the password or any of the snapshot's content.
options:
  state:
    description:
      - V(saved) takes a new snapshot (a new file every run, so always C(changed) outside check mode, plus
        the deletions of O(retention)).
      - V(verified) verifies O(path); never C(changed).
      - V(restored) restores O(path) into the Vault at O(url); always C(changed) outside check mode (a restore
        cannot be compared, run it on purpose).
    type: str
    choices: [saved, verified, restored]
    default: saved
  dest:
    description:
      - Directory the snapshots are written to (on the host that runs the module). It must exist; keep it
        mode 0700. Required with O(state=saved).
      - With O(state=verified) or O(state=restored) and no O(path), the newest snapshot of O(name) in it is taken.
    type: path
  name:
    description:
      - Prefix of the snapshot files, one path segment of 1-64 letters, digits, C(.), C(_) or C(-).
      - Retention selects by it, so give each Vault (cluster) a name of its own when several share O(dest).
    type: str
    default: vault
  path:
    description: The snapshot file (C(*.snap.vault)) to verify or restore. Without it, the newest snapshot of
      O(name) in O(dest).
    type: path
  password:
    description:
      - The password the snapshot is encrypted with (ansible-vault format). Keep it in an ansible-vault encrypted
        inventory variable or a secret store; never logged.
    type: str
    required: true
    aliases: [snapshot_password]
  retention:
    description:
      - How many snapshots of O(name) to keep in O(dest) after a save (the newest, by the time in their name).
        Unset keeps every snapshot.
    type: int
  upload_command:
    description:
      - An argv list run after a successful save, without a shell, with the snapshot path appended as the last
        argument (its C(.sha256) and C(.snap.json) lie beside it). A failure fails the task; the snapshot stays.
    type: list
    elements: str
  upload_timeout:
    description: Seconds O(upload_command) may run.
    type: int
    default: 600
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
attributes:
  check_mode:
    support: full
    details: Checks the node is reachable and active and reports the file it would write and the files retention
      would delete; with O(state=restored) the file is verified and nothing is sent. Nothing is written.
  diff_mode:
    support: none
    details: A snapshot has no before and after to show.
notes:
  - Needs a token with C(read) and C(sudo) on C(sys/storage/raft/snapshot) to save, C(update) and C(sudo) on
    C(sys/storage/raft/snapshot-force) to restore (the role uses the run's short-lived admin token).
  - The encrypted file can be read with C(ansible-vault view) or decrypted with C(ansible-vault decrypt) and the
    same password; the result is the snapshot C(bao operator raft snapshot restore) or
    C(vault operator raft snapshot restore) takes.
  - After a force-restore the Vault holds the snapshot's keyring, and its unseal keys and tokens are the ones that
    were current when the snapshot was taken; the C(restore-drill.yml) playbook unseals it with them.
requirements:
  - cryptography (Python library, on the host that runs the module)
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Save a snapshot, keep the newest 14
  vaultkube.platform.vault_raft_snapshot:
    url: https://vault-1.example.com:8200
    ca_cert: /etc/vaultkube/vault-ca.pem
    token: "{{ admin_token }}"
    dest: /var/backups/vault
    name: prod
    password: "{{ vault_snapshot_password }}"
    retention: 14
    upload_command: [/usr/local/bin/rclone, copyto, --immutable]
  register: snapshot

- name: Verify a snapshot file
  vaultkube.platform.vault_raft_snapshot:
    state: verified
    path: /var/backups/vault/prod-20261206T181500Z.snap.vault
    password: "{{ vault_snapshot_password }}"

- name: Restore it into a fresh Vault (its active node)
  vaultkube.platform.vault_raft_snapshot:
    state: restored
    url: https://vault-dr.example.com:8200
    token: "{{ dr_admin_token }}"
    path: /var/backups/vault/prod-20261206T181500Z.snap.vault
    password: "{{ vault_snapshot_password }}"
'''

RETURN = r'''
path:
  description: The snapshot file written, verified or restored (in check mode with V(saved), the one it would write).
  returned: always
  type: str
  sample: /var/backups/vault/prod-20261206T181500Z.snap.vault
sha256:
  description: SHA-256 of the encrypted file (null in check mode with V(saved)).
  returned: always
  type: str
  sample: 5f0c4d1e8a0f3bb1f1f0c9e2d0a3e7b1c4b7a0e0d1f2a3b4c5d6e7f8a9b0c1d2
size:
  description: Size of the encrypted file in bytes.
  returned: always
  type: int
  sample: 35962
plaintext_size:
  description: Size of the raft snapshot itself (gzip'd tar) in bytes.
  returned: when the file was written or verified
  type: int
  sample: 16921
age:
  description: Seconds since the snapshot was taken (its recovery point), from its metadata or file name.
  returned: always
  type: int
  sample: 42
created:
  description: UTC time the snapshot was taken.
  returned: always
  type: str
  sample: "2026-12-06T18:15:00Z"
raft_index:
  description: Raft index of the snapshot, from its C(meta.json).
  returned: when the file was written or verified
  type: int
  sample: 1293
raft_term:
  description: Raft term of the snapshot.
  returned: when the file was written or verified
  type: int
  sample: 3
server_version:
  description: Version of the server the snapshot was taken from (V(saved)).
  returned: with O(state=saved)
  type: str
  sample: 2.7.2
deleted:
  description: Files deleted (or, in check mode, that would be deleted) by O(retention).
  returned: with O(state=saved)
  type: list
  elements: str
  sample: [/var/backups/vault/prod-20261120T020000Z.snap.vault]
kept:
  description: File names of the snapshots of O(name) that retention keeps, newest first (before this save in check mode).
  returned: with O(state=saved) and O(retention)
  type: list
  elements: str
uploaded:
  description: Whether O(upload_command) ran and succeeded.
  returned: with O(state=saved)
  type: bool
'''

import os

from ansible_collections.vaultkube.platform.plugins.module_utils._client import VaultRequestError, connect
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import object_argument_spec
from ansible_collections.vaultkube.platform.plugins.module_utils._snapshot import (
    SNAPSHOT_ARGUMENT_SPEC, SnapshotError, age_seconds, apply_retention, check_params, newest, read_metadata, restore,
    save, utcnow, verify)


def _upload(module, command, path):
    rc, out, err = module.run_command(list(command) + [path], check_rc=False)
    if rc != 0:
        detail = ' '.join((err or out or '').split())[-300:]
        raise SnapshotError('upload_command %s exited with %d: %s (the snapshot is kept at %s)'
                            % (os.path.basename(command[0]), rc, detail or 'no output', path))


def run(module):
    params = module.params
    check_params(params)
    state = params['state']
    if state != 'saved' and not params.get('path'):
        params['path'] = newest(params['dest'], params['name'])
    if state == 'verified':
        facts = verify(params['path'], params['password'])
        metadata = read_metadata(params['path'])
        return dict(changed=False, path=os.path.abspath(params['path']), sha256=facts['sha256'], size=facts['size'],
                    plaintext_size=facts['plaintext_size'], raft_index=facts['raft_index'],
                    raft_term=facts['raft_term'], created=metadata.get('created'),
                    age=age_seconds(params['path'], utcnow(), metadata))
    api = connect(params)
    if state == 'restored':
        facts, size = restore(api, params, module.check_mode)
        metadata = read_metadata(params['path'])
        return dict(changed=not module.check_mode, path=os.path.abspath(params['path']), sha256=facts['sha256'],
                    size=size, plaintext_size=facts['plaintext_size'], raft_index=facts['raft_index'],
                    raft_term=facts['raft_term'], created=metadata.get('created'),
                    age=age_seconds(params['path'], utcnow(), metadata))
    version = (api.read('sys/seal-status') or {}).get('version')
    result = save(api, params, module.check_mode, version=version)
    kept, deleted = apply_retention(params, module.check_mode)
    result.update(changed=not module.check_mode or bool(deleted), deleted=deleted, server_version=version,
                  uploaded=False)
    if params.get('retention') is not None:
        result['kept'] = kept
    if params.get('upload_command') and not module.check_mode:
        _upload(module, params['upload_command'], result['path'])
        result['uploaded'] = True
    return result


def main():
    module = VaultModule(argument_spec=object_argument_spec(**SNAPSHOT_ARGUMENT_SPEC), supports_check_mode=True)
    try:
        result = run(module)
    except (VaultRequestError, SnapshotError) as exc:
        module.fail_json(msg=str(exc))
    except (IOError, OSError) as exc:
        module.fail_json(msg='snapshot file operation failed: %s (%s)' % (exc.strerror or exc, exc.filename or ''))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
