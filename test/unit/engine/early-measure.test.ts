// The dirty-rate calculations a refresh starts for the update after it: at most a few windows
// open per host, one per QEMU (a restarted guest is another), reused once, for the same window
// and only for a short while.
import assert from "node:assert/strict";
import type { Domain, LibvirtConnection } from "../../../provider/src/libvirt";
import { EarlyMeasurements } from "../../../provider/src/engine/early-measure";

const dom = (name: string, id = 1): Domain =>
  ({ name, id, uuid: Buffer.from(name.padEnd(16, "-")) }) as unknown as Domain;

function fakeConn(refuse = false) {
  const started: string[] = [];
  const conn = {
    domains: {
      startDirtyRateCalc: async (d: Domain, seconds: number, mode: string) => {
        if (refuse) throw new Error("the dirty rate is already being measured");
        started.push(`${d.name}/${d.id} ${seconds}s ${mode}`);
      },
    },
  } as unknown as LibvirtConnection;
  return { conn, started };
}

describe("early measurements: a refresh's dirty-rate calculations for the update after it", () => {
  let clock = 0;
  const now = () => clock;
  beforeEach(() => (clock = 1_000_000));

  it("starts one per guest and hands it to the plan once, for the same QEMU and window", async () => {
    const early = new EarlyMeasurements(4, 30_000, now);
    const { conn, started } = fakeConn();
    await early.start(conn, "h1", dom("a"), 1, false);
    await early.start(conn, "h1", dom("a"), 1, false); // a second refresh: not started again
    assert.deepEqual(started, ["a/1 1s dirty-bitmap"]);
    clock += 1_300;
    assert.equal(early.take("h1", dom("a", 2), 1), undefined, "a restarted QEMU is another guest");
    assert.equal(early.take("h2", dom("a"), 1), undefined, "another host");
    assert.equal(early.take("h1", dom("a"), 2), undefined, "another window");
    assert.deepEqual(early.take("h1", dom("a"), 1), { startedAtMs: 1_000_000, seconds: 1 });
    assert.equal(early.take("h1", dom("a"), 1), undefined, "taken once");
  });

  it("keeps at most perHost windows open on a host; closed windows free their slot", async () => {
    const early = new EarlyMeasurements(2, 30_000, now);
    const { conn, started } = fakeConn();
    for (const n of ["a", "b", "c"]) await early.start(conn, "h1", dom(n), 1, false);
    await early.start(conn, "h2", dom("d"), 1, true);
    assert.deepEqual(started, [
      "a/1 1s dirty-bitmap",
      "b/1 1s dirty-bitmap",
      "d/1 1s page-sampling",
    ]);
    clock += 1_000;
    await early.start(conn, "h1", dom("c"), 1, false);
    assert.equal(started.at(-1), "c/1 1s dirty-bitmap");
  });

  it("forgets a calculation older than maxAgeMs", async () => {
    const early = new EarlyMeasurements(4, 30_000, now);
    const { conn } = fakeConn();
    await early.start(conn, "h1", dom("a"), 1, false);
    clock += 30_001;
    assert.equal(early.take("h1", dom("a"), 1), undefined);
  });

  it("a calculation QEMU refused is not kept: the plan measures itself", async () => {
    const early = new EarlyMeasurements(4, 30_000, now);
    const { conn } = fakeConn(true);
    await early.start(conn, "h1", dom("a"), 1, true);
    assert.equal(early.take("h1", dom("a"), 1), undefined);
  });
});
