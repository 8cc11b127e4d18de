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
import { seededRandom } from "../../support/seeded-random";

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

describe("fleet solver: rebalancing finds the best single move each round", () => {
  /**
   * The oracle: every candidate against every host it may use, each round, in name and inventory
   * order, keeping a move only when it beats the best so far; hosts differ in size, VMs in
   * memory, some VMs have a rack selector. Only memory limits a host here.
   */
  function exhaustive(hosts: FleetHost[], vms: FleetVm[], rules: FleetRules) {
    const used = new Map(hosts.map((h) => [h.name, h.allocatedMemoryBytes]));
    const free = new Map(hosts.map((h) => [h.name, h.freeMemoryBytes]));
    const at = new Map(vms.map((v) => [v.domain, v.currentHost!]));
    const sign = rules.strategy === "spread" ? -1 : 1;
    const share = (h: FleetHost, u: number) => (u / h.totalMemoryBytes) ** 2;
    const moved = new Set<string>();
    const moves: Array<{ domain: string; from: string; to: string }> = [];
    for (let round = 0; round < rules.maxMoves; round++) {
      let best: { v: FleetVm; to: FleetHost; gain: number } | undefined;
      for (const v of [...vms].sort((a, b) => (a.domain < b.domain ? -1 : 1))) {
        if (moved.has(v.domain)) continue;
        const rule = rules.vms.find((r) => r.domain === v.domain)!;
        const from = hosts.find((h) => h.name === at.get(v.domain))!;
        for (const to of hosts) {
          if (to === from) continue;
          if (rule.hostSelector && to.labels.rack !== rule.hostSelector.rack) continue;
          const uf = used.get(from.name)!;
          const ut = used.get(to.name)!;
          const b = v.memoryBytes;
          const gain =
            sign * (share(from, uf - b) - share(from, uf) + (share(to, ut + b) - share(to, ut)));
          if (gain <= 1e-9 || (best && gain <= best.gain + 1e-12)) continue;
          if (free.get(to.name)! < b) continue;
          best = { v, to, gain };
        }
      }
      if (!best) break;
      const from = at.get(best.v.domain)!;
      used.set(from, used.get(from)! - best.v.memoryBytes);
      used.set(best.to.name, used.get(best.to.name)! + best.v.memoryBytes);
      // The source keeps its room until the move is done; the target's is taken at once.
      free.set(best.to.name, free.get(best.to.name)! - best.v.memoryBytes);
      moved.add(best.v.domain);
      moves.push({ domain: best.v.domain, from, to: best.to.name });
    }
    return moves.sort((a, b) => (a.domain < b.domain ? -1 : 1));
  }

  for (const strategy of ["spread", "pack"] as const)
    for (let seed = 1; seed <= 12; seed++)
      it(`${strategy}, fleet ${seed}: the same moves as trying every VM on every host`, () => {
        const rand = seededRandom(seed * 7 + (strategy === "pack" ? 1 : 0));
        const hosts = Array.from({ length: 6 + (seed % 9) }, (_, i) => {
          const total = [32, 64, 128][Math.floor(rand() * 3)];
          return host(`h${String(i).padStart(2, "0")}`, total, {
            totalMemoryBytes: total * GiB,
            allocatedMemoryBytes: 0,
            labels: { rack: `r${i % 3}` },
          });
        });
        const vms: FleetVm[] = [];
        const rules: FleetRules = {
          vms: [],
          cordon: [],
          strategy,
          rebalance: true,
          maxMoves: 4 + (seed % 11),
        };
        for (let i = 0; vms.length < 30 + seed * 3 && i < 1000; i++) {
          const h =
            hosts[rand() < 0.5 ? Math.floor(rand() * 2) : Math.floor(rand() * hosts.length)];
          const mem = [1, 2, 4, 8][Math.floor(rand() * 4)] * GiB;
          if (h.freeMemoryBytes < mem) continue;
          h.freeMemoryBytes -= mem;
          h.allocatedMemoryBytes += mem;
          const domain = `vm${String(i).padStart(3, "0")}`;
          vms.push(vm(domain, h.name, mem / GiB));
          rules.vms.push(
            rand() < 0.2 ? { domain, hostSelector: { rack: h.labels.rack } } : { domain },
          );
        }
        const solved = solvePlacements(rules, hosts, vms);
        assert.ok(solved.moves.length > 0, "the fleet is uneven enough to rebalance");
        assert.deepEqual(solved.moves, exhaustive(hosts, vms, rules));
      });
});
