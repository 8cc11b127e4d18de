// One Pulumi minimum: the CLI the tests run (scripts/install-pulumi.sh), the CLI check
// (scripts/find-pulumi.sh), every SDK package and every example declare the same lowest version,
// and the docs state it. The packages e2e test installs exactly that version (the lowest) in each
// language.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..", "..");
const read = (file: string) => readFileSync(path.join(REPO_ROOT, file), "utf8");
const json = (file: string) => JSON.parse(read(file)) as Record<string, Record<string, string>>;
interface LanguageOptions {
  dependencies?: Record<string, string>;
  requires?: Record<string, string>;
}
const schemaLanguage = (language: string) =>
  (JSON.parse(read("schema.json")) as { language: Record<string, LanguageOptions> }).language[
    language
  ];

const minimum = /^PULUMI_MIN_VERSION=(\S+)$/m.exec(read("scripts/find-pulumi.sh"))![1];

/** Each place a Pulumi version is declared, and what it says. */
const DECLARATIONS: Array<[string, () => string | undefined]> = [
  [
    "the pinned CLI (scripts/install-pulumi.sh)",
    () => /^PULUMI_VERSION=(\S+)$/m.exec(read("scripts/install-pulumi.sh"))?.[1],
  ],
  ["npm SDK dependency", () => json("sdk/nodejs/package.json").dependencies["@pulumi/pulumi"]],
  ["schema's nodejs dependency", () => schemaLanguage("nodejs").dependencies?.["@pulumi/pulumi"]],
  ["schema's Python requirement", () => schemaLanguage("python").requires?.pulumi],
  [
    "Python SDK requirement",
    () => /"pulumi(>=[^"]+)"/.exec(read("sdk/python/pyproject.toml"))?.[1],
  ],
  [
    "Go SDK requirement",
    () => /github\.com\/pulumi\/pulumi\/sdk\/v3 (v\S+)/.exec(read("sdk/go/go.mod"))?.[1],
  ],
  [
    "the TypeScript example",
    () => json("examples/typescript/package.json").dependencies["@pulumi/pulumi"],
  ],
  [
    "the rebalance example",
    () => json("examples/rebalance/package.json").dependencies["@pulumi/pulumi"],
  ],
  [
    "the evacuation pipeline",
    () => json("examples/evacuate-pipeline/package.json").dependencies["@pulumi/pulumi"],
  ],
  [
    "the Python example",
    () => /^pulumi(\S+)$/m.exec(read("examples/python/requirements.txt"))?.[1],
  ],
  [
    "the Go example",
    () => /github\.com\/pulumi\/pulumi\/sdk\/v3 (v\S+)/.exec(read("examples/go/go.mod"))?.[1],
  ],
];

/** The lowest version a declaration admits: "^3.259.0", ">=3.259.0,<4.0.0", "==3.259.0", "v3.259.0". */
function lowestAdmitted(declared: string): string {
  const match = /^(?:\^|>=|==|v)?(\d+\.\d+\.\d+)(?:,<4\.0\.0)?$/.exec(declared);
  assert.ok(match, `'${declared}' is not a form this check knows`);
  return match[1];
}

describe("one Pulumi minimum", () => {
  it("is a release version", () => assert.match(minimum, /^3\.\d+\.\d+$/));

  for (const [where, declared] of DECLARATIONS) {
    it(`${where} declares it`, () => {
      const value = declared();
      assert.ok(value, `${where}: no Pulumi version found`);
      assert.equal(lowestAdmitted(value), minimum, `${where} says ${value}`);
    });
  }

  for (const doc of ["README.md", "docs/installation-configuration.md"]) {
    it(`${doc} states it`, () => assert.ok(read(doc).includes(`v${minimum} or later`)));
  }
});
