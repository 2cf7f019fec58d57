"""`wait_for_promise` in real Chromium: it awaits an async check (what Playwright's
`wait_for_function` does not), and its timeout says what the page gave."""

from __future__ import annotations

from tests.browser_wait import wait_for_promise


def test_wait_for_promise_awaits_the_predicate(browser):
    page = browser.new_page()
    try:
        page.evaluate("setTimeout(() => { window.ready = 'yes'; }, 300)")
        assert wait_for_promise(page, "async () => window.ready", timeout_s=10) == "yes"
        try:
            wait_for_promise(page, "async () => false", timeout_s=0.5, poll_s=0.1)
        except TimeoutError as error:
            assert "gave False" in str(error)
        else:
            raise AssertionError("an async false was taken for true")
    finally:
        page.close()
