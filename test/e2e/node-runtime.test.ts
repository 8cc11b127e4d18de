// The project runs on its own Node.js, the current LTS (scripts/install-node.sh), whatever Node the
// machine has: the suite, a Pulumi program through the CLI's nodejs language host, and the plugin's
// single executables. Nothing installed asks for another Node: no dependency of the repository,
// and no package a user's project gets from the SDK's npm tarball, fails its `engines` check
// (npm's EBADENGINE).
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import semver from "semver";
import { run } from "../lab/run";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const installNode = path.join(REPO_ROOT, "scripts", "install-node.sh");

interface Manifest {
  name?: string;
  version?: string;
  engines?: { node?: string };
}

/** Every package under a node_modules tree whose `engines.node` the given Node does not satisfy. */
function unsatisfiedEngines(nodeModules: string, nodeVersion: string): string[] {
  const refused: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
      const pkgDir = path.join(dir, entry.name);
      if (entry.name.startsWith("@")) {
        visit(pkgDir);
        continue;
      }
      const manifestFile = path.join(pkgDir, "package.json");
      if (existsSync(manifestFile)) {
        const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Manifest;
        const wanted = manifest.engines?.node;
        if (wanted && !semver.satisfies(nodeVersion, wanted)) {
          refused.push(`${manifest.name}@${manifest.version} wants node ${wanted}`);
        }
      }
      const nested = path.join(pkgDir, "node_modules");
      if (existsSync(nested)) visit(nested);
    }
  };
  visit(nodeModules);
  return refused;
}

describe("the project's Node.js", function () {
  this.timeout(300_000);
  let version: string;
  let bin: string;

  before(async () => {
    version = (await run(installNode, ["--version"])).trim();
    bin = (await run(installNode, [])).trim();
  });

  it("is a current LTS, and the one this suite runs on", () => {
    assert.ok([22, 24].includes(semver.major(version)), `Node ${version} is not a current LTS`);
    assert.equal(process.version, `v${version}`, "make and .ci/run put the project's Node first");
    assert.equal(path.dirname(process.execPath), bin);
  });

  it("is first on PATH after sourcing scripts/pulumi-env.sh, whatever Node the machine has", async () => {
    const found = await run(
      "bash",
      ["-c", "source scripts/pulumi-env.sh && command -v node && node --version"],
      { cwd: REPO_ROOT, env: { ...process.env, PATH: "/usr/bin:/bin" } },
    );
    assert.deepEqual(found.trim().split("\n"), [path.join(bin, "node"), `v${version}`]);
  });

  it("satisfies the engines of every package the repository installs", () => {
    assert.deepEqual(unsatisfiedEngines(path.join(REPO_ROOT, "node_modules"), version), []);
    const declared = (
      JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as Manifest
    ).engines?.node;
    assert.ok(declared && semver.satisfies(version, declared), `package.json engines ${declared}`);
  });

  it("installs the TypeScript example with the SDK tarball: no warning, @pulumi/pulumi at the minimum or later", async () => {
    const { version: sdkVersion } = JSON.parse(
      readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"),
    ) as Manifest;
    const tarball = path.join(
      REPO_ROOT,
      "dist",
      "release",
      `v${sdkVersion}`,
      `vmplacement-vmplacement-${sdkVersion}.tgz`,
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-node-"));
    try {
      cpSync(
        path.join(REPO_ROOT, "examples", "typescript", "package.json"),
        path.join(dir, "package.json"),
      );
      // npm's own words, warnings included: EBADENGINE is a warning, not an error.
      const output = await run(
        "bash",
        ["-c", `npm install --no-audit --no-fund --prefer-offline --loglevel=warn ${tarball} 2>&1`],
        { cwd: dir, timeoutMs: 240_000 },
      );
      assert.doesNotMatch(output, /EBADENGINE|Unsupported engine/);
      // No warning at all: install scripts npm asks about are decided in the manifest (allowScripts).
      assert.doesNotMatch(output, /npm warn/i);
      assert.deepEqual(unsatisfiedEngines(path.join(dir, "node_modules"), version), []);
      const pulumi = JSON.parse(
        readFileSync(path.join(dir, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8"),
      ) as Manifest;
      const minimum = /^PULUMI_MIN_VERSION=(\S+)/m.exec(
        readFileSync(path.join(REPO_ROOT, "scripts", "find-pulumi.sh"), "utf8"),
      )![1];
      assert.ok(
        semver.gte(pulumi.version!, minimum),
        `@pulumi/pulumi ${pulumi.version} < ${minimum}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
