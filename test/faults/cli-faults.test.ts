// Faults injected while the real Pulumi CLI drives the provider: a host down during refresh and
// preview, the target's daemon killed mid-copy during `up`, the whole `pulumi` process tree
// killed mid-migration, and a webhook that never answers. After each: the VM runs on one host
// with its heartbeat and disk intact, the state still holds the placement (with the failed
// attempt's record where there was one), and refresh + up converge with nothing left over.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { GuestFactory, TestGuest } from "../integration/engine/lab-engine";
import { cutLink, killLibvirtd, processAlive, repairAll, restartLibvirtd } from "../lab/faults";
import type { LabDescription, LabHost } from "../lab/lab";
import { virsh } from "../lab/virsh";
import type { PulumiWorkspace } from "../support/pulumi-cli";
import {
  adoptInStack,
  useCliLab,
  jobsSettled as settled,
  labPicture as picture,
  placementState as stackPlacement,
  processTree,
  sleep,
  upInBackground as upInBackgroundOf,
} from "./cli-stack";
import { recordFault, type FaultRow } from "./fault-results";
import { before as snapshot, checkInvariants, leftovers, type Observed } from "./invariants";

/** One row of the fault table for a move of a local disk through the CLI. */
function recordCliFault(
  fault: string,
  phase: string,
  result: string,
  after: Observed,
  rest: Pick<FaultRow, "state" | "leftovers" | "convergeSeconds">,
): void {
  recordFault({
    fault,
    mode: "live-copy-all",
    phase,
    result,
    ranOn: `${after.host} only`,
    heartbeat: after.heartbeat,
    checksum: after.checksum,
    ...rest,
  });
}

describe("fault tier: injected faults through the Pulumi CLI", function () {
  // Each case runs several CLI commands (each starts the provider) besides the move itself.
  this.timeout(240_000);
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let guests: GuestFactory;
  let ws: PulumiWorkspace;

  const fixture = useCliLab();
  before(() => ({ lab, h1, h2, guests, ws } = fixture));

  /** A new stack adopting `g` on h1, with a slow storage copy so a fault lands mid-copy. */
  const adopt = (name: string, g: TestGuest, config: Record<string, unknown> = {}) =>
    adoptInStack(ws, lab, name, g, h1, config);
  const placementState = () => stackPlacement(ws);
  const upInBackground = () => upInBackgroundOf(ws);
  const jobsSettled = (domain: string) => settled(lab, domain);
  const labPicture = (g: TestGuest) => picture(lab, g);

  /** Waits until the domain's migration job runs on the source (bounded). */
  async function migrationRunning(domain: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
      if (/Job type:\s+Unbounded/.test(await virsh(h1, "domjobinfo", domain).catch(() => "")))
        return;
      await sleep(200);
    }
    throw new Error(`the migration of ${domain} was never seen running on ${h1.name}`);
  }

  /** refresh then up converge to h2 with nothing left over; returns the seconds it took. */
  async function converge(g: TestGuest, from: string, live: boolean): Promise<number> {
    const started = Date.now();
    const where = snapshot(
      lab.hosts.find((h) => h.name === from)!,
      g,
    );
    // The fault is repaired: the move no longer needs the slow copy that let it land mid-copy.
    await ws.pulumi(["config", "set", "policy", "{}"]);
    await ws.pulumi(["refresh", "--yes", "--skip-preview"]);
    const up = await ws
      .pulumiWithDiagnostics(["up", "--yes", "--skip-preview", "--diff"])
      .catch(async (err: Error) => {
        throw new Error(`${err.message}\nthe lab when it failed: ${await labPicture(g)}`);
      });
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const final = await checkInvariants(lab, g, where, live);
    assert.equal(final.host, h2.name);
    const state = await placementState();
    assert.equal(state.outputs.currentHost, h2.name);
    assert.deepEqual(await leftovers(lab, g), [], `nothing left over on any host after:\n${up}`);
    return seconds;
  }

  it("refresh and preview with a host down or cut off fail naming it, and keep the placement", async () => {
    const g = await guests.local("cli-refresh", h1);
    await adopt("refresh-down", g);
    // The VM's own host: its daemon is dead.
    killLibvirtd(h1);
    const refresh = await ws.pulumi(["refresh", "--yes", "--skip-preview"]).catch((e: Error) => e);
    assert.ok(refresh instanceof Error, "refresh fails while h1 does not answer");
    assert.match(refresh.message, /cannot tell where .* runs: inventory host\(s\) h1 \(/);
    await ws.pulumi(["config", "set", "host", h2.name]);
    const preview = await ws.pulumi(["preview"]).catch((e: Error) => e);
    assert.ok(preview instanceof Error, "preview fails while h1 does not answer");
    // The refresh the placement asks for before an update finds h1 silent first.
    assert.match(preview.message, /cannot tell where .* runs: inventory host\(s\) h1 \(/);
    assert.equal((await placementState()).outputs.currentHost, h1.name);
    const was = snapshot(h1, g);
    await restartLibvirtd(h1);
    const afterDown = await checkInvariants(lab, g, was, true);
    // The target: its link is cut.
    await cutLink(h2);
    const cut = await ws.pulumi(["preview"]).catch((e: Error) => e);
    assert.ok(cut instanceof Error, "preview fails while h2 is cut off");
    assert.match(cut.message, /HOST_UNREACHABLE: target host h2 is unreachable/);
    await repairAll();
    const afterCut = await checkInvariants(lab, g, was, true);
    assert.equal(afterCut.host, h1.name);
    assert.equal((await placementState()).outputs.currentHost, h1.name);
    const seconds = await converge(g, h1.name, true);
    const kept = {
      state: "placement kept",
      leftovers: "none after converge",
      convergeSeconds: seconds,
    };
    recordCliFault(
      "VM's host libvirtd down during refresh and preview",
      "refresh / preview",
      "refresh and preview failed naming h1",
      afterDown,
      kept,
    );
    recordCliFault(
      "target link cut during preview",
      "preview",
      "preview failed naming h2",
      afterCut,
      kept,
    );
  });

  it("up with the target's libvirtd killed mid-copy fails, keeps the placement with the failed record, and converges", async () => {
    const g = await guests.local("cli-target", h1, { randomMiB: 32 });
    await adopt("target-killed", g);
    await ws.pulumi(["config", "set", "host", h2.name]);
    const was = snapshot(h1, g);
    const up = upInBackground();
    await migrationRunning(g.name);
    // The daemon dies mid-copy and its service manager starts it again 3 s later.
    killLibvirtd(h2);
    await sleep(3000);
    await restartLibvirtd(h2);
    const { code, output } = await up.exited;
    assert.notEqual(code, 0, "the update fails");
    assert.match(output, /migration of .* failed/);
    const state = await placementState();
    assert.equal(state.outputs.currentHost, h1.name, "the state says where it really runs");
    assert.equal(state.outputs.lastMigration?.result, "failed", "the failed attempt is recorded");
    await repairAll();
    const after = await checkInvariants(lab, g, was, true);
    assert.equal(after.host, h1.name);
    const seconds = await converge(g, h1.name, true);
    recordCliFault(
      "target libvirtd killed during pulumi up",
      "storage copy",
      `up failed; state: ${state.outputs.lastMigration?.result} (${state.outputs.lastMigration?.errorCategory})`,
      after,
      {
        state: "placement kept, failed record",
        leftovers: "none after converge",
        convergeSeconds: seconds,
      },
    );
  });

  it("SIGKILL of the whole pulumi tree mid-migration: cancel, refresh and up converge", async () => {
    const g = await guests.local("cli-kill", h1, { randomMiB: 8 });
    await adopt("killed", g);
    await ws.pulumi(["config", "set", "host", h2.name]);
    const was = snapshot(h1, g);
    const up = upInBackground();
    await migrationRunning(g.name);
    // The CLI, its language host and the provider plugin (which has its own process group).
    const tree = await processTree(up.child.pid!);
    assert.ok(tree.length >= 2, `the pulumi tree has the CLI and its plugins: ${tree.join(" ")}`);
    for (const pid of tree) process.kill(pid, "SIGKILL");
    await up.exited;
    const alive = () => tree.filter(processAlive);
    for (let i = 0; i < 50 && alive().length; i++) await sleep(100);
    assert.deepEqual(alive(), [], "every process of the pulumi tree is gone");
    // A peer-to-peer migration runs inside the source daemon: let it settle, then look.
    await jobsSettled(g.name);
    const after = await checkInvariants(lab, g, was, true);
    assert.ok((await placementState()).outputs.currentHost, "the state still holds the placement");
    await ws.pulumi(["cancel", "--yes"]).catch(() => undefined);
    const seconds = await converge(g, after.host, true);
    recordCliFault(
      "SIGKILL of the pulumi process tree",
      "storage copy",
      "CLI killed; the move went on in libvirtd",
      after,
      {
        state: "placement kept",
        leftovers: "none after converge",
        convergeSeconds: seconds,
      },
    );
  });

  it("a webhook that never answers the start notification does not hold the move up or fail it", async () => {
    // It hangs on "started" (every attempt times out) and answers the rest, which must still come.
    const received: string[] = [];
    const hanging: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        const { event } = JSON.parse(body) as { event: string };
        received.push(event);
        if (event !== "started") res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hanging.listen(0, "127.0.0.1", r));
    try {
      const g = await guests.local("cli-hook", h1);
      const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/never`;
      await ws.pulumi(["stack", "select", "--create", "hook"]);
      await ws.setSecret("webhookToken", "Bearer never");
      await adopt("hook", g, { policy: {}, policyResource: {}, webhookUrl: url });
      await ws.pulumi(["config", "set", "host", h2.name]);
      const was = snapshot(h1, g);
      const out = await ws.pulumiWithDiagnostics(["up", "--yes", "--skip-preview"]);
      assert.match(out, /started not notified: .*127\.0\.0\.1/);
      assert.ok(received.includes("succeeded"), `the end was notified: ${received.join(", ")}`);
      const after = await checkInvariants(lab, g, was, true);
      assert.equal(after.host, h2.name);
      assert.equal((await placementState()).outputs.lastMigration?.result, "succeeded");
      assert.deepEqual(await leftovers(lab, g), []);
      recordCliFault(
        "webhook never answers the start notification",
        "start and end notifications",
        "succeeded, with a warning",
        after,
        {
          state: "placement updated",
          leftovers: "none",
          convergeSeconds: 0,
        },
      );
    } finally {
      hanging.closeAllConnections();
      await new Promise<void>((r) => hanging.close(() => r()));
    }
  });
});
