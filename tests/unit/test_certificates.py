# -*- coding: utf-8 -*-
"""_certificates: every decision of the listener's CA/certificate step (keep, issue, renew and
why), the material it makes (real keys and certificates with `cryptography`), and the module's
files mode (atomic writes, modes, a re-run that changes nothing) on real files."""
import datetime
import json
import os
import stat

import pytest
from cryptography import x509

from ansible_collections.vaultkube.platform.plugins.module_utils import _certificates as certs

NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
SANS = ['DNS:localhost', 'IP:127.0.0.1', 'DNS:vault1']


def wanted(**over):
    args = dict(ca_common_name='vault CA (vault1)', common_name='vault1', subject_alt_names=SANS,
                key_type='ecdsa-p256', ca_valid_days=3650, valid_days=825, renew_before='30d')
    args.update(over)
    return certs.Wanted(**args)


def issue(want=None, now=NOW):
    """Fresh material as PEM texts: (ca, ca_key, cert, key)."""
    want = want or wanted()
    current = certs.Current()
    result = certs.apply(current, want, certs.plan(current, want, now), now)
    return (result.ca_bundle_pem, certs.key_pem(result.ca_key), certs.pem(result.cert), certs.key_pem(result.key))


@pytest.fixture(scope='module')
def material():
    return issue()


def decide(ca='', ca_key='', cert='', key='', want=None, now=NOW):
    current = certs.Current(ca, ca_key, cert, key)
    return current, certs.plan(current, want or wanted(), now)


# ------------------------------------------------------------------ inputs
@pytest.mark.parametrize('text, seconds', [('30d', 30 * 86400), ('12h', 43200), ('2w', 14 * 86400),
                                           ('1d12h', 129600), (' 90m ', 5400), ('3600s', 3600), (0, 0)])
def test_durations(text, seconds):
    assert certs.parse_duration(text) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize('text', ['', '30', '30x', 'd', '-1d', '30d junk'])
def test_bad_duration_names_the_field(text):
    with pytest.raises(certs.CertificateError, match=r'^renew_before: .* is not a duration such as 30d'):
        certs.parse_duration(text)


def test_sans_are_normalised_and_bad_ones_refused():
    assert certs.normalise_sans(['IP:0:0::1', 'dns:Vault1', 'DNS:vault1']) == ['DNS:vault1', 'IP:::1']
    with pytest.raises(certs.CertificateError, match='^subject_alt_names: .*"DNS:<name>"'):
        certs.normalise_sans(['URI:https://x'])
    with pytest.raises(certs.CertificateError, match='^subject_alt_names: .* not an IP address'):
        certs.normalise_sans(['IP:300.1.1.1'])


def test_bad_wanted_values_name_the_field():
    with pytest.raises(certs.CertificateError, match='^key_type:'):
        wanted(key_type='dsa')
    with pytest.raises(certs.CertificateError, match='^common_name: give a name'):
        wanted(common_name=' ')
    with pytest.raises(certs.CertificateError, match='^valid_days:'):
        wanted(valid_days=0)


def test_garbage_pem_names_the_field():
    with pytest.raises(certs.CertificateError, match='^certificate: no PEM certificate'):
        certs.Current(cert_pem='hello')
    with pytest.raises(certs.CertificateError, match='^privatekey: not an unencrypted PEM private key'):
        certs.Current(key_pem='-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')


# ------------------------------------------------------------------ decisions
def test_nothing_there_issues_ca_and_certificate():
    _current, plan = decide()
    assert (plan.ca_action, plan.action) == ('issue', 'issue')
    assert plan.ca_reasons == ['no CA'] and plan.reasons == ['no certificate']


def test_issued_material_is_what_was_asked(material):
    ca_pem, ca_key, cert_pem, key = material
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    assert certs.common_name(ca) == 'vault CA (vault1)'
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert certs.common_name(cert) == 'vault1'
    assert certs.certificate_sans(cert) == sorted(SANS)
    assert certs.signed_by(cert, ca)
    assert certs.not_after(cert) == NOW + datetime.timedelta(days=825)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in eku
    assert certs.key_type_of(cert.public_key()) == 'ecdsa-p256'


def test_everything_in_place_is_kept(material):
    _current, plan = decide(*material)
    assert (plan.ca_action, plan.action, plan.changed) == ('keep', 'keep', False)


def test_sans_in_another_order_or_case_are_the_same(material):
    _current, plan = decide(*material, want=wanted(subject_alt_names=['IP:127.0.0.1', 'DNS:VAULT1', 'DNS:localhost']))
    assert not plan.changed


def test_within_the_window_renews_the_certificate_only(material):
    _current, plan = decide(*material, now=NOW + datetime.timedelta(days=800))
    assert (plan.ca_action, plan.action) == ('keep', 'renew')
    assert plan.reasons == ['it expires %s, within renew_before' % (NOW + datetime.timedelta(days=825)).strftime('%Y-%m-%dT%H:%M:%SZ')]


def test_a_window_longer_than_the_validity_renews(material):
    want = wanted(renew_before='900d')
    assert want.renews_every_run()
    _current, plan = decide(*material, want=want)
    assert plan.action == 'renew' and plan.ca_action == 'keep'


def test_changed_sans_renew(material):
    _current, plan = decide(*material, want=wanted(subject_alt_names=SANS + ['DNS:vault.example.com']))
    assert plan.action == 'renew' and plan.reasons[0].startswith('subjectAltNames ')


def test_changed_common_name_renews(material):
    _current, plan = decide(*material, want=wanted(common_name='vault2'))
    assert plan.action == 'renew' and plan.reasons == ["common name 'vault1', wanted 'vault2'"]


def test_other_key_type_renews(material):
    _current, plan = decide(*material, want=wanted(key_type='ecdsa-p384'))
    assert plan.action == 'renew' and plan.reasons == ['key type ecdsa-p256, wanted ecdsa-p384']


def test_certificate_of_another_ca_renews(material):
    other_ca, other_ca_key, _cert, _key = issue()
    _ca, _ca_key, cert, key = material
    _current, plan = decide(other_ca, other_ca_key, cert, key)
    assert plan.ca_action == 'keep' and plan.action == 'renew' and plan.reasons == ['the CA did not sign it']


def test_missing_key_issues(material):
    ca, ca_key, cert, _key = material
    _current, plan = decide(ca, ca_key, cert, '')
    assert plan.action == 'issue' and plan.reasons == ['no private key']


def test_key_that_does_not_match_renews(material):
    ca, ca_key, cert, _key = material
    _current, plan = decide(ca, ca_key, cert, issue()[3])
    assert plan.action == 'renew' and plan.reasons == ['the private key does not match the certificate']


def test_ca_within_the_window_is_renewed_with_its_key_and_the_certificate_kept(material):
    ca, ca_key, cert, key = material
    # valid_days 825 < 3650: at 3640 days the server certificate expired too; give a long one
    want = wanted(valid_days=3650)
    ca, ca_key, cert, key = issue(want)
    later = NOW + datetime.timedelta(days=3630)
    current, plan = decide(ca, ca_key, cert, key, want=wanted(valid_days=3650, renew_before='10d'), now=later)
    assert plan.ca_action == 'keep' and plan.action == 'keep'
    current, plan = decide(ca, ca_key, cert, key, want=want, now=later)
    assert plan.ca_action == 'renew' and plan.ca_reasons[0].startswith('the CA expires ')
    # the server certificate (valid as long as the CA) is renewed for its own window, not for the CA
    assert plan.action == 'renew' and plan.reasons[0].startswith('it expires ')
    result = certs.apply(current, want, plan, later)
    assert not result.new_ca_key and certs.key_matches(result.ca, current.ca_key)
    assert certs.signed_by(x509.load_pem_x509_certificate(cert.encode()), result.ca)
    assert [certs.pem(c) for c in result.ca_bundle] == [certs.pem(result.ca)]


def test_ca_without_its_key_is_kept_while_nothing_needs_signing(material):
    ca, _ca_key, cert, key = material
    _current, plan = decide(ca, '', cert, key)
    assert not plan.changed


def test_ca_without_its_key_becomes_a_new_ca_in_a_bundle_with_the_old_one(material):
    ca, _ca_key, cert, key = material
    want = wanted(subject_alt_names=SANS + ['DNS:vault.vault.svc'])
    current, plan = decide(ca, '', cert, key, want=want)
    assert plan.ca_action == 'renew' and plan.ca_reasons == ['the CA key is not at hand to sign the server certificate']
    assert plan.action == 'renew' and plan.reasons[-1] == 'the CA is new'
    result = certs.apply(current, want, plan, NOW)
    assert result.new_ca_key and result.new_bundle
    old = x509.load_pem_x509_certificate(ca.encode())
    assert [certs.pem(c) for c in result.ca_bundle] == [certs.pem(result.ca), certs.pem(old)]
    assert certs.signed_by(result.cert, result.ca)
    # The next run, with the bundle and the new certificate but again no CA key: kept.
    _current, again = decide(result.ca_bundle_pem, '', certs.pem(result.cert), certs.key_pem(result.key), want=want)
    assert not again.changed


def test_expired_former_ca_leaves_the_bundle(material):
    ca, _ca_key, cert, key = material
    want = wanted(subject_alt_names=['DNS:other'])
    current, plan = decide(ca, '', cert, key, want=want)
    result = certs.apply(current, want, plan, NOW)
    bundle, new_cert, new_key = result.ca_bundle_pem, certs.pem(result.cert), certs.key_pem(result.key)
    late = NOW + datetime.timedelta(days=3651)   # the old CA expired; the new one (made at NOW) too
    want_short = wanted(subject_alt_names=['DNS:other'], renew_before='0s')
    current, plan = decide(bundle, '', new_cert, new_key, want=want_short, now=late)
    assert plan.drop_from_bundle and plan.changed


def test_ca_key_that_does_not_match_makes_a_new_ca_and_certificate(material):
    ca, _ca_key, cert, key = material
    other_key = issue()[1]
    current, plan = decide(ca, other_key, cert, key)
    assert plan.ca_action == 'renew' and plan.ca_reasons == ['the CA key does not match the CA certificate']
    assert plan.action == 'renew' and 'the CA is new' in plan.reasons
    result = certs.apply(current, wanted(), plan, NOW)
    assert certs.signed_by(result.cert, result.ca) and certs.key_matches(result.ca, current.ca_key)


def test_ca_key_without_ca_certificate_makes_the_ca_again_from_it(material):
    _ca, ca_key, cert, key = material
    current, plan = decide('', ca_key, cert, key)
    assert plan.ca_action == 'renew' and plan.action == 'renew'
    result = certs.apply(current, wanted(), plan, NOW)
    assert certs.key_matches(result.ca, current.ca_key)


def test_rsa_keys():
    want = wanted(key_type='rsa-2048')
    ca, ca_key, cert, key = issue(want)
    _current, plan = decide(ca, ca_key, cert, key, want=want)
    assert not plan.changed
    assert certs.key_type_of(x509.load_pem_x509_certificate(cert.encode()).public_key()) == 'rsa-2048'


def test_server_certificate_never_outlives_its_ca():
    want = wanted(ca_valid_days=10, valid_days=825, renew_before='1d')
    ca, _ca_key, cert, _key = issue(want)
    assert (certs.not_after(x509.load_pem_x509_certificate(cert.encode()))
            == certs.not_after(x509.load_pem_x509_certificate(ca.encode())))


def test_diff_never_carries_key_material(material):
    want = wanted(subject_alt_names=['DNS:new'])
    current, plan = decide(*material, want=want)
    result = certs.apply(current, want, plan, NOW)
    before, after = certs.diff(current, result)
    text = json.dumps([before, after])
    assert 'PRIVATE' not in text and 'BEGIN' not in text
    assert before['certificate']['subject_alt_names'] == sorted(SANS)
    assert after['certificate']['subject_alt_names'] == ['DNS:new']
    assert before['certificate']['serial'] != after['certificate']['serial']


# ------------------------------------------------------------------ files
def test_write_file_is_atomic_with_its_mode(tmp_path):
    path = tmp_path / 'server.key'
    path.write_text('old')
    os.chmod(str(path), 0o644)
    certs.write_file(str(path), 'new', 0o600)
    assert path.read_text() == 'new' and stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert sorted(os.listdir(str(tmp_path))) == ['server.key']


def test_fix_attributes(tmp_path):
    path = tmp_path / 'ca.key'
    path.write_text('x')
    os.chmod(str(path), 0o644)
    assert certs.fix_attributes(str(path), 0o600, check_mode=True)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644
    assert certs.fix_attributes(str(path), 0o600)
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600
    assert not certs.fix_attributes(str(path), 0o600)
    assert not certs.fix_attributes(str(tmp_path / 'missing'), 0o600)


# ------------------------------------------------------------------ the check without keys
def test_current_without_keys(material):
    ca, _ca_key, cert, _key = material
    assert certs.current_without_keys(ca, cert, wanted(), NOW)
    assert not certs.current_without_keys('', cert, wanted(), NOW)
    assert not certs.current_without_keys(ca, '', wanted(), NOW)
    assert not certs.current_without_keys(ca, 'garbage', wanted(), NOW)
    assert not certs.current_without_keys(ca, cert, wanted(subject_alt_names=['DNS:other']), NOW)
    assert not certs.current_without_keys(ca, cert, wanted(common_name='other'), NOW)
    assert not certs.current_without_keys(ca, cert, wanted(key_type='ecdsa-p384'), NOW)
    assert not certs.current_without_keys(ca, cert, wanted(renew_before='900d'), NOW)
    assert not certs.current_without_keys(issue()[0], cert, wanted(), NOW)


def test_filter_matches_the_module_decision(material):
    from ansible_collections.vaultkube.platform.plugins.filter.tls_certificate_current import tls_certificate_current
    ca, _ca_key, cert, _key = material
    # Issued at NOW (2030): valid for 825 days from then, so current today as well.
    assert tls_certificate_current(cert, ca, 'vault1', SANS, '30d', 'ecdsa-p256')
    assert not tls_certificate_current(cert, ca, 'vault1', SANS + ['DNS:x'], '30d', 'ecdsa-p256')
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match='renew_before'):
        tls_certificate_current(cert, ca, 'vault1', SANS, 'soon', 'ecdsa-p256')
