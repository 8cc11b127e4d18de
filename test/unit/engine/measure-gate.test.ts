import assert from "node:assert/strict";
import { MeasureGate } from "../../../provider/src/engine/measure";

describe("MeasureGate", () => {
  it("never runs more than its bound on one host, even as runs end and new ones arrive", async () => {
    const gate = new MeasureGate(2);
    let running = 0;
    let peak = 0;
    const work = (ms: number) => async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
    };
    const first = [1, 2, 3, 4].map((i) => gate.run("h1", work(5 * i)));
    // Newcomers arrive while the first runs hand their slots on.
    await new Promise((r) => setTimeout(r, 6));
    await Promise.all([...first, gate.run("h1", work(1)), gate.run("h1", work(1))]);
    assert.equal(peak, 2);
  });

  it("keeps hosts apart", async () => {
    const gate = new MeasureGate(1);
    let running = 0;
    let peak = 0;
    const work = async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    };
    await Promise.all([gate.run("h1", work), gate.run("h2", work)]);
    assert.equal(peak, 2);
  });
});
