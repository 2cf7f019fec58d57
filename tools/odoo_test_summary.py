#!/usr/bin/env python3
"""Summarise an odoo-bin test log: tests run, failed, errors, skipped, and tours skipped.

odoo-bin exits 0 when every tour was skipped (no websocket-client), so a green exit code says
little: this counts what really ran. Usage:
  odoo_test_summary.py LOG [--require-tests N] [--allow-skips]
Exit status 1 when a test failed or errored, or when a test or tour was skipped (with
--allow-skips, e.g. in a database without payment_stripe, skipped tests are listed with their
reasons but are not a failure; tours skipped for want of a browser still are).
"""

import argparse
import re
import sys

# "odoo.tests.result: 0 failed, 0 error(s) of 42 tests when loading database 'x'"
RESULT = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests")
# Each skipped test logs "<module>: skipped <test> : <reason>" at INFO; a class skipped in its
# setUpClass logs "odoo.tests.suite: skipped setUpClass (<module>.<Class>) : <reason>".
SKIP = re.compile(r": skipped (?:setUpClass \(\S+\)|\S+) : ")
# Without websocket-client (or a browser) every tour is skipped while odoo-bin exits 0.
TOUR_SKIP = re.compile(r"websocket-client module is not installed|Chrome.*not found", re.I)


def summarise(lines):
    failed = errors = run = 0
    skipped = []
    tour_skipped = []
    for line in lines:
        match = RESULT.search(line)
        if match:
            failed, errors, run = (int(g) for g in match.groups())
        elif SKIP.search(line):
            skipped.append(line.strip())
        elif TOUR_SKIP.search(line):
            tour_skipped.append(line.strip())
    return {
        "run": run,
        "failed": failed,
        "errors": errors,
        "passed": run - failed - errors,
        "skipped": skipped,
        "tour_skipped": tour_skipped,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log")
    parser.add_argument("--require-tests", type=int, default=1)
    parser.add_argument("--allow-skips", action="store_true")
    args = parser.parse_args(argv)
    with open(args.log, encoding="utf-8", errors="replace") as handle:
        summary = summarise(handle)
    print(
        f"odoo tests: run {summary['run']}, passed {summary['passed']}, "
        f"failed {summary['failed']}, errors {summary['errors']}, "
        f"skipped {len(summary['skipped'])}"
    )
    for line in summary["skipped"] + summary["tour_skipped"]:
        print(f"  skipped: {line[:300]}")
    bad = (
        summary["failed"]
        or summary["errors"]
        or (summary["skipped"] and not args.allow_skips)
        or summary["tour_skipped"]
        or summary["run"] < args.require_tests
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
