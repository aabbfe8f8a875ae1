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


def test_checksums_match_what_copy_compares(tmp_path):
    from ansible.utils.hashing import checksum
    data = tmp_path / 'bao'
    data.write_bytes(os.urandom(3 * (1 << 20) + 17))
    assert host_state_info.file_checksum(str(data)) == checksum(str(data))
    assert host_state_info.file_checksum(str(tmp_path)) is None
    assert host_state_info.file_checksum(str(tmp_path / 'missing')) is None


def _certificate(common_name, sans):
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt = [x509.IPAddress(ipaddress.ip_address(v[3:])) if v.startswith('IP:') else x509.DNSName(v[4:]) for v in sans]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def test_certificates_give_names_and_only_certificate_blocks(tmp_path):
    cert_pem, key_pem = _certificate('localhost', ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'])
    cert = tmp_path / 'server.pem'
    cert.write_text('# issued by the lab CA\n' + cert_pem)
    state = host_state_info.certificate_state(str(cert))
    assert state['subject_cn'] == 'localhost'
    assert state['subject_alt_name'] == ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']
    assert state['pem'] == cert_pem
    # A key (or a bundle of key and certificate) never leaves the host.
    key = tmp_path / 'server.key'
    key.write_text(key_pem)
    assert host_state_info.certificate_state(str(key)) == {'exists': True}
    bundle = tmp_path / 'bundle.pem'
    bundle.write_text(key_pem + cert_pem)
    assert 'PRIVATE' not in host_state_info.certificate_state(str(bundle))['pem']
    assert host_state_info.certificate_state(str(tmp_path / 'missing')) == {'exists': False}


def test_ports_report_whether_a_listener_answers():
    import socket
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        assert host_state_info.port_open('127.0.0.1:%d' % port, 1.0) is True
    finally:
        listener.close()
    assert host_state_info.port_open('127.0.0.1:%d' % port, 1.0) is False


def test_checksum_never_follows_a_link(tmp_path):
    target = tmp_path / 'secret'
    target.write_text('x')
    link = tmp_path / 'link'
    link.symlink_to(target)
    assert host_state_info.file_checksum(str(link)) is None
    assert host_state_info.file_checksum(str(target)) is not None


def test_endpoints_are_matched_whole():
    assert host_state_info._ENDPOINT.fullmatch('127.0.0.1:8200')
    assert host_state_info._ENDPOINT.fullmatch('[::1]:8200')
    assert not host_state_info._ENDPOINT.fullmatch('127.0.0.1:8200\n')
    assert not host_state_info._ENDPOINT.fullmatch('host:port')
