// One reading of a host's free memory and pools serves the placements planned within a moment
// of it (a preview of thousands of placements lists each host's volumes a few times, not once per
// placement); a move forgets the readings of its hosts, and a failed reading is not kept.
import assert from "node:assert/strict";
import type { ConnectionPool } from "../../../provider/src/engine/connections";
import { forgetHostReadings, gatherHostFacts } from "../../../provider/src/engine/gather";

function fakePool(failFirst = false) {
  const calls = { freeMemory: 0, listPools: 0 };
  const conn = {
    host: {
      freeMemory: async () => {
        calls.freeMemory++;
        if (failFirst && calls.freeMemory === 1) throw new Error("connection reset");
        return 1024;
      },
    },
    storage: {
      listPools: async () => {
        calls.listPools++;
        return [];
      },
    },
  };
  const pool = {
    host: (name: string) => ({ name, uri: `qemu+ssh://${name}/system`, migrationAddress: name }),
    get: async () => conn,
  } as unknown as ConnectionPool;
  return { pool, calls };
}

describe("host readings shared by the placements of a run", () => {
  it("500 placements planned at once read each host once", async () => {
    const { pool, calls } = fakePool();
    const facts = await Promise.all(
      Array.from({ length: 500 }, (_, i) => gatherHostFacts(pool, i % 2 ? "h1" : "h2")),
    );
    assert.ok(facts.every((f) => f?.reachable && f.freeMemoryBytes === 1024));
    assert.deepEqual(calls, { freeMemory: 2, listPools: 2 });
  });

  it("reads a host afresh once a move there forgot it", async () => {
    const { pool, calls } = fakePool();
    await gatherHostFacts(pool, "h1");
    await gatherHostFacts(pool, "h1");
    forgetHostReadings(pool, "h1");
    await gatherHostFacts(pool, "h1");
    assert.equal(calls.freeMemory, 2);
  });

  it("does not keep a failed reading for the next placement", async () => {
    const { pool, calls } = fakePool(true);
    await assert.rejects(gatherHostFacts(pool, "h1"), /connection reset/);
    const again = await gatherHostFacts(pool, "h1");
    assert.equal(again?.freeMemoryBytes, 1024);
    assert.equal(calls.freeMemory, 2);
  });
});
