"""The card envelope: AES-256-GCM per card, the AES key wrapped with RSA-OAEP-SHA256.

Shape (CONTRACTS.md §1): {"v":1, "alg":"RSA-OAEP-256+A256GCM", "kid", "ek", "iv", "ct"}, all
binary fields standard base64; the plaintext is the UTF-8 JSON
{"number","exp_month","exp_year","cvc","name"}. The browser seals (card_vault.js); the server
opens here. Plaintext lives only inside `CardData`, whose repr/str are masked, and no error
raised here carries the envelope, the plaintext or a chained exception that holds them.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENVELOPE_VERSION = 1
ENVELOPE_ALG = "RSA-OAEP-256+A256GCM"
IV_BYTES = 12
MAX_CIPHERTEXT_BYTES = 4096  # the JSON above is < 300 bytes; refuse anything absurd

UNDECRYPTABLE = "card data could not be decrypted (unknown key id / tampered)"


class EnvelopeError(ValueError):
    """The envelope cannot be opened or holds no usable card. Safe to log and to show."""


def _oaep():
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
    )


def luhn_ok(number: str) -> bool:
    if not number.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_BRANDS = (
    ("amex", re.compile(r"^3[47]")),
    ("diners", re.compile(r"^3(0[0-5]|[689])")),
    ("discover", re.compile(r"^6(011|5|4[4-9])")),
    ("jcb", re.compile(r"^35(2[89]|[3-8])")),
    ("mastercard", re.compile(r"^(5[1-5]|2(2[2-9]|[3-6]|7[01]|720))")),
    ("visa", re.compile(r"^4")),
)


def card_brand(number: str) -> str:
    """Brand from the number's prefix (same table as card_vault.js)."""
    for brand, pattern in _BRANDS:
        if pattern.match(number):
            return brand
    return "unknown"


@dataclass(frozen=True, repr=False, eq=False)
class CardData:
    """Opened card details. Never logged: repr and str show brand and last 4 only."""

    number: str
    exp_month: int
    exp_year: int
    cvc: str
    name: str = ""

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def brand(self) -> str:
        return card_brand(self.number)

    def __repr__(self):
        return f"CardData(<{self.brand} ****{self.last4}>)"

    __str__ = __repr__

    def __reduce__(self):  # keep card data out of pickles (caches, multiprocessing queues)
        raise TypeError("CardData cannot be pickled")

    @classmethod
    def from_plain(cls, raw) -> CardData:
        """Validate the decrypted JSON object; errors name the field, never its value."""
        if not isinstance(raw, dict):
            raise EnvelopeError("card data is malformed")
        number = raw.get("number")
        if not isinstance(number, str):
            raise EnvelopeError("card data is malformed: number")
        number = number.replace(" ", "")
        if not (12 <= len(number) <= 19) or not luhn_ok(number):
            raise EnvelopeError("card data is malformed: number")
        month = _small_int(raw.get("exp_month"))
        year = _small_int(raw.get("exp_year"))
        if month is None or year is None:
            raise EnvelopeError("card data is malformed: expiry")
        if year < 100:
            year += 2000
        if not (1 <= month <= 12) or not (2000 <= year <= 2100):
            raise EnvelopeError("card data is malformed: expiry")
        cvc = raw.get("cvc")
        if not isinstance(cvc, str) or not cvc.isdigit() or not (3 <= len(cvc) <= 4):
            raise EnvelopeError("card data is malformed: cvc")
        name = raw.get("name") or ""
        if not isinstance(name, str) or len(name) > 200:
            raise EnvelopeError("card data is malformed: name")
        return cls(number=number, exp_month=month, exp_year=year, cvc=cvc, name=name.strip())


def _small_int(value):
    # No int() on arbitrary input: its ValueError would quote the value.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 4:
        return int(value)
    return None


def _b64(value, what, *, exact=None, maximum=None) -> bytes:
    if not isinstance(value, str):
        raise EnvelopeError(f"card envelope is malformed: {what}")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        data = None
    if data is None or (exact and len(data) != exact) or (maximum and len(data) > maximum):
        raise EnvelopeError(f"card envelope is malformed: {what}")
    return data


def parse_envelope(envelope) -> tuple[str, bytes, bytes, bytes]:
    """Check the envelope's shape; return (kid, wrapped key, iv, ciphertext)."""
    if not isinstance(envelope, dict):
        raise EnvelopeError("card envelope is missing")
    if envelope.get("v") != ENVELOPE_VERSION or envelope.get("alg") != ENVELOPE_ALG:
        raise EnvelopeError("card envelope has an unsupported version or algorithm")
    kid = envelope.get("kid")
    if not isinstance(kid, str) or not re.fullmatch(r"[0-9a-f]{8,64}", kid):
        raise EnvelopeError("card envelope is malformed: kid")
    ek = _b64(envelope.get("ek"), "ek", maximum=1024)
    iv = _b64(envelope.get("iv"), "iv", exact=IV_BYTES)
    ct = _b64(envelope.get("ct"), "ct", maximum=MAX_CIPHERTEXT_BYTES)
    if len(ct) <= 16:
        raise EnvelopeError("card envelope is malformed: ct")
    return kid, ek, iv, ct


def open_envelope(envelope, get_private) -> CardData:
    """Decrypt with the private key `get_private(kid)` returns (None when the kid is unknown)."""
    kid, ek, iv, ct = parse_envelope(envelope)
    private_key = get_private(kid)
    if private_key is None:
        raise EnvelopeError(UNDECRYPTABLE)
    failed = False
    raw = None
    try:
        aes_key = private_key.decrypt(ek, _oaep())
        raw = json.loads(AESGCM(aes_key).decrypt(iv, ct, None).decode("utf-8"))
    except (ValueError, InvalidTag, UnicodeDecodeError):
        # JSONDecodeError keeps the decrypted text: leave the except block before raising so
        # no exception context holding it survives.
        failed = True
    if failed:
        raise EnvelopeError(UNDECRYPTABLE)
    try:
        return CardData.from_plain(raw)
    finally:
        raw = None


def seal_card(card: dict, kid: str, public_key: rsa.RSAPublicKey) -> dict:
    """Python twin of card_vault.js `sealCard` (bench, tests, server-side capture tools)."""
    plaintext = json.dumps(
        {k: card.get(k) for k in ("number", "exp_month", "exp_year", "cvc", "name")},
        separators=(",", ":"),
    ).encode("utf-8")
    aes_key = AESGCM.generate_key(bit_length=256)
    iv = os.urandom(IV_BYTES)
    ct = AESGCM(aes_key).encrypt(iv, plaintext, None)
    ek = public_key.encrypt(aes_key, _oaep())
    return {
        "v": ENVELOPE_VERSION,
        "alg": ENVELOPE_ALG,
        "kid": kid,
        "ek": base64.b64encode(ek).decode("ascii"),
        "iv": base64.b64encode(iv).decode("ascii"),
        "ct": base64.b64encode(ct).decode("ascii"),
    }
