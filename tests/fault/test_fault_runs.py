"""The seeded randomized fault suite, short: SOAK_RUNS runs (default 100) of a few orders and
one or two faults each, against real sandbox processes and a real localstripe (harness.py).
A failure names its seed and run: `SOAK_SEED=<seed> SOAK_RUN=<index> pytest tests/fault`
replays it (timings may differ; the orders and faults are the same)."""

from __future__ import annotations

import os

import pytest

from tests.fault.harness import SESSION_SEED, final_sweep, run_one

RUNS = int(os.environ.get("SOAK_RUNS", "100"))
ONLY = os.environ.get("SOAK_RUN")
INDICES = [int(ONLY)] if ONLY else list(range(RUNS))


def _replay(index) -> str:
    return (
        f"replay: SOAK_SEED={SESSION_SEED} SOAK_RUN={index} .venv/bin/python -m pytest tests/fault"
    )


@pytest.mark.parametrize("index", INDICES)
def test_fault_run_keeps_every_invariant(fault_env, index):
    report = run_one(fault_env, SESSION_SEED, index)
    assert report.ok, f"{report.describe()}\n{_replay(index)}"


def test_final_sweep_no_late_charge_breaks_an_invariant(fault_env):
    """After every run: each PaymentIntent read again (one may have landed after its run was
    checked), each stored order held to the charge invariants once more."""
    report = final_sweep(fault_env)
    assert report.ok, f"{report.describe()}\nseed SOAK_SEED={SESSION_SEED}"
