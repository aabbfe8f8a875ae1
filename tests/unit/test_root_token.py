# -*- coding: utf-8 -*-
"""generate-root's token decoding (base64 raw standard alphabet XOR the OTP), as Vault 1.10+ and OpenBao 2.x
encode it (sdk/helper/roottoken); the servers themselves are exercised in tests/integration/test_root_token.py."""

import base64

import pytest

from ansible_collections.vaultkube.platform.plugins.module_utils._root_token import RootTokenError, decode_token


def encode(token, otp):
    """What the server returns: base64.RawStdEncoding(token XOR otp)."""
    raw = bytes(a ^ b for a, b in zip(token.encode(), otp.encode()))
    return base64.b64encode(raw).decode().rstrip('=')


@pytest.mark.parametrize('token, otp', [
    ('s.' + 'A' * 26, 'x' * 28),                       # Vault: 28-character OTP
    ('hvs.' + 'b' * 22, 'Zq9' * 8 + 'zz'),              # 26 characters, no base64 padding needed
    ('s.abcdefghijklmnopqrstuvwx', 'OTPotpOTPotpOTPotpOTPotpOT'),  # OpenBao: 26 characters
])
def test_decode_round_trip(token, otp):
    assert decode_token(encode(token, otp), otp) == token


def test_padded_input_accepted():
    token, otp = 's.' + 'q' * 24, 'k' * 26
    padded = base64.b64encode(bytes(a ^ b for a, b in zip(token.encode(), otp.encode()))).decode()
    assert decode_token(padded, otp) == token


@pytest.mark.parametrize('encoded, otp, fragment', [
    ('', 'abc', 'without an encoded token'),
    ('abcd', '', 'without an encoded token'),
    ('!!!!', 'abc', 'not base64'),
    (encode('s.xyz', 'abcde'), 'abcdef', '5 bytes for an OTP of 6'),
])
def test_bad_answers_fail_in_one_line(encoded, otp, fragment):
    with pytest.raises(RootTokenError) as raised:
        decode_token(encoded, otp)
    assert fragment in str(raised.value) and '\n' not in str(raised.value)
    if otp:
        assert otp not in str(raised.value)
