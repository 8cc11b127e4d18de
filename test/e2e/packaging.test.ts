// Packaging: `make dist`'s tarball installs with `pulumi plugin install --file`, and a program
// with no plugin path finds and uses the installed provider.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadLab } from "../lab/lab";
import { run } from "../lab/run";
import { GuestFactory } from "../integration/engine/lab-engine";
import { labHosts, placementWorkspace } from "./placement-workspace";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

describe("packaging: the plugin tarball", function () {
  it("installs with pulumi plugin install and serves a program", async () => {
    const lab = loadLab();
    const guests = new GuestFactory(lab);
    const tarball = (
      await run(path.join(REPO_ROOT, "scripts", "dist.sh"), [], { timeoutMs: 300_000 })
    ).trim();
    const version = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).version;
    const ws = placementWorkspace({}, { pluginPath: false });
    try {
      await ws.pulumi(["plugin", "install", "resource", "vmplacement", version, "--file", tarball]);
      assert.match(
        await ws.pulumi(["plugin", "ls"]),
        new RegExp(`vmplacement\\s+resource\\s+${version.replace(/\./g, "\\.")}`),
      );
      const g = await guests.local("pkg", lab.hosts[0], { memoryMiB: 128, sizeMiB: 16 });
      await ws.pulumi(["stack", "init", "pkg"]);
      await ws.pulumi(["config", "set", "domain", g.name]);
      await ws.pulumi(["config", "set", "host", lab.hosts[0].name]);
      await ws.pulumi(["config", "set", "vmplacement:hosts", JSON.stringify(labHosts(lab))]);
      await ws.pulumi(["up", "--yes", "--skip-preview"]);
      assert.equal(await ws.output("currentHost"), lab.hosts[0].name);
      await ws.pulumi(["destroy", "--yes", "--skip-preview"]);
    } finally {
      ws.cleanup();
      await guests.cleanup();
    }
  });
});
