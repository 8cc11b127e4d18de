// The project's Pulumi toolchain works offline: the pinned CLI runs a TypeScript program
// through the nodejs language host against a local file backend.
import assert from "node:assert/strict";
import { pulumiWorkspace, type PulumiWorkspace } from "../support/pulumi-cli";

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
        "",
      ].join("\n"),
    });
  });

  after(() => ws.cleanup());

  it("reports the pinned CLI version", async () => {
    assert.match((await ws.pulumi(["version"])).trim(), /^v3\.\d+\.\d+$/);
  });

  it("runs `pulumi up` of a TypeScript program offline, then destroys it", async () => {
    await ws.pulumi(["stack", "init", "smoke"]);
    await ws.pulumi(["config", "set", "who", "vmplacement"]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    const outputs = await ws.output<Record<string, unknown>>();
    assert.deepEqual(outputs, { greeting: "hello vmplacement", stack: "smoke" });
    await ws.pulumi(["destroy", "--yes"]);
    await ws.pulumi(["stack", "rm", "--yes"]);
  });
});
