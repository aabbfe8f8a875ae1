# -*- coding: utf-8 -*-
"""vault_install's plan: the server configuration and chart values from data, and the problems."""
import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._install_plan import (
    InstallPlanError, install_plan, listener_endpoint, merge, render_hcl, use_systemd)

BASE = dict(
    target='host', binary_name='vault', binary_source='url', binary_checksum='sha256:' + '0' * 64,
    bin_dir='/usr/local/bin', config_dir='/etc/vault.d', data_dir='/opt/vault/data', tls_dir='/etc/vault.d/tls',
    run_dir='/run/vault', log_dir='/var/log/vault', service_name='vault', node_id='n1',
    listen_address='0.0.0.0:8200', cluster_listen_address='0.0.0.0:8201', api_addr='https://n1:8200',
    cluster_addr='https://n1:8201', ui=True, disable_mlock=True, raft_retry_join=[], extra_config='',
    audit_method='auto', audit_file_enabled=True, audit_file_name='file', audit_file_path='/var/log/vault/audit.log',
    audit_extra_devices=[], seal='shamir', seal_transit_address='', seal_transit_key_name='autounseal',
    seal_transit_mount_path='transit/', seal_transit_token='', seal_transit_tls_ca_file='',
    seal_transit_tls_server_name='', tls_disable=False, tls_cert_file='', tls_key_file='', tls_ca_file='',
    tls_min_version='tls12', user='vault', helm_release='vault', helm_namespace='vault', helm_mode='ha',
    helm_replicas=3, helm_ui=True, helm_injector=False, helm_tls_secret='vault-tls', helm_tls_extra_sans=[],
    helm_cluster_domain='cluster.local', helm_values={}, helm_seal_secret='vault-seal-transit',
    helm_extra_config_secret='vault-extra-config', service_manager='auto')


def plan(**kw):
    inputs = dict(BASE)
    inputs.update(kw)
    return install_plan(inputs)


def kube(**kw):
    kw.setdefault('audit_file_path', '/vault/audit/audit.log')
    return plan(target='kubernetes', **kw)


def test_host_default_generated_tls_and_mlock():
    p = plan()
    assert p['problems'] == []
    assert 'disable_mlock = true\n' in p['host_config']
    assert 'tls_cert_file   = "/etc/vault.d/tls/server.pem"' in p['host_config']
    assert p['certificates'] == ['/etc/vault.d/tls/server.pem', '/etc/vault.d/tls/ca.pem']
    assert p['audit_api_devices'][0]['name'] == 'file' and 'audit "file"' not in p['host_config']


def test_openbao_host_no_mlock_audit_in_config():
    p = plan(binary_name='bao')
    assert 'disable_mlock' not in p['host_config']
    assert 'disable_unauthed_generate_root_endpoints = false' in p['host_config']
    assert 'audit "file" "file" {' in p['host_config'] and p['audit_api_devices'] == []


def test_tls_disabled_no_ca_on_joins():
    p = plan(tls_disable=True, raft_retry_join=['http://a:8200', 'http://b:8200'])
    assert 'tls_disable     = true' in p['host_config']
    assert p['host_config'].count('retry_join {') == 2 and 'leader_ca_cert_file' not in p['host_config']


def test_given_cert_without_ca():
    p = plan(tls_cert_file='/etc/pki/s.pem', tls_key_file='/etc/pki/s.key', raft_retry_join=['https://a:8200'])
    assert p['tls_ca'] == '' and p['certificates'] == [] and 'leader_ca_cert_file' not in p['host_config']


def test_transit_seal_on_host_holds_the_token_and_is_secret():
    p = plan(seal='transit', seal_transit_address='https://t:8200', seal_transit_token='s.tok',
             seal_transit_tls_server_name='t')
    assert 'token      = "s.tok"' in p['host_config'] and 'tls_server_name = "t"' in p['host_config']
    assert p['config_secret'] is True


def test_extra_config_appended_verbatim():
    p = plan(extra_config='telemetry {}\n')
    assert p['host_config'].endswith('}\n\ntelemetry {}\n\n') and p['config_secret'] is True


def test_listener_endpoint_wildcards():
    assert listener_endpoint('0.0.0.0:8200') == '127.0.0.1:8200'
    assert listener_endpoint('[::]:8200') == '[::1]:8200'
    assert listener_endpoint(':8200') == '127.0.0.1:8200'
    assert listener_endpoint('10.0.0.1:8300') == '10.0.0.1:8300'


def test_render_hcl_quotes_and_refuses_templates_without_the_value():
    assert render_hcl([{'block': 'a', 'labels': ['x"y'], 'body': [{'attribute': 'k', 'value': 'v', 'pad': 3}]}]) \
        == 'a "x\\"y" {\n  k   = "v"\n}\n'
    with pytest.raises(ValueError) as exc:
        render_hcl([{'attribute': 'token', 'value': '${secret}'}])
    assert 'secret}' not in str(exc.value) and 'token' in str(exc.value)


def test_checksum_problem():
    assert plan(binary_checksum='')['problems'][0].endswith('it is empty.')
    assert plan(binary_checksum='md5:x')['problems'][0].endswith('not in that form.')
    assert plan(binary_source='package', binary_checksum='')['problems'] == []


def test_path_problems():
    assert 'vault_install_data_dir is /var, a system folder' in plan(data_dir='/var')['problems'][0]
    assert plan(log_dir='var/log/')['problems'][0].startswith('vault_install_log_dir must be an absolute path')
    assert 'is in vault_install_data_dir' in plan(tls_cert_file='/opt/vault/data/c.pem', tls_key_file='/k')['problems'][0]


def test_hcl_problems_name_the_variable_only():
    problems = plan(seal_transit_token='${x}')['problems']
    assert problems == ['vault_install_seal_transit_token holds ${ or %{, which HCL would interpret: remove it']
    bad = plan(audit_extra_devices=[{'type': 's', 'name': 'n', 'options': {'bad-name': 'x'}}])['problems']
    assert 'has the option "bad-name"' in bad[0]


def test_chart_default_values():
    p = kube()
    v = p['chart_values']
    assert v['server']['ha']['replicas'] == 3 and v['server']['ha']['enabled'] is True
    assert v['server']['ha']['apiAddr'] == 'https://$(VAULT_K8S_POD_NAME).vault-internal:8200'
    assert v['server']['extraEnvironmentVars'] == {'VAULT_CACERT': '/vault/userconfig/tls/ca.crt'}
    assert v['server']['volumes'] == [{'name': 'tls', 'secret': {'secretName': 'vault-tls'}}]
    assert p['host_config'] == '' and 'DNS:*.vault-internal.vault.svc.cluster.local' in p['helm_tls_sans']


def test_chart_openbao_no_tls_standalone():
    v = kube(tls_disable=True, helm_mode='standalone',
             helm_values={'server': {'image': {'repository': 'quay.io/openbao/openbao'}}})['chart_values']
    cfg = v['server']['standalone']['config']
    assert 'tls_disable     = 1' in cfg and 'audit "file" "file"' in cfg and v['global']['tlsDisable'] is True
    assert 'volumes' not in v['server'] and v['server']['ha']['apiAddr'].startswith('http://')


def test_chart_transit_token_stays_out_of_values():
    v = kube(seal='transit', seal_transit_address='https://t:8200', seal_transit_token='s.tok')['chart_values']
    assert 's.tok' not in repr(v)
    assert v['server']['extraSecretEnvironmentVars'][0]['secretName'] == 'vault-seal-transit'


def test_chart_extra_config_volume_and_args_beside_the_users():
    v = kube(extra_config='x {}', helm_values={'server': {'extraArgs': '-log-level=debug',
                                                          'volumes': [{'name': 'tls'}, {'name': 'mine'}]}})['chart_values']
    assert v['server']['extraArgs'] == '-config=/vault/userconfig/vaultkube-extra-config/extra.hcl -log-level=debug'
    assert [x['name'] for x in v['server']['volumes']] == ['tls', 'vaultkube-extra-config', 'mine']


def test_chart_fullname():
    assert kube(helm_release='secrets')['helm_fullname'] == 'secrets-vault'
    assert kube(helm_release='myvault')['helm_fullname'] == 'myvault'
    assert kube(helm_values={'fullnameOverride': 'vk'})['helm_fullname'] == 'vk'


def test_chart_audit_volume_off_is_a_problem():
    p = kube(helm_values={'server': {'auditStorage': {'enabled': False}}})
    assert p['problems'][0].startswith("the audit log /vault/audit/audit.log is on the chart's audit volume")


def test_merge_recursive_lists_replaced():
    assert merge({'a': {'b': 1, 'l': [1]}}, {'a': {'c': 2, 'l': [2]}}) == {'a': {'b': 1, 'c': 2, 'l': [2]}}


def test_private_files_by_service_manager():
    p = plan()
    assert p['private_files']['systemd'] == [{'path': '/var/log/vault/audit.log', 'mode': '0600'}]
    assert p['private_files']['supervised'][-1] == {'path': '/var/log/vault/vault.log', 'mode': '0640'}


def test_missing_input():
    inputs = dict(BASE)
    del inputs['seal']
    with pytest.raises(InstallPlanError, match='seal'):
        install_plan(inputs)


# ----------------------------------------------------------- systemd or the supervised process
@pytest.mark.parametrize('setting, service_mgr, booted, expected', [
    # auto: systemd where it is the running service manager.
    ('auto', '', True, True),               # /run/systemd/system exists (sd_booted)
    ('auto', 'systemd', False, True),       # the gathered fact says so
    ('auto', '', False, False),             # neither: this kind of host (a container, PID 1 not systemd)
    ('auto', 'sysvinit', False, False),
    ('auto', 'service', False, False),
    ('auto', '', None, None),               # before the host is read: not decided
    ('auto', 'systemd', None, True),
    # systemd and process are obeyed whatever the host runs.
    ('systemd', '', False, True),
    ('systemd', '', None, True),
    ('process', 'systemd', True, False),
    ('process', '', None, False),
])
def test_use_systemd(setting, service_mgr, booted, expected):
    assert use_systemd(setting, service_mgr, booted) is expected
    assert install_plan(dict(BASE, service_manager=setting), service_mgr=service_mgr,
                        systemd_booted=booted)['use_systemd'] is expected


def test_use_systemd_undecided_in_the_preflight_plan():
    assert plan()['use_systemd'] is None and plan(service_manager='process')['use_systemd'] is False


def test_unknown_service_manager_is_a_problem():
    p = plan(service_manager='supervised')
    assert p['problems'] == ['vault_install_service_manager must be auto (systemd where it runs, otherwise a '
                             'supervised process), systemd or process, got "supervised"']
    assert kube(service_manager='anything')['problems'] == []  # not used on Kubernetes


def test_package_source_leaves_the_binary_folder_to_the_package_manager():
    """The package owns /usr/bin: the role must not create it nor give it to the service group."""
    p = plan(binary_source='package', bin_dir='/usr/bin', binary_checksum='')
    assert p['problems'] == [] and p['binary_path'] == '/usr/bin/vault'
    assert '/usr/bin' not in [d['path'] for d in p['directories']]
    assert [d['path'] for d in p['directories']] == ['/etc/vault.d', '/opt/vault/data', '/run/vault',
                                                     '/var/log/vault']
    assert plan()['directories'][0] == {'path': '/usr/local/bin', 'owner': 'root', 'mode': '0755'}


def test_filter_passes_the_host_facts():
    from ansible_collections.vaultkube.platform.plugins.filter.vault_install_plan import vault_install_plan
    assert vault_install_plan(dict(BASE), service_mgr='', systemd_booted=True)['use_systemd'] is True
    assert vault_install_plan(dict(BASE), service_mgr='', systemd_booted=False)['use_systemd'] is False
    assert vault_install_plan(dict(BASE))['use_systemd'] is None
