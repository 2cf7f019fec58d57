# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The `odoo` part of an offline order (the browser's serializeForORM()) checked before Odoo's
own sync_from_ui stores it (docs/CONTRACTS.md §6).

sync_from_ui trusts the POS user: any session, customer, pricelist, fiscal position, product,
tax or payment method id is written as sent, with the line and order totals the browser
computed. An offline order waits in a browser for hours, so this part is checked like any
other input: every record it names must belong to the register's company and config, every
line total must be its quantity, price, discount and taxes, the order's totals the sum of its
lines and the same as the plain order's, and its payments those of the plain order. A refusal
names the field (``odoo.<path>``) and the record.
"""

from datetime import date

from ..core.order_schema import (
    TAXED,
    UNTAXED_BASE,
    OrderValidationError,
    amounts_equal,
    check_line_total,
    format_amount,
    odoo_change,
)

# Read by _process_order, not a field.
_EXTRA_KEYS = ("relations_uuid_mapping",)
# Records the register never links at creation: accounting and stock are Odoo's own.
_NOT_FROM_THE_REGISTER = ("account_move", "session_move_id", "picking_ids")
# Checked one by one below (with Odoo's own leniency for a customer deleted since).
_CHECKED_HERE = (
    "session_id",
    "partner_id",
    "pricelist_id",
    "fiscal_position_id",
    "company_id",
    "config_id",
)
_LINE_CHECKED_HERE = ("product_id",)
# The models the browser creates with the order, which relations_uuid_mapping may link.
_ORDER_MODELS = (
    "pos.order.line",
    "pos.payment",
    "pos.pack.operation.lot",
    "product.attribute.custom.value",
)
_CREATE, _UPDATE, _DELETE, _UNLINK, _LINK, _CLEAR, _SET = range(7)
_NUMBER_TYPES = ("float", "monetary", "integer")
_TEXT_TYPES = ("char", "text", "html", "selection", "date", "datetime")


def _refuse(path, problem):
    raise OrderValidationError(f"{path}: {problem}")


def _is_id(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class UiOrderCheck:
    """One register's checks; `check(ui_order, order, existing)` returns the cleaned copy.
    One instance serves a whole call: the records found good for one order (a product sold
    here, a record of this company; each kept for its own check only) are not read again for
    the next."""

    def __init__(self, env, config):
        self.env = env
        self.config = config
        self.company = config.company_id
        self.currency = config.currency_id
        self.rounding = self.currency.rounding
        self._good_records = set()  # (model, id) named by an order of this call and found good
        self._sold_products = set()  # product ids a line of this call sold: sold here

    # -- entry point ------------------------------------------------------------------------
    def check(self, ui_order, order, existing):
        """`existing`: the draft pos.order of that uuid (or an empty recordset)."""
        vals = self._clean_vals(self.env["pos.order"], ui_order, "odoo", special=_CHECKED_HERE)
        state = vals.get("state") or "paid"
        if state not in ("paid", "draft"):
            _refuse("odoo.state", f"must be paid or draft, not {str(state)[:20]!r}")
        if "company_id" in vals and vals["company_id"] != self.company.id:
            _refuse("odoo.company_id", f"company {vals['company_id']} is not this register's")
        if vals.get("config_id") and vals["config_id"] != self.config.id:
            # Stored as sent (Odoo computes it from the session only when it is not given): the
            # order would belong to that register, its stock leave from that register's.
            shown = str(vals["config_id"])[:40]
            _refuse("odoo.config_id", f"register {shown} is not this register")
        self._session(vals)
        partner = self._partner(vals)
        self._pricelist(vals)
        fiscal_position = self._fiscal_position(vals, partner)
        own_uuids = {order["uuid"]}
        refund = bool(vals.get("is_refund") or order["is_return"])
        lines = self._x2many(vals, "lines", existing.lines, own_uuids)
        if not lines:
            _refuse("odoo.lines", "the order has no lines")
        totals = [
            self._line(path, index, line, fiscal_position, partner, refund, own_uuids)
            for index, (path, line) in enumerate(lines, start=1)
        ]
        payments = self._x2many(vals, "payment_ids", existing.payment_ids, own_uuids)
        self._payments(payments, order, existing)
        PosOrder = self.env["pos.order"]
        for name in list(vals):
            field = PosOrder._fields.get(name)
            if field and field.type == "one2many" and name not in ("lines", "payment_ids"):
                self._x2many(vals, name, existing[name], own_uuids)
        self._totals(vals, order, totals)
        self._relations(vals, own_uuids)
        return vals

    # -- shape --------------------------------------------------------------------------------
    def _clean_vals(self, model, raw, path, special=()):
        """A copy with only the model's fields (and no link the register never makes); each
        value of the field's kind, every record named by a many2one or many2many existing
        and of this company (but the `special` ones, checked by the caller)."""
        if not isinstance(raw, dict):
            _refuse(path, "is not an object")
        top = model._name == "pos.order"
        vals = {}
        for name, value in raw.items():
            field = model._fields.get(name)
            if top and name in _EXTRA_KEYS:
                vals[name] = value
                continue
            if field is None or name.startswith("offline_") or name in _NOT_FROM_THE_REGISTER:
                continue  # not the register's to set: dropped, as unknown keys are
            if field.related and not field.readonly:
                # Written through to its source (a lot's product_id is its line's, an order's
                # picking_type_id its register's): after that source was checked here. Odoo
                # computes it from the source anyway.
                continue
            where = f"{path}.{name}"
            if value is None or value is False:
                vals[name] = value
                continue
            if field.type in _NUMBER_TYPES and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                _refuse(where, "is not a number")
            if field.type in _TEXT_TYPES and not isinstance(value, str | date):
                _refuse(where, "is not text")
            if field.type == "boolean" and not isinstance(value, bool):
                _refuse(where, "is not true or false")
            if name in special:
                pass
            elif field.type == "many2one":
                self._record(where, field.comodel_name, value)
            elif field.type == "many2many":
                value = self._many2many(where, field.comodel_name, value)
            vals[name] = value
        return vals

    def _record(self, where, model_name, value):
        """The record a many2one names: it exists and is of this company (or of none)."""
        if not _is_id(value):
            _refuse(where, f"{str(value)[:40]!r} is not a record id")
        if (model_name, value) in self._good_records:
            return self.env[model_name].sudo().browse(value)
        record = self.env[model_name].sudo().browse(value).exists()
        if not record:
            _refuse(where, f"{model_name} {value} does not exist")
        self._same_company(where, record)
        self._good_records.add((model_name, value))
        return record

    def _same_company(self, where, records):
        if records._name == "res.users":
            foreign = records.filtered(lambda user: self.company not in user.company_ids)
        elif "company_id" in records._fields:
            allowed = records.filtered_domain(records._check_company_domain(self.company))
            foreign = records - allowed
        else:
            return
        if foreign:
            _refuse(where, f"{records._name} {foreign[:1].id} belongs to another company")

    def _many2many(self, where, model_name, value):
        """A list of ids (what serializeForORM sends) or ORM commands; returns the ids, checked,
        as one SET command."""
        if not isinstance(value, list):
            _refuse(where, "is not a list")
        ids = []
        for command in value:
            if _is_id(command):
                ids.append(command)
            elif isinstance(command, list | tuple) and command and command[0] == _SET:
                if len(command) != 3 or not isinstance(command[2], list | tuple):
                    _refuse(where, "has a malformed command")
                ids = list(command[2])
            elif isinstance(command, list | tuple) and command and command[0] == _LINK:
                ids.append(command[1] if len(command) > 1 else None)
            elif isinstance(command, list | tuple) and command and command[0] == _CLEAR:
                ids = []
            else:
                _refuse(where, "holds something that is not a record id")
        for record_id in ids:
            if not _is_id(record_id):
                _refuse(where, f"{str(record_id)[:40]!r} is not a record id")
        records = self.env[model_name].sudo().browse(ids)
        missing = set(ids) - set(records.exists().ids)
        if missing:
            _refuse(where, f"{model_name} {min(missing)} does not exist")
        self._same_company(where, records)
        return [(_SET, 0, ids)]

    def _x2many(self, vals, name, existing_records, own_uuids):
        """(path, vals) of each record the commands create or update. Only new records, or
        the order's own (an order synced as a draft before it was finished offline): a command
        naming another order's record would write on it."""
        commands = vals.get(name) or []
        if not isinstance(commands, list):
            _refuse(f"odoo.{name}", "is not a list")
        model = existing_records.browse()
        own_ids = set(existing_records.ids)
        found = []
        for position, command in enumerate(commands):
            path = f"odoo.{name}[{position}]"
            if not isinstance(command, list | tuple) or not command:
                _refuse(path, "is not an ORM command")
            kind = command[0]
            if kind == _CREATE and len(command) == 3:
                record_id = 0
            elif kind in (_UPDATE, _DELETE, _UNLINK) and len(command) >= 2:
                record_id = command[1]
                if not _is_id(record_id) or record_id not in own_ids:
                    _refuse(path, f"{model._name} {str(record_id)[:40]} is not of this order")
                if kind != _UPDATE:
                    continue
                if len(command) != 3:
                    _refuse(path, "is not an ORM command")
            else:
                _refuse(path, "only creates, updates or removes the order's own records")
            special = _LINE_CHECKED_HERE if name == "lines" else ()
            record_vals = self._clean_vals(model, command[2], f"{path}[2]", special)
            if isinstance(record_vals.get("uuid"), str):
                own_uuids.add(record_vals["uuid"])
            commands[position] = [kind, record_id, record_vals]
            found.append((f"{path}[2]", record_vals))
        vals[name] = commands
        return found

    # -- the order's records ----------------------------------------------------------------
    def _session(self, vals):
        session_id = vals.get("session_id")
        if not _is_id(session_id):
            _refuse("odoo.session_id", "is missing or not a record id")
        session = self.env["pos.session"].sudo().browse(session_id).exists()
        if session.config_id != self.config:
            # Gone: it lands in one of this register's (its open one, else the rescue
            # session); of another register: refused by the core's choice.
            vals["session_id"] = self.config._offline_landing_session(session).id

    def _partner(self, vals):
        partner_id = vals.get("partner_id")
        partner = self.env["res.partner"]
        if not partner_id:
            return partner
        if not _is_id(partner_id):
            _refuse("odoo.partner_id", f"{str(partner_id)[:40]!r} is not a record id")
        partner = partner.browse(partner_id)
        if not partner.sudo().exists():
            # Deleted since the sale: Odoo's own sync drops it too, rather than lose the order.
            vals["partner_id"] = False
            return partner.browse()
        # Readable here: the caller's record rules and the company's partners, not just any.
        if not partner.search(
            [("id", "=", partner_id), *partner._check_company_domain(self.company)], limit=1
        ):
            _refuse("odoo.partner_id", f"customer {partner_id} is not a customer of this company")
        return partner

    def _pricelist(self, vals):
        pricelist_id = vals.get("pricelist_id")
        if not pricelist_id:
            return
        config = self.config
        presets = config.available_preset_ids | config.default_preset_id
        allowed = config._get_available_pricelists() | presets.pricelist_id
        if pricelist_id not in allowed.ids:
            _refuse(
                "odoo.pricelist_id", f"pricelist {pricelist_id} is not available on this register"
            )

    def _fiscal_position(self, vals, partner):
        position_id = vals.get("fiscal_position_id")
        positions = self.env["account.fiscal.position"]
        if not position_id:
            return positions
        config = self.config
        presets = config.available_preset_ids | config.default_preset_id
        allowed = (
            config.fiscal_position_ids
            | config.default_fiscal_position_id
            | presets.fiscal_position_id
            | partner.with_company(self.company).property_account_position_id
        )
        if position_id not in allowed.ids:
            _refuse(
                "odoo.fiscal_position_id",
                f"fiscal position {position_id} is not one of this register",
            )
        return positions.browse(position_id)

    def _line(self, path, index, vals, fiscal_position, partner, refund, own_uuids):
        """Checks one line's product and totals; returns (incl, excl) for the order's."""
        product_id = vals.get("product_id")
        if not _is_id(product_id):
            shown = repr(product_id)[:40]  # a reason, not an echo of whatever was sent
            raise OrderValidationError(f"line {index}: product {shown} is not a record id")
        product = self.env["product.product"].browse(product_id)
        if product_id not in self._sold_products:
            if not product.sudo().exists():
                raise OrderValidationError(f"line {index}: product {product_id} does not exist")
            if not product.available_in_pos or not product.filtered_domain(
                product._check_company_domain(self.company)
            ):
                raise OrderValidationError(
                    f"line {index}: product {product_id} is not sold in this register"
                )
            self._sold_products.add(product_id)
        self._nested_creates(path, vals, own_uuids)
        for name in ("qty", "price_unit", "price_subtotal", "price_subtotal_incl"):
            if not isinstance(vals.get(name), int | float) or isinstance(vals.get(name), bool):
                _refuse(f"{path}.{name}", "is not a number")
        discount = vals.get("discount") or 0
        if not 0 <= discount <= 100:
            _refuse(f"{path}.discount", f"must be 0 to 100, not {discount:g}")
        taxes = self.env["account.tax"].browse(vals["tax_ids"][0][2] if vals.get("tax_ids") else [])
        taxes = fiscal_position.map_tax(taxes) if fiscal_position else taxes
        price = vals["price_unit"] * (1 - discount / 100.0)
        computed = taxes.compute_all(
            price, self.currency, vals["qty"], product=product, partner=partner
        )
        # Odoo's tax engine spreads the order's rounding differences over its lines: at most
        # a unit per tax of the line, and one for the total.
        tolerance = len(taxes) + 1
        signed = {}
        for field, key, how, label in (
            ("price_subtotal_incl", "total_included", TAXED, "line total"),
            ("price_subtotal", "total_excluded", UNTAXED_BASE, "untaxed line total"),
        ):
            expected = computed[key]
            signed[field] = vals[field]
            if refund and vals[field] * expected < 0:
                # Odoo's register sends a return's line totals with the order's sign undone:
                # judged, and added up, with the sign of their quantity.
                expected = -expected
                signed[field] = -vals[field]
            check_line_total(
                vals,
                index,
                expected,
                self.rounding,
                tolerance=tolerance,
                how=how,
                field=field,
                label=label,
            )
        return signed["price_subtotal_incl"], signed["price_subtotal"]

    def _nested_creates(self, path, vals, own_uuids):
        """A line's own records (lot numbers, custom attribute values) are new ones only."""
        Line = self.env["pos.order.line"]
        for name, value in list(vals.items()):
            field = Line._fields[name]
            if field.type != "one2many" or not value:
                continue
            where = f"{path}.{name}"
            if not isinstance(value, list):
                _refuse(where, "is not a list")
            model = self.env[field.comodel_name]
            commands = []
            for position, command in enumerate(value):
                if (
                    not isinstance(command, list | tuple)
                    or len(command) != 3
                    or command[0] != _CREATE
                ):
                    _refuse(f"{where}[{position}]", "only new records may be added here")
                record_vals = self._clean_vals(model, command[2], f"{where}[{position}][2]")
                if isinstance(record_vals.get("uuid"), str):
                    own_uuids.add(record_vals["uuid"])
                commands.append([_CREATE, 0, record_vals])
            vals[name] = commands

    def _payments(self, payments, order, existing):
        """Each payment line is one of the plain order's payments, on a method of this
        register: the plain order is what the core checked and what the cards are matched on.
        A draft synced before it was finished offline already holds some (not sent again)."""
        methods = self.config.payment_method_ids
        plain = {p["uuid"]: p for p in order["payments"] if p.get("uuid")}
        seen = {
            line.uuid
            for line in existing.payment_ids
            if line.uuid in plain
            and line.payment_method_id.id == plain[line.uuid]["payment_method_id"]
            and amounts_equal(line.amount, plain[line.uuid]["amount"], self.rounding)
        }
        sent = set()
        for path, vals in payments:
            method_id = vals.get("payment_method_id")
            if not _is_id(method_id) or method_id not in methods.ids:
                _refuse(
                    f"{path}.payment_method_id",
                    f"payment method {str(method_id)[:40]} is not used by this register",
                )
            if not isinstance(vals.get("amount"), int | float) or isinstance(vals["amount"], bool):
                _refuse(f"{path}.amount", "is not a number")
            match = plain.get(vals.get("uuid"))
            if (
                match is None
                or vals["uuid"] in sent
                or match["payment_method_id"] != method_id
                or not amounts_equal(match["amount"], vals["amount"], self.rounding)
            ):
                _refuse(path, "is not one of the order's payments")
            sent.add(vals["uuid"])
            seen.add(vals["uuid"])
        if len(seen) != len(order["payments"]):
            _refuse("odoo.payment_ids", "the order's payments are not all there")

    def _totals(self, vals, order, totals):
        incl = sum(total for total, _ in totals)
        excl = sum(base for _, base in totals)
        rounding = self.rounding
        for name, expected, what in (
            ("amount_total", incl, "the sum of its lines"),
            ("amount_total", order["amount_total"], "the order's amount_total"),
            ("amount_tax", incl - excl, "the taxes of its lines"),
            ("amount_return", odoo_change(order), "the order's change, signed as Odoo signs it"),
        ):
            value = vals.get(name) or 0
            if not isinstance(value, int | float) or isinstance(value, bool):
                _refuse(f"odoo.{name}", "is not a number")
            if not amounts_equal(value, expected, rounding):
                _refuse(
                    f"odoo.{name}",
                    f"{format_amount(value, rounding)} is not {what} "
                    f"({format_amount(expected, rounding)})",
                )

    def _relations(self, vals, own_uuids):
        """_process_order links records found by uuid in any model named here and writes the
        field named: only the order's own records, through the fields between them."""
        mapping = vals.get("relations_uuid_mapping")
        if not mapping:
            return
        where = "odoo.relations_uuid_mapping"
        if not isinstance(mapping, dict):
            _refuse(where, "is not an object")
        for model_name, owners in mapping.items():
            if model_name not in _ORDER_MODELS or not isinstance(owners, dict):
                _refuse(f"{where}.{model_name[:40]}", "is not a model of this order")
            model = self.env[model_name]
            for owner, links in owners.items():
                if owner not in own_uuids or not isinstance(links, dict):
                    _refuse(f"{where}.{model_name}", f"{owner[:40]} is not a record of this order")
                for name, target in links.items():
                    field = model._fields.get(name)
                    if field is None or field.comodel_name not in _ORDER_MODELS:
                        _refuse(f"{where}.{model_name}", f"{name[:40]} is not a link it may set")
                    targets = target if isinstance(target, list) else [target]
                    if not all(isinstance(t, str) and t in own_uuids for t in targets):
                        _refuse(
                            f"{where}.{model_name}.{owner[:40]}.{name}",
                            "links a record that is not of this order",
                        )
