// The project's Pulumi toolchain works offline: the pinned CLI runs a TypeScript program
// through the nodejs language host against a local file backend. scripts/pulumi-env.sh uses a
// CLI already on PATH when it is at least the stated minimum, and builds one only otherwise.
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "../lab/run";
import { pulumiWorkspace, type PulumiWorkspace } from "../support/pulumi-cli";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const script = (name: string) => readFileSync(path.join(REPO_ROOT, "scripts", name), "utf8");

describe("pulumi toolchain", function () {
  let ws: PulumiWorkspace;

  before(() => {
    ws = pulumiWorkspace({
      "Pulumi.yaml": "name: toolchain-smoke\nruntime: nodejs\n",
      "index.ts": [
        'import * as pulumi from "@pulumi/pulumi";',
        "const config = new pulumi.Config();",
        'export const greeting: string = `hello ${config.get("who") ?? "lab"}`;',
        "export const stack = pulumi.getStack();",
        "export const node = process.version;",
        "",
      ].join("\n"),
    });
  });

  after(() => ws.cleanup());

  it("reports the pinned CLI version", async () => {
    assert.match((await ws.pulumi(["version"])).trim(), /^v3\.\d+\.\d+$/);
  });

  it("runs `pulumi up` of a TypeScript program offline, on the project's Node, then destroys it", async () => {
    await ws.pulumi(["stack", "init", "smoke"]);
    await ws.pulumi(["config", "set", "who", "vmplacement"]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    const outputs = await ws.output<Record<string, unknown>>();
    assert.deepEqual(outputs, {
      greeting: "hello vmplacement",
      stack: "smoke",
      node: process.version,
    });
    await ws.pulumi(["destroy", "--yes"]);
    await ws.pulumi(["stack", "rm", "--yes"]);
  });

  describe("a Pulumi CLI already installed", () => {
    let dir: string;
    let pinned: string;
    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), "vmp-cli-"));
      pinned = (await run(path.join(REPO_ROOT, "scripts", "install-pulumi.sh"), [])).trim();
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** A "user install": a pulumi on PATH that reports `version` and runs the real CLI otherwise. */
    function userCli(name: string, version: string): string {
      const bin = path.join(dir, name);
      const exe = path.join(bin, "pulumi");
      mkdirSync(bin, { recursive: true });
      writeFileSync(
        exe,
        `#!/bin/sh\n[ "$1" = version ] && { echo ${version}; exit 0; }\nexec ${pinned}/pulumi "$@"\n`,
      );
      chmodSync(exe, 0o755);
      return bin;
    }
    /** Which pulumi a shell finds after sourcing pulumi-env.sh with this PATH and cache. */
    const resolved = (pathVar: string, cache: string) =>
      run("bash", ["-c", "source scripts/pulumi-env.sh && command -v pulumi"], {
        cwd: REPO_ROOT,
        env: { ...process.env, PATH: pathVar, VMP_PULUMI_CACHE: cache },
      });

    it("states as its minimum the version the tests run against", () => {
      const min = /^PULUMI_MIN_VERSION=(\S+)/m.exec(script("find-pulumi.sh"))![1];
      const pinnedVersion = /^PULUMI_VERSION=(\S+)/m.exec(script("install-pulumi.sh"))![1];
      assert.equal(min, pinnedVersion);
    });

    it("uses a CLI on PATH at the minimum or later, building nothing", async () => {
      const min = /^PULUMI_MIN_VERSION=(\S+)/m.exec(script("find-pulumi.sh"))![1];
      const emptyCache = mkdtempSync(path.join(dir, "cache-"));
      for (const version of [`v${min}`, "v3.999.0"]) {
        const bin = userCli(`user-${version}`, version);
        assert.equal(
          (await resolved(`${bin}:/usr/bin:/bin`, emptyCache)).trim(),
          path.join(bin, "pulumi"),
        );
      }
      assert.deepEqual(readdirSync(emptyCache), [], "no toolchain was built");
    });

    it("needs no Go for the demo's setup when a recent CLI is installed", async () => {
      const bin = userCli("no-go", "v3.999.0");
      // A `go` first on PATH that only leaves a mark: any use of Go, from wherever, shows.
      const goCalls = path.join(dir, "go-calls");
      writeFileSync(path.join(bin, "go"), `#!/bin/sh\necho "go $*" >>${goCalls}\nexit 1\n`);
      chmodSync(path.join(bin, "go"), 0o755);
      const emptyCache = mkdtempSync(path.join(dir, "cache-"));
      const env = { ...process.env, PATH: `${bin}:/usr/bin:/bin`, VMP_PULUMI_CACHE: emptyCache };
      // What `make demo` runs besides the lab and the build: the CLI check and the npm package.
      await run("make", ["-s", "pulumi"], { cwd: REPO_ROOT, env });
      await run(path.join(REPO_ROOT, "scripts", "packages.sh"), ["nodejs"], {
        cwd: REPO_ROOT,
        env,
      });
      await run(path.join(REPO_ROOT, "scripts", "release.sh"), ["nodejs"], {
        cwd: REPO_ROOT,
        env: { ...env, VMP_RELEASE_DIR: path.join(dir, "release") },
      });
      assert.deepEqual(readdirSync(emptyCache), [], "no toolchain was built");
      assert.equal(existsSync(goCalls), false, "Go was not used");
    });

    it("does not use an older CLI: the pinned build comes first", async () => {
      const bin = userCli("old", "v3.100.0");
      const cache = path.dirname(path.dirname(pinned));
      assert.equal(
        (await resolved(`${bin}:/usr/bin:/bin`, cache)).trim(),
        path.join(pinned, "pulumi"),
      );
    });
  });
});
