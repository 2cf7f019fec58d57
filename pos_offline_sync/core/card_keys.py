"""Card key pairs and their protection at rest.

One RSA key pair per company. The browser gets the public key as base64 SPKI DER with its kid
(the first 16 hex digits of SHA-256 over that DER). The private key never leaves the server and
is stored only *wrapped* (AES-256-GCM) by a key-encryption key (KEK) that is never in the
database: a key file the host's configuration names. So a copy of the database alone opens no
card envelope (PCI DSS 4.0 3.6: keys kept apart from the data they protect). Without a usable
KEK no key is handed out and no key is opened (`CardKeyUnavailable`); nothing falls back to an
unprotected key. Rotation makes a new current key; old ones stay, wrapped, while envelopes may
need them.

A KEK file is made with `python -m pos_offline_sync.core.card_keys --new-kek PATH` (mode 0600).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BITS = 3072  # NIST's 128-bit level; WebCrypto wraps 32 bytes with it in well under 1 ms
KEK_BYTES = 32  # AES-256
KEK_FILE_MAX_BYTES = 4096
KEK_FILE_COMMENT = (
    "# pos_offline_sync card key-encryption key (KEK). Keep it out of the database and of its\n"
    "# backups, back it up separately: without it no card taken offline can be charged.\n"
)
WRAP_PREFIX = "kekw1"  # kekw1:<kek id>:<base64(nonce || AES-GCM ciphertext)>
_WRAP_AAD = b"pos_offline_sync/card-key/v1"
_KEK_ID_LABEL = b"pos_offline_sync/kek-id/v1"
_NONCE_BYTES = 12
_WRAPPED_RE = re.compile(r"kekw1:([0-9a-f]{16}):([A-Za-z0-9+/=]{40,16384})")


# -- errors ------------------------------------------------------------------------------------
class CardKeyUnavailable(RuntimeError):
    """No card key can be handed out or opened now. `code` says why (hosts translate it),
    `params` holds what the message names (key ids only). Never carries key material, and is
    not an EnvelopeError: a waiting card is kept, not settled as undecryptable."""

    MESSAGES = {
        "no_kek": "no key-encryption key (KEK) is configured on the server, so card keys "
        "cannot be protected",
        "kek_unreadable": "the key-encryption key file cannot be used ({reason})",
        "kek_mismatch": "card key {kid} is wrapped by key-encryption key {wrapped_by}, not by "
        "the configured one ({configured}): restore that KEK file",
        "tampered": "card key {kid} cannot be unwrapped: its stored form was altered or "
        "belongs to another key",
        "unprotected": "card key {kid} is stored without KEK protection (older version)",
    }

    def __init__(self, code: str, **params):
        self.code = code
        self.params = params
        self.message = self.MESSAGES[code].format(**params)
        super().__init__(self.message)

    def __reduce__(self):
        return (_unavailable, (self.code, self.params))


def _unavailable(code, params):
    return CardKeyUnavailable(code, **params)


# -- the key-encryption key ----------------------------------------------------------------------
class KeyEncryptionKey:
    """A 256-bit AES key that wraps card private keys. Its id (a one-way fingerprint) is stored
    with each wrapped key; the secret itself only in this object, never printed or pickled."""

    __slots__ = ("_aead", "kek_id")

    def __init__(self, secret: bytes):
        if not isinstance(secret, bytes) or len(secret) != KEK_BYTES:
            raise ValueError("a key-encryption key is 32 random bytes")
        self.kek_id = hashlib.sha256(_KEK_ID_LABEL + secret).hexdigest()[:16]
        self._aead = AESGCM(secret)

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        return cls(os.urandom(KEK_BYTES))

    def __repr__(self):
        return f"KeyEncryptionKey(id={self.kek_id})"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a key-encryption key cannot be pickled")

    def _aad(self, context: str) -> bytes:
        # The kek id and the card key's kid are authenticated: a blob moved to another row,
        # or relabelled with another kek id, does not open.
        return b"|".join((_WRAP_AAD, self.kek_id.encode(), context.encode()))

    def wrap(self, secret: bytes, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret, self._aad(context))
        return f"{WRAP_PREFIX}:{self.kek_id}:{base64.b64encode(nonce + sealed).decode()}"

    def unwrap(self, wrapped: str, context: str) -> bytes:
        """The secret, or CardKeyUnavailable (`kek_mismatch`, `tampered`)."""
        kek_id, raw = _parse_wrapped(wrapped, context)
        if kek_id != self.kek_id:
            raise CardKeyUnavailable(
                "kek_mismatch", kid=context, wrapped_by=kek_id, configured=self.kek_id
            )
        failed = False
        try:
            secret = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._aad(context))
        except InvalidTag:
            failed = True
        if failed:
            raise CardKeyUnavailable("tampered", kid=context)
        return secret


def _parse_wrapped(wrapped, context) -> tuple[str, bytes]:
    match = _WRAPPED_RE.fullmatch(wrapped) if isinstance(wrapped, str) else None
    raw = None
    if match:
        try:
            raw = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) <= _NONCE_BYTES + 16:
        raise CardKeyUnavailable("tampered", kid=context)
    return match.group(1), raw


def wrapped_kek_id(wrapped) -> str | None:
    """The id of the KEK that wrapped this blob (readable without the KEK), or None."""
    match = _WRAPPED_RE.fullmatch(wrapped) if isinstance(wrapped, str) else None
    return match.group(1) if match else None


def write_kek_file(path) -> KeyEncryptionKey:
    """Writes a new KEK file (mode 0600; an existing file is never overwritten: the keys it
    wrapped would be lost); returns its key."""
    secret = os.urandom(KEK_BYTES)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(KEK_FILE_COMMENT + base64.b64encode(secret).decode() + "\n")
    return KeyEncryptionKey(secret)


def read_kek_file(path) -> KeyEncryptionKey:
    """The KEK in a file written by `write_kek_file`; CardKeyUnavailable("kek_unreadable")
    saying why (never quoting the file)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(KEK_FILE_MAX_BYTES + 1)
    except FileNotFoundError:
        raise CardKeyUnavailable("kek_unreadable", reason="file not found") from None
    except PermissionError:
        raise CardKeyUnavailable("kek_unreadable", reason="permission denied") from None
    except OSError:
        raise CardKeyUnavailable("kek_unreadable", reason="cannot be read") from None
    lines = [
        line.strip()
        for line in data.decode("ascii", "replace").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    secret = None
    if len(data) <= KEK_FILE_MAX_BYTES and len(lines) == 1:
        try:
            secret = base64.b64decode(lines[0], validate=True)
        except (binascii.Error, ValueError):
            secret = None
    if secret is None or len(secret) != KEK_BYTES:
        raise CardKeyUnavailable("kek_unreadable", reason="not a KEK file")
    return KeyEncryptionKey(secret)


_KEK_CACHE: dict = {}
_KEK_CACHE_LOCK = threading.Lock()


def load_kek(setting) -> KeyEncryptionKey:
    """The KEK a host's setting names (a file path): CardKeyUnavailable ("no_kek" when the
    setting is empty, "kek_unreadable") otherwise. Reads the file again when it changed."""
    if not setting or not str(setting).strip():
        raise CardKeyUnavailable("no_kek")
    path = os.path.abspath(os.path.expanduser(str(setting).strip()))
    try:
        st = os.stat(path)
        signature = (path, st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        signature = None
    with _KEK_CACHE_LOCK:
        cached = _KEK_CACHE.get(path)
        if signature and cached and cached[0] == signature:
            return cached[1]
    kek = read_kek_file(path)
    if signature:
        with _KEK_CACHE_LOCK:
            _KEK_CACHE[path] = (signature, kek)
    return kek


def kek_or_problem(setting) -> KeyEncryptionKey | CardKeyUnavailable:
    """`load_kek(setting)`, or the CardKeyUnavailable saying why there is no KEK (what a
    ProtectedKeyStore takes)."""
    try:
        return load_kek(setting)
    except CardKeyUnavailable as exc:
        return exc


# -- key pairs ---------------------------------------------------------------------------------
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


def unavailable_answer(code: str, message: str) -> dict:
    """What the register gets instead of a key when none may be handed out (CONTRACTS §2)."""
    return {"v": 1, "unavailable": {"code": code, "message": message}}


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
    """PKCS#8 PEM, encrypted with a passphrase when given (export tools, tests)."""
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


def wrap_private_key(key: rsa.RSAPrivateKey, kek: KeyEncryptionKey) -> str:
    """The private key as stored: PKCS#8 DER sealed by the KEK, bound to the key's kid."""
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return kek.wrap(der, public_info(key).kid)


def unwrap_private_key(wrapped: str, kid: str, kek: KeyEncryptionKey) -> rsa.RSAPrivateKey:
    """The private key of `kid` from its stored form; CardKeyUnavailable when it cannot be
    opened with this KEK or is not that kid's key."""
    der = kek.unwrap(wrapped, kid)
    key = None
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        key = None
    finally:
        der = None
    if not isinstance(key, rsa.RSAPrivateKey) or public_info(key).kid != kid:
        raise CardKeyUnavailable("tampered", kid=kid)
    return key


# -- key stores ---------------------------------------------------------------------------------
class KeyStore(Protocol):
    """What the charge service needs from a host's key storage (one company)."""

    def current_public(self) -> PublicKeyInfo:
        """The current key's public half, generating a first key pair when there is none.
        Raises CardKeyUnavailable when no key may be handed out."""

    def get_private(self, kid: str) -> rsa.RSAPrivateKey | None:
        """The private key for `kid`, current or retired; None when unknown. Raises
        CardKeyUnavailable when `kid` is known but cannot be opened now."""

    def rotate(self) -> PublicKeyInfo:
        """Make a new current key pair; earlier keys stay available to get_private."""


@dataclass(frozen=True, repr=False)
class StoredKey:
    """One stored key pair as a host's table holds it: the private half only wrapped, or (left
    by an older version, until protected) as an unprotected PEM."""

    kid: str
    spki_der: bytes
    wrapped: str | None = None
    legacy_pem: bytes | None = field(default=None, compare=False)

    @property
    def kek_id(self) -> str | None:
        return wrapped_kek_id(self.wrapped)

    def public(self) -> PublicKeyInfo:
        return PublicKeyInfo(kid=self.kid, spki_der=self.spki_der)

    def __repr__(self):
        return f"StoredKey(kid={self.kid}, kek={self.kek_id})"


class KeyRows(Protocol):
    """A host's table of key pairs, for one company."""

    def current(self) -> StoredKey | None:
        """The current key (the newest one not retired), or None."""

    def get(self, kid: str) -> StoredKey | None:
        """The key `kid`, current or retired."""

    def add(self, stored: StoredKey, *, only_if_none: bool = False) -> StoredKey:
        """Store a new current key (the earlier ones stay, no longer current); with
        `only_if_none`, only when there is no current key (atomically where the host can).
        Returns the current key afterwards."""

    def legacy(self) -> list[StoredKey]:
        """Keys still stored unprotected (left by an older version)."""

    def protect(self, kid: str, wrapped: str) -> None:
        """Replace the unprotected private key of `kid` by its wrapped form, erasing the
        unprotected one, and retire the key (it is never handed out again)."""


class ProtectedKeyStore:
    """The KeyStore over a host's `KeyRows`, with every private key wrapped by the KEK.

    `kek` is the host's KEK, or a CardKeyUnavailable saying why there is none: then no key is
    handed out (`current_public` raises) and none is opened. A key left unprotected by an older
    version is wrapped as soon as a KEK is there and retired: it may have been copied while
    unprotected, so it opens the envelopes sealed with it but seals no new card."""

    def __init__(
        self,
        rows: KeyRows,
        kek: KeyEncryptionKey | CardKeyUnavailable,
        *,
        bits: int = KEY_BITS,
        legacy_loader: Callable[[bytes], rsa.RSAPrivateKey] = private_from_pem,
    ):
        self.rows = rows
        self.kek = kek
        self.bits = bits
        self.legacy_loader = legacy_loader
        self._cache: dict[tuple[str, str], rsa.RSAPrivateKey] = {}
        self._lock = threading.Lock()

    def problem(self) -> CardKeyUnavailable | None:
        """Why no card may be taken now (no KEK, or the current key is not openable with it);
        None when cards can be sealed and opened."""
        try:
            kek = self._kek()
            current = self.rows.current()
            if current is not None and not current.legacy_pem:
                self._check_openable(current, kek)
        except CardKeyUnavailable as exc:
            return exc
        return None

    def kek_problem(self) -> CardKeyUnavailable | None:
        """Why no key at all can be opened (no usable KEK), else None."""
        return self.kek if isinstance(self.kek, CardKeyUnavailable) else None

    def public_answer(self) -> dict:
        """The `offline_card_public_key` result: the current key, or why there is none."""
        try:
            return self.current_public().as_rpc()
        except CardKeyUnavailable as exc:
            return unavailable_answer(exc.code, exc.message)

    def current_public(self) -> PublicKeyInfo:
        kek = self._kek()
        self.protect_legacy()
        current = self.rows.current()
        if current is None:
            key = generate_private_key(self.bits)
            stored = StoredKey(
                kid=public_info(key).kid,
                spki_der=spki_der(key),
                wrapped=wrap_private_key(key, kek),
            )
            current = self.rows.add(stored, only_if_none=True)
        self._check_openable(current, kek)
        return current.public()

    def get_private(self, kid: str):
        kek = self._kek()
        cached = self._cache.get((kid, kek.kek_id))
        if cached is not None:
            return cached
        stored = self.rows.get(kid)
        if stored is None:
            return None
        if stored.wrapped is None:
            self.protect_legacy()
            stored = self.rows.get(kid)
            if stored is None or stored.wrapped is None:
                raise CardKeyUnavailable("unprotected", kid=kid)
        key = unwrap_private_key(stored.wrapped, kid, kek)
        self._cache[(kid, kek.kek_id)] = key
        return key

    def rotate(self) -> PublicKeyInfo:
        kek = self._kek()
        self.protect_legacy()
        key = generate_private_key(self.bits)
        info = public_info(key)
        self.rows.add(StoredKey(info.kid, info.spki_der, wrap_private_key(key, kek)))
        return info

    def protect_legacy(self) -> int:
        """Wraps (and retires) every key still stored unprotected that can be read; returns
        how many."""
        kek = self._kek()
        done = 0
        with self._lock:
            for stored in self.rows.legacy():
                try:
                    key = self.legacy_loader(stored.legacy_pem)
                except (ValueError, TypeError):
                    key = None  # e.g. its passphrase is gone: it stays unused (`unprotected`)
                if key is None or public_info(key).kid != stored.kid:
                    continue
                self.rows.protect(stored.kid, wrap_private_key(key, kek))
                done += 1
        return done

    def _kek(self) -> KeyEncryptionKey:
        if isinstance(self.kek, CardKeyUnavailable):
            raise self.kek
        return self.kek

    @staticmethod
    def _check_openable(stored: StoredKey, kek: KeyEncryptionKey) -> None:
        # Sealing cards for a key this KEK cannot open would lose them: refuse instead.
        if stored.wrapped is None:
            raise CardKeyUnavailable("unprotected", kid=stored.kid)
        wrapped_by = stored.kek_id
        if wrapped_by is None:
            raise CardKeyUnavailable("tampered", kid=stored.kid)
        if wrapped_by != kek.kek_id:
            raise CardKeyUnavailable(
                "kek_mismatch", kid=stored.kid, wrapped_by=wrapped_by, configured=kek.kek_id
            )


class MemoryRows:
    """KeyRows in memory (tests, bench). Holds only what a table would: wrapped keys."""

    def __init__(self):
        self._rows: dict[str, StoredKey] = {}
        self._retired: set[str] = set()
        self._order: list[str] = []
        self._lock = threading.Lock()

    def current(self):
        for kid in reversed(self._order):
            if kid not in self._retired:
                return self._rows[kid]
        return None

    def get(self, kid):
        return self._rows.get(kid)

    def add(self, stored, *, only_if_none=False):
        with self._lock:
            if only_if_none and self.current() is not None:
                return self.current()
            self._rows[stored.kid] = stored
            self._order.append(stored.kid)
            return stored

    def legacy(self):
        return [r for r in self._rows.values() if r.wrapped is None and r.legacy_pem]

    def protect(self, kid, wrapped):
        row = self._rows[kid]
        self._rows[kid] = StoredKey(row.kid, row.spki_der, wrapped)
        self._retired.add(kid)

    def forget(self, kid):
        current = self.current()
        if current and current.kid == kid:
            raise ValueError("the current card key cannot be dropped")
        self._rows.pop(kid, None)
        if kid in self._order:
            self._order.remove(kid)


class MemoryKeyStore(ProtectedKeyStore):
    """A ProtectedKeyStore kept in memory with its own fresh KEK: tests and bench."""

    def __init__(self, bits: int = KEY_BITS, kek: KeyEncryptionKey | None = None):
        super().__init__(MemoryRows(), kek or KeyEncryptionKey.generate(), bits=bits)

    def forget(self, kid: str) -> None:
        """Drop a retired key once no envelope needs it (never the current one)."""
        self.rows.forget(kid)
        self._cache = {k: v for k, v in self._cache.items() if k[0] != kid}


# -- command line: make a KEK file ----------------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pos_offline_sync.core.card_keys",
        description="Make the key-encryption key (KEK) file that protects card keys at rest.",
    )
    parser.add_argument(
        "--new-kek",
        metavar="PATH",
        required=True,
        help="write a new KEK file there (mode 0600; an existing file is never overwritten)",
    )
    args = parser.parse_args(argv)
    try:
        kek = write_kek_file(args.new_kek)
    except FileExistsError:
        parser.error(f"{args.new_kek} exists: a KEK file is never overwritten")
    sys.stdout.write(f"KEK {kek.kek_id} written to {args.new_kek} (mode 0600).\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
