# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import io
import logging
import random
import time

import psycopg2.errors
from odoo import api, fields, models, tools
from odoo.exceptions import UserError, ValidationError

from ..core import csv_schema, sync_service
from ..models.offline_order_sink import OdooOrderSink

_logger = logging.getLogger(__name__)
_UUIDS_PER_SEARCH = 1000
CHUNK_TRIES = 5  # as odoo.service.model.retrying, for a chunk's own cursor


class PosOfflineCsvImport(models.TransientModel):
    """Import the CSV a register exported of its offline orders: preview, then import.

    Goes through the same sink as the register's sync, so it is idempotent on the order uuid:
    a file imported twice, or whose orders were synced since, creates nothing twice.
    """

    _name = "pos.offline.csv.import"
    _description = "Import Offline POS Orders (CSV)"
    _import_chunk = csv_schema.IMPORT_CHUNK_ORDERS  # orders per committed chunk

    config_id = fields.Many2one(
        "pos.config",
        string="Point of Sale",
        required=True,
        domain="[('company_id', 'in', allowed_company_ids)]",
    )
    csv_file = fields.Binary(string="CSV File", required=True)
    csv_filename = fields.Char()
    state = fields.Selection(
        [("upload", "Upload"), ("preview", "Preview"), ("done", "Done")],
        default="upload",
        required=True,
    )
    line_ids = fields.One2many("pos.offline.csv.import.line", "wizard_id", string="Orders")
    summary = fields.Char(readonly=True)

    @api.model
    def default_get(self, fields_list):
        vals = super().default_get(fields_list)
        if "config_id" in fields_list and not vals.get("config_id"):
            config = self.env["pos.config"].search(
                [("company_id", "=", self.env.company.id)], limit=1
            )
            vals["config_id"] = config.id
        return vals

    # -- the file ---------------------------------------------------------------------------
    @api.constrains("csv_file")
    def _check_csv_file_size(self):
        """Refused when uploaded, before anything reads it (the import checks again)."""
        for wizard in self:
            attachment = wizard._csv_attachment()
            if attachment and attachment.file_size > csv_schema.MAX_CSV_BYTES:
                raise ValidationError(wizard._too_large("bytes", attachment.file_size))

    def _csv_attachment(self):
        # The Binary field is kept in an attachment: its stored size is the file's, exactly.
        return self.env["ir.attachment"].search(
            [
                ("res_model", "=", self._name),
                ("res_field", "=", "csv_file"),
                ("res_id", "=", self.id),
            ],
            limit=1,
        )

    def _too_large(self, what, size):
        values = {
            "bytes": f"{csv_schema.MAX_CSV_BYTES:,}",
            "rows": f"{csv_schema.MAX_CSV_ROWS:,}",
        }
        # None: the parser knows only that the file is past the limit
        values["size"] = (
            f"{size:,}" if size is not None else self.env._("more than %s", values[what])
        )
        if what == "rows":
            return self.env._(
                "The file has %(size)s rows: a CSV import takes at most %(rows)s rows and "
                "%(bytes)s bytes. Export fewer orders per file from the register.",
                **values,
            )
        return self.env._(
            "The file is %(size)s bytes: a CSV import takes at most %(bytes)s bytes and "
            "%(rows)s rows. Export fewer orders per file from the register.",
            **values,
        )

    def _parse(self):
        """The file's orders and line errors; its size is checked before any of it is read,
        and it is parsed as a stream of lines (only its bytes are held, once)."""
        self.ensure_one()
        attachment = self._csv_attachment()
        if not attachment:
            raise UserError(self.env._("Choose the CSV file to import."))
        if attachment.file_size > csv_schema.MAX_CSV_BYTES:
            raise UserError(self._too_large("bytes", attachment.file_size))
        try:
            parsed = csv_schema.parse_offline_csv(
                csv_schema.open_csv(io.BytesIO(attachment.raw or b""))
            )
        except csv_schema.CsvTooLargeError as exc:
            raise UserError(self._too_large(exc.what, exc.size)) from exc
        except csv_schema.CsvFileError as exc:
            raise UserError(
                self.env._(
                    "The file cannot be imported (nothing of it was): %(reason)s.",
                    reason=exc.reason,
                )
            ) from exc
        if not parsed.orders and [e.reason for e in parsed.errors] == ["the file is empty"]:
            raise UserError(self.env._("The file is empty."))
        return parsed

    def _stored_uuids(self, uuids):
        """The uuids already in the back office for good: not a draft, or a synced draft."""
        done = set()
        for start in range(0, len(uuids), _UUIDS_PER_SEARCH):
            orders = self.env["pos.order"].search_fetch(
                [("uuid", "in", uuids[start : start + _UUIDS_PER_SEARCH])],
                ["uuid", "state", "offline_synced"],
                order="id desc",
            )
            latest = {}
            for order in orders:
                latest.setdefault(order.uuid, order)  # as _get_open_order: the newest
            done |= {u for u, o in latest.items() if o.state != "draft" or o.offline_synced}
        return done

    def _error_lines(self, parsed):
        return [
            fields.Command.create(
                {"line_no": error.line, "status": "error", "message": error.reason}
            )
            for error in parsed.errors
        ]

    # -- actions ----------------------------------------------------------------------------
    def action_preview(self):
        self.ensure_one()
        parsed = self._parse()
        stored = self._stored_uuids([order["uuid"] for order in parsed.orders])
        lines = [
            fields.Command.create(
                {
                    "line_no": parsed.line_of[order["uuid"]],
                    "order_uuid": order["uuid"],
                    "reference": order.get("reference"),
                    "amount_total": order.get("amount_total") or 0.0,
                    "status": "exists" if order["uuid"] in stored else "new",
                }
            )
            for order in parsed.orders
        ]
        self.line_ids = [fields.Command.clear()] + lines + self._error_lines(parsed)
        self.state = "preview"
        self.summary = self.env._(
            "%(orders)s order(s) read, %(new)s new, %(errors)s line error(s).",
            orders=len(parsed.orders),
            new=len(parsed.orders) - len(stored),
            errors=len(parsed.errors),
        )
        return self._reopen()

    def action_import(self):
        self.ensure_one()
        parsed = self._parse()
        orders = parsed.orders
        stored = self._stored_uuids([order["uuid"] for order in orders])
        # The orders not in the back office yet go first: if this request's time runs out,
        # what is left over is what an earlier import already stored.
        todo = sorted(range(len(orders)), key=lambda i: orders[i]["uuid"] in stored)
        done, ends = [0], [time.monotonic()]  # orders stored; when each chunk ended
        budget = self._import_budget()

        def on_chunk(count, total):
            done[0] = count
            ends.append(time.monotonic())
            self._import_chunk_done(count, total)

        def out_of_time():
            # Another chunk as long as the longest so far must end within the budget.
            longest = max(b - a for a, b in zip(ends, ends[1:], strict=False))
            return time.monotonic() + longest - ends[0] > budget

        try:
            results = self._import_orders(
                [orders[i] for i in todo],
                on_chunk=on_chunk,
                stop=None if budget is None else out_of_time,
            )
        except Exception as exc:
            _logger.exception("CSV import stopped after %s of %s orders", done[0], len(orders))
            raise UserError(
                self.env._(
                    "The import stopped after %(done)s of %(total)s order(s), which are saved. "
                    "Import the same file again to import the rest: nothing is created twice.",
                    done=done[0],
                    total=len(orders),
                )
            ) from exc
        by_index = dict(zip(todo, results, strict=False))
        results = [
            by_index.get(i) or self._not_reached(order, order["uuid"] in stored)
            for i, order in enumerate(orders)
        ]
        lines = [
            fields.Command.create(self._result_line(parsed, order, result))
            for order, result in zip(orders, results, strict=True)
        ]
        self.line_ids = [fields.Command.clear()] + lines + self._error_lines(parsed)
        counts = csv_schema.count_import(
            parsed, [r if r["status"] != "new" else None for r in results]
        )
        self.state = "preview" if counts.left else "done"
        self.summary = self.env._(
            "%(done)s of %(total)s order(s) imported (%(created)s new, %(exists)s already in "
            "the back office), %(errors)s problem(s).",
            done=counts.done,
            total=counts.total,
            created=counts.created,
            exists=counts.exists,
            errors=counts.problems,
        )
        if counts.left:
            self.summary += " " + self.env._(
                "%(left)s order(s) left: this request's time ran out. Click Import again to "
                "import them; nothing is created twice.",
                left=counts.left,
            )
        return self._reopen()

    def _not_reached(self, order, stored):
        """The result of an order the import did not reach before its time ran out."""
        if stored:
            return {"uuid": order["uuid"], "ok": True, "status": "exists", "paid": None}
        return {"uuid": order["uuid"], "ok": True, "status": "new", "paid": None}

    def _result_line(self, parsed, order, result):
        if result["ok"] and result.get("paid") is None:  # a refusal has a reason, no "paid"
            message = (
                self.env._("Already in the back office")
                if result["status"] == "exists"
                else self.env._("Not imported yet: click Import again")
            )
        else:
            message = result.get("reason") or (
                self.env._("Paid") if result["paid"] else self.env._("Unpaid")
            )
            if result.get("rescue_session"):
                message = self.env._(
                    "%(state)s, in the rescue session %(session)s (its session was closed)",
                    state=message,
                    session=result["rescue_session"],
                )
        return {
            "line_no": parsed.line_of[order["uuid"]],
            "order_uuid": order["uuid"],
            "reference": result.get("reference") or order.get("reference"),
            "amount_total": order.get("amount_total") or 0.0,
            "status": result["status"] if result["ok"] else "error",
            "message": message,
        }

    def _import_budget(self):
        """Seconds of chunks one request may run: half the worker's limit_time_real (past it
        the worker is killed), leaving room for a chunk slower than the ones before and for the
        wizard's own writes. None when the server sets no limit."""
        limit = tools.config.get("limit_time_real") or 0
        return limit / 2 if limit > 0 else None

    def _import_orders(self, orders, on_chunk=None, stop=None):
        """Stores the orders through the register's sync path, IMPORT_CHUNK_ORDERS at a time,
        each chunk committed in a cursor of its own.

        Why commit inside the request: a file of up to MAX_CSV_ROWS rows takes minutes in
        Odoo (~0.1 s an order), more than one request may run (`_import_budget`) and than a
        worker lives past limit_time_real. In one transaction, a stop or a killed worker would
        lose all of it; here only the chunk in flight is lost, and importing the file again
        finds the stored orders by uuid and stores the rest. A separate cursor (not
        cr.commit()) keeps this request's own transaction whole: the wizard's rows are written
        once, at the end. The request must hold no lock a chunk needs: it only reads before.
        """
        config_id = self.config_id.id
        company = self.config_id.company_id
        registry = self.env.registry
        self.env.flush_all()  # what this transaction wrote, visible to the chunks' reads

        def store_chunk_once(payload):
            # The register's turn first (pos.order._offline_sync_turn): a register's sync of
            # this config draws from the same no-gap order sequence, whose row stays locked
            # until its transaction ends. The turn is held by a cursor of its own until the
            # chunk's cursor, begun once the turn is ours, has committed.
            PosOrder = self.env["pos.order"]
            started = PosOrder._offline_sync_clock()
            with registry.cursor() as turn_cr:
                PosOrder._offline_wait_turn(turn_cr, config_id)
                with registry.cursor() as cr:  # commits on leaving, rolls back on an exception
                    env = self.env(cr=cr)
                    config = env["pos.config"].browse(config_id).with_company(company)
                    # The register's sync budget too: a chunk never runs much past it, and the
                    # orders it had no time for go first in the next chunk (import_in_chunks).
                    PosOrder = env["pos.order"]
                    # No session open: the rescue session, as for the register's sync.
                    PosOrder._offline_prepare_landing(config, payload)
                    return sync_service.sync_batch(
                        payload,
                        OdooOrderSink(env, config),
                        time_budget_s=PosOrder._offline_sync_time_budget(since=started),
                        clock=PosOrder._offline_sync_clock,
                    )["results"]

        def store_chunk(payload):
            # A sync making the rescue session at the same moment: this chunk's transaction
            # fails to serialize (pos.config._offline_rescue_session) and runs again, in a new
            # one that sees that session. A register's sync holding the turn past
            # SYNC_TURN_WAIT: the chunk waits again. Nothing of the failed try was committed.
            for attempt in range(1, CHUNK_TRIES + 1):
                try:
                    return store_chunk_once(payload)
                except (
                    psycopg2.errors.SerializationFailure,
                    psycopg2.errors.LockNotAvailable,
                ) as exc:
                    # A turn waited for in vain is waited for once more only: each wait is
                    # SYNC_TURN_WAIT, and the request's own limits run meanwhile.
                    waited_twice = (
                        isinstance(exc, psycopg2.errors.LockNotAvailable) and attempt >= 2
                    )
                    if attempt == CHUNK_TRIES or waited_twice:
                        raise
                    _logger.info("CSV import chunk: concurrent update, try %s again", attempt + 1)
                    time.sleep(random.uniform(0.0, 0.5 * attempt))  # noqa: S311 - jitter, not a secret
            raise AssertionError("unreachable")

        try:
            return csv_schema.import_in_chunks(
                orders,
                config_id,
                store_chunk,
                chunk_size=self._import_chunk,
                on_chunk=on_chunk,
                stop=stop,
            )
        finally:
            self.env.invalidate_all()  # the chunks changed records this cache may hold

    def _import_chunk_done(self, done, total):
        """After each committed chunk: progress in the server log."""
        _logger.info(
            "CSV import into %s: %s of %s order(s) stored", self.config_id.name, done, total
        )

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Import Offline Orders"),
        }
