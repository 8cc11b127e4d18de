// Pulumi semantics through the real CLI: a refresh records a move made outside Pulumi as drift
// of the placement's inputs, so ignoreChanges keeps the VM where it went (with `up --refresh` and
// with the refresh the placement asks for before every update); without it, `up` moves the VM
// back. A host computed from a resource not created yet previews as unknown and is never
// planned as null.
import assert from "node:assert/strict";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { hostsRunning, virsh } from "../lab/virsh";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import type { PulumiWorkspace } from "../support/pulumi-cli";
import { labHosts, placementWorkspace } from "./placement-workspace";

describe("provider e2e: ignoreChanges, refresh before update, unknown inputs", function () {
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
    guest = await guests.shared("e2e-sem", h1, 6);
    ws = placementWorkspace();
    await ws.pulumi(["stack", "init", "sem"]);
    await ws.pulumi(["config", "set", "domain", guest.name]);
    await ws.pulumi(["config", "set", "host", h1.name]);
    await ws.pulumi([
      "config",
      "set",
      "--path",
      "vmplacement:hosts",
      JSON.stringify(labHosts(lab)),
    ]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
  });
  after(async () => {
    await guests?.cleanup();
    ws?.cleanup();
  });

  const placementState = async () => {
    const state = JSON.parse(await ws.pulumi(["stack", "export"]));
    return state.deployment.resources.find(
      (r: { type: string }) => r.type === "vmplacement:index:VmPlacement",
    );
  };
  /** A live move made outside Pulumi, as an operator or an HA tool would make it. */
  const moveOutside = (from: LabHost, to: LabHost) =>
    virsh(
      from,
      "migrate",
      "--live",
      "--p2p",
      "--persistent",
      "--undefinesource",
      "--migrateuri",
      `tcp://${to.migrationAddress}`,
      guest.name,
      to.uris.tcp,
    );

  it("asks the engine to refresh it before every update", async () => {
    assert.equal((await placementState()).refreshBeforeUpdate, true);
  });

  it("with ignoreChanges on host, `up --refresh` keeps a VM moved outside Pulumi where it went", async () => {
    await moveOutside(h1, h2);
    await ws.pulumi(["config", "set", "ignoreChanges", JSON.stringify(["host"])]);
    const up = await ws.pulumiWithDiagnostics(["up", "--refresh", "--yes", "--skip-preview"]);
    assert.doesNotMatch(up, /-> /, up);
    assert.deepEqual(await hostsRunning(lab.hosts, guest.name), [h2.name]);
    const state = await placementState();
    assert.equal(state.outputs.currentHost, h2.name);
    // The refreshed inputs say where it is; the program's h1 is ignored.
    assert.equal(state.inputs.host, h2.name);
    assert.equal(state.outputs.migrationCount, 0);
  });

  it("holds without --refresh too: the refresh before update sees the next outside move", async () => {
    await moveOutside(h2, h1);
    await ws.pulumi(["preview", "--expect-no-changes"]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(await hostsRunning(lab.hosts, guest.name), [h1.name]);
    assert.equal((await placementState()).inputs.host, h1.name);
  });

  it("without ignoreChanges, a plain `up` moves the VM back to its declared host", async () => {
    await moveOutside(h1, h2);
    await ws.pulumi(["config", "rm", "ignoreChanges"]);
    const preview = await ws.pulumiWithDiagnostics(["preview", "--diff"]);
    assert.match(preview, new RegExp(`${guest.name}: ${h2.name} -> ${h1.name}`));
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(await hostsRunning(lab.hosts, guest.name), [h1.name]);
    assert.equal((await placementState()).outputs.migrationCount, 1);
  });

  it("previews a host not known yet as unknown, plans nothing, then moves once it is known", async () => {
    await ws.pulumi(["config", "set", "host", h2.name]);
    await ws.pulumi(["config", "set", "hostFromResource", "true"]);
    const before = await placementState();
    const preview = await ws.pulumiWithDiagnostics(["preview", "--diff"]);
    assert.match(preview, /host-choice/);
    assert.match(preview, /host\s*:\s*"h1"\s*=>\s*\[unknown\]/, preview);
    // Never planned with the unknown host taken for null.
    assert.doesNotMatch(preview, /-> null|host 'null'|null ->/);
    assert.deepEqual(await placementState(), before);
    assert.deepEqual(await hostsRunning(lab.hosts, guest.name), [h1.name]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(await hostsRunning(lab.hosts, guest.name), [h2.name]);
    const state = await placementState();
    assert.equal(state.outputs.currentHost, h2.name);
    assert.equal(state.outputs.lastMigration.result, "succeeded");
    await ws.pulumi(["preview", "--expect-no-changes"]);
  });
});
