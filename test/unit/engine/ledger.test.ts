import assert from "node:assert/strict";
import { RunLedger, type Demand, type Observed } from "../../../provider/src/engine/ledger";
import { memoryBlockers, poolBlockers } from "../../../provider/src/engine/capacity";
import { GiB, MiB, makeDomain, makeScenario } from "./fixtures";

const onH2 = (memoryBytes: number, pools: Record<string, number> = {}): Demand => ({
  host: "h2",
  memoryBytes,
  pools,
});
const figures = (freeMemoryBytes: number, pools: Record<string, number> = {}): Observed => ({
  freeMemoryBytes,
  pools,
});

describe("RunLedger", () => {
  it("holds what each placement claimed, for the others only", () => {
    const ledger = new RunLedger();
    ledger.reserve(
      "a",
      "vm-a",
      onH2(4 * GiB, { local: 10 * GiB }),
      figures(10 * GiB, { local: 50 * GiB }),
    );
    ledger.reserve("b", "vm-b", onH2(2 * GiB), figures(10 * GiB));
    const seenByC = ledger.held(
      onH2(GiB, { local: GiB }),
      "c",
      figures(10 * GiB, { local: 50 * GiB }),
    );
    assert.equal(seenByC.memory.bytes, 6 * GiB);
    assert.deepEqual(
      seenByC.memory.holders.map((h) => h.claimant),
      ["a", "b"],
    );
    assert.equal(seenByC.pools.local.bytes, 10 * GiB);
    assert.equal(
      ledger.held(onH2(GiB), "a", figures(10 * GiB)).memory.bytes,
      2 * GiB,
      "a is not held against itself",
    );
  });

  it("counts what the target already lost to a running move as used, not held twice", () => {
    const ledger = new RunLedger();
    ledger.reserve("a", "vm-a", onH2(4 * GiB), figures(10 * GiB));
    // The incoming guest has taken 3 GiB so far: 1 GiB of the claim is still to come.
    assert.equal(ledger.held(onH2(GiB), "b", figures(7 * GiB)).memory.bytes, GiB);
    // Something else took memory too: the claim cannot have used more than it claimed.
    assert.equal(ledger.held(onH2(GiB), "b", figures(2 * GiB)).memory.bytes, 0);
    // Memory freed on the host: the whole claim still stands.
    assert.equal(ledger.held(onH2(GiB), "b", figures(12 * GiB)).memory.bytes, 4 * GiB);
  });

  it("a move that landed is the host's own use from then on; a failed one gave its bytes back", () => {
    const ledger = new RunLedger();
    ledger.reserve("a", "vm-a", onH2(4 * GiB), figures(10 * GiB));
    ledger.reserve("b", "vm-b", onH2(2 * GiB), figures(10 * GiB));
    ledger.settle("a", true);
    // a's 4 GiB now show in the host's figure (6 GiB free); b has not started.
    assert.equal(ledger.held(onH2(GiB), "c", figures(6 * GiB)).memory.bytes, 2 * GiB);
    ledger.settle("b", false);
    assert.deepEqual(ledger.held(onH2(GiB), "c", figures(6 * GiB)).memory, {
      bytes: 0,
      holders: [],
    });
  });

  it("a placement planned again replaces its claim", () => {
    const ledger = new RunLedger();
    ledger.reserve("a", "vm-a", onH2(4 * GiB), figures(10 * GiB));
    ledger.reserve("a", "vm-a", onH2(GiB), figures(10 * GiB));
    assert.equal(ledger.held(onH2(GiB), "b", figures(10 * GiB)).memory.bytes, GiB);
  });

  it("pools on shared storage are one account across hosts", () => {
    const ledger = new RunLedger();
    const shared = (host: string, bytes: number): Demand => ({
      host,
      memoryBytes: 0,
      pools: { nfs: bytes },
      poolAccounts: { nfs: "netfs:nfs1:/export" },
    });
    ledger.reserve("a", "vm-a", shared("h2", 30 * GiB), figures(0, { nfs: 100 * GiB }));
    assert.equal(
      ledger.held(shared("h3", GiB), "b", figures(0, { nfs: 100 * GiB })).pools.nfs.bytes,
      30 * GiB,
    );
    assert.equal(
      ledger.held(onH2(0, { local: GiB }), "b", figures(0, { local: GiB })).pools.local.bytes,
      0,
    );
  });
});

describe("capacity blockers name the placements competing for the room", () => {
  const { facts } = makeScenario();
  const domain = makeDomain({ name: "vm-c", memoryBytes: GiB });
  const target = { ...facts.target!, name: "h2", freeMemoryBytes: 3 * GiB };

  it("HOST_OVERCOMMITTED says what is free, what is held by whom, and what to do", () => {
    const ledger = new RunLedger();
    ledger.reserve("web-1", "web-1", onH2(1.5 * GiB), figures(3 * GiB));
    ledger.reserve("db", "db-vm", onH2(GiB), figures(3 * GiB));
    const demand = onH2(GiB + 64 * MiB);
    const [b] = memoryBlockers(
      domain,
      target,
      demand,
      ledger.held(demand, "vm-c", figures(3 * GiB)),
    );
    assert.equal(b.code, "HOST_OVERCOMMITTED");
    assert.match(b.message, /host h2 has 3072 MiB free/);
    assert.match(b.message, /hold 2560 MiB of it \(web-1 1536 MiB, db \(db-vm\) 1024 MiB\)/);
    assert.match(b.message, /leaving 512 MiB; vm-c needs 1088 MiB/);
    assert.match(b.message, /later update once those moves are done/);
  });

  it("POOL_OVERCOMMITTED names the pool and its holders", () => {
    const ledger = new RunLedger();
    const available = target.pools.local.availableBytes;
    ledger.reserve(
      "web-1",
      "web-1",
      onH2(0, { local: available - GiB }),
      figures(0, { local: available }),
    );
    const demand = onH2(0, { local: 2 * GiB });
    const blockers = poolBlockers(
      domain,
      target,
      demand,
      ledger.held(demand, "vm-c", figures(0, { local: available })),
    );
    assert.deepEqual(
      blockers.map((b) => b.code),
      ["POOL_OVERCOMMITTED"],
    );
    assert.match(blockers[0].message, /pool 'local' on h2 .* \(web-1 \d+ MiB\), leaving 1024 MiB/);
  });
});
