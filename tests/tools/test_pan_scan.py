"""tools/pan_scan.py, which `make test-odoo` runs over a pg_dump and Odoo's log: it must find
every form of a card number it looks for, and nothing else."""

import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import pan_scan  # noqa: E402


def test_every_form_of_every_test_card_is_found():
    for index, number in enumerate(pan_scan.TEST_CARDS, start=1):
        for form, needle in pan_scan.forms_of(number).items():
            hits = pan_scan.count_hits({"dump": b"COPY ... " + needle + b" ...\n"})
            assert hits[f"dump: card {index} {form}"] == 1, form
    assert len(pan_scan.forms_of(pan_scan.TEST_CARDS[0])) == 6


def test_last_four_digits_and_other_numbers_are_not_hits():
    blob = b"VISA **** 4242, amount 4242.42, pi_4242424242 0341"
    assert sum(pan_scan.count_hits({"log": blob}).values()) == 0
