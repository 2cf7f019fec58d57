# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Card failure reasons leave pos.order.internal_note for offline_card_failure.

Up to 19.0.1.0.0 the addon appended its plain-text reason to internal_note (one line per
failure, after the register's own note if any), and showed the field as an editable text page.
Odoo 19's POS parses internal_note as a JSON list of notes, so such an order blanked the
register. Each line of a non-JSON internal_note is sorted out here:
- a JSON list (the register's own note, which JSON.stringify keeps on one line) stays;
- on an order the addon synced or flagged, a plain line is its failure reason: it moves;
- on any other order it is a note typed in the addon's former page: it becomes one of Odoo's
  notes ({"text", "colorIndex": 0}), so nothing typed is lost.
internal_note ends as that JSON list, or '' (what the POS writes for no note) when empty.
Run again, it finds only valid JSON and changes nothing.
"""

import json
import logging

_logger = logging.getLogger(__name__)


def _json_list(text):
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def split_internal_note(note, by_addon):
    """(internal_note, failure lines) for one stored internal_note; None when it is fine."""
    if not note or _json_list(note) is not None:
        return None
    notes, failures = [], []
    for line in note.splitlines():
        if not line.strip():
            continue
        kept = _json_list(line)
        if kept is not None:
            notes.extend(kept)
        elif by_addon:
            failures.append(line)
        else:
            notes.append({"text": line, "colorIndex": 0})
    return (json.dumps(notes) if notes else ""), failures


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        """SELECT id, internal_note, offline_synced OR offline_card_failed, offline_card_failure
             FROM pos_order
            WHERE internal_note IS NOT NULL AND internal_note <> ''"""
    )
    moved = rewritten = 0
    for order_id, note, by_addon, failure in cr.fetchall():
        split = split_internal_note(note, bool(by_addon))
        if split is None:
            continue
        internal_note, failures = split
        failure = "\n".join(filter(None, [failure, *failures])) or None
        cr.execute(
            "UPDATE pos_order SET internal_note = %s, offline_card_failure = %s WHERE id = %s",
            [internal_note, failure, order_id],
        )
        moved += bool(failures)
        rewritten += 1
    _logger.info(
        "pos_offline_sync: %d internal notes made valid JSON, %d card failure reasons moved",
        rewritten,
        moved,
    )
