"""PAN scan of what a real Odoo keeps after `make test-odoo`: a `pg_dump` of its test database and
its server log, searched for the test card numbers as plain digits, spaced or dashed in groups
of four, and each of those in UTF-16LE. Prints counts only, never a number; exits 1 on a hit.

    python tools/pan_scan.py --db DB [--odoo-config odoo.cfg] [--log var/test-odoo.log]
"""

from __future__ import annotations

import argparse
import configparser
import os
import subprocess
import sys

# The numbers the addon's Odoo tests type (localstripe's approved and declined test cards).
TEST_CARDS = ("4242424242424242", "4000000000000341")


def forms_of(number: str) -> dict[str, bytes]:
    groups = [number[i : i + 4] for i in range(0, len(number), 4)]
    texts = {"plain": number, "spaced": " ".join(groups), "dashed": "-".join(groups)}
    forms = {name: text.encode() for name, text in texts.items()}
    forms |= {f"{name} utf-16le": text.encode("utf-16-le") for name, text in texts.items()}
    return forms


def count_hits(places: dict[str, bytes], numbers=TEST_CARDS) -> dict[str, int]:
    hits = {}
    for place, blob in places.items():
        for index, number in enumerate(numbers):
            for form, needle in forms_of(number).items():
                hits[f"{place}: card {index + 1} {form}"] = blob.count(needle)
    return hits


def pg_dump(db: str, config_path: str | None) -> bytes:
    options = {}
    if config_path:
        parser = configparser.ConfigParser()
        parser.read(config_path)
        options = dict(parser["options"]) if parser.has_section("options") else {}
    env = dict(os.environ)
    if options.get("db_password") not in (None, "", "False"):
        env["PGPASSWORD"] = options["db_password"]
    argv = ["pg_dump", "--no-owner", db]
    for flag, key in (("-h", "db_host"), ("-p", "db_port"), ("-U", "db_user")):
        if options.get(key) not in (None, "", "False"):
            argv[1:1] = [flag, options[key]]
    return subprocess.run(argv, env=env, check=True, capture_output=True).stdout  # noqa: S603


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--odoo-config")
    parser.add_argument("--log", action="append", default=[])
    args = parser.parse_args(argv)
    places = {"pg_dump": pg_dump(args.db, args.odoo_config)}
    for path in args.log:
        with open(path, "rb") as f:
            places[f"log {os.path.basename(path)}"] = f.read()
    hits = count_hits(places)
    total = sum(hits.values())
    sizes = ", ".join(f"{place} {len(blob):,} bytes" for place, blob in places.items())
    print(f"pan scan: {total} hits in {sizes}")
    for what, count in hits.items():
        if count:
            print(f"pan scan: {count} x {what}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
