#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: vault_audit_device
short_description: Enable or disable a Vault audit device
version_added: 0.1.0
description:
  - Enables an audit device (file, socket, syslog...) at O(path) (C(sys/audit/<path>)) or disables it.
    The current devices are read from C(sys/audit).
  - Audit devices cannot be tuned. A device at O(path) whose type, description, options or O(local)
    differ from the ones given fails the task, unless O(replace=true), in which case the device is disabled and
    enabled again with the new settings. B(Requests made in between are not audited), and the new
    device hashes with a new salt, so earlier HMAC values can no longer be compared. If Vault rejects
    the new settings, the previous device is enabled again and the task fails.
  - Only the options given are compared; options the device has and you do not name are kept, also
    when it is replaced.
  - The path is normalised, so V(file), V(file/) and V(/file/) are the same device.
  - B(OpenBao difference.) Recent OpenBao releases (2.7.2 was tested) refuse to enable audit
    devices through the API (C(cannot enable audit device via API; use declarative, config-based audit device management
    instead)); declare them in the server configuration with an C(audit "<type>" "<path>") stanza
    instead, or start the server with C(unsafe_allow_api_audit_creation = true). Without that setting
    the task fails with OpenBao's message and this hint. Listing and disabling API-created devices still work; devices declared in the
    configuration cannot be disabled through the API either. HashiCorp Vault allows all of it.
options:
  path:
    description: Where the audit device is (to be) enabled.
    type: str
    required: true
  device_type:
    description:
      - The audit device type, for example V(file), V(socket), V(syslog) (OpenBao also has V(http)).
      - Required when O(state=present). With O(state=absent) it is optional; when given, a device of
        another type at O(path) is not disabled.
    type: str
  description:
    description: Human-readable description of the device.
    type: str
  options:
    description:
      - Device options such as C(file_path), C(log_raw), C(hmac_accessor), C(format), C(prefix),
        C(mode), C(address), C(socket_type). Values are sent as text; booleans as V(true)/V(false).
      - The options are shown in the task's invocation; do not put credentials here (the http
        device's C(headers) are masked in the diff, not in the invocation).
    type: dict
  local:
    description: Whether the device is local to this cluster (not replicated).
    type: bool
  replace:
    description:
      - Disable and re-enable a device whose settings differ, instead of failing.
        Requests made in between are not audited.
    type: bool
    default: false
  state:
    description: Whether the audit device should be enabled.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Needs C(sudo) on C(sys/audit/<path>) to enable or disable, and C(read) with C(sudo) on C(sys/audit)
    to read.
  - Vault refuses requests when no enabled audit device can record them; keep at least two devices
    when replacing one in production.
extends_documentation_fragment:
  - vaultkube.platform.connection
  - vaultkube.platform.attributes
author:
  - vaultkube.platform maintainers (@vaultkube)
'''

EXAMPLES = r'''
- name: Audit log to a file on the Vault host
  vaultkube.platform.vault_audit_device:
    url: https://vault.example.com:8200
    token: "{{ vault_admin_token }}"
    path: file
    device_type: file
    description: Main audit log
    options:
      file_path: /vault/audit/audit.log
      hmac_accessor: false

- name: Move the audit log (the device is disabled and re-enabled)
  vaultkube.platform.vault_audit_device:
    path: file
    device_type: file
    options:
      file_path: /vault/audit/vault-audit.log
    replace: true

- name: Stop sending audit events to syslog
  vaultkube.platform.vault_audit_device:
    path: syslog
    state: absent
'''

RETURN = r'''
operation:
  description: What was done (or would be done in check mode); V(update) is a replacement.
  returned: always
  type: str
  choices: [create, update, delete, none]
  sample: create
changed_fields:
  description: Names of the fields that differ from the device Vault has.
  returned: always
  type: list
  elements: str
  sample: [options]
path:
  description: The normalised path of the device, with a trailing slash.
  returned: always
  type: str
  sample: file/
diff:
  description: The device before and after, when diff mode is on; C(headers) options masked.
  returned: when diff mode is on
  type: dict
  sample:
    before: {}
    after: {device_type: file, options: {file_path: /vault/audit/audit.log}}
'''

from ansible_collections.vaultkube.platform.plugins.module_utils._audit import AuditDevice
from ansible_collections.vaultkube.platform.plugins.module_utils._module import VaultModule
from ansible_collections.vaultkube.platform.plugins.module_utils._reconcile import (
    object_argument_spec,
    run_object_module,
)


def main():
    module = VaultModule(
        argument_spec=object_argument_spec(**AuditDevice.argument_spec),
        required_if=[('state', 'present', ['device_type'])],
        supports_check_mode=True,
    )
    run_object_module(module, AuditDevice)


if __name__ == '__main__':
    main()
