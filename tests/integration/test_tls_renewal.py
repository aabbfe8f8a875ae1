# -*- coding: utf-8 -*-
"""Renewal of the listener certificate the vault_install role generates on a host (issue 24,
item 4): a real OpenBao (or HashiCorp Vault) installed by the role as a supervised process,
initialised and unsealed; re-runs that change the subjectAltNames, then make the renewal window
longer than the validity, renew the certificate. Each time the same process keeps running (a
SIGHUP, no restart), stays unsealed (read back from the seal status), and the listener presents
the NEW certificate (read from the TLS handshake: serial and subjectAltNames), still verified by
the CA the role exported. A re-run with nothing to renew changes nothing."""

import os
import socket
import ssl
import time

import pytest
import requests
from cryptography import x509

from test_role_vault_install import PLAYBOOK, free_pair, install_vars, installs, server_pid  # noqa: F401 pylint: disable=unused-import
from vaultkube_testlib import assert_failed_cleanly, play_stats, run_module, run_playbook, task_result

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
    return play_stats(result)['changed']


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

    # Nothing to do: changed=0, and the step is skipped (the host read showed the certificates current).
    again = run_playbook(playbook, variables)
    assert changed(again) == 0
    assert task_result(again, RENEW_TASK).get('skipped') is True

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
    quiet = run_playbook(playbook, more)
    assert changed(quiet) == 0 and task_result(quiet, RENEW_TASK).get('skipped') is True

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


def files_args(folder, **over):
    args = dict(ca_certificate_path=str(folder / 'ca.pem'), ca_privatekey_path=str(folder / 'ca.key'),
                certificate_path=str(folder / 'server.pem'), privatekey_path=str(folder / 'server.key'),
                ca_common_name='test CA', common_name='localhost',
                subject_alt_names=['DNS:localhost', 'IP:127.0.0.1'], privatekey_mode='0640')
    args.update(over)
    return args


def test_module_files_mode_check_diff_and_rerun(tmp_path):
    """The module on real files: check mode writes nothing, a run writes keys with their modes
    (no temporary file left), a re-run changes nothing, a SAN change shows in the diff (names,
    serials, expiry; no key), and a bad window fails with one line before any write."""
    folder = tmp_path / 'tls'
    folder.mkdir()
    planned = run_module('tls_certificate', files_args(folder), check=True, diff=True)
    assert planned['changed'] and (planned['ca_action'], planned['certificate_action']) == ('issue', 'issue')
    assert os.listdir(folder) == []

    first = run_module('tls_certificate', files_args(folder), diff=True)
    assert first['changed'] and 'PRIVATE' not in first['_stdout']
    assert sorted(os.listdir(folder)) == ['ca.key', 'ca.pem', 'server.key', 'server.pem']
    modes = {name: oct(os.stat(folder / name).st_mode & 0o777) for name in os.listdir(folder)}
    assert modes == {'ca.key': '0o600', 'server.key': '0o640', 'ca.pem': '0o644', 'server.pem': '0o644'}

    again = run_module('tls_certificate', files_args(folder), diff=True)
    assert not again['changed'] and again['certificate_action'] == 'keep'
    assert again['certificate_info']['serial'] == first['certificate_info']['serial']

    # A mode put wrong is put back (changed), the material kept.
    os.chmod(folder / 'ca.key', 0o644)
    fixed = run_module('tls_certificate', files_args(folder))
    assert fixed['changed'] and fixed['certificate_action'] == 'keep'
    assert oct(os.stat(folder / 'ca.key').st_mode & 0o777) == '0o600'

    more = files_args(folder, subject_alt_names=['DNS:localhost', 'IP:127.0.0.1', 'DNS:new.test'])
    renewed = run_module('tls_certificate', more, diff=True)
    assert renewed['changed'] and (renewed['ca_action'], renewed['certificate_action']) == ('keep', 'renew')
    diff = renewed['diff']
    assert diff['before']['certificate']['subject_alt_names'] == ['DNS:localhost', 'IP:127.0.0.1']
    assert diff['after']['certificate']['subject_alt_names'] == ['DNS:localhost', 'DNS:new.test', 'IP:127.0.0.1']
    assert diff['before']['certificate']['serial'] != diff['after']['certificate']['serial']
    assert 'PRIVATE' not in renewed['_stdout']
    assert sorted(os.listdir(folder)) == ['ca.key', 'ca.pem', 'server.key', 'server.pem']

    before = {name: (folder / name).read_bytes() for name in os.listdir(folder)}
    bad = run_module('tls_certificate', files_args(folder, renew_before='soon'))
    assert_failed_cleanly(bad, 'renew_before', 'not a duration such as 30d')
    assert {name: (folder / name).read_bytes() for name in os.listdir(folder)} == before


def test_module_content_mode_returns_the_key_only_when_new(tmp_path):
    args = dict(ca_common_name='test CA', common_name='vault.vault.svc', subject_alt_names=['DNS:vault.vault.svc'])
    first = run_module('tls_certificate', args)
    assert first['changed'] and 'BEGIN PRIVATE KEY' in first['privatekey']
    kept = run_module('tls_certificate', dict(args, ca_certificate_content=first['ca_certificate'],
                                              certificate_content=first['certificate'],
                                              privatekey_content=first['privatekey']))
    assert not kept['changed'] and 'privatekey' not in kept and kept['certificate_action'] == 'keep'
    assert kept['ca_certificate'] == first['ca_certificate']
