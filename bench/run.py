"""`make bench`: the performance figures of the issues, measured in headless Debian Chromium
against the sandbox, printed one per line as `name: value unit`.

Each figure is a median over repeated runs made in this one invocation, and each ratio compares
two things measured side by side in the same run: the machine is shared and noisy, so absolute
numbers move between runs while ratios hold better.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from sandbox.launcher import ROOT, chromium_options, start_sandbox

# Added to each localstripe answer for card_100_speedup_<N>ms_stripe: Stripe's API answers in
# hundreds of milliseconds, localstripe in about one.
STRIPE_LATENCY_MS = 50

BENCH_MODULE = (ROOT / "bench" / "browser_bench.js").read_text()
DIALOG = "[data-test=sync-dialog]"


def report(name: str, value: float, unit: str, note: str = "") -> None:
    print(f"{name}: {value:.2f} {unit}" + (f"  # {note}" if note else ""), flush=True)


def indexeddb_bytes(profile: Path) -> int:
    """Bytes of the profile's IndexedDB files on disk (LevelDB tables, logs and blobs)."""
    return sum(
        f.stat().st_size for f in (profile / "Default" / "IndexedDB").rglob("*") if f.is_file()
    )


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


class BrowserBench:
    """One Chromium page on the sandbox's register, with bench/browser_bench.js loaded."""

    def __init__(self, pw, url: str, profile: Path):
        self.url = url
        self.context = pw.chromium.launch_persistent_context(str(profile), **chromium_options())
        self.context.set_default_timeout(120_000)
        self.page = self.context.new_page()
        self.open(f"{url}/pos")

    def open(self, address: str) -> None:
        """Loads a sandbox page and imports the bench module into it (from a blob URL, with
        its /core imports made absolute so they resolve on the sandbox's origin)."""
        self.page.goto(address)
        self.page.evaluate(
            """async (source) => {
                const core = JSON.stringify(location.origin + "/core/");
                const blob = new Blob([source.replaceAll('"/core/"', core)],
                                      {type: "text/javascript"});
                window.__bench = await import(URL.createObjectURL(blob));
            }""",
            BENCH_MODULE,
        )

    def call(self, name: str, args: dict):
        return self.page.evaluate(f"(args) => window.__bench.{name}(args)", args)

    def close(self) -> None:
        self.context.close()


def bench_register(pw, runs: int, tmp: Path) -> None:
    sandbox = start_sandbox(tmp / "bench.sqlite3")
    try:
        bench_finalize(pw, sandbox.url, runs, tmp)
        bench = BrowserBench(pw, sandbox.url, tmp / "profile")
        try:
            batched, single, adaptive = [], [], []
            for i in range(runs):
                args = {"count": 1000, "batchSize": 100}
                batched.append(bench.call("syncTime", {**args, "dbName": f"sb{i}"})["ms"])
                args = {"count": 1000, "batchSize": 1}
                single.append(bench.call("syncTime", {**args, "dbName": f"s1{i}"})["ms"])
                args = {"count": 1000, "batchSize": 20, "adaptive": True}
                adaptive.append(bench.call("syncTime", {**args, "dbName": f"sa{i}"}))
            report(
                "sync_1000_s",
                statistics.median(batched) / 1000,
                "s",
                "1,000 orders, batches of 100",
            )
            report(
                "sync_batch_speedup",
                statistics.median(single) / statistics.median(batched),
                "x",
                "one request per order / batches of 100, same run",
            )
            report(
                "sync_1000_adaptive_s",
                statistics.median(run["ms"] for run in adaptive) / 1000,
                "s",
                "1,000 orders, the engine sizing its batches from 20 (3 s a request); sizes: "
                + ",".join(map(str, adaptive[-1]["batchSizes"])),
            )

            csv = bench.call("csvTime", {"count": 10_000, "samples": max(runs, 5)})
            report("csv_10000_ms", statistics.median(csv), "ms")

            sizes = []
            for i in range(runs):
                before = indexeddb_bytes(tmp / "profile")
                bench.call("fillStore", {"dbName": f"size{i}", "count": 5000})
                sizes.append((indexeddb_bytes(tmp / "profile") - before) / 5000)
            report(
                "bytes_per_order",
                statistics.median(sizes),
                "bytes",
                "IndexedDB files on disk grown by 5,000 5-line orders",
            )
        finally:
            bench.close()
        bench_dialog(pw, sandbox.url, runs, tmp)
    finally:
        sandbox.stop()
    bench_dialog_sync(pw, max(runs // 2, 3), tmp)


def bench_finalize(pw, url: str, runs: int, tmp: Path) -> None:
    """Committed put latency with 10,000 orders queued, each run in a browser profile of its own:
    all IndexedDB databases of an origin share one LevelDB, so in a shared profile run i would
    write beside the 10,000 x i orders of the runs before it, not beside 10,000."""
    finalize = []
    for i in range(runs):
        bench = BrowserBench(pw, url, tmp / f"finalize-profile-{i}")
        try:
            samples = bench.call(
                "finalizeLatency", {"dbName": "finalize", "queued": 10_000, "samples": 200}
            )
        finally:
            bench.close()
        finalize.append(p99(samples))
    report(
        "finalize_p99_ms",
        statistics.median(finalize),
        "ms",
        f"committed put with 10,000 queued, median of {runs} runs' p99",
    )


def bench_dialog(pw, url: str, runs: int, tmp: Path) -> None:
    """Opens the real register's sync dialog over 10,000 waiting orders."""
    bench = BrowserBench(pw, url, tmp / "dialog-profile")
    page = bench.page
    try:
        page.goto(f"{url}/settings")
        page.get_by_label("Allow Offline Mode").set_checked(True)
        page.get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        data = page.request.get(f"{url}/api/pos_data").json()
        bench.open(f"{url}/pos")
        bench.call(
            "fillRegisterStore",
            {"dbName": data["db_name"], "configId": data["config"]["id"], "count": 10_000},
        )
        times = []
        for _ in range(runs):
            bench.open(f"{url}/pos")
            page.locator("[data-test=cashier]").first.click()
            page.locator("[data-test=sync-button]").wait_for()
            times.append(
                bench.call(
                    "dialogOpenTime",
                    {
                        "buttonSelector": "[data-test=sync-button]",
                        "rowSelector": "[data-test=sync-dialog] tr[data-test=sync-row]",
                    },
                )
            )
        report(
            "dialog_open_10000_ms",
            statistics.median(times),
            "ms",
            "click on Sync to Server to the first painted rows, 10,000 waiting",
        )
    finally:
        bench.close()


def bench_dialog_sync(pw, runs: int, tmp: Path) -> None:
    """Syncs 10,000 waiting orders from the register's open dialog ("Select all", then Sync to
    Back-Office), each run on a fresh sandbox and profile, watching for long main-thread tasks."""
    longest, counts = [], []
    for i in range(runs):
        sandbox = start_sandbox(tmp / f"dialog-sync-{i}.sqlite3", ["--quiet"])
        bench = BrowserBench(pw, sandbox.url, tmp / f"dialog-sync-profile-{i}")
        page = bench.page
        try:
            page.goto(f"{sandbox.url}/settings")
            page.get_by_label("Allow Offline Mode").set_checked(True)
            page.get_by_role("button", name="Save").click()
            page.wait_for_load_state()
            data = page.request.get(f"{sandbox.url}/api/pos_data").json()
            bench.open(f"{sandbox.url}/pos")
            bench.call(
                "fillRegisterStore",
                {"dbName": data["db_name"], "configId": data["config"]["id"], "count": 10_000},
            )
            bench.open(f"{sandbox.url}/pos")
            page.locator("[data-test=cashier]").first.click()
            page.locator("[data-test=sync-button]").click()
            dialog = page.locator(DIALOG)
            dialog.locator("[data-test=select-all]").check()
            dialog.locator("[data-test=selection-count]").filter(
                has_text="10000 of 10000 selected"
            ).wait_for()
            result = bench.call("dialogSyncLongTasks", {"dialogSelector": DIALOG})
            if result["message"] != "10000 orders synced.":
                raise RuntimeError(f"dialog sync bench: {result['message']}")
            longest.append(result["longestTaskMs"])
            counts.append(result["longTasks"])
        finally:
            bench.close()
            sandbox.stop()
    report(
        "sync_10000_longest_task_ms",
        statistics.median(longest),
        "ms",
        f"longest main-thread task while the open dialog syncs 10,000 orders, median of {runs}",
    )
    report("sync_10000_long_tasks", statistics.median(counts), "tasks", "over 50 ms, same runs")


def process_tree_cpu_s() -> float:
    """CPU seconds used so far by this process and every live descendant: the browser (through
    Playwright's driver), the sandbox and localstripe."""
    tick = os.sysconf("SC_CLK_TCK")
    parents, cpu = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {os.getpid()}, True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= children
        grew = bool(children)
    return sum(cpu[pid] for pid in tree)


class CardBench:
    """The register's card path, one sandbox + localstripe: the page's SyncEngine and card
    processor, the sandbox's offline_process_card (ledger, decryption) and localstripe on
    loopback. Each call seals `count` fresh card orders, then times their processing."""

    def __init__(self, pw, sandbox, profile: Path):
        self.bench = BrowserBench(pw, sandbox.url, profile)
        self.runs = iter(range(1_000_000))

    def cards(self, count: int, concurrency: int) -> dict:
        db_name = f"card{next(self.runs)}"
        self.bench.call("prepareCardOrders", {"dbName": db_name, "count": count})
        cpu, wall = process_tree_cpu_s(), time.perf_counter()
        result = self.bench.call("cardProcessTime", {"dbName": db_name, "concurrency": concurrency})
        result["wallS"] = time.perf_counter() - wall
        result["cpuS"] = process_tree_cpu_s() - cpu
        return result

    def rounds(self, rounds: int, count: int = 100) -> list[tuple[dict, dict]]:
        """(one at a time, 4 at a time) pairs; localstripe slows as it fills up, so the side
        that goes first alternates."""
        pairs = []
        for i in range(rounds):
            if i % 2:
                concurrent = self.cards(count, 4)
                pairs.append((self.cards(count, 1), concurrent))
            else:
                sequential = self.cards(count, 1)
                pairs.append((sequential, self.cards(count, 4)))
        return pairs

    def close(self) -> None:
        self.bench.close()


@contextlib.contextmanager
def card_bench(pw, tmp: Path, name: str, latency_ms: float = 0):
    """A CardBench on a sandbox of its own with a localstripe of its own, warmed up."""
    # Imported here: it loads the core as the sandbox does (no Odoo).
    from tests.card_support import SECRET_KEY, localstripe

    with localstripe(latency_ms=latency_ms) as stripe_url:
        sandbox = start_sandbox(
            tmp / f"{name}.sqlite3", ["--quiet"], stripe_url=stripe_url, stripe_key=SECRET_KEY
        )
        try:
            bench = CardBench(pw, sandbox, tmp / f"{name}-profile")
            try:
                bench.cards(5, 1)  # warm-up: connections, key cache, localstripe's first objects
                yield bench
            finally:
                bench.close()
        finally:
            sandbox.stop()


def speedup(pairs) -> float:
    return statistics.median(seq["cardsMs"] / con["cardsMs"] for seq, con in pairs)


def bench_cards(pw, rounds: int, latency_rounds: int, tmp: Path) -> None:
    with card_bench(pw, tmp, "cards") as bench:
        report(
            "card_p50_ms",
            bench.cards(30, 1)["rpcMedianMs"],
            "ms",
            "one offline_process_card call (ledger, decrypt, localstripe), median",
        )
        pairs = bench.rounds(rounds)
    report(
        "card_100_speedup",
        speedup(pairs),
        "x",
        f"100 cards, concurrency 4 vs 1, median of {rounds} rounds",
    )
    report(
        "card_cpu_ms",
        statistics.median(seq["cpuS"] * 1000 / seq["count"] for seq, _ in pairs),
        "ms",
        "CPU per card, one at a time: browser + sandbox + localstripe",
    )
    # The one-at-a-time run spread over every core at once could take no less than its CPU
    # time / cores: the most any concurrency can give on this machine.
    cores = os.cpu_count() or 1
    report(
        "card_speedup_ceiling",
        statistics.median(seq["wallS"] / (seq["cpuS"] / cores) for seq, _ in pairs),
        "x",
        f"one-at-a-time wall time / (its CPU time / {cores} cores)",
    )

    # The same path where the wait is the network, as with Stripe, not the CPU.
    with card_bench(pw, tmp, "cards-latency", STRIPE_LATENCY_MS) as bench:
        pairs = bench.rounds(latency_rounds)
    report(
        f"card_100_speedup_{STRIPE_LATENCY_MS}ms_stripe",
        speedup(pairs),
        "x",
        f"as card_100_speedup, localstripe answering after {STRIPE_LATENCY_MS} ms, "
        f"median of {latency_rounds} rounds",
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="repetitions per figure")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pos-offline-bench-") as tmp, sync_playwright() as pw:
        bench_register(pw, args.runs, Path(tmp))
        bench_cards(pw, args.runs, max(args.runs // 2, 2), Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
