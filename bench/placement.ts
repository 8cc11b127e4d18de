// The fleet solver at scale: 2,000 VMs over 100 hosts, and five times that, with rules (racks as labels, selectors,
// anti-affinity groups, pins) from synthetic facts, in three scenarios (drain three cordoned
// hosts; rebalance a skewed fleet with maxMoves 50; both at once), against a greedy baseline
// that places every VM from scratch, largest first, on the allowed host with the most room.
// Prints time (median of the runs) and moves for each, and writes bench/results/placement.json.
// The larger fleet has the same shape: racks of five times as many hosts, five times as many
// groups, and maxMoves 250.
//   node build/bench/placement.js [runs] [scales, e.g. 1,5]   (default 5 runs, 1,5; pure: no lab)
import {
  allowedHosts,
  solvePlacements,
  type FleetHost,
  type FleetRules,
  type FleetVm,
} from "../provider/src/fleet/solver";
import { validateRules } from "../provider/src/fleet/validate";
import { seededRandom } from "../test/support/seeded-random";
import { printTable, writeResults, type Row } from "./report";

const GiB = 1024 ** 3;
const HOSTS = 100;
const VMS = 2000;
const RACKS = 10;
const MAX_MOVES = 50;

interface Fleet {
  hosts: FleetHost[];
  vms: FleetVm[];
  rules: FleetRules;
}

function fleet(scenario: "drain" | "rebalance" | "both", scale: number): Fleet {
  const rand = seededRandom(42);
  const hostCount = HOSTS * scale;
  const hosts: FleetHost[] = Array.from({ length: hostCount }, (_, i) => ({
    name: `h${String(i).padStart(3, "0")}`,
    reachable: true,
    labels: { rack: `r${i % RACKS}` },
    freeMemoryBytes: 256 * GiB,
    totalMemoryBytes: 256 * GiB,
    allocatedMemoryBytes: 0,
    cpuModel: "Skylake",
    poolFreeBytes: { local: 4096 * GiB },
  }));
  const vms: FleetVm[] = [];
  const rules: FleetRules = {
    vms: [],
    cordon: scenario === "rebalance" ? [] : ["h000", "h001", "h002"],
    strategy: "spread",
    rebalance: scenario !== "drain",
    maxMoves: MAX_MOVES * scale,
  };
  for (let i = 0; i < VMS * scale; i++) {
    const domain = `vm${String(i).padStart(4, "0")}`;
    const memoryBytes = [2, 4, 8, 16][Math.floor(rand() * 4)] * GiB;
    // Skewed: the first tenth of the hosts hold a third of the VMs.
    const at =
      rand() < 0.33 ? Math.floor(rand() * (hostCount / 10)) : Math.floor(rand() * hostCount);
    const h = hosts[at];
    // Anti-affinity groups of four spread one per rack; a tenth use a rack selector; a few pins.
    const group = i < 400 * scale ? `g${Math.floor(i / 4)}` : undefined;
    const rack = group ? `r${i % 4}` : rand() < 0.1 ? h.labels.rack : undefined;
    const home =
      group || rack ? hosts.filter((x) => x.labels.rack === (rack ?? x.labels.rack)) : hosts;
    const place = group || rack ? home[Math.floor(rand() * home.length)] : h;
    place.freeMemoryBytes -= memoryBytes;
    place.allocatedMemoryBytes += memoryBytes;
    vms.push({
      domain,
      currentHost: place.name,
      memoryBytes,
      copiedDiskBytes: 20 * GiB,
      storagePool: "local",
      localDevices: [],
    });
    rules.vms.push({
      domain,
      ...(group ? { antiAffinity: group } : {}),
      ...(rack ? { hostSelector: { rack } } : {}),
      ...(i % 500 === 7 ? { pinned: place.name } : {}),
    });
  }
  return { hosts, vms, rules };
}

/** Every VM placed from scratch: largest first, on the allowed open host with the most room. */
function greedy(f: Fleet): {
  assignments: Record<string, string>;
  moves: number;
  unplaceable: number;
} {
  const free = new Map(f.hosts.map((h) => [h.name, h.totalMemoryBytes]));
  const groupHosts = new Map<string, Set<string>>();
  const cordoned = new Set(f.rules.cordon);
  const vm = new Map(f.vms.map((v) => [v.domain, v]));
  const assignments: Record<string, string> = {};
  let unplaceable = 0;
  const order = [...f.rules.vms].sort(
    (a, b) =>
      vm.get(b.domain)!.memoryBytes - vm.get(a.domain)!.memoryBytes ||
      (a.domain < b.domain ? -1 : 1),
  );
  for (const rule of order) {
    const v = vm.get(rule.domain)!;
    let best: string | undefined;
    for (const h of allowedHosts(rule, f.hosts)) {
      if (cordoned.has(h.name) || free.get(h.name)! < v.memoryBytes) continue;
      if (rule.antiAffinity && groupHosts.get(rule.antiAffinity)?.has(h.name)) continue;
      if (!best || free.get(h.name)! > free.get(best)!) best = h.name;
    }
    if (!best) {
      unplaceable++;
      continue;
    }
    free.set(best, free.get(best)! - v.memoryBytes);
    if (rule.antiAffinity) {
      if (!groupHosts.has(rule.antiAffinity)) groupHosts.set(rule.antiAffinity, new Set());
      groupHosts.get(rule.antiAffinity)!.add(best);
    }
    assignments[rule.domain] = best;
  }
  const moves = Object.entries(assignments).filter(([d, h]) => vm.get(d)!.currentHost !== h).length;
  return { assignments, moves, unplaceable };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timed<T>(runs: number, f: () => T): { ms: number; result: T } {
  const times: number[] = [];
  let result!: T;
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint();
    result = f();
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return { ms: median(times), result };
}

function main(): void {
  const runs = Number(process.argv[2] ?? 5);
  const scales = (process.argv[3] ?? "1,5").split(",").map(Number);
  const rows: Row[] = [];
  for (const scale of scales)
    for (const scenario of ["drain", "rebalance", "both"] as const)
      rows.push(measure(scenario, scale, runs));
  printTable(rows);
  console.log(
    `\n${runs} runs each, median time. Targets: the solver under 1 s, and no more moves than the greedy baseline ` +
      `(which places every VM from scratch). Rebalance scenarios cap the solver at maxMoves ${MAX_MOVES} per ${VMS} VMs beyond the drain.`,
  );
  console.log(`results: ${writeResults("placement", { runs, scales, rows })}`);
}

function measure(scenario: "drain" | "rebalance" | "both", scale: number, runs: number): Row {
  const f = fleet(scenario, scale);
  const failures = validateRules(f.rules, f.hosts);
  if (failures.length)
    throw new Error(`${scenario}: invalid rules: ${failures[0].property}: ${failures[0].reason}`);
  const solver = timed(runs, () => solvePlacements(f.rules, f.hosts, f.vms));
  const baseline = timed(runs, () => greedy(f));
  const onCordoned = Object.values(solver.result.assignments).filter((a) =>
    f.rules.cordon.includes(a.host),
  ).length;
  return {
    scenario,
    vms: VMS * scale,
    hosts: HOSTS * scale,
    "solver ms": solver.ms.toFixed(0),
    "solver moves": solver.result.moves.length,
    unplaceable: Object.keys(solver.result.unplaceable).length,
    "left on cordoned": onCordoned,
    "greedy ms": baseline.ms.toFixed(0),
    "greedy moves": baseline.result.moves,
    "greedy unplaceable": baseline.result.unplaceable,
    "under 1 s": solver.ms < 1000 ? "yes" : "NO",
    "moves <= greedy": solver.result.moves.length <= baseline.result.moves ? "yes" : "NO",
  };
}

main();
