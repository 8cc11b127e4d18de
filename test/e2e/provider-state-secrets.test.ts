// What domains and policies carry stays secret: a guest with a VNC password and a systemd
// credential in its SMBIOS OEM strings, a webhook written into the placement's policy (not a
// MigrationPolicy) and one in vmplacement:defaultPolicy, all set in plain text. Adopted, moved and
// refreshed through the CLI: none of them is in `pulumi stack export` (without --show-secrets),
// `pulumi stack output` or anything the CLI printed; the definition is kept (as a secret) because
// the policy allows failover, and the inline webhook is called.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GuestFactory } from "../integration/engine/lab-engine";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import type { PulumiWorkspace } from "../support/pulumi-cli";
import { labHosts, placementWorkspace } from "./placement-workspace";

describe("provider e2e: what domains and policies carry stays secret", function () {
  this.timeout(300_000);
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let guests: GuestFactory;
  let ws: PulumiWorkspace;
  let hook: Server;
  const events: string[] = [];

  before(async () => {
    lab = loadLab();
    [h1, h2] = lab.hosts;
    guests = new GuestFactory(lab);
    ws = placementWorkspace();
    hook = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        events.push((JSON.parse(body) as { event: string }).event);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  });
  after(async () => {
    await ws?.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
    await guests?.cleanup();
    ws?.cleanup();
    hook?.closeAllConnections();
    await new Promise<void>((r) => hook?.close(() => r()));
  });

  it("keeps a guest's VNC password and credential, and webhooks outside a MigrationPolicy, out of plain state, outputs and the CLI's output", async () => {
    const tag = randomBytes(4).toString("hex");
    const secrets = {
      vnc: `vnc${tag}`.slice(0, 8),
      credential: `cred-${tag}`,
      inlineToken: `inline-${tag}`,
      inlineHeader: `Bearer header-${tag}`,
      defaultToken: `default-${tag}`,
    };
    const g = await guests.local("e2e-secret", h1, {
      memoryMiB: 128,
      sizeMiB: 16,
      secrets: { vncPassword: secrets.vnc, credential: secrets.credential },
    });
    const port = (hook.address() as AddressInfo).port;
    await ws.pulumi(["stack", "init", "state-secrets"]);
    const config: Record<string, unknown> = {
      domain: g.name,
      host: h1.name,
      pool: "local",
      "vmplacement:hosts": labHosts(lab),
      // Written into the placement, in plain text: the provider keeps it secret.
      policy: {
        allowFailover: true,
        notify: {
          url: `http://127.0.0.1:${port}/inline?token=${secrets.inlineToken}`,
          headers: { authorization: secrets.inlineHeader },
        },
      },
      "vmplacement:defaultPolicy": {
        notify: { url: `http://127.0.0.1:${port}/default?token=${secrets.defaultToken}` },
      },
    };
    await ws.setConfig(config);
    const printed: string[] = [];
    printed.push(await ws.pulumiWithDiagnostics(["up", "--yes", "--skip-preview"]));
    await ws.pulumi(["config", "set", "host", h2.name]);
    printed.push(await ws.pulumiWithDiagnostics(["preview", "--diff"]));
    printed.push(await ws.pulumiWithDiagnostics(["up", "--yes", "--skip-preview", "--diff"]));
    printed.push(await ws.pulumiWithDiagnostics(["refresh", "--yes", "--skip-preview", "--diff"]));
    const exported = await ws.pulumi(["stack", "export"]);
    const outputs = await ws.pulumi(["stack", "output", "--json"]);
    for (const [what, value] of Object.entries(secrets)) {
      assert.ok(!exported.includes(value), `${what} is not in the state in plain text`);
      assert.ok(!outputs.includes(value), `${what} is not in the stack outputs`);
      for (const p of printed) assert.ok(!p.includes(value), `${what} is not in:\n${p}`);
    }
    // Kept, encrypted: the definition for a failover, with what the domain needs.
    const shown = await ws.pulumi(["stack", "export", "--show-secrets"]);
    assert.ok(shown.includes(secrets.credential), "the definition is kept (as a secret)");
    const state = JSON.parse(exported) as {
      deployment: { resources: Array<{ type: string; outputs: Record<string, unknown> }> };
    };
    const placement = state.deployment.resources.find(
      (r) => r.type === "vmplacement:index:VmPlacement",
    )!;
    assert.match(JSON.stringify(placement.outputs.definitionXml), /ciphertext/);
    assert.equal(placement.outputs.currentHost, h2.name);
    assert.ok(events.includes("succeeded"), `the inline webhook was called: ${events.join(", ")}`);
  });
});
