// The churn guests dirty memory at the rates the lab promises: idle, moderate, and faster
// than a 40 MiB/s migration link (measured by QEMU's dirty-rate calculation).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { GuestKind, LabDescription } from "../../lab/lab";
import { loadLab } from "../../lab/lab";
import { buildGuestImage, placeInLocalPool, startGuest } from "../../lab/guests";
import { removeDomainEverywhere, virsh } from "../../lab/virsh";

async function measureDirtyRateMibps(lab: LabDescription, kind: GuestKind): Promise<number> {
  const host = lab.hosts[0];
  const name = `rate-${kind}-${randomBytes(3).toString("hex")}`;
  const image = buildGuestImage(lab, kind, 8, 0);
  try {
    const disk = await placeInLocalPool(lab, host, image, `${name}.qcow2`);
    await startGuest(lab, host, { name, memoryMiB: 512, disk });
    await virsh(host, "domdirtyrate-calc", name, "--seconds", "2", "--mode", "dirty-bitmap");
    for (let i = 0; i < 50; i++) {
      const stats = await virsh(host, "domstats", name, "--dirtyrate");
      const status = /dirtyrate\.calc_status=(\d+)/.exec(stats)?.[1];
      const rate = /dirtyrate\.megabytes_per_second=(\d+)/.exec(stats)?.[1];
      if (status === "2" && rate !== undefined) return Number(rate); // 2: measured
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`dirty rate of ${name} was not measured`);
  } finally {
    await removeDomainEverywhere(lab.hosts, name);
    await virsh(host, "vol-delete", "--pool", "local", `${name}.qcow2`).catch(() => undefined);
    image.cleanup();
  }
}

describe("lab: guest memory dirty rates", function () {
  let lab: LabDescription;
  before(() => (lab = loadLab()));

  it("heartbeat guest is idle, churn-moderate is moderate, churn-fast outruns a 40 MiB/s link", async () => {
    const idle = await measureDirtyRateMibps(lab, "heartbeat");
    const moderate = await measureDirtyRateMibps(lab, "churn-moderate");
    const fast = await measureDirtyRateMibps(lab, "churn-fast");
    console.log(
      `      dirty rate MiB/s: heartbeat ${idle}, churn-moderate ${moderate}, churn-fast ${fast}`,
    );
    assert.ok(idle <= 2, `heartbeat guest dirties ${idle} MiB/s`);
    assert.ok(moderate >= 10 && moderate < 40, `churn-moderate dirties ${moderate} MiB/s`);
    assert.ok(fast > 40, `churn-fast dirties ${fast} MiB/s`);
  });
});
