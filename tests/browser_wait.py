"""Waiting on an async browser check. Playwright's `wait_for_function` does not await the
predicate: an async one returns a Promise, which is truthy, so the wait ends at once whatever
the Promise later resolves to. (The cold boot tests waited so for the service worker's cache
and closed the browser with half of it written.) This polls `page.evaluate`, which awaits."""

from __future__ import annotations

import time


def wait_for_promise(page, expression: str, arg=None, timeout_s: float = 60.0, poll_s: float = 0.2):
    """Returns the first truthy value the async `expression` resolves to; raises past the
    deadline with the last value seen, so a failure says what the page held."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"not true after {timeout_s} s: {expression[:120]}... gave {value!r}"
            )
        page.wait_for_timeout(poll_s * 1000)
