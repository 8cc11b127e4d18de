// The one sleep the engine and fencing share: a full wait resolves false, an abort ends it early
// with true, and neither leaves a listener on the signal.
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { sleep } from "../../../provider/src/util/sleep";

describe("sleep", () => {
  it("waits the whole time when nothing aborts", async () => {
    const ac = new AbortController();
    const started = Date.now();
    assert.equal(await sleep(30, ac.signal), false);
    assert.ok(Date.now() - started >= 25);
    assert.equal(getEventListeners(ac.signal, "abort").length, 0);
  });

  it("ends early on an abort and says so", async () => {
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 10);
    assert.equal(await sleep(5000, ac.signal), true);
    assert.ok(Date.now() - started < 1000);
    assert.equal(getEventListeners(ac.signal, "abort").length, 0);
  });
});
