// The planner with disks on Ceph RBD (pure): an RBD disk is a volume of the host's rbd pool on the
// same storage, whatever that pool is called; it stays on a host change when the target's pool
// of that name is the same storage, moves to another pool only when its own disks.<dev> says so,
// and is refused when the target's pool of that name is other storage or missing, or when the
// move would be offline. A disk copied into an rbd pool becomes a raw image there.
import assert from "node:assert/strict";
import { choosePlan } from "../../../provider/src/engine/planner";
import type { PoolFacts } from "../../../provider/src/engine/types";
import { GiB, makeDisk, makeNetworkDisk, makePool, makeScenario } from "./fixtures";

const auth = { username: "libvirt", secretUuid: "2c1a5d3e-6f4b-4c1e-9a7d-5b0e8f3c7a21" };
function rbdPool(name: string, monitors = ["mon1:6789"], cephPool = "rbd"): PoolFacts {
  return makePool(name, {
    type: "rbd",
    path: undefined,
    sharedStorage: { kind: "rbd", monitors, cephPool },
    sharedStorageKey: `Ceph pool '${cephPool}' at ${monitors.join(", ")}`,
    rbd: {
      monitors: monitors.map((m) => ({ name: m.split(":")[0], port: 6789 })),
      cephPool,
      auth,
    },
  });
}
const onRbd = makeNetworkDisk({
  target: "vda",
  allocationBytes: 3 * GiB,
  network: {
    protocol: "rbd",
    name: "rbd/vm.raw",
    hosts: [{ name: "mon1", port: 6789 }],
    auth,
  },
});

function scenario(options: {
  targetPools?: Record<string, PoolFacts>;
  req?: Record<string, unknown>;
  disks?: ReturnType<typeof makeDisk>[];
  sameHost?: boolean;
  running?: boolean;
}) {
  const sourcePools = { local: makePool("local"), ceph: rbdPool("ceph") };
  return makeScenario({
    domain: { disks: options.disks ?? [onRbd], running: options.running ?? true },
    source: { pools: sourcePools },
    target: { pools: options.targetPools ?? { local: makePool("local"), ceph: rbdPool("ceph") } },
    req: options.req,
    sameHost: options.sameHost,
  });
}

describe("planner: disks on Ceph RBD", () => {
  it("moves a VM on RBD live without copying when the target's pool is the same storage, whatever its name", () => {
    for (const name of ["ceph", "rbd-volumes"]) {
      const s = scenario({ targetPools: { [name]: rbdPool(name, ["mon2:6789", "mon1:6789"]) } });
      const plan = choosePlan(s.req, s.facts, s.policy);
      assert.deepEqual(plan.blockers, [], name);
      assert.equal(plan.mode, "live-shared");
      assert.equal(plan.bytes.disks, 0);
      assert.match(
        plan.disks[0].stays ?? "",
        new RegExp(`^shared pool '${name}': rbd/vm\\.raw on Ceph pool 'rbd'`),
      );
    }
  });

  it("keeps an RBD disk where it is under a domain-wide storagePool, which is for disks a move copies", () => {
    const s = scenario({
      disks: [onRbd, makeDisk({ target: "vdb" })],
      req: { storagePool: "local" },
    });
    const plan = choosePlan(s.req, s.facts, s.policy);
    assert.deepEqual(plan.blockers, []);
    assert.equal(plan.mode, "live-copy-all");
    assert.deepEqual(
      plan.disks.map((d) => [d.target, d.copy]),
      [
        ["vda", false],
        ["vdb", true],
      ],
    );
  });

  it("copies an RBD disk out of Ceph into a directory pool when disks.vda names it", () => {
    for (const sameHost of [false, true]) {
      const s = scenario({ req: { diskPools: { vda: "local" } }, sameHost });
      const plan = choosePlan(s.req, s.facts, s.policy);
      assert.deepEqual(plan.blockers, []);
      assert.equal(plan.mode, sameHost ? "block-copy" : "live-copy-all");
      assert.equal(plan.disks[0].sourcePath, "rbd/vm.raw");
      assert.equal(plan.disks[0].targetPath, "/pools/local/vm.raw");
      assert.equal(plan.disks[0].bytesToCopy, 3 * GiB);
      assert.equal(plan.disks[0].targetNetwork, undefined);
    }
  });

  it("copies a file disk into Ceph as a raw RBD image opened with the pool's monitors and secret", () => {
    const s = scenario({ disks: [makeDisk()], req: { diskPools: { vda: "ceph" } } });
    const plan = choosePlan(s.req, s.facts, s.policy);
    assert.deepEqual(plan.blockers, []);
    assert.equal(plan.mode, "live-copy-all");
    const d = plan.disks[0];
    assert.equal(d.targetPath, "rbd/vm.raw");
    assert.equal(d.format, "raw");
    assert.equal(d.targetFormat, "raw");
    assert.deepEqual(d.targetNetwork, {
      protocol: "rbd",
      name: "rbd/vm.raw",
      hosts: [{ name: "mon1", port: 6789 }],
      auth,
    });
    assert.match(plan.params.destinationXml ?? "", /<disk type="network"|<disk type='network'/);
  });

  const refusals: Array<[string, Parameters<typeof scenario>[0], string, RegExp]> = [
    [
      "the target's pool of that name is another Ceph cluster",
      { targetPools: { ceph: rbdPool("ceph", ["x1:6789"]) } },
      "POOL_IS_OTHER_STORAGE",
      /^pool 'ceph' on kvm2 is not the storage disk vda is on \(another Ceph cluster \(monitors mon1:6789 vs x1:6789\)\): define 'ceph' on kvm2 over Ceph pool 'rbd' at mon1:6789, or set disks\.vda to choose where it is copied\.$/,
    ],
    [
      "the target's pool of that name is another Ceph pool",
      { targetPools: { ceph: rbdPool("ceph", ["mon1:6789"], "other") } },
      "POOL_IS_OTHER_STORAGE",
      /\(Ceph pool 'rbd' vs 'other'\)/,
    ],
    [
      "the target has no pool of that name",
      { targetPools: { local: makePool("local") } },
      "POOL_MISSING",
      /^pool 'ceph' does not exist on host kvm2/,
    ],
    [
      "an offline copy into Ceph (the VM does not run)",
      { disks: [makeDisk()], req: { diskPools: { vda: "ceph" } }, running: false },
      "OFFLINE_MOVE_IMPOSSIBLE",
      /disk vda is copied into or out of Ceph RBD, which an offline move cannot do/,
    ],
  ];
  for (const [why, options, code, message] of refusals)
    it(`refuses when ${why}`, () => {
      const s = scenario(options);
      const plan = choosePlan(s.req, s.facts, s.policy);
      const found = plan.blockers.find((b) => b.code === code);
      assert.ok(found, JSON.stringify(plan.blockers));
      assert.match(found.message, message);
    });

  it("leaves an RBD disk in no pool (or in a namespace) as a network disk that stays", () => {
    const inNamespace = { ...onRbd, network: { ...onRbd.network!, name: "rbd/tenant/vm.raw" } };
    for (const disk of [
      inNamespace,
      { ...onRbd, network: { ...onRbd.network!, hosts: [{ name: "elsewhere" }] } },
    ]) {
      const s = scenario({ disks: [disk] });
      const plan = choosePlan(s.req, s.facts, s.policy);
      assert.deepEqual(plan.blockers, []);
      assert.equal(plan.mode, "live-shared");
      assert.match(plan.disks[0].stays ?? "", /^rbd /);
    }
  });
});
