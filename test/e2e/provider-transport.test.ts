// The policy's stream options through the real CLI: TLS verified against the lab CA under the
// target's migrationTlsName (a wrong name is refused by QEMU and the VM stays), parallel
// connections seen as QEMU's multifd channels, and xbzrle compression counted in the record.
import assert from "node:assert/strict";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { assertHeartbeatContinues, waitForHeartbeat } from "../lab/guests";
import { hostsRunning, virsh } from "../lab/virsh";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import type { PulumiWorkspace } from "../support/pulumi-cli";
import { labHosts, placementWorkspace } from "./placement-workspace";

interface Transport {
  tls: boolean;
  tlsDestination?: string;
  parallelConnections: number;
  compression: string;
  transferredBytes?: number;
  compressedPages?: number;
  compressedBytes?: number;
}

describe("provider e2e: TLS, parallel connections and compression", function () {
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let guests: GuestFactory;
  let ws: PulumiWorkspace;

  before(() => {
    lab = loadLab();
    [h1, h2] = lab.hosts;
    guests = new GuestFactory(lab);
    ws = placementWorkspace();
  });
  after(async () => {
    await guests?.cleanup();
    ws?.cleanup();
  });

  async function stack(name: string, g: TestGuest, config: Record<string, unknown>) {
    await ws.pulumi(["stack", "select", "--create", name]);
    const all = { domain: g.name, host: h1.name, "vmplacement:hosts": labHosts(lab), ...config };
    for (const [key, value] of Object.entries(all))
      await ws.pulumi([
        "config",
        "set",
        key,
        typeof value === "string" ? value : JSON.stringify(value),
      ]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
  }
  const setJson = (key: string, value: unknown) =>
    ws.pulumi(["config", "set", key, JSON.stringify(value)]);
  const lastMigration = () =>
    ws.output<{
      result: string;
      mode: string;
      error?: string;
      steps: string[];
      transport?: Transport;
    }>("lastMigration");
  /** The lab's hosts, each naming its certificate (h2's as `h2TlsName`). */
  const tlsHosts = (h2TlsName: string) =>
    labHosts(lab).map((h) => ({
      ...h,
      migrationTlsName: h.name === h2.name ? h2TlsName : h.name,
    }));

  it("moves over TLS with 2 parallel connections, checked against the target's certificate name", async () => {
    const g = await guests.shared("e2e-tls", h1, 4, "heartbeat", 256);
    await stack("tls", g, {
      "vmplacement:hosts": tlsHosts("not-h2.example"),
      policyResource: { tls: true, parallelConnections: 2 },
    });
    await ws.pulumi(["config", "set", "host", h2.name]);

    // The certificate h2 presents is issued to h2 (and its address), not to this name.
    await assert.rejects(ws.pulumi(["up", "--yes", "--skip-preview"], 300_000));
    const refused = await ws.pulumi(["stack", "export"]);
    assert.match(refused, /not-h2\.example/, "the record names the TLS destination it tried");
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h1.name], "the VM stayed");
    const failed = JSON.parse(refused).deployment.resources.find(
      (r: { type: string }) => r.type === "vmplacement:index:VmPlacement",
    ).outputs;
    assert.equal(failed.currentHost, h1.name);
    assert.equal(failed.lastMigration.result, "failed");
    assert.match(failed.lastMigration.error, /certificate|TLS|tls/i);

    await setJson("vmplacement:hosts", tlsHosts(h2.name));
    await ws.pulumi(["up", "--yes", "--skip-preview"], 300_000);
    const record = await lastMigration();
    assert.equal(record.result, "succeeded", record.steps.join("\n"));
    assert.deepEqual(
      { ...record.transport, transferredBytes: undefined },
      {
        tls: true,
        tlsDestination: h2.name,
        parallelConnections: 2,
        compression: "none",
        transferredBytes: undefined,
      },
    );
    assert.ok((record.transport?.transferredBytes ?? 0) > 0);
    // QEMU on the target received over 2 multifd channels. (Once the move is done QEMU keeps
    // neither tls-creds nor tls-hostname on the target; the refusal above is what proves TLS.)
    const params = JSON.parse(
      await virsh(h2, "qemu-monitor-command", g.name, '{"execute":"query-migrate-parameters"}'),
    ).return;
    assert.equal(params["multifd-channels"], 2);
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h2.name]);
    await waitForHeartbeat(h2, g.name, 1);
    assertHeartbeatContinues(h1, h2, g.name);
  });

  it("compresses resent pages with xbzrle, and the record counts them", async () => {
    // xbzrle only encodes a page it sent before and still caches: the fast guest rewrites its
    // whole working set every iteration, and without post-copy the move keeps iterating (under
    // auto-converge) until it fits the downtime, so the third iteration on must hit the cache.
    const g = await guests.shared("e2e-xb", h1, 5, "churn-fast", 256);
    await stack("xbzrle", g, {
      policyResource: {
        compression: "xbzrle",
        bandwidthMibps: 100,
        allowPostCopy: false,
        autoConverge: true,
        maxDowntimeMs: 300,
        // Auto-converge needs time to throttle a guest dirtying more than the cap: 60 s, not
        // the 30 s floor (a loaded machine ran out of the floor with 75 MiB left).
        completionTimeoutSecondsPerGib: 240,
      },
    });
    await ws.pulumi(["config", "set", "host", h2.name]);
    await ws.pulumi(["up", "--yes", "--skip-preview"], 300_000);
    const record = await lastMigration();
    assert.equal(record.result, "succeeded", record.steps.join("\n"));
    assert.equal(record.mode, "live-shared", record.steps.join("\n"));
    assert.equal(record.transport?.compression, "xbzrle");
    assert.equal(record.transport?.parallelConnections, 1);
    assert.ok((record.transport?.compressedPages ?? 0) > 0, JSON.stringify(record.transport));
    assert.ok((record.transport?.compressedBytes ?? 0) > 0, JSON.stringify(record.transport));
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h2.name]);
    assertHeartbeatContinues(h1, h2, g.name);
  });
});
