// The rebalance example's placement rule: VMs on evacuated hosts spread evenly over the rest.
import assert from "node:assert/strict";
import { spread } from "../../../examples/rebalance/spread";

const HOSTS = ["h1", "h2", "h3"];

describe("rebalance example: spread", () => {
  it("keeps every VM home when nothing is evacuated", () => {
    const homes = { a: "h1", b: "h2", c: "h3" };
    assert.deepEqual(spread(homes, HOSTS, []), homes);
  });

  it("moves an evacuated host's VMs to the least-loaded remaining hosts", () => {
    const homes = { a: "h1", b: "h1", c: "h1", d: "h1", e: "h2", f: "h3", g: "h3" };
    const placed = spread(homes, HOSTS, ["h1"]);
    assert.deepEqual(placed, { a: "h2", b: "h2", c: "h3", d: "h2", e: "h2", f: "h3", g: "h3" });
    const load = (h: string) => Object.values(placed).filter((p) => p === h).length;
    assert.deepEqual(HOSTS.map(load), [0, 4, 3]);
  });

  it("drains two hosts into the third", () => {
    const placed = spread({ a: "h1", b: "h2", c: "h3" }, HOSTS, ["h1", "h2"]);
    assert.deepEqual(placed, { a: "h3", b: "h3", c: "h3" });
  });

  it("refuses to evacuate every host, and names unknown hosts", () => {
    assert.throws(() => spread({ a: "h1" }, HOSTS, HOSTS), /keep at least one/);
    assert.throws(
      () => spread({ a: "h9" }, HOSTS, []),
      /unknown host 'h9': the inventory has h1, h2, h3/,
    );
    assert.throws(() => spread({ a: "h1" }, HOSTS, ["h4"]), /unknown host 'h4'/);
  });
});
