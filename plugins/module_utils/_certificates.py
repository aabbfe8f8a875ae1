# -*- coding: utf-8 -*-
# Copyright: vaultkube.platform contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The listener's CA and server certificate: one decision (keep, issue, renew) and one way to
make them, for files on a host and for PEM text that goes into a Kubernetes Secret.

Internal. ``plan()`` looks at what exists (PEM text, possibly empty) and what is wanted (names,
key type, validity, renewal window) and says what to do with the CA and with the server
certificate, with the reasons; ``apply()`` makes the new material. Nothing here writes a file:
``write_file()`` does, atomically, for the module's file mode. Private keys never appear in a
description or a diff.

- The CA is generated only when none is there. On renewal (within the window) it keeps its key
  when the key is there (the server certificates it signed stay valid); without its key (the
  in-cluster Secret holds no CA key) a new CA is made, and the previous CA stays in the bundle
  while it is valid, so that clients trust the servers that still present the old certificate.
- The server certificate is issued when it or its key is missing, and renewed (with a new key)
  when it expires within the window, its common name or SANs differ, its key does not match, its
  key type differs, or the CA (a new CA included) did not sign it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
import os
import re
import tempfile

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - the module reports it
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = _exc

KEY_TYPES = ('ecdsa-p384', 'ecdsa-p256', 'rsa-2048', 'rsa-3072', 'rsa-4096')
DURATION_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 7 * 86400}
PEM_CERTIFICATE = re.compile(r'-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----', re.S)


class CertificateError(Exception):
    """Bad input: the message names the field and the fix."""


# ------------------------------------------------------------------ inputs
def parse_duration(value, field='renew_before'):
    """'30d', '12h', '2w', '1d12h', '90m', '3600s' (or an integer of seconds) as a timedelta."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return datetime.timedelta(seconds=value)
    text = str(value).strip().lower()
    parts = re.findall(r'(\d+)\s*([smhdw])', text)
    if not text or re.sub(r'\s+', '', ''.join(n + u for n, u in parts)) != re.sub(r'\s+', '', text):
        raise CertificateError('%s: %r is not a duration such as 30d, 12h or 2w' % (field, value))
    return datetime.timedelta(seconds=sum(int(n) * DURATION_UNITS[u] for n, u in parts))


def normalise_san(entry):
    """'DNS:Name' -> 'DNS:name', 'IP:0:0::1' -> 'IP:::1'; anything else is refused."""
    kind, sep, value = str(entry).partition(':')
    kind = kind.strip().upper()
    value = value.strip()
    if not sep or not value or kind not in ('DNS', 'IP'):
        raise CertificateError('subject_alt_names: %r is not "DNS:<name>" or "IP:<address>"' % (entry,))
    if kind == 'IP':
        try:
            return 'IP:' + str(ipaddress.ip_address(value))
        except ValueError:
            raise CertificateError('subject_alt_names: %r is not an IP address' % (entry,))
    return 'DNS:' + value.lower()


def normalise_sans(entries):
    return sorted(set(normalise_san(entry) for entry in entries or []))


def load_certificates(text, field):
    """The certificates of a PEM text, in order ([] for empty text)."""
    if not text or not text.strip():
        return []
    blocks = PEM_CERTIFICATE.findall(text)
    if not blocks:
        raise CertificateError('%s: no PEM certificate (-----BEGIN CERTIFICATE-----) in it' % field)
    try:
        return [x509.load_pem_x509_certificate(block.encode('ascii')) for block in blocks]
    except ValueError as exc:
        raise CertificateError('%s: the certificate does not parse (%s)' % (field, exc))


def load_private_key(text, field):
    if not text or not text.strip():
        return None
    try:
        return serialization.load_pem_private_key(text.encode('ascii') if not isinstance(text, bytes) else text,
                                                  password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError('%s: not an unencrypted PEM private key (%s)' % (field, str(exc).split('\n', maxsplit=1)[0]))


# ------------------------------------------------------------------ reading certificates
def not_after(cert):
    value = getattr(cert, 'not_valid_after_utc', None)
    if value is None:  # cryptography < 42
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def common_name(cert):
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return names[0].value if names else ''


def certificate_sans(cert):
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return sorted(['DNS:' + name.lower() for name in ext.get_values_for_type(x509.DNSName)]
                  + ['IP:' + str(address) for address in ext.get_values_for_type(x509.IPAddress)])


def key_type_of(key):
    if HAS_CRYPTOGRAPHY and isinstance(key, ec.EllipticCurvePublicKey):
        return {'secp384r1': 'ecdsa-p384', 'secp256r1': 'ecdsa-p256'}.get(key.curve.name, 'ecdsa-' + key.curve.name)
    if HAS_CRYPTOGRAPHY and isinstance(key, rsa.RSAPublicKey):
        return 'rsa-%d' % key.key_size
    return 'other'


def public_bytes(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches(cert, key):
    return key is not None and public_bytes(cert.public_key()) == public_bytes(key.public_key())


def signed_by(cert, ca_cert):
    """Whether ca_cert's key signed cert (and it names ca_cert's subject as its issuer)."""
    if cert.issuer != ca_cert.subject:
        return False
    public = ca_cert.public_key()
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def describe(cert):
    """What a diff may show: never key material."""
    if cert is None:
        return None
    return {
        'subject': cert.subject.rfc4514_string(),
        'issuer': cert.issuer.rfc4514_string(),
        'subject_alt_names': certificate_sans(cert),
        'serial': format(cert.serial_number, 'x'),
        'not_after': not_after(cert).strftime('%Y-%m-%dT%H:%M:%SZ'),
    }


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode('ascii')


# ------------------------------------------------------------------ the decision
class Wanted(object):
    def __init__(self, ca_common_name, common_name, subject_alt_names, key_type='ecdsa-p384',
                 ca_valid_days=3650, valid_days=825, renew_before='30d'):
        if key_type not in KEY_TYPES:
            raise CertificateError('key_type: %r is not one of %s' % (key_type, ', '.join(KEY_TYPES)))
        for field, value in (('ca_common_name', ca_common_name), ('common_name', common_name)):
            if not value or not str(value).strip():
                raise CertificateError('%s: give a name (it is empty)' % field)
        for field, value in (('ca_valid_days', ca_valid_days), ('valid_days', valid_days)):
            if int(value) < 1:
                raise CertificateError('%s: %r is not a positive number of days' % (field, value))
        self.ca_common_name = str(ca_common_name)
        self.common_name = str(common_name)
        self.sans = normalise_sans(subject_alt_names)
        self.key_type = key_type
        self.ca_valid = datetime.timedelta(days=int(ca_valid_days))
        self.valid = datetime.timedelta(days=int(valid_days))
        self.renew_before = parse_duration(renew_before)

    def renews_every_run(self):
        return self.renew_before >= self.valid


class Current(object):
    """What exists: the CA bundle (first the CA whose key is given, or that signed the server
    certificate), the CA key, the server certificate and its key."""

    def __init__(self, ca_pem='', ca_key_pem='', cert_pem='', key_pem=''):
        self.ca_bundle = load_certificates(ca_pem, 'ca_certificate')
        self.ca_key = load_private_key(ca_key_pem, 'ca_privatekey')
        certs = load_certificates(cert_pem, 'certificate')
        self.cert = certs[0] if certs else None
        self.key = load_private_key(key_pem, 'privatekey')
        self.ca = self._current_ca()

    def _current_ca(self):
        if self.ca_key is not None:
            for cert in self.ca_bundle:
                if key_matches(cert, self.ca_key):
                    return cert
        if self.cert is not None:
            for cert in self.ca_bundle:
                if signed_by(self.cert, cert):
                    return cert
        return self.ca_bundle[0] if self.ca_bundle else None


class Plan(object):
    """ca_action / action: 'keep', 'issue' or 'renew', with the reasons in words."""

    def __init__(self, ca_action, ca_reasons, action, reasons, drop_from_bundle):
        self.ca_action, self.ca_reasons = ca_action, ca_reasons
        self.action, self.reasons = action, reasons
        self.drop_from_bundle = drop_from_bundle

    @property
    def changed(self):
        return self.ca_action != 'keep' or self.action != 'keep' or bool(self.drop_from_bundle)


def plan(current, wanted, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    horizon = now + wanted.renew_before

    # The CA.
    ca_reasons = []
    key_mismatch = False
    if current.ca is None and current.ca_key is None:
        ca_action = 'issue'
        ca_reasons.append('no CA')
    elif current.ca is None:
        ca_action = 'renew'
        ca_reasons.append('no CA certificate for the CA key')
    else:
        if current.ca_key is not None and not key_matches(current.ca, current.ca_key):
            ca_reasons.append('the CA key does not match the CA certificate')
            key_mismatch = True
        if not_after(current.ca) <= horizon:
            ca_reasons.append('the CA expires %s, within renew_before' % describe(current.ca)['not_after'])
        ca_action = 'renew' if ca_reasons else 'keep'
    # Renewing without the CA's key makes a new key, that is a new CA; so does a CA certificate
    # made again from a CA key that is not the one of the CA found.
    new_ca_key = ca_action == 'issue' or (ca_action == 'renew' and current.ca_key is None) or key_mismatch

    # The server certificate.
    reasons = []
    cert = current.cert
    if cert is None or current.key is None:
        action = 'issue'
        reasons.append('no certificate' if cert is None else 'no private key')
    else:
        if not key_matches(cert, current.key):
            reasons.append('the private key does not match the certificate')
        if key_type_of(cert.public_key()) != wanted.key_type:
            reasons.append('key type %s, wanted %s' % (key_type_of(cert.public_key()), wanted.key_type))
        if common_name(cert) != wanted.common_name:
            reasons.append('common name %r, wanted %r' % (common_name(cert), wanted.common_name))
        if certificate_sans(cert) != wanted.sans:
            reasons.append('subjectAltNames %s, wanted %s' % (', '.join(certificate_sans(cert)) or 'none',
                                                              ', '.join(wanted.sans) or 'none'))
        if not_after(cert) <= horizon:
            reasons.append('it expires %s, within renew_before' % describe(cert)['not_after'])
        if new_ca_key:
            reasons.append('the CA is new')
        elif current.ca is None or not signed_by(cert, current.ca):
            reasons.append('the CA did not sign it')
        action = 'renew' if reasons else 'keep'

    # A server certificate to sign needs the CA's key: without it, a new CA.
    if action != 'keep' and current.ca_key is None and ca_action == 'keep':
        ca_action = 'renew'
        ca_reasons.append('the CA key is not at hand to sign the server certificate')
        if 'the CA did not sign it' in reasons:
            reasons.remove('the CA did not sign it')
        reasons.append('the CA is new')

    # Expired former CAs leave the bundle (the current one stays, or is replaced above).
    drop = [c for c in current.ca_bundle if c is not current.ca and not_after(c) <= now]
    return Plan(ca_action, ca_reasons, action, reasons, drop)


def current_without_keys(ca_pem, cert_pem, wanted, now=None):
    """Whether what can be read without the keys (the CA and the server certificate, as a host
    read returns them) needs nothing: both there, the CA signed the certificate, the names and key
    type are the wanted ones, and neither expires within the window. False means: run the step
    (which also checks the keys) - a role uses it to skip that step on a re-run."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    horizon = now + wanted.renew_before
    try:
        bundle = load_certificates(ca_pem, 'ca_certificate')
        certs = load_certificates(cert_pem, 'certificate')
    except CertificateError:
        return False
    if not bundle or not certs:
        return False
    cert = certs[0]
    ca = next((c for c in bundle if signed_by(cert, c)), None)
    return (ca is not None and bundle[0] is ca
            and not_after(ca) > horizon and not_after(cert) > horizon
            and common_name(cert) == wanted.common_name and certificate_sans(cert) == wanted.sans
            and key_type_of(cert.public_key()) == wanted.key_type
            and not [c for c in bundle if not_after(c) <= now])


# ------------------------------------------------------------------ making material
def generate_key(key_type):
    if key_type == 'ecdsa-p384':
        return ec.generate_private_key(ec.SECP384R1())
    if key_type == 'ecdsa-p256':
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type.split('-')[1]))


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ski(public_key):
    return x509.SubjectKeyIdentifier.from_public_key(public_key)


def make_ca(key, common_name_, valid, now):
    return (x509.CertificateBuilder()
            .subject_name(_name(common_name_)).issuer_name(_name(common_name_))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + valid)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(_ski(key.public_key()), critical=False)
            .sign(key, hashes.SHA384() if isinstance(key, ec.EllipticCurvePrivateKey) else hashes.SHA256()))


def _general_name(san):
    kind, _sep, value = san.partition(':')
    return x509.IPAddress(ipaddress.ip_address(value)) if kind == 'IP' else x509.DNSName(value)


def make_server(key, ca_cert, ca_key, wanted, now):
    builder = (x509.CertificateBuilder()
               .subject_name(_name(wanted.common_name)).issuer_name(ca_cert.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(min(now + wanted.valid, not_after(ca_cert)))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                                            data_encipherment=False,
                                            key_agreement=isinstance(key, ec.EllipticCurvePrivateKey),
                                            key_cert_sign=False, crl_sign=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                              critical=False)
               .add_extension(_ski(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if wanted.sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(s) for s in wanted.sans]),
                                        critical=False)
    return builder.sign(ca_key, hashes.SHA384() if isinstance(ca_key, ec.EllipticCurvePrivateKey) else hashes.SHA256())


class Result(object):
    """The material after apply(): objects, PEM text, and which parts are new."""

    def __init__(self, ca, ca_key, ca_bundle, cert, key, new_ca, new_ca_key, new_bundle, new_cert):
        self.ca, self.ca_key, self.ca_bundle = ca, ca_key, ca_bundle
        self.cert, self.key = cert, key
        self.new_ca, self.new_ca_key, self.new_bundle, self.new_cert = new_ca, new_ca_key, new_bundle, new_cert

    @property
    def ca_bundle_pem(self):
        return ''.join(pem(c) for c in self.ca_bundle)


def apply(current, wanted, the_plan, now=None):
    """New material as the plan says (keys only where something is issued or renewed)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ca, ca_key, new_ca_key = current.ca, current.ca_key, False
    if the_plan.ca_action != 'keep':
        if ca_key is None or the_plan.ca_action == 'issue':
            ca_key, new_ca_key = generate_key(wanted.key_type), True
        ca = make_ca(ca_key, wanted.ca_common_name, wanted.ca_valid, now)
    # The bundle: the current CA first, then former CAs still valid (clients keep trusting the
    # servers that present a certificate from them until these reload or roll).
    former = [c for c in current.ca_bundle if c is not current.ca and c not in the_plan.drop_from_bundle]
    if new_ca_key and current.ca is not None and not_after(current.ca) > now:
        former.insert(0, current.ca)
    bundle = [ca] + [c for c in former if pem(c) != pem(ca)]
    cert, key = current.cert, current.key
    if the_plan.action != 'keep':
        key = generate_key(wanted.key_type)
        cert = make_server(key, ca, ca_key, wanted, now)
    new_bundle = [pem(c) for c in bundle] != [pem(c) for c in current.ca_bundle]
    return Result(ca, ca_key, bundle, cert, key, the_plan.ca_action != 'keep', new_ca_key, new_bundle,
                  the_plan.action != 'keep')


def diff(current, result_or_plan):
    """Subjects, SANs, serials and expiry before and after; never key material."""
    before = {'ca': [describe(c) for c in current.ca_bundle], 'certificate': describe(current.cert)}
    if isinstance(result_or_plan, Result):
        after = {'ca': [describe(c) for c in result_or_plan.ca_bundle], 'certificate': describe(result_or_plan.cert)}
    else:
        after = None
    return before, after


# ------------------------------------------------------------------ files
def file_state(path):
    """(owner uid, group gid, mode) of a file, or None when missing."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_uid, info.st_gid, info.st_mode & 0o7777


def read_text(path):
    try:
        with open(path, 'r') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if getattr(exc, 'errno', None) == 2:
            return ''
        raise


def write_file(path, text, mode, uid=-1, gid=-1):
    """Atomically: a private temporary file in the same folder, owner and mode set before the
    content goes in, then renamed over the path."""
    folder = os.path.dirname(path) or '.'
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', dir=folder)
    try:
        os.fchmod(fd, 0o600)
        if uid != -1 or gid != -1:
            os.fchown(fd, uid, gid)
        os.write(fd, text.encode('ascii'))
        os.fchmod(fd, mode)
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.rename(tmp, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def fix_attributes(path, mode, uid=-1, gid=-1, check_mode=False):
    """Owner, group and mode of an existing file; True when something differs (and was fixed)."""
    state = file_state(path)
    if state is None:
        return False
    want_uid = state[0] if uid == -1 else uid
    want_gid = state[1] if gid == -1 else gid
    if state == (want_uid, want_gid, mode):
        return False
    if not check_mode:
        os.chown(path, want_uid, want_gid)
        os.chmod(path, mode)
    return True
