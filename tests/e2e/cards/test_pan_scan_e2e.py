"""PAN scan: after a sandbox run with an approved, a declined, a retried (Stripe down) and a
timed-out (Stripe accepts and never answers) card, no card number is anywhere at rest: not in
the SQLite files, the server's log, the browser's profile directory (and what its IndexedDB
and localStorage decode to), nor the logs of the charge that timed out; neither as plain
digits, spaced, dashed, nor in UTF-16LE. On failure only counts are printed, never a number.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

# isort: off
from tests.card_support import SECRET_KEY, VISA_DECLINED, VISA_OK, card, localstripe
from tests.e2e.cards.test_cards_e2e import (
    DUMP_INDEXEDDB,
    offline_register,
    process_button,
    sync_rows,
    take_card,
)
from tests.e2e.e2e_pos import go_online, launch_options, open_sync_dialog, row
from pos_offline_sync.core.card_charge import CardChargeService
from pos_offline_sync.core.card_envelope import seal_card
from pos_offline_sync.core.card_keys import PublicKeyInfo, load_kek
from pos_offline_sync.core.stripe_gateway import StripeGateway
from sandbox.card_keystore import SqliteKeyStore
from sandbox.card_ledger import SqliteAttemptLedger
from sandbox.launcher import start_sandbox
# isort: on

VISA_DEBIT = "4000056655665556"  # retried: Stripe is down when it is processed
AMEX = "378282246310005"  # timed out: Stripe accepts the connection and never answers
NUMBERS = [VISA_OK, VISA_DECLINED, VISA_DEBIT, AMEX]


def _groups(number: str) -> list[str]:
    sizes = (4, 6, 5) if len(number) == 15 else (4,) * (len(number) // 4)
    parts, at = [], 0
    for size in sizes:
        parts.append(number[at : at + size])
        at += size
    return parts


def forms_of(number: str) -> dict[str, bytes]:
    """The ways a card number may sit in a file: plain, spaced and dashed, as UTF-8 and as
    UTF-16LE."""
    texts = {
        "plain": number,
        "spaced": " ".join(_groups(number)),
        "dashed": "-".join(_groups(number)),
    }
    forms = {name: text.encode() for name, text in texts.items()}
    forms |= {f"{name} utf-16le": text.encode("utf-16-le") for name, text in texts.items()}
    return forms


def count_hits(places: dict[str, bytes]) -> dict[str, int]:
    """{"<place> / card <n> / <form>": hits} for every hit (cards named by their index)."""
    hits = {}
    for place, data in places.items():
        for index, number in enumerate(NUMBERS):
            for form, needle in forms_of(number).items():
                found = data.count(needle)
                if found:
                    hits[f"{place} / card {index} / {form}"] = found
    return hits


def test_the_scan_finds_every_form():
    # The scanner itself, on bytes that hold each form once.
    for number in NUMBERS:
        for form, needle in forms_of(number).items():
            assert count_hits({"sample": b"x" + needle + b"y"}), form
    assert forms_of(AMEX)["spaced"] == b"3782 822463 10005"


class BlackHole:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        for conn in self.held:
            conn.close()
        self.sock.close()


def _files(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.mark.timeout(240)
def test_no_card_number_at_rest_after_approved_declined_retried_and_timed_out_cards(
    tmp_path, playwright_session, caplog, capfd
):
    caplog.set_level("DEBUG")
    db = tmp_path / "shop" / "cards.sqlite3"
    db.parent.mkdir()
    profile = tmp_path / "profile"  # the register's browser profile, scanned below
    places: dict[str, bytes] = {}
    with contextlib.ExitStack() as run:
        stripe = contextlib.ExitStack()
        run.callback(stripe.close)
        stripe_url = stripe.enter_context(localstripe())
        server = start_sandbox(db, stripe_url=stripe_url, stripe_key=SECRET_KEY)
        run.callback(server.stop)
        browser = playwright_session.chromium.launch_persistent_context(
            str(profile), **launch_options(), viewport={"width": 1280, "height": 800}
        )
        run.callback(browser.close)  # closed first: the profile is flushed to disk
        page = browser.new_page()
        page.set_default_timeout(15_000)
        offline_register(page, server.url)
        approved, declined, retried = (take_card(page, n) for n in NUMBERS[:3])
        go_online(page)
        open_sync_dialog(page)
        process_button(page, approved).click()
        expect(process_button(page, approved)).to_have_attribute("data-status", "succeeded")
        process_button(page, declined).click()
        expect(process_button(page, declined)).to_have_attribute("data-status", "failed")
        sync_rows(page, [approved, declined])

        stripe.close()  # Stripe is down: the third card stays waiting, sealed in the ledger
        process_button(page, retried).click()
        expect(row(page, retried).locator("[data-test=card-message]")).to_contain_text(
            "could not be reached"
        )
        expect(process_button(page, retried)).to_have_attribute("data-status", "unprocessed")

        # A fourth card meets a Stripe that accepts and never answers: the same service and
        # ledger on the sandbox's own file and KEK, with a short timeout.
        hole = BlackHole()
        run.callback(hole.close)
        key = page.evaluate("async () => (await (await fetch('/api/pos_data')).json())")
        info = PublicKeyInfo(
            key["card_public_key"]["kid"], base64.b64decode(key["card_public_key"]["spki"])
        )
        service = CardChargeService(
            ledger=SqliteAttemptLedger(db),
            keys=SqliteKeyStore(db, kek=load_kek(server.kek_file)),
            gateway=StripeGateway(SECRET_KEY, api_base=hole.url, timeout=2),
        )
        timed_out = service.process(
            {
                "v": 1,
                "config_id": 1,
                "order_uuid": str(uuid.uuid4()),
                "payment_uuid": str(uuid.uuid4()),
                "amount": 7.0,
                "currency": "USD",
                "reference": "Order timeout",
                "envelope": seal_card(card(AMEX, cvc="1234"), info.kid, info.load()),
            }
        )
        assert timed_out["status"] == "retry", timed_out
        places["IndexedDB and localStorage (decoded)"] = page.evaluate(DUMP_INDEXEDDB).encode()
        places["SQLite files, running"] = _files_of_db(db)
    places["SQLite files, stopped"] = _files_of_db(db)
    places["server log"] = server.log.encode()
    places["browser profile dir"] = _files(profile)
    out, err = capfd.readouterr()
    places["logs of the timed-out charge"] = (caplog.text + out + err).encode()

    # The run did what it says: four attempts, the two waiting ones still sealed.
    assert sorted(_ledger_statuses(db)) == ["failed", "retryable", "retryable", "succeeded"]
    assert b"4242" in places["SQLite files, stopped"]  # last 4 are kept: the scan reads them
    assert len(places["browser profile dir"]) > 100_000
    hits = count_hits(places)
    assert not hits, "card numbers at rest (place / card index / form: count): " + json.dumps(hits)


def _files_of_db(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(db.parent.glob(db.name + "*")))


def _ledger_statuses(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [status for (status,) in conn.execute("SELECT status FROM card_attempts")]
    finally:
        conn.close()
