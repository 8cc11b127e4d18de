// MigrationPolicy and customTimeouts through the real CLI: a churning VM that pre-copy cannot
// move is switched to post-copy and arrives; an update that runs past its customTimeouts is
// stopped with the VM still on its source (the webhook hears it failed), and a later `up`
// completes the move; the policy's webhook hears when a move starts and ends, its token secret.
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { assertHeartbeatContinues, readHeartbeats, waitForHeartbeat } from "../lab/guests";
import { hostsRunning, volumeExists } from "../lab/virsh";
import { GuestFactory } from "../integration/engine/lab-engine";
import type { PulumiWorkspace } from "../support/pulumi-cli";
import { labHosts, placementWorkspace } from "./placement-workspace";

interface Heard {
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** A webhook receiver on loopback that records what it hears. */
async function webhookReceiver(): Promise<{ url: string; heard: Heard[]; close(): Promise<void> }> {
  const heard: Heard[] = [];
  const server = createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      heard.push({ headers: req.headers, body: JSON.parse(data) });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/migrations`,
    heard,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("provider e2e: migration policies and customTimeouts", function () {
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let guests: GuestFactory;
  let ws: PulumiWorkspace;

  before(async () => {
    lab = loadLab();
    [h1, h2] = lab.hosts;
    guests = new GuestFactory(lab);
    ws = placementWorkspace();
  });
  after(async () => {
    await guests?.cleanup();
    ws?.cleanup();
  });

  /** A new stack placing `domain` on h1 (adopted where it runs) with the given config. */
  async function stack(name: string, domain: string, config: Record<string, unknown>) {
    await ws.pulumi(["stack", "select", "--create", name]);
    const all = { domain, host: h1.name, "vmplacement:hosts": labHosts(lab), ...config };
    for (const [key, value] of Object.entries(all))
      await ws.pulumi([
        "config",
        "set",
        key,
        typeof value === "string" ? value : JSON.stringify(value),
      ]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
  }
  const lastMigration = async () =>
    ws.output<Record<string, unknown> & { steps: string[] }>("lastMigration");

  it("moves a churning VM under a post-copy MigrationPolicy", async () => {
    const g = await guests.shared("e2e-pc", h1, 2, "churn-fast", 512);
    // 40 MiB/s is slower than the guest dirties memory: pre-copy cannot converge.
    await stack("postcopy", g.name, {
      policyResource: {
        allowPostCopy: true,
        bandwidthMibps: 40,
        progressTimeoutSeconds: 3,
        completionTimeoutSecondsPerGib: 10,
        downtimeLadderMs: [300, 400],
      },
    });
    await ws.pulumi(["config", "set", "host", h2.name]);
    const preview = await ws.pulumiWithDiagnostics(["preview", "--diff"]);
    assert.match(
      preview,
      new RegExp(`${g.name}: h1 -> h2, live-shared, needs post-copy \\(after the first pass\\)`),
    );
    assert.match(preview, /PRECOPY_MAY_NOT_CONVERGE/);
    await ws.pulumi(["up", "--yes", "--skip-preview"], 600_000);
    const record = await lastMigration();
    assert.equal(record.result, "succeeded", JSON.stringify(record));
    assert.equal(record.postCopy, true, record.steps.join("\n"));
    assert.ok(
      record.steps.some((s) => /switched to post-copy \(the forecast said/.test(s)),
      record.steps.join("\n"),
    );
    assert.equal(record.finalHost, h2.name);
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h2.name]);
    await waitForHeartbeat(h2, g.name, 1);
    assertHeartbeatContinues(h1, h2, g.name);
  });

  it("stops an update that runs past customTimeouts.update; the VM stays, a later up moves it", async () => {
    const g = await guests.local("e2e-to", h1, { memoryMiB: 512 });
    const webhook = await webhookReceiver();
    try {
      // At 5 MiB/s the move needs minutes; the update may take 5 s.
      await ws.pulumi(["stack", "init", "timeouts"]);
      await ws.setSecret("webhookToken", "Bearer t");
      await stack("timeouts", g.name, {
        pool: "local",
        policyResource: { bandwidthMibps: 5 },
        updateTimeout: "5s",
        webhookUrl: webhook.url,
      });
      await ws.pulumi(["config", "set", "host", h2.name]);
      const failure = await ws.pulumiWithDiagnostics(["up", "--yes", "--skip-preview"]).then(
        () => "",
        (e: Error) => e.message,
      );
      assert.match(failure, /update timeout of 5 s \(customTimeouts\.update\) passed/);
      assert.match(failure, new RegExp(`keeps running on ${h1.name}`));
      assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h1.name]);
      const leftover = await volumeExists(h2, "local", `${g.name}.qcow2`);
      assert.equal(leftover, false, "target volume removed");
      const last = readHeartbeats(h1, g.name).pop()!;
      await waitForHeartbeat(h1, g.name, last + 2);
      assert.deepEqual(
        webhook.heard.map((h) => h.body.event),
        ["started", "failed"],
      );
      const failed = webhook.heard[1].body;
      assert.match(failed.error as string, /customTimeouts\.update/);
      assert.equal((failed.record as Record<string, unknown>).errorCategory, "deadline");

      await ws.pulumi(["config", "rm", "updateTimeout"]);
      await ws.pulumi(["config", "set", "policyResource", JSON.stringify({ bandwidthMibps: 0 })]);
      await ws.pulumi(["up", "--yes", "--skip-preview"]);
      assert.equal((await lastMigration()).finalHost, h2.name);
      assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h2.name]);
    } finally {
      await webhook.close();
    }
  });

  it("notifies the policy's webhook when a move starts and ends, keeping its token secret", async () => {
    const webhook = await webhookReceiver();
    const heard = webhook.heard;
    const token = "Bearer webhook-t0ken-4e1f";
    try {
      const g = await guests.local("e2e-hook", h1, { memoryMiB: 128, sizeMiB: 16 });
      await ws.pulumi(["stack", "init", "webhook"]);
      await ws.setSecret("webhookToken", token);
      await stack("webhook", g.name, {
        pool: "local",
        policyResource: {},
        webhookUrl: webhook.url,
      });
      assert.equal(heard.length, 0, "adopting a VM where it runs is no move");
      await ws.pulumi(["config", "set", "host", h2.name]);
      await ws.pulumi(["up", "--yes", "--skip-preview"]);

      assert.deepEqual(
        heard.map((h) => h.body.event),
        ["started", "succeeded"],
      );
      for (const h of heard) assert.equal(h.headers.authorization, token);
      const [started, done] = heard.map((h) => h.body);
      assert.equal(started.domain, g.name);
      assert.equal(started.from, h1.name);
      assert.equal(started.to, h2.name);
      assert.match(started.summary as string, new RegExp(`${g.name}: h1 -> h2`));
      const record = done.record as Record<string, unknown>;
      assert.equal(record.result, "succeeded");
      assert.equal(record.finalHost, h2.name);
      const exported = await ws.pulumi(["stack", "export"]);
      assert.doesNotMatch(exported, /webhook-t0ken/, "the token never appears in plain state");
      // Inputs are recorded as the program gave them (the generated SDKs make `notify` secret;
      // this program registers by token and does not); every output keeps the webhook secret.
      for (const r of JSON.parse(exported).deployment.resources as Array<{ outputs?: unknown }>)
        assert.doesNotMatch(JSON.stringify(r.outputs ?? {}), /\/migrations/, "no plain URL");
    } finally {
      await webhook.close();
    }
  });
});
