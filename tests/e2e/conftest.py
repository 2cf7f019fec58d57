"""Fixtures of the real-browser end-to-end tests: a sandbox server on a fresh SQLite file per
test and Debian's Chromium driven by Playwright (never a downloaded browser, never mocks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_pos import launch_options
from playwright.sync_api import expect, sync_playwright

from sandbox.launcher import start_sandbox

# Generous waits (not timings under test): `make test` may run on a busy 2-core machine.
expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def sandbox(tmp_path):
    server = start_sandbox(tmp_path / "db.sqlite3")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_session():
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_session):
    browser = playwright_session.chromium.launch(**launch_options())
    yield browser
    browser.close()


@pytest.fixture
def context(browser):
    # A fresh context is a fresh profile: its own, empty IndexedDB. No service worker (the
    # cold boot tests have their own profiles): these tests intercept /rpc with routes, which
    # Playwright cannot do for requests a worker handles.
    ctx = browser.new_context(
        accept_downloads=True,
        viewport={"width": 1280, "height": 800},
        service_workers="block",
    )
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    assert not errors, f"uncaught errors in the page: {errors}"


# ----- axe-core (accessibility scan, from npm) ----------------------------------------------
AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_RESULTS = pytest.StashKey[list]()
SEVERE = ("critical", "serious")


def _run_axe(config, page, name: str, include: str | None = None) -> dict:
    """Runs axe-core over the page (or the element `include`) and records the counts."""
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} is missing: `make deps` (npm ci) installs axe-core")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        """async (include) => {
            const r = await axe.run(include ? {include: [include]} : document,
                                    {resultTypes: ["violations"]});
            return {
                version: axe.version,
                violations: r.violations.map((v) => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary),
                })),
            };
        }""",
        include,
    )
    counts = {impact: 0 for impact in ("critical", "serious", "moderate", "minor")}
    for violation in result["violations"]:
        counts[violation["impact"] or "minor"] += len(violation["nodes"])
    config.stash.setdefault(AXE_RESULTS, []).append((name, result["version"], counts))
    result["counts"] = counts
    result["severe"] = [v for v in result["violations"] if v["impact"] in SEVERE]
    return result


@pytest.fixture
def axe(request):
    """axe(page, name, include=None) -> {counts, severe, violations}: scans and records."""
    return lambda page, name, include=None: _run_axe(request.config, page, name, include)


def pytest_terminal_summary(terminalreporter, config):
    results = config.stash.get(AXE_RESULTS, [])
    if not results:
        return
    terminalreporter.section(f"axe-core {results[0][1]}: accessibility scan")
    for name, _version, counts in results:
        terminalreporter.write_line(
            f"axe {name}: {counts['critical']} critical, {counts['serious']} serious, "
            f"{counts['moderate']} moderate, {counts['minor']} minor"
        )
