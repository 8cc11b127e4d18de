// The provider through the real Pulumi CLI on the lab: adopt a running VM, preview a move
// (nothing changes), move it live with `up`, `up` again is a no-op, destroy leaves it running.
import assert from "node:assert/strict";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { assertHeartbeatContinues, waitForHeartbeat } from "../lab/guests";
import { runningDomains } from "../lab/virsh";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import type { PulumiWorkspace } from "../support/pulumi-cli";
import { labHosts, placementWorkspace } from "./placement-workspace";

function stackConfig(lab: LabDescription, domain: string, host: string): string {
  const hosts = lab.hosts
    .map(
      (h) =>
        `    - name: ${h.name}\n      uri: ${h.uris.tcp}\n      migrationAddress: ${h.migrationAddress}`,
    )
    .join("\n");
  return `config:\n  placement:domain: ${domain}\n  placement:host: ${host}\n  placement:pool: local\n  vmplacement:hosts:\n${hosts}\n`;
}

describe("provider e2e: VmPlacement through the Pulumi CLI", function () {
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let guests: GuestFactory;
  let guest: TestGuest;
  let ws: PulumiWorkspace;

  before(async () => {
    lab = loadLab();
    [h1, h2] = lab.hosts;
    guests = new GuestFactory(lab);
    guest = await guests.local("e2e", h1, { memoryMiB: 256 });
    ws = placementWorkspace({ "Pulumi.e2e.yaml": stackConfig(lab, guest.name, h1.name) });
    await ws.pulumi(["stack", "init", "e2e"]);
  });
  after(async () => {
    await guests?.cleanup();
    ws?.cleanup();
  });

  const outputs = () =>
    ws.output<{
      currentHost: string;
      migrationCount: number;
      lastMigration: {
        result: string;
        mode: string;
        forecast: { verdict: string; sources: { disks: string; dirtyRate: string } };
      };
    }>();
  it("adopts the running VM where it is", async () => {
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    const out = await outputs();
    assert.equal(out.currentHost, h1.name);
    assert.equal(out.migrationCount, 0);
  });

  it("previews a move to another host without changing anything", async () => {
    await ws.pulumi(["config", "set", "host", h2.name]);
    const preview = await ws.pulumiWithDiagnostics(["preview", "--diff"]);
    // The forecast comes from measured facts, each with its source.
    assert.match(
      preview,
      new RegExp(
        `${guest.name}: ${h1.name} -> ${h2.name}, live-copy-all, converges, memory \\d+ MiB, disks \\d+ MiB, ~[\\d.]+ s, downtime ~\\d+ ms ` +
          `\\(link 1024 MiB/s: assumed 1024 MiB/s .*; dirty 0 MiB/s: measured over 1 s \\(QEMU dirty-rate calculation(, started by the refresh [\\d.]+ s before the plan)?\\); memory: resident \\d+ MiB of \\d+ MiB configured`,
      ),
    );
    assert.ok((await runningDomains(h1)).includes(guest.name), "still on the source after preview");
  });

  it("moves it live with up, and records the migration", async () => {
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    const out = await outputs();
    assert.equal(out.currentHost, h2.name);
    assert.equal(out.migrationCount, 1);
    assert.equal(out.lastMigration.result, "succeeded");
    assert.equal(out.lastMigration.mode, "live-copy-all");
    assert.equal(out.lastMigration.forecast.verdict, "converges");
    assert.match(out.lastMigration.forecast.sources.disks, /allocation/);
    // Pulumi refreshed the placement right before the update: the update reused the guest's
    // dirty rate that refresh started measuring, rather than wait a window for it.
    assert.match(
      out.lastMigration.forecast.sources.dirtyRate,
      /measured over 1 s \(QEMU dirty-rate calculation, started by the refresh [\d.]+ s before the plan\)/,
    );
    for (const h of lab.hosts)
      assert.equal((await runningDomains(h)).includes(guest.name), h === h2);
    await waitForHeartbeat(h2, guest.name, 1);
    assertHeartbeatContinues(h1, h2, guest.name);
  });

  it("finds nothing to do on a second up", async () => {
    await ws.pulumi(["preview", "--expect-no-changes"]);
  });

  it("imports an existing placement by domain name", async () => {
    await ws.pulumi(["stack", "init", "imported"]);
    await ws.pulumi(["config", "set", "domain", guest.name]);
    await ws.pulumi(["config", "set", "host", h2.name]);
    await ws.pulumi([
      "config",
      "set",
      "--path",
      "vmplacement:hosts",
      JSON.stringify(labHosts(lab)),
    ]);
    await ws.pulumi([
      "import",
      "vmplacement:index:VmPlacement",
      "vm",
      guest.name,
      "--yes",
      "--generate-code=false",
    ]);
    const state = JSON.parse(await ws.pulumi(["stack", "export"]));
    const imported = state.deployment.resources.find(
      (r: { type: string }) => r.type === "vmplacement:index:VmPlacement",
    );
    assert.equal(imported.id, guest.name);
    assert.equal(imported.outputs.currentHost, h2.name);
    await ws.pulumi(["preview", "--expect-no-changes"]);
    await ws.pulumi(["stack", "rm", "--yes", "--force"]);
    await ws.pulumi(["stack", "select", "e2e"]);
  });

  it("leaves the VM running on destroy", async () => {
    await ws.pulumi(["destroy", "--yes", "--skip-preview"]);
    assert.ok((await runningDomains(h2)).includes(guest.name));
  });
});
