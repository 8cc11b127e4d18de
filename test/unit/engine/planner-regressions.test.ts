// Regressions found by the table tests: each case once planned wrongly.
import assert from "node:assert/strict";
import { choosePlan } from "../../../provider/src/engine/planner";
import { decideEscalation, startLadder } from "../../../provider/src/engine/ladder";
import { DEFAULT_POLICY } from "../../../provider/src/engine/policy";
import { makeDisk, makeNetworkDisk, makePool, makeScenario } from "./fixtures";

const GiB = 1024 ** 3;

describe("planner and ladder regressions", () => {
  it("a first sample with nothing remaining does not hide later progress", () => {
    let state = startLadder(0);
    const samples: Array<[number, number]> = [
      [0, 0],
      [1000, 8 * GiB],
      [4000, 6 * GiB],
      [7000, 4 * GiB],
      [10_000, 2 * GiB],
      [13_000, GiB],
    ];
    for (const [nowMs, remainingBytes] of samples) {
      const d = decideEscalation(
        state,
        { nowMs, remainingBytes, postCopyPossible: true },
        DEFAULT_POLICY,
        600,
      );
      assert.equal(d.action.kind, "wait", `at ${nowMs} ms`);
      state = d.state;
    }
  });

  it("the incremental target overlay names its backing file's own format", () => {
    const s = makeScenario({
      domain: {
        disks: [makeDisk({ backingChain: ["/pools/local/base-os.raw"], backingFormats: ["raw"] })],
      },
      target: { pools: { local: makePool("local", { volumes: ["base-os.raw"] }) } },
    });
    const plan = choosePlan(s.req, s.facts, s.policy);
    assert.equal(plan.mode, "live-copy-incremental");
    assert.deepEqual(plan.disks[0].backing, { path: "/pools/local/base-os.raw", format: "raw" });
  });

  it("recognises the same shared storage under another pool name on the target", () => {
    const key = "netfs:nas:/export";
    const s = makeScenario({
      domain: { disks: [makeDisk({ pool: "nfs", path: "/pools/nfs/vm.qcow2" })] },
      source: {
        pools: {
          nfs: makePool("nfs", { type: "netfs", path: "/pools/nfs", sharedStorageKey: key }),
        },
      },
      target: {
        pools: {
          shared: makePool("shared", { type: "netfs", path: "/pools/nfs", sharedStorageKey: key }),
        },
      },
      req: { storagePool: "shared" },
    });
    const plan = choosePlan(s.req, s.facts, s.policy);
    assert.deepEqual(plan.blockers, []);
    assert.equal(plan.mode, "live-shared");
    assert.equal(plan.bytes.disks, 0);
  });

  it("applies the domain-wide storagePool to pool disks only, not to network disks", () => {
    const s = makeScenario({
      domain: { disks: [makeDisk(), makeNetworkDisk()] },
      req: { storagePool: "local" },
    });
    const plan = choosePlan(s.req, s.facts, s.policy);
    assert.deepEqual(plan.blockers, []);
    assert.equal(plan.mode, "live-copy-all");
    assert.deepEqual(plan.params.migrateDisks, ["vda"]);
  });

  it("a same-host pool change under a policy without live moves goes offline, or is blocked", () => {
    const offline = makeScenario({
      sameHost: true,
      req: { storagePool: "scratch" },
      source: { pools: { scratch: makePool("scratch", { path: "/pools/scratch" }) } },
      policy: { allowLive: false, allowOfflineFallback: true },
    });
    assert.equal(choosePlan(offline.req, offline.facts, offline.policy).mode, "offline");
    const blocked = makeScenario({
      sameHost: true,
      req: { storagePool: "scratch" },
      source: { pools: { scratch: makePool("scratch", { path: "/pools/scratch" }) } },
      policy: { allowLive: false },
    });
    assert.deepEqual(
      choosePlan(blocked.req, blocked.facts, blocked.policy).blockers.map((b) => b.code),
      ["LIVE_NOT_ALLOWED"],
    );
  });

  it("a UEFI domain moves to another host live or offline (its NVRAM file is copied)", () => {
    const nvram = "/var/lib/libvirt/qemu/nvram/vm_VARS.fd";
    const stopped = makeScenario({ domain: { running: false, nvram } });
    const plan = choosePlan(stopped.req, stopped.facts, stopped.policy);
    assert.deepEqual(plan.blockers, []);
    assert.equal(plan.mode, "offline");
    const running = makeScenario({ domain: { nvram } });
    assert.deepEqual(choosePlan(running.req, running.facts, running.policy).blockers, []);
    const samePool = makeScenario({
      sameHost: true,
      domain: { running: false, nvram },
      req: { storagePool: "scratch" },
      source: { pools: { scratch: makePool("scratch", { path: "/pools/scratch" }) } },
    });
    assert.equal(choosePlan(samePool.req, samePool.facts, samePool.policy).mode, "offline");
  });
});
