"""tools/odoo_test_summary.py on lines as odoo-bin 19 writes them."""

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "odoo_test_summary.py"
PREFIX = "2026-12-01 11:45:49,750 13333 INFO db "
RESULT = PREFIX + "odoo.tests.result: 0 failed, 0 error(s) of 10 tests when loading database 'db'"
CLASS_SKIP = (
    PREFIX + "odoo.tests.suite: skipped setUpClass "
    "(odoo.addons.pos_offline_sync.tests.test_offline_card.TestOfflineCard) : "
    "payment_stripe is not installed in this database"
)
TEST_SKIP = (
    PREFIX + "odoo.addons.pos_offline_sync.tests.test_tour: skipped "
    "TestOfflineSyncTour.test_offline_sale_synced_from_the_dialog : payment_stripe is not "
    "installed in this database"
)
TOUR_SKIP = PREFIX + "odoo.tests.common: websocket-client module is not installed"


def run(tmp_path, lines, *args):
    log = tmp_path / "odoo.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, str(TOOL), str(log), *args], capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout


def test_clean_run_passes(tmp_path):
    code, out = run(tmp_path, [RESULT])
    assert code == 0
    assert out.splitlines()[0] == "odoo tests: run 10, passed 10, failed 0, errors 0, skipped 0"


def test_class_and_test_skips_are_counted_and_named(tmp_path):
    code, out = run(tmp_path, [CLASS_SKIP, TEST_SKIP, RESULT])
    assert code == 1
    assert "skipped 2" in out.splitlines()[0]
    assert "TestOfflineCard) : payment_stripe is not installed" in out
    assert "test_offline_sale_synced_from_the_dialog : payment_stripe" in out


def test_allowed_skips_are_listed_not_failed(tmp_path):
    code, out = run(tmp_path, [CLASS_SKIP, TEST_SKIP, RESULT], "--allow-skips")
    assert code == 0
    assert out.count("  skipped: ") == 2


def test_tours_skipped_for_want_of_a_browser_still_fail(tmp_path):
    code, _out = run(tmp_path, [TOUR_SKIP, RESULT], "--allow-skips")
    assert code == 1


def test_a_failure_or_no_test_at_all_fails(tmp_path):
    assert run(tmp_path, [RESULT.replace("0 failed", "1 failed")])[0] == 1
    assert run(tmp_path, [RESULT.replace("of 10 tests", "of 0 tests")])[0] == 1
