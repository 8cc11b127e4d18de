// Failover of a VM on Ceph RBD through the real CLI, with storage fencing. h1's management goes
// silent (libvirtd frozen, sshd gone) while its QEMU still reaches Ceph, and its fence device
// lies: it reports h1 off without touching it. This is exactly what storage fencing is for.
//   (a) `up` blocklists h1's Ceph clients after the (lying) power fence and before the VM starts
//       on h2; it runs on h2 from its RBD image; the record lists the entry. The old QEMU, still
//       running on h1, can no longer write: its write fails (librbd: ESHUTDOWN) and the image is
//       unchanged. While that QEMU runs, a refresh lifts nothing; once it is gone, the refresh
//       removes h1's stale definition and lifts the entry (the record says when).
// What happens without storage fencing (two QEMUs on one image, the exclusive lock letting the
// old one write) is shown in test/integration/lab/ceph-lab.test.ts.
import assert from "node:assert/strict";
import path from "node:path";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import { repairAll, restoreManagement, silenceManagement } from "../lab/faults";
import { cephArgs, diskContentSha256, writeFromQemu } from "../lab/guests";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { run } from "../lab/run";
import { definedDomains, hostsRunning, virsh } from "../lab/virsh";
import { labHosts, placementWorkspace } from "../e2e/placement-workspace";
import type { PulumiWorkspace } from "../support/pulumi-cli";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const FENCE_LAB = path.join(REPO_ROOT, "test", "lab", "fence_lab");
const MiB = 1024 * 1024;

describe("fault tier: failover from Ceph RBD with storage fencing", function () {
  this.timeout(300_000);
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let guests: GuestFactory;
  let ws: PulumiWorkspace | undefined;

  before(() => {
    lab = loadLab();
    [h1, h2] = lab.hosts;
    guests = new GuestFactory(lab);
  });
  afterEach(async () => {
    await repairAll();
    await run("ceph", [...cephArgs(lab.pools.ceph), "osd", "blocklist", "clear"]);
    await ws?.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
    ws?.cleanup();
    ws = undefined;
    await guests.cleanup();
  });

  const blocklist = async () =>
    (await run("ceph", [...cephArgs(lab.pools.ceph), "osd", "blocklist", "ls"])).trim();

  /** A stack placing `g` on h1: h1 has a lying fence device and a storage fence on the lab's cluster. */
  async function adopt(g: TestGuest, policy: Record<string, unknown>): Promise<PulumiWorkspace> {
    const { ceph } = lab.pools;
    const hosts = labHosts(lab).map((h) =>
      h.name === h1.name
        ? {
            ...h,
            fence: { agent: FENCE_LAB, options: { plug: h1.name, lie: "1" } },
            storageFence: { ceph: "lab" },
          }
        : h,
    );
    const key = (await run("ceph", [...cephArgs(ceph), "auth", "get-key", "client.fence"])).trim();
    const w = placementWorkspace();
    ws = w;
    await w.pulumi(["stack", "init", `rbd-fo-${g.name}`]);
    await w.setConfig({
      "vmplacement:hosts": hosts,
      "vmplacement:cephClusters": [{ name: "lab", monitors: ceph.monitors, fenceUser: "fence" }],
      domain: g.name,
      host: h1.name,
      policyResource: { allowFailover: true, ...policy },
    });
    await w.setSecret("vmplacement:cephKeys", JSON.stringify({ lab: key }));
    await w.pulumi(["up", "--yes", "--skip-preview"]);
    return w;
  }

  const placement = async (w: PulumiWorkspace) => {
    const exported = JSON.parse(await w.pulumi(["stack", "export"]));
    return exported.deployment.resources.find(
      (r: { type: string }) => r.type === "vmplacement:index:VmPlacement",
    ).outputs as {
      currentHost: string;
      lastMigration?: { mode: string; storageFence?: { entries: string[]; liftedAt?: string } };
    };
  };

  it("(a) blocklists h1's Ceph clients before the start on h2: the old QEMU cannot write; the entry is lifted once h1 is back", async () => {
    const g = await guests.ceph("rbd-fo-a", h1);
    const w = await adopt(g, { storageFencing: "required" });
    const before = await diskContentSha256(h1, g.disk, g.image.sizeBytes);

    await silenceManagement(h1);
    await w.pulumi(["config", "set", "host", h2.name]);
    assert.match(
      await w.pulumiWithDiagnostics(["preview"]),
      /will fence h1 with fence_lab, blocklist its Ceph clients \(10\.254\.77\.11\) on lab, then start/,
    );
    await w.pulumi(["up", "--yes", "--skip-preview"]);

    const s = await placement(w);
    assert.equal(s.currentHost, h2.name);
    assert.equal(s.lastMigration?.mode, "failover");
    assert.deepEqual(s.lastMigration?.storageFence?.entries, [`${h1.address}:0/0`]);
    assert.match(await blocklist(), new RegExp(`^${h1.address.replace(/\./g, "\\.")}:0/0 `, "m"));
    assert.deepEqual(await hostsRunning([h2, lab.hosts[2]], g.name), [h2.name]);

    // The fence lied: h1's QEMU still runs. Its write fails; the image is as it was.
    await restoreManagement(h1);
    assert.deepEqual((await hostsRunning(lab.hosts, g.name)).sort(), [h1.name, h2.name]);
    assert.match(
      await writeFromQemu(h1, g.name, 0x5a, 4 * MiB),
      /^write failed: Cannot send after transport endpoint shutdown/,
    );
    assert.equal(await diskContentSha256(h2, g.disk, g.image.sizeBytes), before);

    // While the old QEMU runs, the refresh leaves the entry; once it is gone, it is lifted.
    await w.pulumi(["refresh", "--yes"]);
    assert.equal((await placement(w)).lastMigration?.storageFence?.liftedAt, undefined);
    assert.notEqual(await blocklist(), "");
    await virsh(h1, "destroy", g.name);
    await w.pulumi(["refresh", "--yes"]);
    const after = await placement(w);
    assert.ok(after.lastMigration?.storageFence?.liftedAt, "the record says when it was lifted");
    assert.equal(after.currentHost, h2.name);
    // (librbd may add entries of its own, per client, when a lock is broken: only ours is lifted.)
    assert.doesNotMatch(
      await blocklist(),
      new RegExp(`^${h1.address.replace(/\./g, "\\.")}:0/0 `, "m"),
    );
    assert.ok(!(await definedDomains(h1)).includes(g.name), "h1's stale definition is gone");
    // The key never reaches the state.
    const key = (
      await run("ceph", [...cephArgs(lab.pools.ceph), "auth", "get-key", "client.fence"])
    ).trim();
    assert.ok(!(await w.pulumi(["stack", "export"])).includes(key), "no key in the state");
  });
});
