// Leftovers of failed attempts (found by ownership markers), what an offline move cannot do,
// and when a domain's location is known: the pure decisions the fault tier relies on.
import assert from "node:assert/strict";
import { LocationUnknownError, settledLocation } from "../../../provider/src/engine/gather";
import { choosePlan, findLeftovers, offlineObstacle } from "../../../provider/src/engine/planner";
import {
  movingMarkerName,
  ownerMarkerName,
  parseMarker,
} from "../../../provider/src/engine/volume-markers";
import type { Domain } from "../../../provider/src/libvirt";
import { makeDisk, makeDomain, makeHost, makePool, makeScenario, SOURCE, TARGET } from "./fixtures";

const UUID = "5c0e3a9e-1f3b-4d6a-9a51-3f2d0c1b2a10";
const OTHER_UUID = "00000000-1111-2222-3333-444444444444";

describe("ownership markers", () => {
  it("name the volume and the domain, and are recognised only for that domain", () => {
    const marker = ownerMarkerName("vm.qcow2", UUID);
    assert.equal(marker, `vm.qcow2.vmplacement-${UUID}`);
    assert.deepEqual(parseMarker(marker, UUID), { volume: "vm.qcow2", kind: "created" });
    assert.deepEqual(parseMarker(movingMarkerName("vm.qcow2", UUID), UUID), {
      volume: "vm.qcow2",
      kind: "moving",
    });
    assert.equal(parseMarker(marker, OTHER_UUID), undefined);
    assert.equal(parseMarker("vm.qcow2", UUID), undefined);
    assert.equal(parseMarker(`.vmplacement-${UUID}`, UUID), undefined);
  });
});

describe("findLeftovers", () => {
  it("removes a marked volume on the target, then its marker", () => {
    const s = makeScenario({
      target: {
        pools: {
          local: makePool("local", { volumes: ["vm.qcow2", ownerMarkerName("vm.qcow2", UUID)] }),
        },
      },
    });
    assert.deepEqual(findLeftovers(s.facts.domain!, [s.facts.source!, s.facts.target!], s.policy), [
      { host: TARGET, pool: "local", volume: "vm.qcow2" },
      { host: TARGET, pool: "local", volume: ownerMarkerName("vm.qcow2", UUID) },
    ]);
  });

  it("never touches a volume without this domain's marker", () => {
    const s = makeScenario({
      target: {
        pools: {
          local: makePool("local", {
            volumes: ["vm.qcow2", ownerMarkerName("vm.qcow2", OTHER_UUID)],
          }),
        },
      },
    });
    assert.deepEqual(
      findLeftovers(s.facts.domain!, [s.facts.source!, s.facts.target!], s.policy),
      [],
    );
  });

  it("keeps a marked volume the domain uses (the move finished), removing only the marker", () => {
    const s = makeScenario({
      source: {
        pools: {
          local: makePool("local", { volumes: ["vm.qcow2", ownerMarkerName("vm.qcow2", UUID)] }),
        },
      },
    });
    assert.deepEqual(findLeftovers(s.facts.domain!, [s.facts.source!, s.facts.target!], s.policy), [
      { host: SOURCE, pool: "local", volume: ownerMarkerName("vm.qcow2", UUID) },
    ]);
  });

  it("removes the old source copy of a move that finished without us, if the policy says so", () => {
    const volumes = ["vm.qcow2", movingMarkerName("vm.qcow2", UUID)];
    // The domain now runs on kvm2 with its disk there; kvm1 still has the old copy and its marker.
    const s = makeScenario({
      domain: { host: TARGET },
      source: { name: TARGET },
      target: { pools: { local: makePool("local", { volumes }) } },
    });
    const old = makeHost(SOURCE, { pools: { local: makePool("local", { volumes }) } });
    const domain = s.facts.domain!;
    assert.deepEqual(findLeftovers(domain, [old], s.policy), [
      { host: SOURCE, pool: "local", volume: "vm.qcow2" },
      { host: SOURCE, pool: "local", volume: movingMarkerName("vm.qcow2", UUID) },
    ]);
    assert.deepEqual(findLeftovers(domain, [old], { ...s.policy, removeSourceVolumes: false }), [
      { host: SOURCE, pool: "local", volume: movingMarkerName("vm.qcow2", UUID) },
    ]);
    // Where the domain still runs on it (the move failed), the volume is its disk: marker only.
    const failed = makeScenario({ source: { pools: { local: makePool("local", { volumes }) } } });
    assert.deepEqual(findLeftovers(failed.facts.domain!, [failed.facts.source!], failed.policy), [
      { host: SOURCE, pool: "local", volume: movingMarkerName("vm.qcow2", UUID) },
    ]);
  });

  it("lets the planner reuse the name instead of blocking with VOLUME_EXISTS", () => {
    const volumes = ["vm.qcow2", ownerMarkerName("vm.qcow2", UUID)];
    const s = makeScenario({ target: { pools: { local: makePool("local", { volumes }) } } });
    const plan = choosePlan(s.req, s.facts, s.policy);
    assert.deepEqual(plan.blockers, []);
    assert.equal(plan.leftovers.length, 2);
    const foreign = makeScenario({
      target: { pools: { local: makePool("local", { volumes: ["vm.qcow2"] }) } },
    });
    assert.deepEqual(
      choosePlan(foreign.req, foreign.facts, foreign.policy).blockers.map((b) => b.code),
      ["VOLUME_EXISTS"],
    );
  });
});

describe("offlineObstacle", () => {
  it("refuses a transient domain", () => {
    const domain = makeDomain({ persistent: false });
    assert.match(offlineObstacle(domain, [], makeHost(TARGET)) ?? "", /transient/);
  });

  it("refuses an overlay whose backing file is not on the target, and allows it when it is", () => {
    const disk = makeDisk({ backingChain: ["/pools/local/base.qcow2"] });
    const domain = makeDomain({ disks: [disk] });
    const placement = {
      target: "vda",
      pool: "local",
      sourcePath: disk.path,
      targetPath: "/pools/local/vm.qcow2",
      format: "qcow2",
      capacityBytes: disk.capacityBytes,
      bytesToCopy: disk.allocationBytes,
      copy: true,
    };
    assert.match(
      offlineObstacle(domain, [placement], makeHost(TARGET)) ?? "",
      /backing file\(s\) \/pools\/local\/base.qcow2 are not on kvm2/,
    );
    const withBase = makeHost(TARGET, {
      pools: { local: makePool("local", { volumes: ["base.qcow2"] }) },
    });
    assert.equal(offlineObstacle(domain, [placement], withBase), undefined);
  });

  it("blocks an offline move of such an overlay at preview, and drops it as a fallback", () => {
    const disks = [makeDisk({ backingChain: ["/pools/local/base.qcow2"] })];
    const offline = makeScenario({
      domain: { disks },
      policy: { allowLive: false, allowOfflineFallback: true },
    });
    const plan = choosePlan(offline.req, offline.facts, offline.policy);
    assert.equal(plan.mode, "offline");
    assert.deepEqual(
      plan.blockers.map((b) => b.code),
      ["OFFLINE_MOVE_IMPOSSIBLE"],
    );
    const live = makeScenario({
      domain: { disks },
      policy: { allowOfflineFallback: true, storageCopy: "all" },
    });
    const livePlan = choosePlan(live.req, live.facts, live.policy);
    assert.deepEqual(livePlan.blockers, []);
    assert.ok(!livePlan.escalation.some((e) => e.kind === "offline-fallback"));
    assert.ok(livePlan.warnings.some((w) => w.code === "OFFLINE_FALLBACK_UNAVAILABLE"));
  });
});

describe("settledLocation", () => {
  const dom = { name: "vm", uuid: Buffer.alloc(16), id: 1 } as unknown as Domain;
  const at = (host: string, running: boolean) => ({
    host,
    domain: dom,
    running,
    state: running ? "running" : "shutoff",
    incoming: false,
  });

  it("trusts a host that runs the domain, even when another does not answer", () => {
    assert.equal(
      settledLocation("vm", { found: at("h1", true), also: [], unreachable: { h3: "down" } })?.host,
      "h1",
    );
  });

  it("refuses 'gone' or 'shut off here' while a host does not answer, naming it", () => {
    assert.throws(
      () => settledLocation("vm", { also: [], unreachable: { h2: "connection refused" } }),
      (err: unknown) =>
        err instanceof LocationUnknownError && /h2 \(connection refused\)/.test(err.message),
    );
    assert.throws(
      () =>
        settledLocation("vm", { found: at("h1", false), also: [], unreachable: { h2: "timeout" } }),
      /only defined \(not running\) on h1/,
    );
  });

  it("says gone only when every host answered", () => {
    assert.equal(settledLocation("vm", { also: [], unreachable: {} }), undefined);
  });
});

describe("backing chain identity", () => {
  const disks = [
    makeDisk({ backingChain: ["/pools/local/base.qcow2"], backingIdentities: ["1024:aa"] }),
  ];
  const withBase = (identity: string | undefined) =>
    makeScenario({
      domain: { disks },
      target: {
        pools: { local: makePool("local", { volumes: ["base.qcow2"] }) },
        volumeIdentities: identity ? { "/pools/local/base.qcow2": identity } : {},
      },
    });

  it("copies incrementally onto the same image", () => {
    const s = withBase("1024:aa");
    assert.equal(choosePlan(s.req, s.facts, s.policy).mode, "live-copy-incremental");
  });

  it("copies everything when a file of the same name is another image, and says why", () => {
    for (const identity of ["1024:bb", "2048:aa", undefined]) {
      const s = withBase(identity);
      const plan = choosePlan(s.req, s.facts, s.policy);
      assert.equal(plan.mode, "live-copy-all", String(identity));
      assert.ok(
        plan.warnings.some(
          (w) =>
            w.code === "BACKING_FILE_DIFFERS" &&
            /base.qcow2 on kvm2 is not the same image/.test(w.message),
        ),
        JSON.stringify(plan.warnings),
      );
    }
  });
});
