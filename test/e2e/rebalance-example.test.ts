// The rebalance example on the lab: evacuating a host moves its VMs live to the least-loaded
// remaining hosts in one `pulumi up` (preview shows each move first), every VM running on
// exactly one host; ending the evacuation brings them home.
import assert from "node:assert/strict";
import path from "node:path";
import { loadLab, type LabDescription } from "../lab/lab";
import { hostsRunning } from "../lab/virsh";
import { GuestFactory } from "../integration/engine/lab-engine";
import { pulumiWorkspace, type PulumiWorkspace } from "../support/pulumi-cli";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const EXAMPLE = path.join(REPO_ROOT, "examples", "rebalance");

describe("rebalance example: evacuate a host by changing placements", function () {
  let lab: LabDescription;
  let guests: GuestFactory;
  let ws: PulumiWorkspace;
  const homes: Record<string, string> = {};

  before(async () => {
    lab = loadLab();
    guests = new GuestFactory(lab);
    const [h1, h2, h3] = lab.hosts;
    for (const [i, host] of [h1, h1, h1, h1, h2, h3].entries())
      homes[(await guests.local(`rb${i}`, host, { memoryMiB: 128, sizeMiB: 16 })).name] = host.name;
    ws = pulumiWorkspace({}, { programDir: EXAMPLE });
    await ws.pulumi(["stack", "init", "rebalance"]);
    await ws.pulumi(["config", "set", "vms", JSON.stringify(homes)]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
  });
  after(async () => {
    await ws?.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
    ws?.cleanup();
    await guests?.cleanup();
  });

  const where = async () => ws.output<Record<string, string>>("where");
  async function assertEachOnOneHost(expected: Record<string, string>): Promise<void> {
    for (const [vm, host] of Object.entries(expected))
      assert.deepEqual(await hostsRunning(lab.hosts, vm), [host], `${vm} runs only on ${host}`);
  }

  it("evacuates h1: preview shows the moves, up spreads its VMs over h2 and h3", async () => {
    await ws.pulumi(["config", "set", "evacuate", JSON.stringify(["h1"])]);
    const preview = await ws.pulumiWithDiagnostics(["preview"]);
    const leaving = Object.keys(homes).filter((vm) => homes[vm] === "h1");
    for (const vm of leaving) assert.match(preview, new RegExp(`${vm}: h1 -> h[23], live`));

    await ws.pulumi(["up", "--yes", "--skip-preview"], 600_000);
    const now = await where();
    const load = (h: string) => Object.values(now).filter((p) => p === h).length;
    assert.deepEqual(["h1", "h2", "h3"].map(load), [0, 3, 3]);
    await assertEachOnOneHost(now);
  });

  it("brings the VMs home when the evacuation ends", async () => {
    await ws.pulumi(["config", "rm", "evacuate"]);
    await ws.pulumi(["up", "--yes", "--skip-preview"], 600_000);
    assert.deepEqual(await where(), homes);
    await assertEachOnOneHost(homes);
  });
});
