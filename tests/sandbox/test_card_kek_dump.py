"""A copy of the sandbox's SQLite file alone opens no card envelope; with the KEK file it does.

The sandbox runs as its own process with a KEK file in a temp dir of its own; a card is
sealed with the public key it hands out and processed while Stripe (a real localstripe) is
down, so the ledger keeps the envelope of an attempt whose outcome is unknown. Then a separate
script that holds only a copy of the SQLite files (and every key they contain) tries every way
to open it: loading any column as a PEM/DER private key, the sandbox's own key store, every
envelope found in any table. It must open none, and must open each one once it is given the
KEK file (so the test can fail). The script prints counts only, never card data.
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

# isort: off
from tests.card_support import ROOT, SECRET_KEY, VISA_OK, card, localstripe
from pos_offline_sync.core.card_envelope import seal_card
from pos_offline_sync.core.card_keys import (
    PublicKeyInfo,
    generate_private_key,
    private_to_pem,
    public_info,
)
from sandbox.launcher import start_sandbox
# isort: on

ATTACKER = r"""
import base64, binascii, json, sqlite3, sys
sys.path.insert(0, sys.argv[1])
import sandbox  # the core without Odoo
from cryptography.hazmat.primitives import serialization
from pos_offline_sync.core.card_envelope import ENVELOPE_ALG, EnvelopeError, open_envelope
from pos_offline_sync.core.card_keys import CardKeyUnavailable, load_kek, public_info
from sandbox.card_keystore import SqliteKeyStore

db, kek_file = sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else None)
conn = sqlite3.connect(db)
values = []
for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
    for row in conn.execute(f'SELECT * FROM "{table}"'):
        values += [v for v in row if isinstance(v, (str, bytes))]
conn.close()

def envelopes_in(value):
    if isinstance(value, dict):
        if value.get("alg") == ENVELOPE_ALG:
            yield value
        for item in value.values():
            yield from envelopes_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from envelopes_in(item)

envelopes = []
for value in values:
    try:
        envelopes += list(envelopes_in(json.loads(value)))
    except (ValueError, TypeError):
        pass

def loads(blob):
    for load in (serialization.load_pem_private_key, serialization.load_der_private_key):
        try:
            yield load(blob, password=None)
        except (ValueError, TypeError):
            pass

keys = {}
for value in values:
    raw = value.encode() if isinstance(value, str) else value
    blobs = [raw]
    for part in raw.replace(b":", b"\n").split():
        try:
            blobs.append(base64.b64decode(part, validate=True))
        except (binascii.Error, ValueError):
            pass
    for blob in blobs:
        for key in loads(blob):
            keys[public_info(key).kid] = key

# The sandbox's own key store on the copy, as the sandbox would open it without its KEK.
refused = 0
store = SqliteKeyStore(db, kek=load_kek(kek_file) if kek_file else None, bits=2048)
for kid in store.kids():
    try:
        key = store.get_private(kid)
    except CardKeyUnavailable:
        refused += 1
    else:
        if key is not None:
            keys[kid] = key

opened = 0
for envelope in envelopes:
    try:
        open_envelope(envelope, keys.get)
    except (EnvelopeError, CardKeyUnavailable):
        continue
    opened += 1
print(json.dumps({"envelopes": len(envelopes), "keys_found": len(keys),
                  "store_refused": refused, "opened": opened}))
"""


def _rpc(url, method, payload):
    request = urllib.request.Request(
        f"{url}/rpc/{method}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
        return json.load(response)["result"]


def _attack(copy: Path, kek_file: Path | None = None) -> dict:
    argv = [sys.executable, "-c", ATTACKER, str(ROOT), str(copy)]
    argv += [str(kek_file)] if kek_file else []
    env = {"PATH": "/usr/bin:/bin", "HOME": str(copy.parent)}  # nothing of ours: no KEK variable
    run = subprocess.run(  # noqa: S603
        argv, cwd=copy.parent, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "4242424242424242" not in run.stdout + run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def _copy_db(db: Path, into: Path) -> Path:
    """The attacker's copy: the SQLite file with its WAL and shared-memory files."""
    into.mkdir()
    for path in db.parent.glob(db.name + "*"):
        shutil.copy2(path, into / path.name)
    return into / db.name


def test_a_copy_of_the_sqlite_file_alone_opens_no_envelope(tmp_path):
    db = tmp_path / "shop" / "cards.sqlite3"
    db.parent.mkdir()
    with localstripe() as stripe_url:
        server = start_sandbox(db, stripe_url=stripe_url, stripe_key=SECRET_KEY)
    # localstripe is stopped now: the charge below cannot reach Stripe.
    try:
        assert server.kek_file is not None and db.parent not in server.kek_file.parents
        key = _rpc(server.url, "offline_card_public_key", {"v": 1, "config_id": 1})
        info = PublicKeyInfo(key["kid"], base64.b64decode(key["spki"]))
        envelope = seal_card(card(VISA_OK), info.kid, info.load())
        outcome = _rpc(
            server.url,
            "offline_process_card",
            {
                "v": 1,
                "config_id": 1,
                "order_uuid": "00000000-0000-4000-8000-00000000d0d0",
                "payment_uuid": "10000000-0000-4000-8000-00000000d0d0",
                "amount": 7.0,
                "currency": "USD",
                "reference": "Order dump",
                "envelope": envelope,
            },
        )
        assert outcome["status"] == "retry", outcome
        conn = sqlite3.connect(db)
        try:
            (status, kept), *_ = conn.execute("SELECT status, envelope FROM card_attempts")
        finally:
            conn.close()
        # The ledger keeps the card until the outcome is known: this is what is at stake.
        assert status == "retryable" and json.loads(kept) == envelope
        copy = _copy_db(db, tmp_path / "stolen")
        kek_file = Path(tmp_path / "kek-backup.kek")
        shutil.copy2(server.kek_file, kek_file)
    finally:
        server.stop()

    alone = _attack(copy)
    assert alone["envelopes"] >= 1
    # No key in any column, the sandbox's store refuses its wrapped key, nothing opens.
    assert alone["keys_found"] == 0 and alone["store_refused"] >= 1
    assert alone["opened"] == 0
    with_kek = _attack(copy, kek_file)
    assert with_kek["opened"] == with_kek["envelopes"] == alone["envelopes"]


OLD_SCHEMA = """
CREATE TABLE card_keys (
    kid TEXT PRIMARY KEY,
    company_id INTEGER NOT NULL DEFAULT 1,
    private_pem BLOB NOT NULL,
    spki BLOB NOT NULL,
    created_at TEXT NOT NULL
);
"""


def test_an_older_sandbox_file_has_its_unprotected_key_wrapped_and_erased(tmp_path):
    """The table of a sandbox from before the KEK held the private key as plain PEM: started
    with a KEK, the sandbox wraps it, retires it (it hands out a new key) and the plain key is
    gone from every byte of the SQLite files; an envelope sealed with it still charges."""
    db = tmp_path / "old" / "old.sqlite3"
    db.parent.mkdir()
    legacy = generate_private_key(2048)
    info = public_info(legacy)
    pem = private_to_pem(legacy)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(OLD_SCHEMA)
    conn.execute(
        "INSERT INTO card_keys VALUES (?, 1, ?, ?, '2026-11-01T00:00:00+00:00')",
        (info.kid, pem, info.spki_der),
    )
    conn.commit()
    conn.close()
    waiting = seal_card(card(VISA_OK), info.kid, info.load())
    pem_lines = [line for line in pem.splitlines() if line and b"-----" not in line]
    der_b64 = b"".join(pem_lines)

    def files_bytes():
        return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))

    assert der_b64[:64] in files_bytes()  # the scan sees the key while it is there
    # So does the attacker's script: a copy of such a file gave the key, and the card, away.
    before = _attack(_copy_db(db, tmp_path / "stolen-before"))
    assert before["keys_found"] == 1 and before["opened"] == 0  # (no envelope in that file)

    # Without a KEK: nothing handed out, the old key left as it is (and not used).
    bare = start_sandbox(db, kek_file=False)
    try:
        answer = _rpc(bare.url, "offline_card_public_key", {"v": 1, "config_id": 1})
        assert answer["unavailable"]["code"] == "no_kek"
        assert "--card-kek-file" in answer["unavailable"]["message"]
        assert "stored unprotected" in bare.log
    finally:
        bare.stop()

    with localstripe() as stripe_url:
        server = start_sandbox(db, stripe_url=stripe_url, stripe_key=SECRET_KEY)
        try:
            key = _rpc(server.url, "offline_card_public_key", {"v": 1, "config_id": 1})
            assert key["kid"] != info.kid  # retired: it may have been copied while plain
            outcome = _rpc(
                server.url,
                "offline_process_card",
                {
                    "v": 1,
                    "config_id": 1,
                    "order_uuid": "00000000-0000-4000-8000-0000000001d0",
                    "payment_uuid": "10000000-0000-4000-8000-0000000001d0",
                    "amount": 7.0,
                    "currency": "USD",
                    "reference": "Order old",
                    "envelope": waiting,
                },
            )
            assert outcome["status"] == "succeeded", outcome
            data = files_bytes()
            for line in pem_lines:
                assert line not in data
            assert b"PRIVATE KEY" not in data
            copy = _copy_db(db, tmp_path / "stolen")
        finally:
            server.stop()
    data = files_bytes()
    assert der_b64[:64] not in data and b"PRIVATE KEY" not in data
    assert _attack(copy)["keys_found"] == 0
