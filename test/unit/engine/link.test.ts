import assert from "node:assert/strict";
import {
  chooseLink,
  DEFAULT_LINK_MIBPS,
  measuredBetween,
  measuredLinkOf,
} from "../../../provider/src/engine/link";
import { DEFAULT_POLICY } from "../../../provider/src/engine/policy";
import type { MigrationPolicy } from "../../../provider/src/engine/types";

describe("link rate for a forecast", () => {
  const earlier = [
    { from: "h1", to: "h2", mibps: 300, at: "2026-12-01T10:00:00Z" },
    { from: "h2", to: "h1", mibps: 280, at: "2026-12-02T10:00:00Z" },
    { from: "h1", to: "h3", mibps: 900, at: "2026-12-03T10:00:00Z" },
    { from: "h1", to: "h2", mibps: 0, at: "2026-12-04T10:00:00Z" },
  ];
  const policy = (bandwidthMibps = 0) => ({ ...DEFAULT_POLICY, bandwidthMibps });

  it("uses the highest of the newest usable measurements between the same hosts, either direction", () => {
    assert.equal(measuredBetween(earlier, "h1", "h2")?.mibps, 300);
    assert.equal(measuredBetween(earlier, "h3", "h1")?.mibps, 900);
    assert.equal(measuredBetween(earlier, "h2", "h3"), undefined);
    // Only the newest three count: an old fast reading does not stick.
    const many = [500, 200, 210, 220].map((mibps, day) => ({
      from: "h1",
      to: "h2",
      mibps,
      at: `2026-12-0${day + 1}T10:00:00Z`,
    }));
    assert.equal(measuredBetween(many, "h1", "h2")?.mibps, 220);
  });

  const cases: Array<[string, number, Parameters<typeof chooseLink>[3], number, RegExp]> = [
    ["nothing known", 0, {}, DEFAULT_LINK_MIBPS, /^assumed 1024 MiB\/s \(set migrationLinkMibps/],
    ["a cap alone", 40, {}, 40, /^policy bandwidthMibps$/],
    [
      "the inventory, one side",
      0,
      { inventory: { target: 500 } },
      500,
      /^inventory migrationLinkMibps$/,
    ],
    [
      "the inventory, both sides: the lower",
      0,
      { inventory: { source: 500, target: 200 } },
      200,
      /the lower of h1 and h2/,
    ],
    [
      "the inventory wins over a measurement",
      0,
      { inventory: { source: 500 }, measured: earlier },
      500,
      /inventory/,
    ],
    [
      "a measurement",
      0,
      { measured: earlier },
      300,
      /measured by the move h1 -> h2 at 2026-12-01T10:00:00Z/,
    ],
    ["a cap below the link binds", 100, { measured: earlier }, 100, /policy bandwidthMibps/],
    ["a cap above the link does not", 1000, { inventory: { source: 500 } }, 500, /inventory/],
  ];
  for (const [name, cap, facts, mibps, source] of cases)
    it(name, () => {
      const link = chooseLink(policy(cap), "h1", "h2", facts);
      assert.equal(link.mibps, mibps);
      assert.match(link.source, source);
    });

  it("keeps QEMU's pass rate from the measurement, within a cap the link cannot reach", () => {
    const measured = [
      { from: "h1", to: "h2", mibps: 200, passMibps: 450, at: "2026-12-01T10:00:00Z" },
    ];
    const link = chooseLink(policy(), "h1", "h2", { measured });
    assert.equal(link.mibps, 200);
    assert.equal(link.switchMibps, 450);
    assert.match(link.source, /QEMU's passes ran at 450 MiB\/s/);
    assert.equal(chooseLink(policy(300), "h1", "h2", { measured }).switchMibps, 300);
    assert.equal(chooseLink(policy(100), "h1", "h2", { measured }).switchMibps, undefined);
    assert.equal(
      chooseLink(policy(), "h1", "h2", { inventory: { source: 500 } }).switchMibps,
      undefined,
    );
  });

  it("a finished move is a measurement only when it succeeded and reached a rate", () => {
    const record = { from: "h1", to: "h2", linkMibps: 210, passMibps: 400, finishedAt: "t" };
    assert.deepEqual(measuredLinkOf({ ...record, result: "succeeded" }), {
      from: "h1",
      to: "h2",
      mibps: 210,
      passMibps: 400,
      at: "t",
    });
    assert.equal(measuredLinkOf({ ...record, result: "failed" }), undefined);
    assert.equal(measuredLinkOf({ ...record, linkMibps: undefined }), undefined);
  });

  it("post-copy runs at the link, not the pre-copy cap, unless postcopyBandwidthMibps caps it", () => {
    const capped = (p: Partial<MigrationPolicy>, facts: Parameters<typeof chooseLink>[3]) =>
      chooseLink({ ...policy(40), ...p }, "h1", "h2", facts).postcopyMibps;
    assert.equal(capped({}, {}), DEFAULT_LINK_MIBPS);
    assert.equal(capped({}, { inventory: { source: 500 } }), 500);
    assert.equal(capped({ postcopyBandwidthMibps: 80 }, { inventory: { source: 500 } }), 80);
    assert.equal(capped({ postcopyBandwidthMibps: 800 }, { inventory: { source: 500 } }), 500);
    assert.equal(capped({ postcopyBandwidthMibps: 2000 }, {}), 2000);
  });
});
