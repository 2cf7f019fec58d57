"""The fault suite's session: one localstripe and two sandbox processes for all its runs."""

from __future__ import annotations

import os

import pytest

from tests.fault.harness import SESSION_SEED, Env


def pytest_report_header(config):
    runs = os.environ.get("SOAK_RUNS", "100")
    return f"fault suite: SOAK_SEED={SESSION_SEED} SOAK_RUNS={runs} (tests/fault)"


@pytest.fixture(scope="session")
def fault_env(tmp_path_factory):
    env = Env(tmp_path_factory.mktemp("fault"))
    yield env
    env.close()
