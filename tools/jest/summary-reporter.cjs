// Writes one small JSON summary per Jest run when RAISE_SYNC_TEST_RESULTS_DIR is set, so
// tools/infra/test-all.sh can print a single "tests: N passed, N failed" line for the whole suite.
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  constructor(globalConfig, options = {}) {
    this.name = options.name ?? 'jest';
  }

  onRunComplete(_contexts, results) {
    const dir = process.env.RAISE_SYNC_TEST_RESULTS_DIR;
    if (!dir) return;
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${this.name.replace(/[^a-z0-9-]+/gi, '_')}-${process.pid}.json`);
    const failedSuites = results.testResults
      .filter((r) => r.testExecError || r.failureMessage)
      .map((r) => path.relative(process.cwd(), r.testFilePath));
    fs.writeFileSync(
      file,
      JSON.stringify({
        name: this.name,
        passed: results.numPassedTests,
        failed: results.numFailedTests,
        skipped: results.numPendingTests + results.numTodoTests,
        // a suite that fails to load has no failed *tests*; count it so it cannot hide
        failedSuites: results.numFailedTestSuites,
        failedSuiteFiles: failedSuites,
        durationMs: Date.now() - results.startTime,
      }),
    );
  }
}

module.exports = SummaryReporter;
