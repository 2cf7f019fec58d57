"""Card keys kept apart from card data: the KEK wraps every private key; without it no key is
handed out or opened, a wrong or tampered one opens nothing, rotation keeps old envelopes
openable, and an older unprotected key is wrapped and retired. Real keys, real files."""

import base64
import os
import pickle
import stat
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization

# isort: off
from tests.card_support import ROOT, card
from pos_offline_sync.core import card_keys
from pos_offline_sync.core.card_envelope import EnvelopeError, open_envelope, seal_card
from pos_offline_sync.core.card_keys import (
    CardKeyUnavailable,
    KeyEncryptionKey,
    MemoryRows,
    ProtectedKeyStore,
    StoredKey,
    generate_private_key,
    load_kek,
    private_to_pem,
    public_info,
    read_kek_file,
    unwrap_private_key,
    wrap_private_key,
    write_kek_file,
)
# isort: on


@pytest.fixture(scope="module")
def rsa_key():
    return generate_private_key(2048)


def _der(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _key_material_texts(key) -> list[str]:
    """What would betray the private key in a message: its DER, as bytes and base64."""
    der = _der(key)
    return [der.hex()[:64], base64.b64encode(der).decode()[:64]]


def test_wrap_unwrap_round_trip_binds_the_kid(rsa_key):
    kek = KeyEncryptionKey.generate()
    kid = public_info(rsa_key).kid
    wrapped = wrap_private_key(rsa_key, kek)
    assert wrapped.startswith(f"kekw1:{kek.kek_id}:")
    assert card_keys.wrapped_kek_id(wrapped) == kek.kek_id
    # The stored form holds no readable private key.
    for text in _key_material_texts(rsa_key):
        assert text not in wrapped
    assert b"PRIVATE KEY" not in wrapped.encode()
    opened = unwrap_private_key(wrapped, kid, kek)
    assert _der(opened) == _der(rsa_key)
    # Two wraps of one key differ (fresh nonce): a blob says nothing about another.
    assert wrap_private_key(rsa_key, kek) != wrapped


def test_wrong_kek_opens_nothing(rsa_key):
    kek, other = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    kid = public_info(rsa_key).kid
    wrapped = wrap_private_key(rsa_key, kek)
    with pytest.raises(CardKeyUnavailable) as exc:
        unwrap_private_key(wrapped, kid, other)
    assert exc.value.code == "kek_mismatch"
    assert kek.kek_id in exc.value.message and other.kek_id in exc.value.message
    # A blob relabelled with the other KEK's id still does not open (the id is authenticated).
    relabelled = wrapped.replace(kek.kek_id, other.kek_id, 1)
    with pytest.raises(CardKeyUnavailable) as exc:
        unwrap_private_key(relabelled, kid, other)
    assert exc.value.code == "tampered"


def test_tampered_blob_or_swapped_row_opens_nothing(rsa_key):
    kek = KeyEncryptionKey.generate()
    kid = public_info(rsa_key).kid
    wrapped = wrap_private_key(rsa_key, kek)
    prefix, body = wrapped.rsplit(":", 1)
    raw = bytearray(base64.b64decode(body))
    for index in (0, 12, len(raw) // 2, len(raw) - 1):  # nonce, ciphertext, tag
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        bad = f"{prefix}:{base64.b64encode(bytes(flipped)).decode()}"
        with pytest.raises(CardKeyUnavailable) as exc:
            unwrap_private_key(bad, kid, kek)
        assert exc.value.code == "tampered"
    for bad in ("", "kekw1:", wrapped[:-8], wrapped + "AAAA", "x" * 100, None, 7):
        with pytest.raises(CardKeyUnavailable):
            unwrap_private_key(bad, kid, kek)
    # The blob of one key stored in another key's row: refused (bound to its kid).
    other_kid = public_info(generate_private_key(2048)).kid
    with pytest.raises(CardKeyUnavailable) as exc:
        unwrap_private_key(wrapped, other_kid, kek)
    assert exc.value.code == "tampered"


def test_errors_never_carry_key_material(rsa_key):
    kek = KeyEncryptionKey.generate()
    kid = public_info(rsa_key).kid
    wrapped = wrap_private_key(rsa_key, kek)
    assert "KeyEncryptionKey(id=" in repr(kek) and str(kek) == repr(kek)
    with pytest.raises(TypeError):
        pickle.dumps(kek)
    failures = []
    for bad_kek in (KeyEncryptionKey.generate(), kek):
        blob = wrapped if bad_kek is not kek else wrapped[:-12] + "AAAAAAAAAAAA"
        try:
            unwrap_private_key(blob, kid, bad_kek)
        except CardKeyUnavailable as exc:
            failures.append(exc)
    assert len(failures) == 2
    for exc in failures:
        text = repr(exc) + str(exc) + repr(exc.params) + repr(exc.__context__) + repr(exc.__cause__)
        for leak in _key_material_texts(rsa_key) + [wrapped[20:60]]:
            assert leak not in text
        assert exc.__cause__ is None
        # It survives a pickle (worker queues) with its code.
        assert pickle.loads(pickle.dumps(exc)).code == exc.code
    assert not isinstance(failures[0], EnvelopeError)  # a waiting card is kept, not failed


def test_kek_file_is_made_0600_never_overwritten_and_read_back(tmp_path):
    path = tmp_path / "keys" / "card.kek"
    kek = write_kek_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_kek_file(path).kek_id == kek.kek_id
    assert load_kek(str(path)).kek_id == kek.kek_id
    text = path.read_text()
    assert text.startswith("#") and kek.kek_id not in text  # the id is not the secret
    with pytest.raises(FileExistsError):
        write_kek_file(path)
    assert read_kek_file(path).kek_id == kek.kek_id
    # The command line an administrator runs.
    made = tmp_path / "other.kek"
    run = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            "import tests.card_support, runpy; "
            "runpy.run_module('pos_offline_sync.core.card_keys', run_name='__main__')",
            "--new-kek",
            str(made),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert read_kek_file(made).kek_id in run.stdout
    again = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            "import tests.card_support, runpy; "
            "runpy.run_module('pos_offline_sync.core.card_keys', run_name='__main__')",
            "--new-kek",
            str(made),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode != 0 and "never overwritten" in again.stderr


def test_a_kek_file_made_by_openssl_rand_base64_32_is_read(tmp_path):
    # `(umask 077; openssl rand -base64 32 > FILE)`, as CONFIGURE.md offers: one line, no comment.
    path = tmp_path / "openssl.kek"
    secret = os.urandom(32)
    path.write_text(base64.b64encode(secret).decode() + "\n")
    assert read_kek_file(path).kek_id == KeyEncryptionKey(secret).kek_id


def test_missing_or_bad_kek_files_say_why_without_quoting_them(tmp_path):
    with pytest.raises(CardKeyUnavailable) as exc:
        load_kek("")
    assert exc.value.code == "no_kek"
    with pytest.raises(CardKeyUnavailable) as exc:
        load_kek(None)
    assert exc.value.code == "no_kek"
    with pytest.raises(CardKeyUnavailable) as exc:
        load_kek(str(tmp_path / "missing.kek"))
    assert exc.value.code == "kek_unreadable" and "not found" in exc.value.message
    secretish = base64.b64encode(os.urandom(31)).decode()  # one byte short
    cases = {
        "short": secretish + "\n",
        "two keys": base64.b64encode(os.urandom(32)).decode() * 2 + "\n",
        "two lines": "\n".join(base64.b64encode(os.urandom(32)).decode() for _ in range(2)),
        "not base64": "not a key at all!\n",
        "empty": "# only a comment\n",
        "huge": "#" * 5000 + "\n" + base64.b64encode(os.urandom(32)).decode(),
    }
    for name, text in cases.items():
        path = tmp_path / f"{name}.kek"
        path.write_text(text)
        with pytest.raises(CardKeyUnavailable) as exc:
            load_kek(str(path))
        assert exc.value.code == "kek_unreadable", name
        assert secretish not in exc.value.message and str(path) not in exc.value.message
    folder = tmp_path / "a-directory.kek"
    folder.mkdir()
    with pytest.raises(CardKeyUnavailable) as exc:
        load_kek(str(folder))
    assert exc.value.code == "kek_unreadable"
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.kek"
        write_kek_file(locked)
        locked.chmod(0)
        with pytest.raises(CardKeyUnavailable) as exc:
            load_kek(str(locked))
        assert "permission denied" in exc.value.message


def test_load_kek_reads_a_replaced_file_again(tmp_path):
    path = tmp_path / "card.kek"
    first = write_kek_file(path)
    assert load_kek(path).kek_id == first.kek_id
    path.unlink()
    second = write_kek_file(path)
    assert load_kek(path).kek_id == second.kek_id != first.kek_id


def test_store_without_kek_hands_out_no_key_and_opens_none():
    rows = MemoryRows()
    kek = KeyEncryptionKey.generate()
    with_kek = ProtectedKeyStore(rows, kek, bits=2048)
    info = with_kek.current_public()
    envelope = seal_card(card(), info.kid, info.load())
    without = ProtectedKeyStore(rows, CardKeyUnavailable("no_kek"), bits=2048)
    assert without.problem().code == "no_kek"
    assert without.kek_problem().code == "no_kek"
    with pytest.raises(CardKeyUnavailable):
        without.current_public()
    with pytest.raises(CardKeyUnavailable):
        without.rotate()
    # Not an EnvelopeError: the charge service keeps the card instead of failing it.
    with pytest.raises(CardKeyUnavailable):
        open_envelope(envelope, without.get_private)
    answer = without.public_answer()
    assert answer["v"] == 1 and answer["unavailable"]["code"] == "no_kek"
    assert "kid" not in answer and "spki" not in answer
    assert with_kek.problem() is None
    assert open_envelope(envelope, with_kek.get_private).last4 == "4242"


def test_store_with_another_kek_refuses_the_current_key_instead_of_sealing_for_it():
    rows = MemoryRows()
    first = ProtectedKeyStore(rows, KeyEncryptionKey.generate(), bits=2048)
    info = first.current_public()
    envelope = seal_card(card(), info.kid, info.load())
    replaced = ProtectedKeyStore(rows, KeyEncryptionKey.generate(), bits=2048)
    assert replaced.problem().code == "kek_mismatch"
    with pytest.raises(CardKeyUnavailable) as exc:
        replaced.current_public()
    assert exc.value.code == "kek_mismatch"
    with pytest.raises(CardKeyUnavailable):
        open_envelope(envelope, replaced.get_private)
    # Rotating under the new KEK makes a usable current key; the old envelope still waits
    # for its own KEK, and opens once that is back.
    new = replaced.rotate()
    assert replaced.problem() is None and replaced.current_public() == new
    assert open_envelope(envelope, first.get_private).last4 == "4242"


def test_rotation_keeps_old_envelopes_openable_all_wrapped():
    rows = MemoryRows()
    kek = KeyEncryptionKey.generate()
    store = ProtectedKeyStore(rows, kek, bits=2048)
    old = store.current_public()
    waiting = seal_card(card(), old.kid, old.load())
    new = store.rotate()
    assert new.kid != old.kid and store.current_public() == new
    fresh = ProtectedKeyStore(rows, kek, bits=2048)  # another process: no cache
    assert open_envelope(waiting, fresh.get_private).last4 == "4242"
    assert open_envelope(seal_card(card(), new.kid, new.load()), fresh.get_private)
    for kid in (old.kid, new.kid):
        stored = rows.get(kid)
        assert stored.kek_id == kek.kek_id and stored.legacy_pem is None
    assert fresh.get_private("0123456789abcdef") is None


def test_unprotected_key_of_an_older_version_is_wrapped_retired_and_kept(rsa_key):
    rows = MemoryRows()
    info = public_info(rsa_key)
    rows.add(StoredKey(info.kid, info.spki_der, None, private_to_pem(rsa_key)))
    waiting = seal_card(card(), info.kid, info.load())
    without = ProtectedKeyStore(rows, CardKeyUnavailable("no_kek"), bits=2048)
    with pytest.raises(CardKeyUnavailable):
        without.current_public()  # never handed out, never used unprotected
    with pytest.raises(CardKeyUnavailable):
        without.get_private(info.kid)
    assert rows.get(info.kid).legacy_pem is not None
    kek = KeyEncryptionKey.generate()
    store = ProtectedKeyStore(rows, kek, bits=2048)
    assert store.protect_legacy() == 1
    stored = rows.get(info.kid)
    assert stored.legacy_pem is None and stored.kek_id == kek.kek_id
    # It may have been copied while unprotected: it opens what it sealed, seals nothing new.
    assert store.current_public().kid != info.kid
    assert open_envelope(waiting, store.get_private).last4 == "4242"
    assert store.protect_legacy() == 0  # idempotent


def test_memory_key_store_forgets_retired_keys_only():
    store = card_keys.MemoryKeyStore(bits=2048)
    old = store.current_public()
    waiting = seal_card(card(), old.kid, old.load())
    assert open_envelope(waiting, store.get_private).last4 == "4242"
    new = store.rotate()
    store.forget(old.kid)
    with pytest.raises(EnvelopeError):
        open_envelope(waiting, store.get_private)
    with pytest.raises(ValueError):
        store.forget(new.kid)
