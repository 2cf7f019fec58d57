"""Guard: no Playwright `wait_for_function` is given an async predicate. Playwright does not
await it: the Promise is truthy, so the wait ends at once (the cold boot tests closed the
browser before the service worker had cached the register, and failed at random). Async
checks go through `tests.browser_wait.wait_for_promise`."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# wait_for_function( then, maybe after a string prefix and quotes, an async function.
ASYNC_WAIT = re.compile(r"wait_for_function\(\s*[rf]?(?:\"\"\"|\"|')\s*async\b")
# wait_for_function(NAME, ...) where the file defines NAME = "async ...".
NAMED_WAIT = re.compile(r"wait_for_function\(\s*([A-Za-z_]\w*)\b")
ASYNC_CONSTANT = r"^{name}\s*=\s*[rf]?(?:\"\"\"|\"|')\s*async\b"


def async_waits(text: str) -> list[int]:
    starts = [match.start() for match in ASYNC_WAIT.finditer(text)]
    for match in NAMED_WAIT.finditer(text):
        if re.search(ASYNC_CONSTANT.format(name=re.escape(match.group(1))), text, re.MULTILINE):
            starts.append(match.start())
    return sorted(text.count("\n", 0, start) + 1 for start in starts)


def test_the_pattern_finds_an_async_predicate_and_spares_a_plain_one():
    assert async_waits('page.wait_for_function("async () => false")') == [1]
    assert async_waits('x\npage.wait_for_function(\n    """async (path) => {') == [2]
    assert async_waits('CHECK = """async () => {\n}"""\npage.wait_for_function(CHECK)') == [3]
    assert async_waits('page.wait_for_function("() => window.ready")') == []
    assert async_waits('READY = "() => 1"\npage.wait_for_function(READY)') == []


def test_no_async_predicate_is_given_to_wait_for_function():
    found = []
    for folder in ("tests", "bench", "tools", "sandbox"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == Path(__file__).name:
                continue
            for line in async_waits(path.read_text(encoding="utf-8")):
                found.append(f"{path.relative_to(ROOT)}:{line}")
    assert not found, f"async predicates given to wait_for_function: {found}"
