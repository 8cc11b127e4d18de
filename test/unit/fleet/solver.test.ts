// The fleet solver: stability, cordons, anti-affinity (at every moment of the update), capacity
// accounting, pins and selectors, rebalancing, determinism, and the reason for every VM that
// cannot be placed; and the rule sets that fail before any fact is gathered.
import assert from "node:assert/strict";
import {
  solvePlacements,
  type FleetHost,
  type FleetRules,
  type FleetVm,
  type VmRule,
} from "../../../provider/src/fleet/solver";
import { validateRules } from "../../../provider/src/fleet/validate";

const GiB = 1024 ** 3;

function host(name: string, freeGiB: number, extra: Partial<FleetHost> = {}): FleetHost {
  return {
    name,
    reachable: true,
    labels: {},
    freeMemoryBytes: freeGiB * GiB,
    totalMemoryBytes: 16 * GiB,
    // What is not free is taken by VMs (hosts that run nothing else).
    allocatedMemoryBytes: (16 - freeGiB) * GiB,
    cpuModel: "Skylake",
    poolFreeBytes: { local: 100 * GiB },
    ...extra,
  };
}

function vm(domain: string, on: string, memGiB = 1, extra: Partial<FleetVm> = {}): FleetVm {
  return {
    domain,
    currentHost: on,
    memoryBytes: memGiB * GiB,
    copiedDiskBytes: 0,
    localDevices: [],
    ...extra,
  };
}

function rules(vms: VmRule[], extra: Partial<FleetRules> = {}): FleetRules {
  return { vms, cordon: [], strategy: "spread", rebalance: false, maxMoves: 0, ...extra };
}

const hostsOf = (s: ReturnType<typeof solvePlacements>) =>
  Object.fromEntries(Object.entries(s.assignments).map(([d, a]) => [d, a.host]));

describe("fleet solver", () => {
  const three = () => [host("h1", 8), host("h2", 8), host("h3", 8)];

  it("keeps every VM where it runs while its host is allowed and the rules hold, however uneven", () => {
    const facts = [vm("a", "h1"), vm("b", "h1"), vm("c", "h1"), vm("d", "h2")];
    const s = solvePlacements(rules(facts.map((v) => ({ domain: v.domain }))), three(), facts);
    assert.deepEqual(hostsOf(s), { a: "h1", b: "h1", c: "h1", d: "h2" });
    assert.deepEqual(s.moves, []);
    assert.match(s.assignments.a.reason, /stays on h1/);
  });

  it("drains a cordoned host: each VM to the least loaded host (spread)", () => {
    const facts = [vm("a", "h1", 2), vm("b", "h1", 1), vm("c", "h2", 1)];
    const inventory = [host("h1", 8), host("h2", 6), host("h3", 5)];
    const s = solvePlacements(
      rules(
        facts.map((v) => ({ domain: v.domain })),
        { cordon: ["h1"] },
      ),
      inventory,
      facts,
    );
    // a (2 GiB, largest first) -> h2 (10+2 of 16 used vs h3 11+2); b -> h3 (11+1 vs h2 12+1).
    assert.deepEqual(hostsOf(s), { a: "h2", b: "h3", c: "h2" });
    assert.deepEqual(s.moves, [
      { domain: "a", from: "h1", to: "h2" },
      { domain: "b", from: "h1", to: "h3" },
    ]);
    assert.match(s.assignments.a.reason, /must leave h1: h1 is cordoned/);
  });

  it("pack fills the most loaded host that still has room", () => {
    const facts = [vm("a", "h1", 2)];
    const inventory = [host("h1", 8), host("h2", 6), host("h3", 3)];
    const s = solvePlacements(
      rules([{ domain: "a" }], { cordon: ["h1"], strategy: "pack" }),
      inventory,
      facts,
    );
    assert.equal(s.assignments.a.host, "h3");
  });

  it("never sends a VM where a member of its anti-affinity group runs or is bound", () => {
    const facts = [vm("a", "h1"), vm("b", "h1"), vm("c", "h2"), vm("x", "h3")];
    const r = rules(
      [
        { domain: "a", antiAffinity: "g" },
        { domain: "b", antiAffinity: "g" },
        { domain: "c", antiAffinity: "g" },
        { domain: "x" },
      ],
      { cordon: [] },
    );
    const s = solvePlacements(
      r,
      [host("h1", 8), host("h2", 8), host("h3", 8), host("h4", 1)],
      facts,
    );
    // a and b share h1: b (second by name) leaves; h2 holds c, so b goes to h3 (h4 has no room).
    assert.deepEqual(hostsOf(s), { a: "h1", b: "h3", c: "h2", x: "h3" });
    assert.match(s.assignments.b.reason, /holds another member of anti-affinity group 'g'/);
  });

  it("keeps anti-affinity at every moment: a host a member is leaving is not a target", () => {
    // a (group g) must leave cordoned h1; b (group g) must leave h2, which its rules no longer allow.
    // b may not go to h1 (a is there until it leaves), a may not go to h2 (b is there).
    const facts = [vm("a", "h1"), vm("b", "h2")];
    const r = rules(
      [
        { domain: "a", antiAffinity: "g", hosts: ["h1", "h2"] },
        { domain: "b", antiAffinity: "g", hosts: ["h1"] },
      ],
      { cordon: ["h1"] },
    );
    const s = solvePlacements(r, three(), facts);
    assert.equal(s.unplaceable.a.code, "anti-affinity");
    assert.equal(s.assignments.a.host, "h1", "a VM that cannot leave keeps its host");
    assert.match(s.unplaceable.b.reason, /h1 is cordoned/);
  });

  it("counts memory promised to earlier movers, and never the memory a leaver frees", () => {
    // Load (memory given to VMs) may say a host is empty while its memory is taken by other work:
    // room is checked against what is free.
    const facts = [vm("a", "h1", 3), vm("b", "h1", 3), vm("c", "h2", 1)];
    const inventory = [host("h1", 0), host("h2", 4), host("h3", 1, { allocatedMemoryBytes: 0 })];
    const s = solvePlacements(
      rules(
        facts.map((v) => ({ domain: v.domain })),
        { cordon: ["h1"] },
      ),
      inventory,
      facts,
    );
    assert.equal(s.assignments.a.host, "h2");
    assert.equal(s.unplaceable.b.code, "no-room");
    assert.match(
      s.unplaceable.b.reason,
      /h2 has 1\.0 GiB free for 3\.0 GiB; h3 has 1\.0 GiB free for 3\.0 GiB/,
    );
  });

  it("says why a VM cannot be placed: local device, CPU, storage, unreachable, not found", () => {
    const inventory = [
      host("h1", 8),
      host("h2", 8, { cpuModel: "EPYC" }),
      host("h3", 8, { poolFreeBytes: { local: 1 * GiB } }),
      host("h4", 8, { reachable: false }),
    ];
    const facts = [
      vm("dev", "h1", 1, { localDevices: ["hostdev 0000:03:00.0"] }),
      vm("cpu", "h1", 1, {
        requiredCpuModel: "Skylake",
        copiedDiskBytes: 4 * GiB,
        storagePool: "local",
      }),
    ];
    const r = rules([{ domain: "dev" }, { domain: "cpu" }, { domain: "ghost" }], {
      cordon: ["h1"],
    });
    const s = solvePlacements(r, inventory, facts);
    assert.equal(s.unplaceable.dev.code, "local-device");
    assert.match(s.unplaceable.dev.reason, /uses hostdev 0000:03:00.0 on h1/);
    assert.equal(s.unplaceable.cpu.code, "storage");
    assert.match(s.unplaceable.cpu.reason, /h2 has CPU EPYC, the VM needs Skylake/);
    assert.match(s.unplaceable.cpu.reason, /h3's pool 'local' has 1\.0 GiB free for 4\.0 GiB/);
    assert.match(s.unplaceable.cpu.reason, /h4 does not answer/);
    assert.equal(s.unplaceable.ghost.code, "not-found");
    assert.equal(s.assignments.ghost, undefined);
  });

  it("keeps a VM on a host that does not answer, and assigns it elsewhere once that host is cordoned", () => {
    // What a lost host holds is unknown: the VM counts as nothing, and its placement fails over.
    const inventory = [host("h1", 8, { reachable: false }), host("h2", 8), host("h3", 6)];
    const facts = [vm("a", "h1", 0)];
    assert.equal(
      solvePlacements(rules([{ domain: "a" }]), inventory, facts).assignments.a.host,
      "h1",
    );
    const s = solvePlacements(rules([{ domain: "a" }], { cordon: ["h1"] }), inventory, facts);
    assert.deepEqual(s.moves, [{ domain: "a", from: "h1", to: "h2" }]);
  });

  it("follows pins and host selectors", () => {
    const inventory = [
      host("h1", 8),
      host("h2", 8, { labels: { rack: "b" } }),
      host("h3", 8, { labels: { rack: "b" } }),
    ];
    const facts = [vm("p", "h1"), vm("s", "h1")];
    const r = rules([
      { domain: "p", pinned: "h3" },
      { domain: "s", hostSelector: { rack: "b" } },
    ]);
    const s = solvePlacements(r, inventory, facts);
    assert.equal(s.assignments.p.host, "h3");
    assert.match(s.assignments.s.reason, /its rules do not allow h1/);
    assert.equal(s.assignments.s.host, "h2", "h2 and h3 tie on load: the first in the inventory");
  });

  it("rebalances only when asked, at most maxMoves, each move evening out memory use", () => {
    const facts = [vm("a", "h1", 2), vm("b", "h1", 2), vm("c", "h1", 2), vm("d", "h1", 2)];
    const inventory = [host("h1", 8), host("h2", 16), host("h3", 16)];
    const base = facts.map((v) => ({ domain: v.domain }));
    assert.deepEqual(solvePlacements(rules(base), inventory, facts).moves, []);
    const s = solvePlacements(rules(base, { rebalance: true, maxMoves: 2 }), inventory, facts);
    assert.equal(s.moves.length, 2);
    assert.deepEqual(s.moves.map((m) => m.to).sort(), ["h2", "h3"]);
    const unlimited = solvePlacements(
      rules(base, { rebalance: true, maxMoves: 100 }),
      inventory,
      facts,
    );
    assert.ok(unlimited.moves.length <= 3, "stops when no move improves the spread");
  });

  it("is deterministic: the order rules and facts come in does not matter", () => {
    const facts = Array.from({ length: 30 }, (_, i) =>
      vm(`vm${i}`, `h${(i % 3) + 1}`, 1 + (i % 3)),
    );
    const r = facts.map((v, i) => ({
      domain: v.domain,
      ...(i % 4 === 0 ? { antiAffinity: `g${i % 3}` } : {}),
    }));
    const inventory = [host("h1", 20), host("h2", 20), host("h3", 20), host("h4", 20)];
    const one = solvePlacements(
      rules(r, { cordon: ["h2"], rebalance: true, maxMoves: 5 }),
      inventory,
      facts,
    );
    const two = solvePlacements(
      rules([...r].reverse(), { cordon: ["h2"], rebalance: true, maxMoves: 5 }),
      [...inventory],
      [...facts].reverse(),
    );
    assert.deepEqual(hostsOf(one), hostsOf(two));
    assert.deepEqual(one.moves, two.moves);
  });
});

describe("fleet rules validation", () => {
  const inventory = [
    { name: "h1", labels: { rack: "a" } },
    { name: "h2", labels: { rack: "a" } },
    { name: "h3", labels: { rack: "b" } },
  ];
  const check = (vms: VmRule[], extra: Partial<FleetRules> = {}) =>
    validateRules(rules(vms, extra), inventory).map((f) => `${f.property}: ${f.reason}`);

  it("leaves a group a cordon makes too large to the solver, which reports who cannot leave", () => {
    const group = ["a", "b", "c"].map((domain) => ({ domain, antiAffinity: "g" }));
    assert.deepEqual(check(group, { cordon: ["h1"] }), []);
    const s = solvePlacements(
      rules(group, { cordon: ["h1"] }),
      [host("h1", 8), host("h2", 8), host("h3", 8)],
      [vm("a", "h1"), vm("b", "h2"), vm("c", "h3")],
    );
    assert.equal(s.unplaceable.a.code, "anti-affinity");
    assert.equal(s.assignments.a.host, "h1");
  });

  it("accepts rules the inventory can satisfy", () => {
    assert.deepEqual(
      check(
        [
          { domain: "a", antiAffinity: "g" },
          { domain: "b", antiAffinity: "g" },
        ],
        { cordon: ["h3"] },
      ),
      [],
    );
  });

  for (const [name, vms, extra, expected] of [
    [
      "a pinned host that is cordoned",
      [{ domain: "a", pinned: "h1" }],
      { cordon: ["h1"] },
      /^vms\[0\]\.pinned: a is pinned to 'h1', which is cordoned; uncordon it or unpin the VM$/,
    ],
    [
      "more anti-affinity members than hosts they may use",
      [
        { domain: "a", antiAffinity: "g", hosts: ["h1", "h2"] },
        { domain: "b", antiAffinity: "g", hosts: ["h1", "h2"] },
        { domain: "c", antiAffinity: "g", hosts: ["h2"] },
      ],
      {},
      /^vms\[0\]\.antiAffinity: anti-affinity group 'g' has 3 members \(a, b, c\) but its members may use only 2 host\(s\) \(h1, h2\)/,
    ],
    [
      "a selector matching nothing",
      [{ domain: "a", hostSelector: { rack: "z" } }],
      {},
      /^vms\[0\]\.hostSelector: \{"rack":"z"\} matches no host \(labels: h1 \{rack=a\}; h2 \{rack=a\}; h3 \{rack=b\}\)/,
    ],
    [
      "an unknown host",
      [{ domain: "a", hosts: ["h9"] }],
      {},
      /^vms\[0\]\.hosts\[0\]: 'h9' is not in the inventory \(hosts: h1, h2, h3\)$/,
    ],
    [
      "a VM listed twice",
      [{ domain: "a" }, { domain: "a" }],
      {},
      /^vms\[1\]\.domain: 'a' is listed twice \(also vms\[0\]\)/,
    ],
    [
      "every host cordoned",
      [{ domain: "a" }],
      { cordon: ["h1", "h2", "h3"] },
      /^cordon: every host is cordoned/,
    ],
  ] as [string, VmRule[], Partial<FleetRules>, RegExp][]) {
    it(`rejects ${name}`, () => {
      const failures = check(vms, extra);
      assert.ok(
        failures.some((f) => expected.test(f)),
        failures.join("\n"),
      );
    });
  }
});
