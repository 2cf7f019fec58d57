"""`make soak`: the fault suite's long run.

    SOAK_RUNS=1000 SOAK_SEED=123 python -m tests.fault.soak     # SOAK_RUN=17: that run only

Runs SOAK_RUNS runs (default 1000) from SOAK_SEED (default: a new one, printed first), prints
each failed run with its faults and violations, then the final sweep, and ends with exactly:

    soak_runs: N
    soak_failures: N        runs with any violation (the final sweep's included)
    soak_double_charges: N  payments charged twice, orders charged over their total
    soak_lost: N            orders (or lines, payments, charges of them) gone
    soak_duplicated: N      orders (or their lines, payments) stored twice

Exits 1 when any run failed.
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
import time

from tests.fault.harness import SESSION_SEED, Env, final_sweep, run_one


def main() -> int:
    runs = int(os.environ.get("SOAK_RUNS", "1000"))
    only = os.environ.get("SOAK_RUN")
    indices = [int(only)] if only else list(range(runs))
    seed = SESSION_SEED
    print(f"soak: SOAK_SEED={seed}, {len(indices)} runs", flush=True)
    started = time.monotonic()
    failed: set[int] = set()
    lost, duplicated, double = set(), set(), set()
    applied = collections.Counter()
    with tempfile.TemporaryDirectory(prefix="pos-soak-") as tmp:
        env = Env(tmp)
        try:
            for n, index in enumerate(indices, start=1):
                report = run_one(env, seed, index)
                applied.update(
                    f"{f.name}/{f.variant}" if f.variant else f.name
                    for f in report.faults
                    if f.applied
                )
                lost |= report.lost
                duplicated |= report.duplicated
                double |= report.double_charges
                if not report.ok:
                    failed.add(index)
                    print(f"FAILED {report.describe()}", flush=True)
                if n % 50 == 0:
                    elapsed = time.monotonic() - started
                    print(f"soak: {n} runs, {len(failed)} failed, {elapsed:.0f}s", flush=True)
            sweep = final_sweep(env)
        finally:
            env.close()
    lost |= sweep.lost
    duplicated |= sweep.duplicated
    double |= sweep.double_charges
    if not sweep.ok:
        print(sweep.describe(), flush=True)
        failed |= sweep.runs or {-1}
    elapsed = time.monotonic() - started
    print("soak: faults applied " + ", ".join(f"{k}={v}" for k, v in sorted(applied.items())))
    print(f"soak: {elapsed:.0f}s; replay one run with SOAK_SEED={seed} SOAK_RUN=<index>")
    print(f"soak_runs: {len(indices)}")
    print(f"soak_failures: {len(failed)}")
    print(f"soak_double_charges: {len(double)}")
    print(f"soak_lost: {len(lost)}")
    print(f"soak_duplicated: {len(duplicated)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
