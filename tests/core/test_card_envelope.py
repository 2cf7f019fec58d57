"""Card envelopes and keys: real RSA-OAEP + AES-GCM with `cryptography`, no doubles."""

import base64
import json
import pickle

import pytest

# isort: off
from tests.card_support import card  # first: makes the core importable without Odoo
from pos_offline_sync.core.card_envelope import (
    UNDECRYPTABLE,
    CardData,
    EnvelopeError,
    card_brand,
    luhn_ok,
    open_envelope,
    parse_envelope,
    seal_card,
)
from pos_offline_sync.core.card_keys import (
    MemoryKeyStore,
    kid_for,
    private_from_pem,
    private_to_pem,
    public_info,
    spki_der,
)
# isort: on

NUMBER, CVC = "4242424242424242", "987"


@pytest.fixture(scope="module")
def keys():
    return MemoryKeyStore(bits=2048)


def _seal(keys, **kw):
    info = keys.current_public()
    return seal_card(card(cvc=CVC, **kw), info.kid, info.load())


def test_round_trip_opens_the_card(keys):
    env = _seal(keys)
    assert set(env) == {"v", "alg", "kid", "ek", "iv", "ct"}
    assert env["alg"] == "RSA-OAEP-256+A256GCM" and len(base64.b64decode(env["iv"])) == 12
    opened = open_envelope(env, keys.get_private)
    assert (opened.number, opened.cvc, opened.exp_month, opened.exp_year) == (NUMBER, CVC, 12, 2030)
    assert opened.brand == "visa" and opened.last4 == "4242" and opened.name == "Ada Lovelace"


def test_envelope_never_shows_the_card(keys):
    text = json.dumps(_seal(keys))
    assert NUMBER not in text and CVC not in text


def test_card_data_repr_and_str_are_masked(keys):
    opened = open_envelope(_seal(keys), keys.get_private)
    for shown in (repr(opened), str(opened), f"{opened}", repr([opened])):
        assert NUMBER not in shown and CVC not in shown
        assert "4242" in shown
    with pytest.raises(TypeError):
        pickle.dumps(opened)


def test_each_seal_uses_a_fresh_key_and_iv(keys):
    a, b = _seal(keys), _seal(keys)
    assert a["iv"] != b["iv"] and a["ek"] != b["ek"] and a["ct"] != b["ct"]


def _assert_safe(exc_info):
    exc = exc_info.value
    text = str(exc) + repr(exc)
    assert NUMBER not in text and CVC not in text
    # No chained exception may hold the decrypted text either.
    assert exc.__cause__ is None and exc.__context__ is None


def test_tampered_ciphertext_is_refused_without_detail(keys):
    env = _seal(keys)
    ct = bytearray(base64.b64decode(env["ct"]))
    ct[3] ^= 1
    env["ct"] = base64.b64encode(bytes(ct)).decode()
    with pytest.raises(EnvelopeError, match=r"unknown key id / tampered") as info:
        open_envelope(env, keys.get_private)
    assert str(info.value) == UNDECRYPTABLE
    _assert_safe(info)


def test_unknown_kid_is_refused(keys):
    env = dict(_seal(keys), kid="0123456789abcdef")
    with pytest.raises(EnvelopeError) as info:
        open_envelope(env, keys.get_private)
    assert str(info.value) == UNDECRYPTABLE


def test_wrong_private_key_is_refused(keys):
    other = MemoryKeyStore(bits=2048)
    other.current_public()
    env = _seal(keys)
    with pytest.raises(EnvelopeError) as info:
        open_envelope(env, lambda kid: other.get_private(other.current_public().kid))
    assert str(info.value) == UNDECRYPTABLE
    _assert_safe(info)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"v": 2}, "version"),
        ({"alg": "RSA1_5"}, "algorithm"),
        ({"kid": "../etc"}, "kid"),
        ({"iv": base64.b64encode(b"short").decode()}, "iv"),
        ({"ct": "not base64!"}, "ct"),
        ({"ek": None}, "ek"),
    ],
)
def test_malformed_envelopes_name_the_field(keys, change, field):
    env = dict(_seal(keys), **change)
    with pytest.raises(EnvelopeError, match=field):
        parse_envelope(env)


def test_missing_envelope():
    with pytest.raises(EnvelopeError, match="missing"):
        parse_envelope(None)


@pytest.mark.parametrize(
    "plain, field",
    [
        ({"number": "4242424242424241"}, "number"),  # Luhn fails
        ({"cvc": "12"}, "cvc"),
        ({"exp_month": 13}, "expiry"),
        ({"exp_year": "twenty"}, "expiry"),
    ],
)
def test_bad_card_inside_a_good_envelope(keys, plain, field):
    info = keys.current_public()
    env = seal_card({**card(cvc=CVC), **plain}, info.kid, info.load())
    with pytest.raises(EnvelopeError, match=field) as exc:
        open_envelope(env, keys.get_private)
    _assert_safe(exc)
    assert "4242424242424241" not in str(exc.value)


def test_luhn_and_brands():
    assert luhn_ok("4242424242424242") and luhn_ok("4000000000000341")
    assert not luhn_ok("4242424242424241") and not luhn_ok("42a2")
    assert card_brand("4242424242424242") == "visa"
    assert card_brand("5555555555554444") == "mastercard"
    assert card_brand("2223003122003222") == "mastercard"
    assert card_brand("378282246310005") == "amex"
    assert card_brand("6011111111111117") == "discover"
    assert card_brand("9999999999999995") == "unknown"


def test_kid_is_sha256_prefix_of_the_spki():
    store = MemoryKeyStore(bits=2048)
    info = store.current_public()
    assert len(info.kid) == 16 and info.kid == kid_for(info.spki_der)
    assert info.spki_der == spki_der(store.get_private(info.kid))
    assert info.as_rpc() == {"v": 1, "kid": info.kid, "spki": info.spki_b64}


def test_rotation_keeps_old_keys_for_waiting_envelopes():
    store = MemoryKeyStore(bits=2048)
    old = store.current_public()
    waiting = seal_card(card(), old.kid, old.load())
    new = store.rotate()
    assert new.kid != old.kid and store.current_public() == new
    assert open_envelope(waiting, store.get_private).last4 == "4242"
    store.forget(old.kid)
    with pytest.raises(EnvelopeError):
        open_envelope(waiting, store.get_private)
    with pytest.raises(ValueError):
        store.forget(new.kid)


def test_private_key_pem_round_trip_with_passphrase():
    store = MemoryKeyStore(bits=2048)
    info = store.current_public()
    key = store.get_private(info.kid)
    pem = private_to_pem(key, b"s3cret")
    assert b"ENCRYPTED" in pem
    assert public_info(private_from_pem(pem, b"s3cret")).kid == info.kid
    with pytest.raises((ValueError, TypeError)):
        private_from_pem(pem, b"wrong")


def test_card_data_validation_from_plain():
    c = CardData.from_plain(
        {"number": "4242 4242 4242 4242", "exp_month": "1", "exp_year": 31, "cvc": "1234"}
    )
    assert c.number == NUMBER and c.exp_year == 2031 and c.exp_month == 1
