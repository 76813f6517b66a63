// Sums vitest JSON reports into the one line CI reads: "N passed, N failed, N skipped".
// Exits non-zero when a report is missing, unreadable, failed, or ran no test.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
let ok = process.argv.length > 2;
for (const file of process.argv.slice(2)) {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + r.numTodoTests;
    // Suites that failed to load count no tests but must still fail the run.
    if (!r.success || r.numFailedTestSuites > 0 || r.numTotalTests === 0) ok = false;
  } catch (e) {
    console.error(`count-tests: cannot read ${file}: ${e.message}`);
    ok = false;
  }
}
if (failed > 0) ok = false;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(ok ? 0 : 1);
