// The engine's own measurement of a guest's memory behaviour, through our libvirt client on the
// lab: QEMU's dirty-rate calculation tells an idle guest from one that outruns a 40 MiB/s link,
// and the resident memory is what QEMU holds, not the configured size.
import assert from "node:assert/strict";
import type { ConnectionPool } from "../../../provider/src/engine";
import { measureMemory } from "../../../provider/src/engine/measure";
import { loadLab, type LabDescription, type LabHost } from "../../lab/lab";
import { GuestFactory, labPool } from "./lab-engine";

const MiB = 1024 * 1024;

describe("engine: measured guest memory", function () {
  let lab: LabDescription;
  let h1: LabHost;
  let pool: ConnectionPool;
  let guests: GuestFactory;

  before(() => {
    lab = loadLab();
    [h1] = lab.hosts;
    pool = labPool(lab);
    guests = new GuestFactory(lab);
  });
  after(async () => {
    await pool.closeAll();
    await guests.cleanup();
  });

  async function measured(kind: "heartbeat" | "churn-fast") {
    const g = await guests.local("measure", h1, { kind, memoryMiB: 512 });
    const conn = await pool.get(h1.name);
    return measureMemory(conn, await conn.domains.lookupByName(g.name), 2);
  }

  it("tells an idle guest from one dirtying faster than a 40 MiB/s link, with its resident memory", async () => {
    const idle = await measured("heartbeat");
    const fast = await measured("churn-fast");
    console.log(
      `      dirty rate MiB/s: heartbeat ${(idle.dirtyRateBps ?? NaN) / MiB}, churn-fast ${(fast.dirtyRateBps ?? NaN) / MiB}; resident MiB: ${(idle.residentBytes ?? NaN) / MiB}, ${(fast.residentBytes ?? NaN) / MiB}`,
    );
    assert.equal(idle.dirtyRateProblem, undefined);
    assert.ok(idle.dirtyRateBps !== undefined && idle.dirtyRateBps <= 2 * MiB, "idle guest");
    assert.ok(fast.dirtyRateBps !== undefined && fast.dirtyRateBps > 40 * MiB, "churn-fast guest");
    // A boot-sector guest touches little of its 512 MiB; the churn guest its working set more.
    for (const m of [idle, fast])
      assert.ok(
        m.residentBytes !== undefined && m.residentBytes > 0 && m.residentBytes < 512 * MiB,
        `resident ${m.residentBytes}`,
      );
  });
});
