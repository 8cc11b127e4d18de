// The convergence model against hand-computed cases: pass counts, durations and downtimes follow
// from memory, dirty rate and link; the verdict picks the escalation the policy allows.
import assert from "node:assert/strict";
import { forecastLiveMove, type ForecastInput } from "../../../provider/src/engine/forecast";
import { needlessToMeasure } from "../../../provider/src/engine/plan-forecast";
import { DEFAULT_POLICY } from "../../../provider/src/engine/policy";
import type { MigrationPolicy } from "../../../provider/src/engine/types";

const MiB = 1024 * 1024;
const policy = (p: Partial<MigrationPolicy> = {}): MigrationPolicy => ({ ...DEFAULT_POLICY, ...p });
const guest = (g: Partial<ForecastInput>): ForecastInput => ({
  memoryBytes: 512 * MiB,
  dirtyRateBps: 0,
  diskBytes: 0,
  linkBps: 1024 * MiB,
  ...g,
});
const near = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual}, expected ${expected}`);

describe("convergence forecast", () => {
  it("an idle guest converges in one pass: duration is its memory and disks over the link", () => {
    const f = forecastLiveMove(guest({ diskBytes: 1024 * MiB }), policy());
    assert.equal(f.verdict, "converges");
    assert.equal(f.escalation, "none");
    assert.equal(f.passes, 1);
    near(f.durationSeconds, 1 + 0.5, "seconds");
    assert.equal(f.downtimeMs, 1);
    assert.equal(f.memoryBytesSent, 512 * MiB);
  });

  it("a guest dirtying less than the link converges after a few shrinking passes", () => {
    // 512 MiB at 1 GiB/s: 0.5 s, meanwhile 10 MiB dirtied; 10 MiB takes ~9.8 ms and fits 300 ms.
    const f = forecastLiveMove(guest({ dirtyRateBps: 20 * MiB }), policy());
    assert.equal(f.verdict, "converges");
    assert.equal(f.passes, 1);
    near(f.memoryBytesSent, 522 * MiB, "bytes");
    assert.equal(f.downtimeMs, 10);
    // At 40 MiB/s the same guest needs passes of 12.8 s, 6.4 s, 3.2 s ... until 12 MiB is left.
    const slow = forecastLiveMove(guest({ dirtyRateBps: 20 * MiB, linkBps: 40 * MiB }), policy());
    assert.equal(slow.verdict, "converges");
    assert.equal(slow.passes, 6);
    assert.ok(slow.downtimeMs <= 300, `downtime ${slow.downtimeMs}`);
  });

  it("converging only at a raised downtime costs the ladder's waits", () => {
    // It dirties faster than the link, so every pass resends its whole 60 MiB working set:
    // 600 ms at 100 MiB/s, which only the ladder's 1000 ms step allows.
    const input = guest({
      memoryBytes: 256 * MiB,
      dirtyRateBps: 120 * MiB,
      workingSetBytes: 60 * MiB,
      linkBps: 100 * MiB,
    });
    const f = forecastLiveMove(input, policy({ progressTimeoutSeconds: 10 }));
    assert.equal(f.verdict, "converges");
    assert.equal(f.downtimeMs, 600);
    // Two raises (500, then 1000 ms) after 10 s of stall each.
    assert.ok(f.durationSeconds > 20, `seconds ${f.durationSeconds}`);
  });

  it("a guest outrunning the link needs post-copy right after the first pass", () => {
    // The lab case: 512 MiB, churning a 64 MiB working set at 200 MiB/s, 40 MiB/s cap.
    const f = forecastLiveMove(
      guest({ dirtyRateBps: 200 * MiB, workingSetBytes: 64 * MiB, linkBps: 40 * MiB }),
      policy(),
    );
    assert.equal(f.verdict, "needs-post-copy");
    assert.equal(f.escalation, "post-copy-after-first-pass");
    near(f.durationSeconds, 12.8 + 1.6, "seconds");
    assert.equal(f.memoryBytesSent, 576 * MiB);
    assert.equal(f.downtimeMs, 50);
  });

  it("QEMU judges the switch-over by its own pass rate, faster than the move's overall rate", () => {
    // A 256 MiB working set rewritten faster than either rate: 256 MiB takes 1.7 s at the 150
    // MiB/s the whole move reached, beyond every downtime; QEMU's passes run at 1 GiB/s, where it
    // fits 300 ms.
    const input = guest({
      dirtyRateBps: 2048 * MiB,
      workingSetBytes: 256 * MiB,
      linkBps: 150 * MiB,
    });
    assert.equal(forecastLiveMove(input, policy()).verdict, "needs-post-copy");
    const f = forecastLiveMove({ ...input, switchLinkBps: 1024 * MiB }, policy());
    assert.equal(f.verdict, "converges");
    // The passes take their time at the overall rate; the pause is the last 256 MiB at QEMU's.
    assert.equal(f.passes, 1);
    near(f.durationSeconds, 512 / 150 + 0.25, "seconds");
    assert.equal(f.downtimeMs, 250);
  });

  it("without post-copy, auto-converge throttles the guest until pre-copy converges", () => {
    const input = guest({ dirtyRateBps: 200 * MiB, workingSetBytes: 64 * MiB, linkBps: 40 * MiB });
    const f = forecastLiveMove(input, policy({ allowPostCopy: false, autoConverge: true }));
    assert.equal(f.verdict, "needs-auto-converge");
    assert.equal(f.escalation, "auto-converge");
    assert.ok(f.passes > 1 && f.passes < 30, `passes ${f.passes}`);
    assert.ok(f.downtimeMs <= 1000, `downtime ${f.downtimeMs}`);
  });

  it("with neither, it cannot move live within the policy", () => {
    const input = guest({ dirtyRateBps: 200 * MiB, linkBps: 40 * MiB });
    const f = forecastLiveMove(input, policy({ allowPostCopy: false, autoConverge: false }));
    assert.equal(f.verdict, "cannot-move-live");
    assert.equal(f.durationSeconds, Number.POSITIVE_INFINITY);
  });

  it("xbzrle sends resent pages within its cache as deltas, the rest whole", () => {
    // 40 MiB/s, 100 MiB resident, 80 MiB/s dirtied over a 50 MiB working set, 300 ms downtime
    // (12 MiB): the first pass (2.5 s) leaves 50 MiB to resend. Plain, it stays 50 MiB each
    // pass; with a 16 MiB cache at 1/8 of a page, 16/8 + 34 = 36 MiB each pass (0.9 s, in which
    // the whole working set is dirtied again); with a 64 MiB cache, 50/8 = 6.25 MiB fits.
    const input = guest({
      memoryBytes: 100 * MiB,
      dirtyRateBps: 80 * MiB,
      workingSetBytes: 50 * MiB,
      linkBps: 40 * MiB,
    });
    const strict = policy({ allowPostCopy: false, maxDowntimeMs: 300, downtimeLadderMs: [] });
    assert.equal(forecastLiveMove(input, strict).verdict, "cannot-move-live");
    const small = forecastLiveMove(
      { ...input, xbzrle: { cacheBytes: 16 * MiB, deltaRatio: 0.125 } },
      strict,
    );
    assert.equal(small.verdict, "cannot-move-live");
    const f = forecastLiveMove(
      { ...input, xbzrle: { cacheBytes: 64 * MiB, deltaRatio: 0.125 } },
      strict,
    );
    assert.equal(f.verdict, "converges");
    assert.equal(f.passes, 1);
    near(f.memoryBytesSent, 100 * MiB + 6.25 * MiB, "bytes on the wire");
    near(f.durationSeconds, 2.5 + 6.25 / 40, "seconds");
  });

  it("mt compression shrinks every pass by its wire ratio; post-copy pages go whole", () => {
    const input = guest({ dirtyRateBps: 200 * MiB, workingSetBytes: 64 * MiB, linkBps: 40 * MiB });
    // Compressed, the 64 MiB working set takes 32 MiB a pass: it would need a 1 s downtime.
    const ladder = forecastLiveMove({ ...input, wireRatio: 0.5 }, policy());
    assert.equal(ladder.verdict, "converges");
    assert.equal(ladder.downtimeMs, 800);
    const f = forecastLiveMove(
      { ...input, wireRatio: 0.5 },
      policy({ maxDowntimeMs: 300, downtimeLadderMs: [] }),
    );
    assert.equal(f.verdict, "needs-post-copy");
    // The first pass: 256 MiB on the wire in 6.4 s; then the 64 MiB working set, uncompressed.
    near(f.durationSeconds, 6.4 + 1.6, "seconds");
    assert.equal(f.memoryBytesSent, 320 * MiB);
  });

  it("refuses a link rate that is not positive", () => {
    assert.throws(() => forecastLiveMove(guest({ linkBps: 0 }), policy()), /link rate/);
  });
});

describe("when measuring the dirty rate tells nothing", () => {
  const link = (mibps: number) => ({ mibps, source: "test", postcopyMibps: mibps });
  const cases: Array<[string, number, number | undefined, number, number, boolean]> = [
    // name, configured MiB, resident MiB, link MiB/s, max downtime ms, needless
    ["an idle 256 MiB guest on a fast link", 256, 38, 1024, 300, true],
    ["an idle 1 GiB guest holding little", 1024, 40, 1024, 300, true],
    ["a guest holding 300 MiB: 600 MiB could be dirty", 512, 300, 1024, 300, false],
    ["a small guest under a 40 MiB/s cap", 256, 38, 40, 300, false],
    ["configured size bounds the growth", 256, 200, 1024, 300, true],
    ["resident memory not reported", 256, undefined, 1024, 300, false],
    // QEMU's own ~38 MiB is not guest memory; a guest is taken to dirty at least 32 MiB.
    ["an idle guest on a 150 MiB/s link: 32 MiB in 214 ms", 256, 38, 150, 300, true],
    ["a guest holding 62 MiB on a 300 MiB/s link: 124 MiB in 413 ms", 256, 100, 300, 300, false],
  ];
  it("measures when the link is only assumed: the rule could skip a guest that matters", () => {
    const assumed = { mibps: 1024, source: "assumed", postcopyMibps: 1024, assumed: true as const };
    assert.equal(needlessToMeasure(256 * MiB, 38 * MiB, assumed, policy()), undefined);
  });
  for (const [name, configured, resident, mibps, downtime, needless] of cases)
    it(name, () => {
      const why = needlessToMeasure(
        configured * MiB,
        resident === undefined ? undefined : resident * MiB,
        link(mibps),
        policy({ maxDowntimeMs: downtime }),
      );
      assert.equal(why !== undefined, needless, why);
      if (why) assert.match(why, /^not measured: all \d+ MiB it could dirty goes in \d+ ms at/);
    });
});
