# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Orders stored in groups (core sync_batch, one savepoint for up to STORE_GROUP orders) in real
Odoo: a failure inside a group, in an order's store or only when the group's writes are
flushed, undoes the group; its orders are stored again (the bad one alone), so the bad order
fails alone and nothing of the undone try is left (no order, line, payment or sequence number).
TestSyncGroupsChatter: the creation chatter a group adds at its end is Odoo's own."""

from odoo.tests import tagged

from ..core import sync_service
from ..core.sync_service import INTERNAL_ERROR_REASON, STORE_GROUP
from ..models.offline_order_sink import OdooOrderSink
from ..models.pos_order import CALLER_CHATTER_KEYS
from .common import OfflineSyncCommon, with_production_chatter


@tagged("post_install", "-at_install")
class TestSyncGroups(OfflineSyncCommon):
    def refuse_paid_over(self, amount):
        """A real PostgreSQL refusal that only comes when Odoo flushes an order's paid state
        (created draft, then marked paid by action_pos_order_paid, an UPDATE flushed later):
        the group's try fails at its flush or at a later query of the group, not at the bad
        order's create."""
        self.env.cr.execute(
            "ALTER TABLE pos_order ADD CONSTRAINT offline_test_paid_cap "
            f"CHECK (state = 'draft' OR amount_total < {float(amount)}) NOT VALID"
        )

    def stored_lines(self, orders):
        uuids = [order["uuid"] for order in orders]
        pos_orders = self.env["pos.order"].search([("uuid", "in", uuids)])
        return pos_orders, pos_orders.lines, pos_orders.payment_ids

    def test_an_order_refused_at_the_flush_fails_alone_and_leaves_nothing(self):
        self.refuse_paid_over(1000)
        goods = [self.plain_order() for _ in range(STORE_GROUP - 1)]
        big = self.plain_order([(self.lamp, 100)])  # 1,200 paid: refused by the constraint
        batch = goods[:3] + [big] + goods[3:]
        results = self.sync(*batch)
        self.assertEqual([r["ok"] for r in results], [True] * 3 + [False] + [True] * 6, results)
        self.assertEqual(results[3]["reason"], INTERNAL_ERROR_REASON)
        self.assertTrue(all(r["status"] == "created" for i, r in enumerate(results) if i != 3))
        orders, lines, payments = self.stored_lines(batch)
        self.assertEqual(sorted(orders.mapped("uuid")), sorted(o["uuid"] for o in goods))
        self.assertEqual((len(lines), len(payments)), (len(goods), len(goods)))
        self.assertFalse(self.find(big))
        self.assertEqual(
            self.env["pos.order.line"].search_count([("order_id.uuid", "=", big["uuid"])]), 0
        )
        # The no-gap sequence numbers drawn by the undone try were undone with it: the stored
        # orders' numbers follow each other, in the batch's order.
        numbers = [int(self.find(order).sequence_number) for order in goods]
        self.assertEqual(numbers, list(range(numbers[0], numbers[0] + len(goods))))

    def test_a_failure_in_every_group_still_stores_the_rest_once(self):
        batch = []
        for _ in range(3):
            bad = self.order_with_unknown_product()
            batch += [self.plain_order() for _ in range(4)] + [bad]
        results = self.sync(*batch)
        self.assertEqual([r["ok"] for r in results], ([True] * 4 + [False]) * 3)
        orders, lines, _ = self.stored_lines(batch)
        self.assertEqual(len(orders), 12)
        self.assertEqual(len(lines), 12)
        # Sent again (a lost answer): the stored ones exist, the bad ones fail again.
        again = self.sync(*batch)
        self.assertEqual([r["status"] for r in again], (["exists"] * 4 + ["error"]) * 3, again)
        self.assertEqual(len(self.stored_lines(batch)[0]), 12)


class AloneRecordingSink(OdooOrderSink):
    """The real Odoo sink, noting the orders it stored outside any group."""

    def __init__(self, env, config):
        super().__init__(env, config)
        self.alone = []

    def store(self, order):
        if not self._grouped:
            self.alone.append(order["uuid"])
        return super().store(order)


@tagged("post_install", "-at_install")
class TestSyncGroupsChatter(OfflineSyncCommon):
    """A group adds its new orders' creation chatter at its end, at once: the same messages and
    followers as Odoo's own create, one by one, gives each order."""

    def setUp(self):
        super().setUp()
        self.env = with_production_chatter(self.env)  # Odoo's test classes switch it off

    def chatter(self, order):
        pos_order = self.find(order)
        self.assertEqual(len(pos_order), 1)
        messages = self.env["mail.message"].search(
            [("model", "=", "pos.order"), ("res_id", "=", pos_order.id)], order="id"
        )
        followers = self.env["mail.followers"].search(
            [("res_model", "=", "pos.order"), ("res_id", "=", pos_order.id)]
        )
        return (
            [(m.message_type, m.subtype_id, m.author_id, str(m.body)) for m in messages],
            sorted((f.partner_id.id, tuple(sorted(f.subtype_ids.ids))) for f in followers),
        )

    def odoos_own_chatter(self, env=None):
        """The chatter Odoo's own sync_from_ui gives an order (in `env`, else the test's)."""
        order = self.plain_order()
        (env or self.env)["pos.order"].sync_from_ui([dict(order["odoo"])])
        return self.chatter(order)

    def test_grouped_orders_get_the_chatter_odoos_own_sync_gives(self):
        expected = self.odoos_own_chatter()
        self.assertTrue(expected[0] and expected[1], "Odoo logs a creation note and a follower")
        bad = self.order_with_unknown_product()
        grouped = [self.plain_order() for _ in range(3)]
        after_bad = [self.plain_order() for _ in range(2)]
        # The first group is undone by the bad order and stored again one by one; the last
        # two are a group of their own.
        results = self.sync(*grouped, bad, *after_bad)
        self.assertEqual([r["ok"] for r in results], [True, True, True, False, True, True])
        for order in grouped + after_bad:
            self.assertEqual(self.chatter(order), expected)
        clean = [self.plain_order() for _ in range(STORE_GROUP)]
        self.assertTrue(all(r["ok"] for r in self.sync(*clean)))
        for order in clean:
            self.assertEqual(self.chatter(order), expected)

    def test_a_group_after_an_undone_one_gets_its_chatter(self):
        # The first group fails at its first order (undone, having created nothing); the next
        # group must not take the first one's environment for its own (Odoo reuses an
        # environment whose context compares equal) and so lose its orders' chatter.
        expected = self.odoos_own_chatter()
        bad = self.order_with_unknown_product()
        after = [self.plain_order() for _ in range(3)]
        results = self.sync(bad, *after)
        self.assertEqual([r["ok"] for r in results], [False, True, True, True])
        for order in after:
            self.assertEqual(self.chatter(order), expected)

    def test_a_group_after_one_that_created_nothing_still_gets_its_chatter(self):
        # A first group that only completes drafts Odoo saved itself creates no order; the
        # next group must not take its environment for its own (Odoo reuses an environment
        # whose context compares equal) and so lose its orders' chatter.
        expected = self.odoos_own_chatter()
        drafts = [self.plain_order() for _ in range(STORE_GROUP)]
        for number, draft in enumerate(drafts):
            self.env["pos.order"].sync_from_ui([dict(draft["odoo"], state="draft")])
            draft["odoo"]["access_token"] = f"token-{number}"  # the browser sends it
        new = [self.plain_order() for _ in range(3)]
        results = self.sync(*drafts, *new)
        self.assertTrue(all(r["ok"] for r in results), results)
        self.assertTrue(all(self.find(order).state == "paid" for order in drafts))
        for order in new:
            self.assertEqual(self.chatter(order), expected)

    def test_the_callers_mail_context_is_honoured(self):
        # Called with the chatter (partly) switched off (a script, Odoo's test classes),
        # grouped orders get what Odoo's own create gives with that context.
        for key in CALLER_CHATTER_KEYS:
            with self.subTest(key=key):
                quiet = self.env(context=dict(self.env.context, **{key: True}))
                orders = [self.plain_order() for _ in range(3)]
                results = quiet["pos.order"].offline_sync_orders(
                    {"v": 1, "config_id": self.config.id, "orders": orders}
                )["results"]
                self.assertTrue(all(r["ok"] for r in results), results)
                expected = self.odoos_own_chatter(quiet)
                for order in orders:
                    self.assertEqual(self.chatter(order), expected)

    def test_an_order_to_invoice_is_stored_alone(self):
        # Its invoice may be sent as it is posted (e-invoicing): never done again because a
        # group it was in was undone.
        self.config.invoice_journal_id = (
            self.config.invoice_journal_id or self.company_data["default_journal_sale"]
        )
        customer = self.env["res.partner"].create({"name": "Invoiced Customer"})
        invoiced = self.plain_order()
        invoiced["odoo"].update(partner_id=customer.id, to_invoice=True)
        batch = [self.plain_order(), self.plain_order(), invoiced, self.plain_order()]
        sink = AloneRecordingSink(self.env, self.config)
        answer = sync_service.sync_batch(
            {"v": 1, "config_id": self.config.id, "orders": batch}, sink
        )
        self.assertTrue(all(r["ok"] for r in answer["results"]), answer)
        # The order to invoice alone; the one after it too (a group of one is no group).
        self.assertEqual(sink.alone, [invoiced["uuid"], batch[3]["uuid"]])
        self.assertTrue(self.find(invoiced).account_move)

    def test_an_order_with_a_note_of_its_own_gets_its_creation_note_first(self):
        # A payment on the offline-card method with no card: grouped (no card to charge), and
        # noted "Card payment failed" by the addon, after its creation note as Odoo orders it.
        cash = [self.plain_order() for _ in range(2)]
        no_card = self.plain_order(payments=[(self.card_pm, 7.0)])
        no_card["payments"][0]["card"] = None
        results = self.sync(cash[0], no_card, cash[1])
        self.assertEqual([r["ok"] for r in results], [True, True, True], results)
        messages, followers = self.chatter(no_card)
        self.assertEqual(len(messages), 2, messages)
        self.assertIn("created", messages[0][3])
        self.assertIn("Card payment failed", messages[1][3])
        self.assertEqual(followers, self.chatter(cash[0])[1])
