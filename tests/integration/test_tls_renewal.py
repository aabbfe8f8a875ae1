# -*- coding: utf-8 -*-
"""Renewal of the listener certificate the vault_install role generates on a host (issue 24,
item 4): a real OpenBao (or HashiCorp Vault) installed by the role as a supervised process,
initialised and unsealed; re-runs that change the subjectAltNames, then make the renewal window
longer than the validity, renew the certificate. Each time the same process keeps running (a
SIGHUP, no restart), stays unsealed (read back from the seal status), and the listener presents
the NEW certificate (read from the TLS handshake: serial and subjectAltNames), still verified by
the CA the role exported. A re-run with nothing to renew changes nothing."""

import json
import os
import socket
import ssl
import time

import pytest
import requests
from cryptography import x509

from test_role_vault_install import PLAYBOOK, free_pair, install_vars, installs, server_pid  # noqa: F401 pylint: disable=unused-import
from vaultkube_testlib import run_playbook

pytestmark = pytest.mark.needs_root('the role creates a system user and runs the server as it')


def presented_certificate(port, ca_file):
    """The certificate the listener presents, verified against the exported CA."""
    context = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname='localhost') as tls:
            der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der)


def sans(cert):
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return sorted(['DNS:' + n for n in ext.get_values_for_type(x509.DNSName)]
                  + ['IP:' + str(a) for a in ext.get_values_for_type(x509.IPAddress)])


def seal_status(port, ca_file):
    return requests.get('https://127.0.0.1:%d/v1/sys/seal-status' % port, verify=ca_file, timeout=10).json()


def changed(result):
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return json.loads(result.stdout)['stats']['localhost']['changed']


def task_result(result, name):
    for play in json.loads(result.stdout)['plays']:
        for task in play['tasks']:
            if task['task']['name'].split(' : ')[-1] == name:
                return task['hosts']['localhost']
    raise AssertionError('no task %r in the run' % name)


def wait_for_certificate(port, ca_file, serial, timeout=15.0):
    """The listener's certificate once its serial is no longer SERIAL (the reload is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        cert = presented_certificate(port, ca_file)
        if cert.serial_number != serial or time.monotonic() > deadline:
            return cert
        time.sleep(0.2)


RENEW_TASK = 'Keep, issue or renew the CA and the server certificate'


def test_renewed_certificate_is_served_without_restart_or_reseal(installs, tmp_path):
    user, (root, _other) = installs
    playbook = tmp_path / 'install.yml'
    playbook.write_text(PLAYBOOK)
    port = free_pair()
    variables = install_vars(root, user, port)
    ca_file = root + '/ca-copy.pem'

    started = time.monotonic()
    first = run_playbook(playbook, variables)
    assert changed(first) > 0
    assert task_result(first, RENEW_TASK)['certificate_action'] == 'issue'
    print('\nfirst install: %.1f s' % (time.monotonic() - started))
    tls_dir = root + '/etc/tls'
    assert oct(os.stat(tls_dir + '/ca.key').st_mode & 0o777) == '0o600'
    assert oct(os.stat(tls_dir + '/server.key').st_mode & 0o777) == '0o640'

    # Initialise and unseal the server the role installed.
    url = 'https://127.0.0.1:%d' % port
    init = requests.put(url + '/v1/sys/init', json={'secret_shares': 1, 'secret_threshold': 1},
                        verify=ca_file, timeout=30).json()
    unsealed = requests.put(url + '/v1/sys/unseal', json={'key': init['keys'][0]}, verify=ca_file, timeout=30).json()
    assert unsealed['sealed'] is False
    pid = server_pid(root)
    before = presented_certificate(port, ca_file)
    assert sans(before) == ['DNS:localhost', 'IP:127.0.0.1']

    # Nothing to do: changed=0, no reload.
    again = run_playbook(playbook, variables)
    assert changed(again) == 0
    assert task_result(again, RENEW_TASK)['certificate_action'] == 'keep'

    # 1. A new subjectAltName renews the certificate; the same process serves it, unsealed.
    more = dict(variables, vault_install_tls_subject_alt_names=['DNS:localhost', 'IP:127.0.0.1',
                                                                'DNS:vault.renewal.test'])
    started = time.monotonic()
    renewed = run_playbook(playbook, more)
    assert changed(renewed) > 0
    decision = task_result(renewed, RENEW_TASK)
    assert (decision['ca_action'], decision['certificate_action']) == ('keep', 'renew'), decision
    assert decision['reasons'][0].startswith('subjectAltNames '), decision
    assert 'privatekey' not in decision and 'PRIVATE KEY' not in renewed.stdout
    after = wait_for_certificate(port, ca_file, before.serial_number)
    print('renewal run (SANs changed): %.1f s' % (time.monotonic() - started))
    assert after.serial_number != before.serial_number
    assert format(after.serial_number, 'x') == decision['certificate_info']['serial']
    assert sans(after) == ['DNS:localhost', 'DNS:vault.renewal.test', 'IP:127.0.0.1']
    assert server_pid(root) == pid
    status = seal_status(port, ca_file)
    assert status['initialized'] is True and status['sealed'] is False, status

    # 2. Nothing more to renew: changed=0.
    assert changed(run_playbook(playbook, more)) == 0

    # 3. A window longer than the validity renews again (the module warns that it would on every run).
    longer = dict(more, vault_install_tls_renew_before='900d')
    third = run_playbook(playbook, longer)
    assert changed(third) > 0
    decision = task_result(third, RENEW_TASK)
    assert decision['certificate_action'] == 'renew' and decision['reasons'][0].startswith('it expires '), decision
    latest = wait_for_certificate(port, ca_file, after.serial_number)
    assert latest.serial_number not in (before.serial_number, after.serial_number)
    assert sans(latest) == sans(after)
    assert server_pid(root) == pid
    assert seal_status(port, ca_file)['sealed'] is False

    # The CA did not change: the exported copy verifies every certificate (checked by the handshakes).
    with open(ca_file, encoding='ascii') as handle:
        assert handle.read().count('BEGIN CERTIFICATE') == 1
