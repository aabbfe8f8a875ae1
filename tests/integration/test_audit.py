# -*- coding: utf-8 -*-
"""vault_audit_device against a real OpenBao or HashiCorp Vault.

OpenBao 2.7 refuses to enable audit devices through the API unless the server
runs with ``unsafe_allow_api_audit_creation = true``. The default dev server
shows that refusal; a second dev server started with that setting (and one
device declared in its configuration) runs the full cycle. HashiCorp Vault
enables devices through the API (and has no declared ones): the full cycle runs
on its plain dev server, with a second device ("watch") enabled by the fixture.
The declared (OpenBao) or watch (Vault) device records the whole test, so a
re-run after the managed device is gone is still read from an audit log.
"""

import shutil
import uuid

import pytest

from vaultkube_testlib import ON_VAULT, BaoServer, assert_failed_cleanly, run_module, tmpdir, write_requests


@pytest.fixture(scope='module')
def audit_server():
    work = tmpdir('vaultkube-audit-')
    config = ('unsafe_allow_api_audit_creation = true\n'
              'audit "file" "declared" {\n'
              '  options {\n'
              '    file_path = "%s"\n'
              '  }\n'
              '}\n' % (work / 'declared.log'))
    if ON_VAULT:
        config = ''
    server = BaoServer(work, dev=True, extra_config=config).start()
    if ON_VAULT:
        server.client().sys.enable_audit_device('file', path='watch', options={'file_path': str(work / 'watch.log')})
    yield server, work
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


def devices(vault):
    return vault.sys.list_enabled_audit_devices()['data']


@pytest.mark.only_on('openbao', 'OpenBao refuses API creation of audit devices; HashiCorp Vault allows it')
def test_openbao_refuses_api_audit_devices_cleanly(conn, vault, tmp_path):
    path = 'a-' + uuid.uuid4().hex[:8]
    result = run_module('vault_audit_device', dict(conn, path=path, device_type='file',
                                                   options={'file_path': str(tmp_path / 'a.log')}))
    assert_failed_cleanly(result, 'sys/audit/' + path, '400', 'cannot enable audit device via API',
                          'unsafe_allow_api_audit_creation')
    assert path + '/' not in devices(vault)


def test_audit_device_lifecycle(audit_server):
    server, work = audit_server
    vault = server.client()
    conn = {'url': server.url, 'token': server.root_token}
    path = 'file-' + uuid.uuid4().hex[:6]
    key = path + '/'
    log = work / (path + '.log')
    args = dict(conn, path=path, device_type='file', description='main audit log',
                options={'file_path': str(log), 'hmac_accessor': False})

    checked = run_module('vault_audit_device', args, check=True, diff=True)
    assert checked['changed'] is True and checked['operation'] == 'create'
    assert checked['diff']['after']['options'] == {'file_path': str(log), 'hmac_accessor': 'false'}
    assert key not in devices(vault), 'check mode enabled the device'

    created = run_module('vault_audit_device', args)
    assert created['changed'] is True and created['path'] == key
    entry = devices(vault)[key]
    assert entry['type'] == 'file' and entry['description'] == 'main audit log'
    assert entry['options'] == {'file_path': str(log), 'hmac_accessor': 'false'}
    vault.sys.read_health_status(method='GET')
    vault.sys.list_mounted_secrets_engines()
    assert log.exists() and log.stat().st_size > 0, 'the device records nothing'

    # The re-run (path spelled with slashes) read from the device it manages: no write request.
    mark = log.stat().st_size
    assert run_module('vault_audit_device', dict(args, path='/%s/' % path))['changed'] is False
    assert log.stat().st_size > mark, 'the re-run left no entry (its reads) in the device'
    assert write_requests(log, mark) == [], write_requests(log, mark)

    moved = dict(args, options={'file_path': str(work / (path + '-2.log'))})
    refused = run_module('vault_audit_device', moved)
    assert_failed_cleanly(refused, "audit device at '%s' differs in options" % key, 'cannot be tuned',
                          'replace: true')
    assert devices(vault)[key] == entry

    planned = run_module('vault_audit_device', dict(moved, replace=True), check=True, diff=True)
    assert planned['changed'] is True and planned['operation'] == 'update'
    assert planned['diff']['before']['options']['file_path'] == str(log)
    assert planned['diff']['after']['options'] == {'file_path': str(work / (path + '-2.log')),
                                                   'hmac_accessor': 'false'}
    assert devices(vault)[key] == entry, 'check mode replaced the device'

    # Vault rejects the new options after the old device was disabled: it comes back.
    bogus = run_module('vault_audit_device', dict(args, options={'format': 'bogus'}, replace=True))
    # Each server words the refusal its own way; the module passes it on.
    assert_failed_cleanly(bogus, 'sys/audit/' + path, 'unsupported "format"' if ON_VAULT else 'unknown format',
                          'previous device was re-enabled')
    assert devices(vault)[key] == entry

    replaced = run_module('vault_audit_device', dict(moved, replace=True))
    assert replaced['changed'] is True and replaced['changed_fields'] == ['options']
    assert devices(vault)[key]['options'] == {'file_path': str(work / (path + '-2.log')),
                                              'hmac_accessor': 'false'}
    assert devices(vault)[key]['description'] == 'main audit log'

    delete = dict(conn, path=path, state='absent')
    assert run_module('vault_audit_device', delete, check=True)['changed'] is True
    assert key in devices(vault), 'check mode disabled the device'
    assert run_module('vault_audit_device', delete)['changed'] is True
    assert key not in devices(vault)
    # The delete re-run, read from the device that outlives the managed one: reads, no write request.
    watch = work / ('watch.log' if ON_VAULT else 'declared.log')
    mark = watch.stat().st_size
    assert run_module('vault_audit_device', delete)['changed'] is False
    assert watch.stat().st_size > mark, 'the delete re-run left no entry (its reads) in the %s device' % watch.stem
    assert write_requests(watch, mark) == [], write_requests(watch, mark)
    assert key not in devices(vault)


@pytest.mark.only_on('openbao', 'HashiCorp Vault has no audit devices declared in its configuration')
def test_declared_device_cannot_be_disabled(audit_server):
    server = audit_server[0]
    conn = {'url': server.url, 'token': server.root_token}
    result = run_module('vault_audit_device', dict(conn, path='declared', state='absent'))
    assert_failed_cleanly(result, 'sys/audit/declared', 'cannot disable configuration-managed audit device')
    assert 'declared/' in devices(server.client())


def test_wrong_token_is_403(conn):
    result = run_module('vault_audit_device', dict(conn, token='not-a-token', path='x', device_type='file',
                                                   options={'file_path': 'stdout'}))
    assert_failed_cleanly(result, '403', 'sys/audit')
