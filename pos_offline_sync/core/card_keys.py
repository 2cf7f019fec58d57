"""Card key pairs: generation, serialisation, key id, and the key store a host provides.

One RSA key pair per company. The private key never leaves the server; the browser gets the
public key as base64 SPKI DER with its kid (the first 16 hex digits of SHA-256 over that DER).
Rotation makes a new current key; old keys stay readable while envelopes may still need them.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 3072  # NIST's 128-bit level; WebCrypto wraps 32 bytes with it in well under 1 ms


@dataclass(frozen=True)
class PublicKeyInfo:
    kid: str
    spki_der: bytes

    @property
    def spki_b64(self) -> str:
        return base64.b64encode(self.spki_der).decode("ascii")

    def as_rpc(self) -> dict:
        """The `offline_card_public_key` result (CONTRACTS.md §2)."""
        return {"v": 1, "kid": self.kid, "spki": self.spki_b64}

    def load(self) -> rsa.RSAPublicKey:
        return serialization.load_der_public_key(self.spki_der)


def generate_private_key(bits: int = KEY_BITS) -> rsa.RSAPrivateKey:
    if bits not in (2048, 3072, 4096):
        raise ValueError("RSA key size must be 2048, 3072 or 4096 bits")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def spki_der(key) -> bytes:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def kid_for(spki: bytes) -> str:
    return hashlib.sha256(spki).hexdigest()[:16]


def public_info(key) -> PublicKeyInfo:
    der = spki_der(key)
    return PublicKeyInfo(kid=kid_for(der), spki_der=der)


def private_to_pem(key: rsa.RSAPrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted when the host has a passphrase (keys at rest)."""
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def private_from_pem(pem: bytes, passphrase: bytes | None = None) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=passphrase or None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("card key is not an RSA private key")
    return key


class KeyStore(Protocol):
    """What the charge service needs from a host's key storage (one company)."""

    def current_public(self) -> PublicKeyInfo:
        """The current key's public half, generating a first key pair when there is none."""

    def get_private(self, kid: str) -> rsa.RSAPrivateKey | None:
        """The private key for `kid`, current or retired; None when unknown."""

    def rotate(self) -> PublicKeyInfo:
        """Make a new current key pair; earlier keys stay available to get_private."""


class MemoryKeyStore:
    """A KeyStore kept in memory: tests, bench, and hosts that persist keys themselves."""

    def __init__(self, bits: int = KEY_BITS):
        self._bits = bits
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self._current: PublicKeyInfo | None = None
        self._lock = threading.Lock()

    def current_public(self) -> PublicKeyInfo:
        with self._lock:
            if self._current is None:
                self._add(generate_private_key(self._bits))
            return self._current

    def get_private(self, kid: str):
        return self._keys.get(kid)

    def rotate(self) -> PublicKeyInfo:
        key = generate_private_key(self._bits)
        with self._lock:
            self._add(key)
            return self._current

    def forget(self, kid: str) -> None:
        """Drop a retired key once no envelope needs it (never the current one)."""
        with self._lock:
            if self._current and kid == self._current.kid:
                raise ValueError("the current card key cannot be dropped")
            self._keys.pop(kid, None)

    def _add(self, key):
        info = public_info(key)
        self._keys[info.kid] = key
        self._current = info
