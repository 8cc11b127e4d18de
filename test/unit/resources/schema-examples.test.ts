// The resource docs' examples (schema descriptions, which the SDKs and the Registry show) are
// real code: every resource has TypeScript, Python, Go and YAML examples and an Import section;
// the TypeScript ones type-check against the generated SDK, the Python ones compile, and the Go
// ones parse.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import ts from "typescript";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..", "..");
const schema = JSON.parse(readFileSync(path.join(REPO_ROOT, "schema.json"), "utf8")) as {
  resources: Record<string, { description: string }>;
};

function codeBlocks(description: string, language: string): string[] {
  const fence = new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g");
  return [...description.matchAll(fence)].map((m) => m[1]);
}

describe("schema: resource docs", () => {
  const resources = Object.entries(schema.resources);

  it("every resource has an example in each language and an Import section", () => {
    for (const [token, r] of resources) {
      for (const lang of ["typescript", "python", "go", "yaml"])
        assert.ok(codeBlocks(r.description, lang).length > 0, `${token}: no ${lang} example`);
      assert.match(r.description, /\n## Import\n/, `${token}: no Import section`);
    }
  });

  it("the TypeScript examples type-check against the generated SDK", function () {
    this.timeout(120_000);
    const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-doc-ts-"));
    try {
      const files = resources.flatMap(([token, r]) =>
        codeBlocks(r.description, "typescript").map((code, i) => {
          const file = path.join(dir, `${token.split(":").pop()}-${i}.ts`);
          writeFileSync(file, code);
          return file;
        }),
      );
      const program = ts.createProgram(files, {
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.CommonJS,
        moduleResolution: ts.ModuleResolutionKind.Node10,
        types: ["node"],
        typeRoots: [path.join(REPO_ROOT, "node_modules", "@types")],
        baseUrl: REPO_ROOT,
        paths: {
          "@vmplacement/vmplacement": ["sdk/nodejs/index.ts"],
          "@pulumi/pulumi": ["node_modules/@pulumi/pulumi"],
        },
      });
      const errors = ts
        .getPreEmitDiagnostics(program)
        .filter((d) => d.file && files.includes(d.file.fileName))
        .map(
          (d) =>
            `${path.basename(d.file!.fileName)}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`,
        );
      assert.deepEqual(errors, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the Python examples compile and the Go examples parse", () => {
    for (const [token, r] of resources) {
      for (const code of codeBlocks(r.description, "python"))
        execFileSync(
          "python3",
          ["-c", "import sys; compile(sys.stdin.read(), 'example', 'exec')"],
          {
            input: code,
          },
        );
      for (const code of codeBlocks(r.description, "go"))
        assert.doesNotThrow(
          () => execFileSync("gofmt", ["-e"], { input: code, stdio: ["pipe", "ignore", "pipe"] }),
          `${token}: a Go example does not parse`,
        );
    }
  });
});
