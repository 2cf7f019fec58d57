"""The seeded randomized fault suite (issue 8): real sandbox server processes on one SQLite
file, a real localstripe, a register (tests/fault/register.py) with its own SQLite store, and
one or two faults per run.

A run, from `random.Random(f"{seed}-{index}")` alone (timings may vary, invariants may not):
a few orders (cash, sealed cards that succeed, are declined or ask for 3-D Secure, splits,
returns with negative totals, hostile text at and near the bounds), each card either
processed by the register before the sync or left for the sync; then rounds of "press Process
on some cards, press Sync" until the register's store is empty or a bound is hit. One or two of
those actions meet a fault:

    drop_request     never sent (connection refused), reset before the server reads it, or
                     cut halfway through the body
    drop_response    forwarded and answered, the answer dropped (loopback proxy)
    client_timeout   a short client timeout against a late answer (proxy) or a late Stripe
    server_killed    the sandbox process SIGKILLed while the batch is in flight, restarted
    two_tabs         two tabs (threads, two processes' servers) sending the same batch at once
    process_killed   the register (a process of its own) or the server SIGKILLed while
                     offline_process_card runs, Stripe made late to widen the window
    stripe_late      Stripe answering late

After each run (`check_run`), with localstripe idle: every order that left the register's store
or that it was told is stored, is stored exactly once with its lines, payments and text as
sent; nothing left the store without an `ok: true` for its uuid; a card payment has at most one
succeeded PaymentIntent (localstripe, by `pos_payment_uuid` metadata), of its amount, and no
order is charged over its total; every succeeded charge is on its stored order
(`order_payments.transaction_id`); each card ends as its test card says; no HTTP status but 200
(or no answer at all), no refusal but "not processed yet", no traceback or card number in the
servers' output, no envelope kept once charged, each stored order's back-office page answers.
`final_sweep` reads every PaymentIntent again at the end: one may land after its run's check.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid as uuidlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

# isort: off
import sandbox  # noqa: F401 - first: makes the core importable without Odoo
from pos_offline_sync.core.card_charge import to_minor_units
from pos_offline_sync.core.card_envelope import seal_card
from pos_offline_sync.core.card_keys import PublicKeyInfo
from pos_offline_sync.core.sync_service import INTERNAL_ERROR_REASON
from tests.card_support import (
    SECRET_KEY,
    VISA_3DS,
    VISA_DECLINED,
    VISA_OK,
    clear_stripe_delays,
    delay_stripe,
    localstripe,
    stripe_held,
)
from tests.fault.proxy import FaultProxy, refused_port
from tests.fault.register import PROCESS, SYNC, Register, Store, pending_cards, post
from sandbox.launcher import new_kek_file
# isort: on

ROOT = Path(__file__).resolve().parents[2]
FAULTS = (
    "drop_request",
    "drop_response",
    "client_timeout",
    "server_killed",
    "two_tabs",
    "process_killed",
    "stripe_late",
)
NORMAL_TIMEOUT = 15.0
MAX_ROUNDS = 14
RUN_DEADLINE_S = 40.0
STRIPE_PATHS = (
    r"^/v1/payment_methods$",
    r"^/v1/payment_intents$",
    r"^/v1/payment_intents/[^/]+/confirm$",
)
PRODUCTS = [
    (1, "Desk Pad", 3.5),
    (2, "Whiteboard Pen", 1.2),
    (3, "Desk Organizer", 5.1),
    (4, "Letter Tray", 4.8),
    (5, "Office Chair", 120.0),
    (6, "Monitor Stand", 25.0),
    (7, "LED Lamp", 19.9),
    (8, "Magnetic Board", 13.75),
]
CASH, CARD = (1, "Cash"), (2, "Card (offline)")
# What localstripe does with each test card at confirmation.
EXPECTED = {VISA_OK: "succeeded", VISA_DECLINED: "failed", VISA_3DS: "failed"}
CARD_NUMBERS = [VISA_OK] * 7 + [VISA_DECLINED] * 2 + [VISA_3DS]
TRANSIENT_REASON = "card payment not processed yet"
# Text a till or a customer may type: quotes, spreadsheet formulas, markup, SQL, tabs and line
# breaks, RTL and combining marks, astral characters (two UTF-16 units each in the browser).
# Not NUL, other control characters or U+2028: the server refuses an order holding them, by
# contract (CONTRACTS §6, tested in tests/core/test_order_schema.py); every order here must be
# storable, so that one still waiting after a run is a lost order.
HOSTILE = [
    "'",
    '"',
    "\\",
    '=HYPERLINK("http://evil.test","Click")',
    "=1+1",
    "+SUM(A1:A9)",
    "-2+3",
    "@cmd",
    "\t",
    "\r\n",
    "<script>alert('x')</script>",
    "'; DROP TABLE orders; --",
    "Ünïcødé",
    "中文字符",
    "مرحبا",
    "\u202eevil\u202c",
    "e\u0301",
    "👩‍👩‍👧‍👦",
    "🍕",
    "%s%n{0}",
    "null",
    "  ",
]


MULTILINE_ONLY = ("\t", "\r\n")  # allowed in names, not in a reference (CONTRACTS §6)


def _text(rng: random.Random, max_len: int, plain: str, multiline: bool = True) -> str:
    """Hostile text of at most `max_len` code points: sometimes plain, sometimes at the bound."""
    hostile = HOSTILE if multiline else [h for h in HOSTILE if h not in MULTILINE_ONLY]
    roll = rng.random()
    if roll < 0.25:
        return plain
    pieces, target = [], max_len if roll > 0.85 else rng.randint(1, min(max_len, 60))
    while sum(map(len, pieces)) < target:
        pieces.append(rng.choice(hostile) if rng.random() < 0.6 else plain)
    return "".join(pieces)[:target]


def _money(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01")))


def _uuid(rng: random.Random) -> str:
    return str(uuidlib.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class CardPlan:
    number: str
    name: str


@dataclass
class OrderPlan:
    order: dict
    mode: str  # "process" | "sync"
    cards: dict[str, CardPlan] = field(default_factory=dict)  # payment uuid -> card

    @property
    def uuid(self) -> str:
        return self.order["uuid"]


def make_order(rng: random.Random, run: int, n: int, seal) -> OrderPlan:
    is_return = rng.random() < 0.15
    lines = []
    for _ in range(rng.randint(1, 3)):
        pid, name, price = rng.choice(PRODUCTS)
        qty = rng.choice([1, 1, 2, 3, 0.5, 1.25])
        if is_return:
            qty = -qty
        discount = rng.choice([0, 0, 0, 10, 50])
        subtotal = _money(qty * price * (1 - discount / 100))
        lines.append(
            {
                "product_id": pid,
                "product_name": _text(rng, 1000, name),
                "qty": qty,
                "price_unit": price,
                "discount": discount,
                "price_subtotal_incl": subtotal,
            }
        )
    total = _money(sum(line["price_subtotal_incl"] for line in lines))
    if total == 0:
        lines[0]["price_subtotal_incl"] = _money(lines[0]["price_subtotal_incl"] + 1)
        lines[0]["price_unit"] = lines[0]["price_subtotal_incl"]
        lines[0]["qty"], lines[0]["discount"] = 1, 0
        total = _money(sum(line["price_subtotal_incl"] for line in lines))
    kind = "cash" if is_return or total <= 0 else rng.choice(["cash", "card", "split", "two"])
    amounts: list[tuple[str, float]] = []
    if kind == "cash":
        amounts = [("cash", total)]
    elif kind == "card":
        amounts = [("card", total)]
    else:
        first = _money(total * rng.choice([0.25, 0.5, 0.7]))
        if first <= 0 or first >= total:
            amounts = [("card", total)]
        else:
            amounts = [
                ("cash" if kind == "split" else "card", first),
                ("card", _money(total - first)),
            ]
    plan = OrderPlan(order={}, mode="process" if rng.random() < 0.6 else "sync")
    payments = []
    for what, amount in amounts:
        payment_uuid = _uuid(rng)
        if what == "cash":
            payments.append(
                {
                    "uuid": payment_uuid,
                    "payment_method_id": CASH[0],
                    "payment_method_name": CASH[1],
                    "amount": amount,
                    "card": None,
                }
            )
            continue
        number = rng.choice(CARD_NUMBERS)
        holder = _text(rng, 200, "Ada Lovelace")
        plan.cards[payment_uuid] = CardPlan(number, holder)
        payments.append(
            {
                "uuid": payment_uuid,
                "payment_method_id": CARD[0],
                "payment_method_name": _text(rng, 1000, CARD[1]),
                "amount": amount,
                "card": {
                    "brand": "visa",
                    "last4": number[-4:],
                    "exp_month": 12,
                    "exp_year": 2030,
                    "envelope": seal(
                        {
                            "number": number,
                            "exp_month": 12,
                            "exp_year": 2030,
                            "cvc": "123",
                            "name": holder,
                        }
                    ),
                    "status": "unprocessed",
                    "payment_intent_id": None,
                    "message": None,
                    "decline_code": None,
                },
            }
        )
    order_uuid = _uuid(rng)
    customer = None
    if rng.random() < 0.5:
        customer = {"id": None, "name": _text(rng, 1000, "Deco Addict")}
    plan.order = {
        "v": 1,
        "uuid": order_uuid,
        "reference": _text(rng, 200, f"Order {run:05d}-{n:03d}", multiline=False),
        "created_at": "2026-11-27T12:00:00.000Z",
        "config_id": 1,
        "session_id": None,
        "cashier": {"id": 1, "name": _text(rng, 1000, "Mitchell Admin")},
        "customer": customer,
        "currency": "USD",
        "lines": lines,
        "payments": payments,
        "amount_total": total,
        "amount_tax": 0.0,
        "amount_paid": _money(sum(p["amount"] for p in payments)),
        "amount_return": 0.0,
        "is_return": is_return,
    }
    return plan


# -- the servers ----------------------------------------------------------------------------------
# A sandbox process started ahead with its imports done (half a second of a restart on this
# machine), waiting for "go" on stdin before it runs `python -m sandbox.server`'s main: opening
# the database, migrating it, binding a port all happen after the crash it replaces.
_STANDBY = (
    "import sys\n"
    "import sandbox.server as server\n"
    "if sys.stdin.readline().strip() != 'go':\n"
    "    sys.exit(0)\n"
    "sys.exit(server.main(sys.argv[1:]))\n"
)


class _Process:
    def __init__(self, db, stripe_url, kek_file):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.update(SANDBOX_STRIPE_API_BASE=stripe_url, SANDBOX_STRIPE_SECRET_KEY=SECRET_KEY)
        argv = [sys.executable, "-c", _STANDBY, "--host", "127.0.0.1", "--port", "0"]
        argv += ["--db", str(db), "--quiet", "--card-kek-file", str(kek_file)]
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, our own module
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._lines: queue.Queue = queue.Queue()
        self.url = None
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        # Drained for the process's whole life, so it never blocks on a full pipe.
        for line in self.process.stdout:
            self.output.append(line)
            self._lines.put(line)
        self._lines.put("")

    def go(self, timeout=60) -> str:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if not line:
                break
            match = re.search(r"SANDBOX_URL=(\S+)", line)
            if match:
                self.url = match.group(1).rstrip("/")
                return self.url
        self.process.kill()
        raise RuntimeError("sandbox did not start:\n" + "".join(self.output))

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class Slot:
    """One sandbox server on the shared database; SIGKILLed and restarted by the faults."""

    def __init__(self, name, db, stripe_url, kek_file):
        self.name = name
        self.db = db
        self.stripe_url = stripe_url
        self.kek_file = kek_file
        self.server: _Process | None = None
        self.standby = _Process(db, stripe_url, kek_file)
        self.outputs: list[list[str]] = []  # every process's output, in order
        self.kills = 0
        self.start()
        self.proxy = FaultProxy(self.address)

    def start(self):
        self.server, self.standby = self.standby, _Process(self.db, self.stripe_url, self.kek_file)
        self.outputs.append(self.server.output)
        self.server.go()

    @property
    def url(self) -> str:
        return self.server.url

    def address(self):
        host, port = self.server.url.rsplit("//", 1)[1].rsplit(":", 1)
        return host, int(port)

    def kill(self):
        """SIGKILL, and reap it: a zombie would still look alive to the lease's owner check."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.server.process.pid, signal.SIGKILL)
        self.server.process.wait(timeout=10)
        self.kills += 1

    def alive(self) -> bool:
        return self.server.process.poll() is None

    def log_lines(self) -> list[str]:
        return [line for output in self.outputs for line in list(output)]

    def stop(self):
        self.proxy.close()
        self.server.stop()
        self.standby.stop()


class Env:
    """One localstripe, two sandbox processes on one SQLite file, their proxies."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._stack = contextlib.ExitStack()
        self.slots: list[Slot] = []
        try:
            self.stripe_url = self._stack.enter_context(localstripe())
            self.db = self.workdir / "sandbox.sqlite3"
            # One key-encryption key for both servers, in a folder of its own (not the DB's).
            kek_file, kek_dir = new_kek_file()
            self._stack.callback(shutil.rmtree, kek_dir, ignore_errors=True)
            for name in ("A", "B"):
                self.slots.append(Slot(name, self.db, self.stripe_url, kek_file))
                self._stack.callback(self.slots[-1].stop)
        except BaseException:
            self._stack.close()
            raise
        self._refused = refused_port()
        self.refused_url = f"http://127.0.0.1:{self._refused.getsockname()[1]}"
        key = post(self.slots[0].url, "offline_card_public_key", {"v": 1, "config_id": 1}, 30)
        info = PublicKeyInfo(key[1]["result"]["kid"], base64.b64decode(key[1]["result"]["spki"]))
        self._kid, self._public = info.kid, info.load()
        self.pis: dict[str, dict] = {}  # every PaymentIntent seen, by id (insertion order)
        self.orders: dict[str, tuple[int, OrderPlan]] = {}  # every order made: run, plan
        self.log_marks = [0, 0]
        self.unsynced: set[str] = set()  # orders a run ended with still in its register

    def seal(self, card: dict) -> dict:
        return seal_card(card, self._kid, self._public)

    def close(self):
        self._refused.close()
        self._stack.close()  # the servers, then localstripe

    def restart_dead(self):
        for slot in self.slots:
            if not slot.alive():
                slot.start()

    # -- localstripe ---------------------------------------------------------------------------
    def _list(self, after=None) -> list[dict]:
        found = []
        while True:
            url = f"{self.stripe_url}/v1/payment_intents?limit=100" + (
                f"&starting_after={after}" if after else ""
            )
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {SECRET_KEY}"})
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
                page = json.load(resp)
            found += page["data"]
            if not page["has_more"] or not page["data"]:
                return found
            after = page["data"][-1]["id"]

    def refresh_pis(self, full=False) -> None:
        """New PaymentIntents since the last look (localstripe lists them oldest first), or
        every one again (`full`: statuses may have changed since)."""
        after = None if full or not self.pis else next(reversed(self.pis))
        for pi in self._list(after):
            self.pis[pi["id"]] = pi

    def settle_stripe(self, timeout=10.0) -> None:
        """No late rule left, and every late request handled (so what we count is final)."""
        clear_stripe_delays(self.stripe_url)
        deadline = time.monotonic() + timeout
        while stripe_held(self.stripe_url) and time.monotonic() < deadline:
            time.sleep(0.02)


# -- faults ---------------------------------------------------------------------------------------
@dataclass
class Fault:
    name: str
    variant: str = ""
    # Drawn with the plan, so a seed gives the same faults whatever the timings do to the run.
    params: dict = field(default_factory=dict)
    applied: bool = False
    note: str = ""


class Run:
    def __init__(self, env: Env, seed: str, index: int):
        self.env = env
        self.seed = seed
        self.index = index
        # The plan (orders, faults and their timings) from one stream; the cashier's Process
        # clicks, which depend on what is still waiting, from another.
        self.rng = random.Random(f"{seed}-{index}")
        self.clicks = random.Random(f"{seed}-{index}-clicks")
        self.later = random.Random(f"{seed}-{index}-later")
        rng = self.rng
        self.home = env.slots[0] if rng.random() < 0.7 else env.slots[1]
        self.other = env.slots[1] if self.home is env.slots[0] else env.slots[0]
        self.store_path = env.workdir / f"register-{index}.sqlite3"
        with contextlib.suppress(FileNotFoundError):
            self.store_path.unlink()
        self.store = Store(self.store_path)
        self.batch_size = rng.choice([1, 2, 100, 100])
        self.plans = [make_order(rng, index, n, env.seal) for n in range(rng.randint(1, 3))]
        self.faults = [self._pick_fault() for _ in range(1 if rng.random() < 0.6 else 2)]
        self._fit_orders_to_faults()
        for plan in self.plans:
            self.store.put(plan.order, plan.mode)
            env.orders[plan.uuid] = (index, plan)
        # Each fault waits for an action at or after its start (and one it fits).
        self.starts = [0, rng.choice([0, 1])][: len(self.faults)]
        self.actions = 0
        self.rounds = 0
        self.extra_sales = 0

    def _pick_fault(self) -> Fault:
        rng = self.rng
        name = rng.choice(FAULTS)
        variant = {
            "drop_request": ["refused", "reset", "cut"],
            "client_timeout": ["server_slow", "stripe_slow"],
            "process_killed": ["client", "server"],
            "two_tabs": ["same_server", "two_servers"],
            "server_killed": ["charging", "plain"],
        }.get(name)
        variant = rng.choice(variant) if variant else ""
        late_ms = rng.uniform(150, 350)  # Stripe held this long to widen a kill's window
        timeout = rng.uniform(0.1, 0.25)
        params = {
            "path": rng.choice(STRIPE_PATHS),
            "late_ms": late_ms,
            # After the request left (server) or the register said CALL (client).
            "kill_after": rng.uniform(0.01, late_ms / 1000 + 0.05),
            # A batch without a card to charge is done in ~10 ms: kill around then.
            "kill_after_plain": rng.uniform(0.0, 0.015),
            "timeout": timeout,
            "answer_after": timeout + rng.uniform(0.1, 0.3),
            "stripe_late_ms": rng.uniform(80, 400),
            "slow_stripe_for_tabs": rng.random() < 0.5,
        }
        return Fault(name, variant, params)

    @staticmethod
    def _card_needs(faults) -> set:
        return {
            f.name
            for f in faults
            if f.name in ("process_killed", "stripe_late")
            or (f.name == "client_timeout" and f.variant == "stripe_slow")
            or (f.name == "server_killed" and f.variant == "charging")
        }

    def _fit_orders_to_faults(self, plans=None, faults=None, rng=None) -> None:
        """A fault about Stripe or Process needs a card the register processes: one of the
        card orders is processed first, or a card order is added."""
        plans = self.plans if plans is None else plans
        needs = self._card_needs(self.faults if faults is None else faults)
        if not needs:
            return
        card_orders = [p for p in plans if p.cards]
        if not card_orders:
            for _ in range(20):
                plan = make_order(rng or self.rng, self.index, len(self.plans), self.env.seal)
                if plan.cards:
                    break
            else:
                return
            plans.append(plan)
            card_orders = [plan]
        if "process_killed" in needs and not any(p.mode == "process" for p in card_orders):
            card_orders[0].mode = "process"
        if "server_killed" in needs and not any(p.mode == "sync" for p in card_orders):
            card_orders[-1].mode = "sync"  # the batch charges a card: a wide window to kill in

    def summary(self) -> str:
        """The run's orders, one line: what a replay starts from."""
        out = []
        for plan in self.plans:
            pays = "+".join(
                f"card{plan.cards[p['uuid']].number[-4:]}:{p['amount']}"
                if p["uuid"] in plan.cards
                else f"cash:{p['amount']}"
                for p in plan.order["payments"]
            )
            kind = "return" if plan.order["is_return"] else plan.mode
            out.append(f"{plan.uuid[:8]} {kind} {pays}")
        return f"orders (batch {self.batch_size}, server {self.home.name}): " + "; ".join(out)

    @property
    def label(self) -> str:
        return f"SOAK_SEED={self.seed} run {self.index}"

    # -- the register's actions -------------------------------------------------------------
    def _fits(self, fault: Fault, kind: str) -> bool:
        if fault.name in ("server_killed", "two_tabs"):
            return kind == "sync"
        return True

    def _take_fault(self, kind: str) -> Fault | None:
        for i, fault in enumerate(self.faults):
            if not fault.applied and self.starts[i] <= self.actions and self._fits(fault, kind):
                return fault
        return None

    def act(self, kind: str, *ids) -> None:
        fault = self._take_fault(kind)
        self.actions += 1
        if fault and fault.name == "two_tabs":
            fault.applied = True
            return self._two_tabs(fault)
        if fault and fault.name == "process_killed" and fault.variant == "client":
            fault.applied = True
            return self._killed_register(fault, kind, ids)
        register = Register(
            self.store, self._caller(fault, kind), tab="tab1", batch_size=self.batch_size
        )
        if kind == "process":
            register.process_card(*ids)
        else:
            register.sync_round()

    def _caller(self, fault: Fault | None, kind: str):
        slot = self.home

        def call(method, payload):
            if fault is not None and not fault.applied and self._targets(fault, method, kind):
                fault.applied = True
                return self._inject(fault, slot, method, payload)
            return post(slot.url, method, payload, NORMAL_TIMEOUT)

        return call

    def _targets(self, fault, method, kind) -> bool:
        if fault.name == "server_killed":
            return method == SYNC
        if fault.name == "process_killed":
            return method == PROCESS
        # A sync's card calls come before its batch: the first call of the action takes it.
        return True

    def _stripe_involved(self, method, payload) -> bool:
        if method == PROCESS:
            return True
        return any(pending_cards(order) for order in payload.get("orders", []))

    def _inject(self, fault: Fault, slot: Slot, method, payload):
        env, params = self.env, fault.params
        if fault.name == "drop_request":
            url = {
                "refused": env.refused_url,
                "reset": slot.proxy.url("drop_request"),
                "cut": slot.proxy.url("cut_request"),  # the server gets half the body
            }[fault.variant]
            return post(url, method, payload, NORMAL_TIMEOUT)
        if fault.name == "drop_response":
            return post(slot.proxy.url("drop_response"), method, payload, NORMAL_TIMEOUT)
        if fault.name == "client_timeout":
            timeout, late = params["timeout"], params["answer_after"]
            fault.note = f"timeout {timeout * 1000:.0f}ms, answer at {late * 1000:.0f}ms"
            if fault.variant == "stripe_slow" and self._stripe_involved(method, payload):
                delay_stripe(env.stripe_url, params["path"], ms=late * 1000)
                fault.note += f" (stripe {params['path']})"
                return post(slot.url, method, payload, timeout)
            slot.proxy.delay_s = late
            return post(slot.proxy.url("delay_response"), method, payload, timeout)
        if fault.name == "stripe_late":
            delay_stripe(env.stripe_url, params["path"], ms=params["stripe_late_ms"])
            fault.note = f"stripe {params['path']} +{params['stripe_late_ms']:.0f}ms"
            return post(slot.url, method, payload, NORMAL_TIMEOUT)
        if fault.name in ("server_killed", "process_killed"):
            return self._kill_server_during(fault, slot, method, payload)
        raise AssertionError(fault.name)

    def _kill_server_during(self, fault, slot, method, payload):
        params = fault.params
        if self._stripe_involved(method, payload):
            late_ms, path, kill_after = params["late_ms"], params["path"], params["kill_after"]
            delay_stripe(self.env.stripe_url, path, ms=late_ms)
            fault.note = f"stripe {path} +{late_ms:.0f}ms, kill at {kill_after * 1000:.0f}ms"
        else:
            kill_after = params["kill_after_plain"]
            fault.note = f"kill at {kill_after * 1000:.0f}ms"
        box = []
        thread = threading.Thread(
            target=lambda: box.append(post(slot.url, method, payload, NORMAL_TIMEOUT))
        )
        thread.start()
        time.sleep(kill_after)
        slot.kill()
        thread.join(timeout=NORMAL_TIMEOUT + 5)
        slot.start()
        return box[0] if box else (0, None)

    def _two_tabs(self, fault: Fault) -> None:
        slots = [self.home, self.home if fault.variant == "same_server" else self.other]
        if fault.params["slow_stripe_for_tabs"]:
            fault.note = "stripe PaymentIntent creation +300ms"
            # Stripe slow enough that both tabs are inside their card calls at once.
            delay_stripe(self.env.stripe_url, r"^/v1/payment_intents$", ms=300, count=2)
        barrier = threading.Barrier(2)
        errors = []

        def tab(name, slot):
            def call(method, payload):
                return post(slot.url, method, payload, NORMAL_TIMEOUT)

            try:
                barrier.wait(timeout=10)
                Register(self.store, call, tab=name, batch_size=self.batch_size).sync_round()
            except Exception as exc:  # noqa: BLE001 - reported as the run's failure
                errors.append(f"{name}: {type(exc).__name__}: {exc}")

        threads = [
            threading.Thread(target=tab, args=(f"tab{i + 1}", s)) for i, s in enumerate(slots)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        if errors:
            raise RuntimeError("; ".join(errors))

    def _killed_register(self, fault: Fault, kind, ids) -> None:
        """The register's action in a process of its own, SIGKILLed mid-call."""
        params = fault.params
        late_ms, path, kill_after = params["late_ms"], params["path"], params["kill_after"]
        delay_stripe(self.env.stripe_url, path, ms=late_ms)
        argv = [sys.executable, "-m", "tests.fault.register", "--store", str(self.store_path)]
        argv += ["--url", self.home.url, "--batch-size", str(self.batch_size), kind, *ids]
        proc = subprocess.Popen(  # noqa: S603 - our own module
            argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        lines: queue.Queue = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in proc.stdout] and None, daemon=True
        ).start()
        fault.note = f"stripe {path} +{late_ms:.0f}ms, kill {kill_after * 1000:.0f}ms after CALL"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            if line.startswith("CALL "):
                time.sleep(kill_after)
                break
            if line.startswith("DONE"):
                break
        proc.kill()
        proc.wait(timeout=10)

    # -- the run -----------------------------------------------------------------------------
    def _more_sales(self) -> bool:
        """Everything synced before a fault found its action: the cashier sells on (one more
        order, fit to that fault), so every planned fault meets the register."""
        unused = [f for f in self.faults if not f.applied]
        if not unused or self.extra_sales >= 2:
            return False
        self.extra_sales += 1
        new = [make_order(self.later, self.index, len(self.plans), self.env.seal)]
        self._fit_orders_to_faults(new, unused, self.later)
        for plan in new:
            self.plans.append(plan)
            self.store.put(plan.order, plan.mode)
            self.env.orders[plan.uuid] = (self.index, plan)
        return True

    def execute(self) -> None:
        deadline = time.monotonic() + RUN_DEADLINE_S
        while self.rounds < MAX_ROUNDS and time.monotonic() < deadline:
            records = self.store.records()
            if not records and self._more_sales():
                records = self.store.records()
            if not records:
                return
            if self.rounds:
                time.sleep(min(0.05 * 2 ** (self.rounds - 1), 0.5))
            self.rounds += 1
            self.env.restart_dead()
            # The cashier presses Process on some cards before Sync (the dialog's button).
            for uuid, mode, order in records:
                for payment in pending_cards(order):
                    if mode == "process" and self.clicks.random() < 0.5:
                        self.act("process", uuid, payment["uuid"])
            self.act("sync")

    def check(self) -> Report:
        self.env.restart_dead()
        self.env.settle_stripe()
        self.env.refresh_pis()
        return check_run(self)


# -- invariants -----------------------------------------------------------------------------------
@dataclass
class Report:
    label: str
    faults: list[Fault]
    violations: list[str] = field(default_factory=list)
    lost: set = field(default_factory=set)  # order uuids
    duplicated: set = field(default_factory=set)  # order uuids
    # Payments charged more than once, and orders charged over their total otherwise.
    double_charges: set = field(default_factory=set)
    plan: str = ""
    seconds: float = 0.0
    runs: set = field(default_factory=set)  # the sweep: runs its violations name

    @property
    def ok(self) -> bool:
        return not self.violations

    def describe(self) -> str:
        faults = ", ".join(
            f"{f.name}{'/' + f.variant if f.variant else ''}{'' if f.applied else ' (unused)'}"
            + (f" [{f.note}]" if f.note else "")
            for f in self.faults
        )
        head = f"{self.label}: faults {faults}"
        return "\n  ".join([head, *([self.plan] if self.plan else []), *self.violations])


def _db(path):
    conn = sqlite3.connect(path, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def _minor(amount) -> int:
    return to_minor_units(amount, "USD")


def check_orders(env: Env, plans: list[OrderPlan], report: Report, *, store=None) -> None:
    """For each order: stored once with its lines and payments when it left the register (or
    the register was told so); its card charges at most once per payment and never more than
    the order's total; every succeeded charge recorded on the stored order; each card's final
    outcome the one its test card gives."""
    remaining = store.uuids() if store else env.unsynced
    confirmed = store.confirmed() if store else {}
    by_payment: dict[str, list[dict]] = {}
    by_order: dict[str, list[dict]] = {}
    for pi in env.pis.values():
        md = pi.get("metadata") or {}
        by_payment.setdefault(md.get("pos_payment_uuid"), []).append(pi)
        by_order.setdefault(md.get("pos_order_uuid"), []).append(pi)
    conn = _db(env.db)
    try:
        for plan in plans:
            _check_order(conn, plan, report, remaining, confirmed, by_payment, by_order, store)
    finally:
        conn.close()


def _check_order(conn, plan, report, remaining, confirmed, by_payment, by_order, store):
    order, uuid = plan.order, plan.uuid
    v = report.violations
    rows = conn.execute("SELECT * FROM orders WHERE uuid = ?", (uuid,)).fetchall()
    succeeded = {
        p: [pi for pi in by_payment.get(p, []) if pi["status"] == "succeeded"] for p in plan.cards
    }
    # -- Stripe: at most once per payment, never more than the order's total ---------------------
    for payment_uuid, pis in succeeded.items():
        if len(pis) > 1:
            report.double_charges.add(payment_uuid)
            v.append(f"double charge: payment {payment_uuid} has {len(pis)} succeeded PIs")
    charged = sum(pi["amount"] for pi in by_order.get(uuid, []) if pi["status"] == "succeeded")
    if charged > max(_minor(order["amount_total"]), 0):
        if not any(len(pis) > 1 for pis in succeeded.values()):
            report.double_charges.add(uuid)  # two payments of it took more than it owes
        v.append(f"over charge: order {uuid} charged {charged} for {order['amount_total']}")
    for payment in order["payments"]:
        for pi in succeeded.get(payment["uuid"], []):
            if pi["amount"] != _minor(payment["amount"]):
                v.append(f"PI {pi['id']} amount {pi['amount']} for payment {payment['amount']}")
    # -- the register's side ----------------------------------------------------------------------
    in_store = uuid in remaining
    if store is not None:
        if not in_store and uuid not in confirmed:
            v.append(f"order {uuid} left the register without an ok result")
        if in_store:
            v.append(f"order {uuid} still waiting in the register after the run (not synced)")
            held = store.get(uuid) or {}
            for p in held.get("payments", []):
                card = p.get("card") or {}
                if card.get("status") == "failed" and succeeded.get(p["uuid"]):
                    v.append(f"payment {p['uuid']}: register shows failed, Stripe charged it")
    # -- the back office ------------------------------------------------------------------------
    if len(rows) > 1:
        report.duplicated.add(uuid)
        v.append(f"order {uuid} stored {len(rows)} times")
    if not rows:
        if not in_store:
            report.lost.add(uuid)
            v.append(f"LOST: order {uuid} left the register but is not stored")
        for payment_uuid, pis in succeeded.items():
            if pis:
                v.append(f"charge {pis[0]['id']} of payment {payment_uuid} on no stored order")
        return
    row = rows[0]
    lost_parts, dup_parts = [], []
    lines = conn.execute(
        "SELECT * FROM order_lines WHERE order_id = ? ORDER BY id", (row["id"],)
    ).fetchall()
    want = [
        (
            line["product_id"],
            line["product_name"],
            line["qty"],
            line["price_unit"],
            line["discount"],
            line["price_subtotal_incl"],
        )
        for line in order["lines"]
    ]
    got = [
        (
            r["product_id"],
            r["product_name"],
            r["qty"],
            r["price_unit"],
            r["discount"],
            r["price_subtotal_incl"],
        )
        for r in lines
    ]
    if got != want:
        (dup_parts if len(got) > len(want) else lost_parts).append(
            f"lines differ: stored {len(got)}, sent {len(want)}"
            + ("" if len(got) != len(want) else f" (first stored {got[:1]!r})")
        )
    payments = conn.execute(
        "SELECT * FROM order_payments WHERE order_id = ? ORDER BY id", (row["id"],)
    ).fetchall()
    seen = [p["uuid"] for p in payments]
    if len(seen) != len(set(seen)):
        dup_parts.append(f"payment rows repeated: {seen}")
    stored = {p["uuid"]: p for p in payments}
    expected_paid, any_failed = 0, False
    for payment in order["payments"]:
        p_uuid = payment["uuid"]
        card = plan.cards.get(p_uuid)
        if card is None:
            expected_paid += _minor(payment["amount"])
            if p_uuid not in stored:
                lost_parts.append(f"cash payment {p_uuid} missing")
            continue
        pis = succeeded[p_uuid]
        expected = EXPECTED[card.number]
        if expected == "succeeded" and not pis:
            v.append(f"payment {p_uuid} ({card.number[-4:]}) never charged, order stored")
        if expected == "failed" and pis:
            v.append(f"payment {p_uuid} ({card.number[-4:]}) charged though it declines")
        if pis:
            expected_paid += _minor(payment["amount"])
            got_row = stored.get(p_uuid)
            if got_row is None:
                lost_parts.append(f"charge {pis[0]['id']} of payment {p_uuid} not recorded")
            elif got_row["transaction_id"] != pis[0]["id"]:
                v.append(
                    f"payment {p_uuid} recorded with {got_row['transaction_id']}, "
                    f"Stripe charged {pis[0]['id']}"
                )
        else:
            any_failed = True
            if p_uuid in stored:
                v.append(f"uncharged card payment {p_uuid} stored as paid")
    extra = set(stored) - {p["uuid"] for p in order["payments"]}
    if extra:
        dup_parts.append(f"payment rows not in the order: {sorted(extra)}")
    if _minor(row["amount_paid"]) != expected_paid:
        v.append(f"order {uuid} amount_paid {row['amount_paid']}, money taken {expected_paid}")
    want_state = "draft" if any_failed else "paid"
    if row["state"] != want_state or bool(row["card_failed"]) != any_failed:
        v.append(f"order {uuid} state {row['state']}/{row['card_failed']}, expected {want_state}")
    for key, sent in (
        ("reference", order["reference"] or uuid),
        ("cashier", (order["cashier"] or {}).get("name")),
        ("customer", (order["customer"] or {}).get("name")),
        ("amount_total", order["amount_total"]),
        ("is_return", int(order["is_return"])),
    ):
        if row[key] != sent:
            lost_parts.append(f"{key} stored {row[key]!r:.60}, sent {sent!r:.60}")
    if '"envelope": {' in row["payload"]:
        v.append(f"order {uuid}: a card envelope kept in the stored order")
    if lost_parts:
        report.lost.add(uuid)
        v += [f"LOST part of order {uuid}: {what}" for what in lost_parts]
    if dup_parts:
        report.duplicated.add(uuid)
        v += [f"DUPLICATED part of order {uuid}: {what}" for what in dup_parts]


def check_calls(run: Run, report: Report) -> None:
    """No HTTP status but 200 (or no answer at all), no refusal of a valid order but "card not
    processed yet", no card outcome that says the host is broken."""
    for tab, method, status, answer in run.store.calls():
        if status not in (0, 200):
            message = ((answer or {}).get("error") or {}).get("message")
            report.violations.append(f"HTTP {status} from {method} ({tab}): {message}")
            continue
        if status != 200:
            continue
        result = answer.get("result")
        if method == SYNC:
            for r in result.get("results", []):
                reason = r.get("reason") or ""
                if not r.get("ok") and (
                    not reason.startswith(TRANSIENT_REASON) or reason == INTERNAL_ERROR_REASON
                ):
                    report.violations.append(f"sync refused {r.get('uuid')}: {reason}")
        elif result.get("status") in ("config_error", "retry"):
            report.violations.append(
                f"card outcome {result.get('status')}: {result.get('message')}"
            )


SECRET_PATTERNS = re.compile("|".join([VISA_OK, VISA_DECLINED, VISA_3DS, "Traceback"]))


def check_logs(env: Env, report: Report) -> None:
    """The servers printed no traceback and no card number."""
    for i, slot in enumerate(env.slots):
        lines = slot.log_lines()
        new, env.log_marks[i] = lines[env.log_marks[i] :], len(lines)
        for line in new:
            if SECRET_PATTERNS.search(line) or line.startswith(("ERROR", "CRITICAL")):
                report.violations.append(f"server {slot.name} log: {line.strip()[:300]}")


def check_ledger(env: Env, plans: list[OrderPlan], report: Report) -> None:
    """A card attempt whose PaymentIntent is recorded or that has its outcome keeps no envelope."""
    conn = _db(env.db)
    try:
        for plan in plans:
            for row in conn.execute(
                "SELECT payment_uuid, status, payment_intent_id, envelope IS NOT NULL AS sealed "
                "FROM card_attempts WHERE order_uuid = ?",
                (plan.uuid,),
            ):
                if row["sealed"] and (
                    row["payment_intent_id"] or row["status"] in ("succeeded", "failed")
                ):
                    report.violations.append(
                        f"attempt {row['payment_uuid']} ({row['status']}) still holds its envelope"
                    )
    finally:
        conn.close()


def check_pages(run: Run, report: Report) -> None:
    """The back office shows each stored order of the run (hostile text escaped)."""
    conn = _db(run.env.db)
    try:
        stored = [
            plan.uuid
            for plan in run.plans
            if conn.execute("SELECT 1 FROM orders WHERE uuid = ?", (plan.uuid,)).fetchone()
        ]
    finally:
        conn.close()
    for uuid in stored:
        url = f"{run.home.url}/backoffice/order/{uuid}"
        try:
            with urllib.request.urlopen(url, timeout=NORMAL_TIMEOUT) as resp:  # noqa: S310
                status, page = resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, page = exc.code, ""
        if status != 200:
            report.violations.append(f"HTTP {status} from the back office page of {uuid}")
        elif "<script>alert" in page:
            report.violations.append(f"back office page of {uuid} shows unescaped markup")


def check_run(run: Run) -> Report:
    report = Report(run.label, run.faults, plan=run.summary())
    check_calls(run, report)
    check_orders(run.env, run.plans, report, store=run.store)
    check_ledger(run.env, run.plans, report)
    check_pages(run, report)
    check_logs(run.env, report)
    run.env.unsynced |= run.store.uuids()
    return report


def run_one(env: Env, seed: str, index: int) -> Report:
    started = time.monotonic()
    run = Run(env, seed, index)
    try:
        run.execute()
    except Exception as exc:  # noqa: BLE001 - the harness's own trouble is a failed run too
        report = run.check()
        report.violations.insert(0, f"run raised {type(exc).__name__}: {exc}")
    else:
        report = run.check()
    report.seconds = time.monotonic() - started
    with contextlib.suppress(FileNotFoundError):
        run.store_path.unlink()
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(run.store_path) + suffix).unlink()
    return report


def final_sweep(env: Env) -> Report:
    """Every PaymentIntent of the session read again, and every order held to the Stripe and
    back-office invariants once more (a charge that landed after its run's check counts)."""
    env.restart_dead()
    env.settle_stripe()
    env.refresh_pis(full=True)
    report = Report("final sweep", [])
    plans = [plan for _, plan in env.orders.values()]
    check_orders(env, plans, report)
    runs = {uuid: run for uuid, (run, _) in env.orders.items()}
    # A violation names an order or a payment uuid: say which run made it.
    for _, plan in env.orders.values():
        for payment_uuid in plan.cards:
            runs[payment_uuid] = runs[plan.uuid]
    named_violations = []
    for text in report.violations:
        named = sorted({runs[u] for u in re.findall(r"[0-9a-f-]{36}", text) if u in runs})
        report.runs.update(named)
        named_violations.append(text + (f" (run {', '.join(map(str, named))})" if named else ""))
    report.violations = named_violations
    return report


def new_seed() -> str:
    return str(random.SystemRandom().randrange(10**9))


# One seed per process: the pytest header, the tests and their failure messages share it.
SESSION_SEED = os.environ.get("SOAK_SEED") or new_seed()
