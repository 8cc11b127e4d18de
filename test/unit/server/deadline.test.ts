// customTimeouts: the signal handed to the engine fires on the deadline with a reason that names
// the limit, passes a Cancel through, and does nothing once the operation is done.
import assert from "node:assert/strict";
import { DeadlineExceeded } from "../../../provider/src/engine";
import { stopCause } from "../../../provider/src/engine/errors";
import { operationSignal } from "../../../provider/src/server/deadline";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("operation deadline (customTimeouts)", () => {
  it("aborts with a DeadlineExceeded naming the operation and its limit", async () => {
    const stop = operationSignal(new AbortController().signal, 0.05, "update");
    await wait(100);
    assert.ok(stop.signal.aborted);
    assert.ok(stop.signal.reason instanceof DeadlineExceeded);
    assert.deepEqual(stopCause(stop.signal), {
      category: "deadline",
      phrase: "was stopped because the update timeout of 0.05 s (customTimeouts.update) passed",
    });
    stop.done();
  });

  it("passes a Cancel through as a cancel", () => {
    const cancel = new AbortController();
    const stop = operationSignal(cancel.signal, 60, "create");
    cancel.abort();
    assert.ok(stop.signal.aborted);
    assert.deepEqual(stopCause(stop.signal), { category: "cancelled", phrase: "was cancelled" });
    stop.done();
  });

  it("uses the Cancel signal alone when there is no timeout", () => {
    const cancel = new AbortController();
    assert.equal(operationSignal(cancel.signal, 0, "create").signal, cancel.signal);
  });

  it("never fires once the operation is done", async () => {
    const cancel = new AbortController();
    const stop = operationSignal(cancel.signal, 0.02, "create");
    stop.done();
    cancel.abort();
    await wait(50);
    assert.equal(stop.signal.aborted, false);
  });
});
