// A quiet reporter for `node --test` (make test-js): nothing per passing test; each failure
// with its full name, error and the output of its file; then node's own summary lines and one
// line "N passed, N failed, N skipped" that CI reads.
//     node --test --test-reporter=./tools/node_test_reporter.mjs tests/js/
import { relative } from "node:path";
import { inspect } from "node:util";

function where(data) {
    return data.file ? relative(process.cwd(), data.file) : "";
}

function errorText(error) {
    // Node wraps the test's error: its cause is what the test threw.
    const cause = error && error.cause !== undefined ? error.cause : error;
    const text = cause instanceof Error ? cause.stack || String(cause) : inspect(cause, { depth: 6 });
    return text
        .split("\n")
        .map((line) => `    ${line}`)
        .join("\n");
}

export default async function* quietReporter(source) {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const names = []; // the suite path of the test being reported, by nesting level
    const output = new Map(); // file -> what its tests printed
    const failedFiles = new Set();
    const summary = [];
    for await (const event of source) {
        const { type, data } = event;
        if (type === "test:start") {
            names[data.nesting] = data.name;
            names.length = data.nesting + 1;
        } else if (type === "test:stdout" || type === "test:stderr") {
            const file = where(data);
            output.set(file, (output.get(file) || "") + data.message);
        } else if (type === "test:pass" || type === "test:fail") {
            names[data.nesting] = data.name;
            const isSuite = data.details?.type === "suite";
            if (type === "test:fail" && data.details?.error?.failureType === "subtestsFailed") {
                continue; // a suite failing because of its tests: those are reported
            }
            if (isSuite && type === "test:pass") {
                continue;
            }
            if (type === "test:pass") {
                if (data.skip || data.todo) {
                    skipped++;
                } else {
                    passed++;
                }
                continue;
            }
            failed++;
            failedFiles.add(where(data));
            const path = names.slice(0, data.nesting + 1).join(" > ");
            yield `\n✖ ${where(data)}: ${path}\n${errorText(data.details?.error)}\n`;
        } else if (type === "test:diagnostic" && data.nesting === 0) {
            // node's own closing counts ("tests 96", "pass 96", ...)
            summary.push(data.message);
        }
    }
    for (const file of failedFiles) {
        if (output.get(file)) {
            yield `\n--- output of ${file} ---\n${output.get(file)}`;
        }
    }
    if (summary.length) {
        yield `\n${summary.map((line) => `ℹ ${line}`).join("\n")}\n`;
    }
    yield `${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
