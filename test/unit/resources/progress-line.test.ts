import assert from "node:assert/strict";
import type { MigrationProgress } from "../../../provider/src/engine";
import { progressLine } from "../../../provider/src/resources/progress-line";

const MiB = 1024 * 1024;
const base: MigrationProgress = {
  domain: "web-1",
  phase: "precopy",
  percent: 40,
  memoryProcessed: 200 * MiB,
  memoryRemaining: 300 * MiB,
  diskProcessed: 0,
  diskRemaining: 0,
  bandwidthBps: 50 * MiB,
  dirtyRateBps: 0,
  iteration: 2,
};

describe("progress line", () => {
  it("names the phase, percent, real rate, time left and what is left", () => {
    assert.equal(
      progressLine({ ...base, secondsLeft: 6, dirtyRateBps: 12 * MiB }),
      "web-1: memory pass 2 40%, 50 MiB/s, ~6 s left, memory 200/500 MiB, dirtying 12 MiB/s",
    );
  });
  it("tells each phase apart", () => {
    const phase = (p: Partial<MigrationProgress>) =>
      progressLine({ ...base, ...p })
        .split(" ")
        .slice(1, 3)
        .join(" ");
    assert.equal(phase({ phase: "disk-copy" }), "disk copy");
    assert.equal(phase({ phase: "postcopy" }), "post-copy 40%,");
    assert.equal(phase({ phase: "offline-copy" }), "offline copy");
    assert.equal(phase({ phase: "block-copy" }), "block copy");
    assert.equal(phase({ iteration: 0 }), "memory pre-copy");
    assert.equal(progressLine({ ...base, phase: "verifying" }), "web-1: verifying");
  });
  it("shows disks with their totals and leaves out a time it cannot tell", () => {
    const line = progressLine({
      ...base,
      phase: "offline-copy",
      memoryProcessed: 0,
      memoryRemaining: 0,
      diskProcessed: 64 * MiB,
      diskRemaining: 192 * MiB,
    });
    assert.equal(line, "web-1: offline copy 40%, 50 MiB/s, disk 64/256 MiB");
  });
});

describe("progress line while queued", () => {
  const queued = (queue: NonNullable<MigrationProgress["queue"]>) =>
    progressLine({ ...base, domain: "web-3", phase: "queued", percent: 0, queue });
  it("gives the place in the queue, what it waits on and when it should start", () => {
    assert.equal(
      queued({
        position: 2,
        queueLength: 3,
        expectedStartSeconds: 13.2,
        waitingFor: "h1 outbound busy: web-1 -> h2",
      }),
      "web-3: queued 2 of 3 (h1 outbound busy: web-1 -> h2), expected start in ~14 s",
    );
  });
  it("leaves out a start it cannot tell, and says 'shortly' when it is due", () => {
    const waitingFor = "h2 inbound busy: web-1 from h1";
    assert.equal(
      queued({ position: 1, queueLength: 1, waitingFor }),
      `web-3: queued 1 of 1 (${waitingFor})`,
    );
    assert.equal(
      queued({ position: 1, queueLength: 1, expectedStartSeconds: 0.4, waitingFor }),
      `web-3: queued 1 of 1 (${waitingFor}), expected to start shortly`,
    );
  });
});
