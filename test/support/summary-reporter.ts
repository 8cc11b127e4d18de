// Mocha's spec reporter plus two plain closing lines that CI reads regardless of the runner: the
// test files that took longest (the suite has a time budget) and "N passed, N failed, N skipped".
import Mocha from "mocha";
import path from "node:path";

const SLOWEST_SHOWN = 6;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const secondsByFile = new Map<string, number>();
    const add = (test: Mocha.Test) => {
      const file = path.basename(test.file ?? "?");
      secondsByFile.set(file, (secondsByFile.get(file) ?? 0) + (test.duration ?? 0) / 1000);
    };
    runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, add);
    runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, add);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const { passes, failures, pending } = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      const slowest = [...secondsByFile]
        .sort((a, b) => b[1] - a[1])
        .slice(0, SLOWEST_SHOWN)
        .map(([file, s]) => `${file} ${Math.round(s)}s`);
      process.stdout.write(`\nslowest test files: ${slowest.join(", ")}`);
      process.stdout.write(`\nmocha: ${passes} passed, ${failures} failed, ${pending} skipped\n`);
    });
  }
}

export = SummaryReporter;
