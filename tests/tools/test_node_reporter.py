"""`make test-js` is quiet unless something fails: the reporter prints nothing per passing test,
each failure with its name, error and its file's output, then node's summary and the counts."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPORTER = ROOT / "tools" / "node_test_reporter.mjs"

PASSING = """
import { describe, it } from "node:test";
describe("many", () => {
    for (let i = 0; i < 50; i++) {
        it(`passes ${i}`, () => { console.log("noise of a passing test"); });
    }
    it.skip("is skipped", () => {});
});
"""

FAILING = """
import assert from "node:assert/strict";
import { describe, it } from "node:test";
describe("outer", () => {
    describe("inner", () => {
        it("fails", () => {
            console.error("printed by the failing file");
            assert.equal(1 + 1, 3);
        });
    });
});
"""


def _run(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - fixed argv
        ["node", "--test", f"--test-reporter={REPORTER}", str(folder)],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_quiet_when_everything_passes_with_the_counts_at_the_end(tmp_path):
    (tmp_path / "a.test.mjs").write_text(PASSING)
    result = _run(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "50 passed, 0 failed, 1 skipped"
    assert "ℹ tests 51" in lines and "ℹ pass 50" in lines and "ℹ fail 0" in lines
    assert len(lines) < 15, lines
    assert "noise of a passing test" not in result.stdout


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_a_failure_is_shown_whole_and_fails_the_run(tmp_path):
    (tmp_path / "a.test.mjs").write_text(PASSING)
    (tmp_path / "b.test.mjs").write_text(FAILING)
    result = _run(tmp_path)
    assert result.returncode != 0
    out = result.stdout
    assert "b.test.mjs: outer > inner > fails" in out
    assert "2 !== 3" in out
    assert "printed by the failing file" in out
    assert "noise of a passing test" not in out
    assert out.strip().splitlines()[-1] == "50 passed, 1 failed, 1 skipped"
