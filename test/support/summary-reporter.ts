// Mocha's spec reporter plus two plain closing lines that CI reads regardless of the runner: the
// test files that took longest (the suite has a time budget), each failure on one line (the end
// of a long log is what survives), and "N passed, N failed, N skipped".
import Mocha from "mocha";
import { writeFileSync } from "node:fs";
import path from "node:path";

const SLOWEST_SHOWN = 12;
const TIMES_FILE = path.resolve(__dirname, "..", "..", "test-times.json");

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    // Wall time per file, hooks included (where a lab guest or a stack is set up).
    const secondsByFile = new Map<string, number>();
    const startedAt = new Map<Mocha.Suite, number>();
    const failed: string[] = [];
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (test: Mocha.Runnable, err: Error) => {
      const file = test.file ? path.basename(test.file) : "?";
      const firstLine = String(err?.message ?? err)
        .split("\n")[0]
        .slice(0, 300);
      failed.push(`${file}: ${test.fullTitle()}: ${firstLine}`);
    });
    runner.on(Mocha.Runner.constants.EVENT_SUITE_BEGIN, (suite: Mocha.Suite) => {
      if (suite.file && suite.parent?.root) startedAt.set(suite, Date.now());
    });
    runner.on(Mocha.Runner.constants.EVENT_SUITE_END, (suite: Mocha.Suite) => {
      const began = startedAt.get(suite);
      if (began === undefined || !suite.file) return;
      const file = path.basename(suite.file);
      secondsByFile.set(file, (secondsByFile.get(file) ?? 0) + (Date.now() - began) / 1000);
    });
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      const slowest = [...secondsByFile]
        .sort((a, b) => b[1] - a[1])
        .slice(0, SLOWEST_SHOWN)
        .map(([file, s]) => `${file} ${Math.round(s)}s`);
      process.stdout.write(`\nslowest test files: ${slowest.join(", ")}`);
      // Every file's time, for finding where the suite's budget goes.
      writeFileSync(
        TIMES_FILE,
        `${JSON.stringify(Object.fromEntries([...secondsByFile].map(([f, s]) => [f, Math.round(s)])), null, 1)}\n`,
      );
      for (const line of failed) process.stdout.write(`\nfailed: ${line}`);
      process.stdout.write(`\nmocha: ${passes} passed, ${failures} failed, ${pending} skipped\n`);
    });
  }
}

export = SummaryReporter;
