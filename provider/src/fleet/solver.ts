// Places a whole set of VMs at once under rules (allowed hosts, anti-affinity, pins, cordons) and
// a strategy, from the facts gathered about hosts and VMs. Pure and deterministic: the same rules
// and facts give the same assignments, every tie broken by name.
//
// Load is the memory given to VMs as a fraction of the host's memory; room is what is free.
// Stable by default: a VM stays where it runs while that host is allowed, not cordoned, and the
// rules hold there. Only VMs that must leave are placed, largest first; with `rebalance`, up to
// `maxMoves` further single moves are made, each the one that improves the strategy's objective
// most. Memory a leaving VM frees is never counted as room for another: the moves of one update
// run side by side, so the target must have room while the source still holds the VM.
// Anti-affinity holds at every moment of the update, not only at its end: a VM is only sent to
// a host where no member of its group runs now or is bound for.

import { squaredShareChange, TargetOrder, type Strategy } from "./target-order";
import { RunLedger, type Demand, type Observed } from "../engine";

export type { Strategy } from "./target-order";

export interface FleetHost {
  name: string;
  reachable: boolean;
  labels: Record<string, string>;
  /** Memory free now; what the VMs running there use is already taken. Room is checked against it. */
  freeMemoryBytes: number;
  /** Memory the host has in all. */
  totalMemoryBytes: number;
  /**
   * Memory given to the VMs running there (their current memory): the load the strategies
   * spread or pack, as a fraction of the total. Free memory alone cannot tell the load of hosts
   * that share memory with other work.
   */
  allocatedMemoryBytes: number;
  cpuModel?: string;
  /** Free bytes per pool, by pool name. */
  poolFreeBytes: Record<string, number>;
}

export interface FleetVm {
  domain: string;
  /** Where it runs now; undefined when it runs nowhere in the inventory. */
  currentHost?: string;
  memoryBytes: number;
  /** Bytes of disk a move copies into `storagePool` on the target (0: all shared). */
  copiedDiskBytes: number;
  storagePool?: string;
  /** Host devices passed through to the VM: it cannot leave its host. */
  localDevices: string[];
  /** A CPU model the target must have (host-model or host-passthrough guests). */
  requiredCpuModel?: string;
}

export interface VmRule {
  domain: string;
  hosts?: string[];
  hostSelector?: Record<string, string>;
  antiAffinity?: string;
  pinned?: string;
}

export interface FleetRules {
  vms: VmRule[];
  cordon: string[];
  strategy: Strategy;
  rebalance: boolean;
  maxMoves: number;
}

export type UnplaceableCode =
  | "not-found"
  | "no-allowed-host"
  | "no-room"
  | "anti-affinity"
  | "local-device"
  | "cpu"
  | "storage"
  | "unreachable";

export interface Assignment {
  host: string;
  reason: string;
}

export interface Unplaceable {
  code: UnplaceableCode;
  reason: string;
}

export interface Solution {
  /** domain -> host; a VM that cannot leave its host keeps it here (and is in `unplaceable`). */
  assignments: Record<string, Assignment>;
  unplaceable: Record<string, Unplaceable>;
  /** The VMs whose assigned host differs from where they run, in domain order. */
  moves: Array<{ domain: string; from: string; to: string }>;
}

const GiB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The hosts a rule allows, in inventory order, before cordons and facts. */
export function allowedHosts(rule: VmRule, inventory: FleetHost[]): FleetHost[] {
  if (rule.pinned) return inventory.filter((h) => h.name === rule.pinned);
  return inventory.filter(
    (h) =>
      (!rule.hosts || rule.hosts.includes(h.name)) &&
      Object.entries(rule.hostSelector ?? {}).every(([k, v]) => h.labels[k] === v),
  );
}

/**
 * The bookkeeping of one solve: the room VMs bound for a host take there, held in the engine's
 * RunLedger (the same accounts a run's moves hold: memory, and space per pool), against the
 * hosts' figures as gathered; and which hosts each anti-affinity group is on.
 */
class Bookkeeping {
  private readonly claims = new RunLedger();
  /** group -> hosts where a member runs now or is bound for. */
  private readonly groupHosts = new Map<string, Set<string>>();

  constructor(private readonly hosts: Map<string, FleetHost>) {}

  private demand(vm: FleetVm, host: string): Demand {
    const copies = vm.copiedDiskBytes && vm.storagePool;
    return {
      host,
      memoryBytes: vm.memoryBytes,
      pools: copies ? { [vm.storagePool!]: vm.copiedDiskBytes } : {},
    };
  }

  private figures(host: string): Observed {
    const h = this.hosts.get(host)!;
    return { freeMemoryBytes: h.freeMemoryBytes, pools: h.poolFreeBytes };
  }

  /** Memory promised to VMs bound for `host` in this solve. */
  incomingMemory(host: string): number {
    return this.claims.held({ host, memoryBytes: 0, pools: {} }, "", this.figures(host)).memory
      .bytes;
  }

  roomFor(vm: FleetVm, host: string): number {
    return this.hosts.get(host)!.freeMemoryBytes - this.incomingMemory(host) - vm.memoryBytes;
  }

  poolRoomFor(vm: FleetVm, host: string): number {
    if (!vm.copiedDiskBytes || !vm.storagePool) return Infinity;
    const free = this.hosts.get(host)!.poolFreeBytes[vm.storagePool];
    if (free === undefined) return -Infinity;
    const held = this.claims.held(this.demand(vm, host), "", this.figures(host));
    return free - held.pools[vm.storagePool].bytes - vm.copiedDiskBytes;
  }

  holdsGroup(group: string | undefined, host: string): boolean {
    return group !== undefined && (this.groupHosts.get(group)?.has(host) ?? false);
  }

  markGroup(group: string | undefined, host: string): void {
    if (group === undefined) return;
    if (!this.groupHosts.has(group)) this.groupHosts.set(group, new Set());
    this.groupHosts.get(group)!.add(host);
  }

  /** `vm` is bound for `host`: it holds its room there for the rest of the solve. */
  reserve(vm: FleetVm, host: string): void {
    this.claims.reserve(vm.domain, vm.domain, this.demand(vm, host), this.figures(host));
  }
}

interface Context {
  rules: FleetRules;
  inventory: FleetHost[];
  hosts: Map<string, FleetHost>;
  vms: Map<string, FleetVm>;
  ruleOf: Map<string, VmRule>;
  cordoned: Set<string>;
  /** Each VM's allowed hosts, computed once. */
  allowed: Map<string, FleetHost[]>;
}

/** Why `host` cannot take `vm` now, or undefined when it can. */
function rejection(
  ctx: Context,
  book: Bookkeeping,
  vm: FleetVm,
  rule: VmRule,
  host: FleetHost,
): Unplaceable | undefined {
  if (ctx.cordoned.has(host.name))
    return { code: "no-allowed-host", reason: `${host.name} is cordoned` };
  if (!host.reachable) return { code: "unreachable", reason: `${host.name} does not answer` };
  if (vm.requiredCpuModel && host.cpuModel !== vm.requiredCpuModel)
    return {
      code: "cpu",
      reason: `${host.name} has CPU ${host.cpuModel ?? "unknown"}, the VM needs ${vm.requiredCpuModel}`,
    };
  if (book.holdsGroup(rule.antiAffinity, host.name))
    return {
      code: "anti-affinity",
      reason: `${host.name} holds a member of anti-affinity group '${rule.antiAffinity}'`,
    };
  const room = book.roomFor(vm, host.name);
  if (room < 0)
    return {
      code: "no-room",
      reason: `${host.name} has ${gib(room + vm.memoryBytes)} free for ${gib(vm.memoryBytes)}`,
    };
  const poolRoom = book.poolRoomFor(vm, host.name);
  if (poolRoom < 0)
    return {
      code: "storage",
      reason:
        poolRoom === -Infinity
          ? `${host.name} has no pool '${vm.storagePool}'`
          : `${host.name}'s pool '${vm.storagePool}' has ${gib(poolRoom + vm.copiedDiskBytes)} free for ${gib(vm.copiedDiskBytes)}`,
    };
  return undefined;
}

/** The most telling reason among the hosts' rejections: the first by this order. */
const CODE_ORDER: UnplaceableCode[] = [
  "no-room",
  "storage",
  "anti-affinity",
  "cpu",
  "unreachable",
  "no-allowed-host",
];

function summarize(rejections: Unplaceable[], leaving: string): Unplaceable {
  if (!rejections.length)
    return { code: "no-allowed-host", reason: `no host its rules allow ${leaving}` };
  const code = CODE_ORDER.find((c) => rejections.some((r) => r.code === c))!;
  return {
    code,
    reason: `no allowed host can take it ${leaving}: ${rejections.map((r) => r.reason).join("; ")}`,
  };
}

/**
 * Score of a host after taking the VM, higher is better: spread wants the least loaded host
 * (memory given to VMs over its memory), pack the most loaded one that still has room.
 */
function preference(ctx: Context, book: Bookkeeping, vm: FleetVm, host: FleetHost): number {
  const load = host.totalMemoryBytes
    ? (host.allocatedMemoryBytes + book.incomingMemory(host.name) + vm.memoryBytes) /
      host.totalMemoryBytes
    : 1;
  return ctx.rules.strategy === "spread" ? -load : load;
}

function mustLeave(
  ctx: Context,
  kept: Map<string, Set<string>>,
  vm: FleetVm,
  rule: VmRule,
): string | undefined {
  const host = ctx.hosts.get(vm.currentHost!)!;
  if (ctx.cordoned.has(host.name)) return `${host.name} is cordoned`;
  if (!ctx.allowed.get(rule.domain)!.includes(host)) return `its rules do not allow ${host.name}`;
  if (vm.requiredCpuModel && host.cpuModel && host.cpuModel !== vm.requiredCpuModel)
    return `${host.name} has CPU ${host.cpuModel}, the VM needs ${vm.requiredCpuModel}`;
  if (rule.antiAffinity && kept.get(rule.antiAffinity)?.has(host.name))
    return `${host.name} holds another member of anti-affinity group '${rule.antiAffinity}'`;
  return undefined;
}

/**
 * How much moving `bytes` from one host to another improves the strategy's objective: the sum
 * over hosts of the squared fraction of memory used, which spread wants small (even load) and
 * pack wants large (full hosts next to empty ones). Only the two hosts change.
 */
function gainOf(
  ctx: Context,
  used: Map<string, number>,
  bytes: number,
  from: FleetHost,
  to: FleetHost,
): number {
  const delta =
    squaredShareChange(from, used.get(from.name)!, -bytes) +
    squaredShareChange(to, used.get(to.name)!, bytes);
  return ctx.rules.strategy === "spread" ? -delta : delta;
}

export function solvePlacements(
  rules: FleetRules,
  inventory: FleetHost[],
  vmFacts: FleetVm[],
): Solution {
  const ctx: Context = {
    rules,
    inventory,
    hosts: new Map(inventory.map((h) => [h.name, h])),
    vms: new Map(vmFacts.map((v) => [v.domain, v])),
    ruleOf: new Map(rules.vms.map((r) => [r.domain, r])),
    cordoned: new Set(rules.cordon),
    allowed: new Map(rules.vms.map((r) => [r.domain, allowedHosts(r, inventory)])),
  };
  const book = new Bookkeeping(ctx.hosts);
  const assignments: Record<string, Assignment> = {};
  const unplaceable: Record<string, Unplaceable> = {};
  const domains = rules.vms.map((r) => r.domain).sort(byName);

  // Where every member of each group runs now: a host with one is off limits to the others
  // until that member is gone, which within one update it is not.
  const running = domains.filter((d) => ctx.hosts.has(ctx.vms.get(d)?.currentHost ?? ""));
  const found = new Set(running);
  for (const d of domains)
    if (!found.has(d))
      unplaceable[d] = { code: "not-found", reason: `${d} runs on no inventory host` };

  const { stays, leaving } = stayersAndLeavers(ctx, running, assignments);
  for (const d of running)
    book.markGroup(ctx.ruleOf.get(d)!.antiAffinity, ctx.vms.get(d)!.currentHost!);

  // Leavers, largest first (they are the hardest to fit), then by name.
  const movers = [...leaving.keys()].sort(
    (a, b) => ctx.vms.get(b)!.memoryBytes - ctx.vms.get(a)!.memoryBytes || byName(a, b),
  );
  for (const d of movers) {
    const placed = placeLeaver(ctx, book, d, leaving.get(d)!);
    assignments[d] = placed.assignment;
    if (placed.unplaceable) unplaceable[d] = placed.unplaceable;
  }

  if (rules.rebalance) rebalance(ctx, book, assignments, stays, rules.maxMoves);

  const moves = domains
    .filter((d) => assignments[d] && assignments[d].host !== ctx.vms.get(d)!.currentHost)
    .map((d) => ({ domain: d, from: ctx.vms.get(d)!.currentHost!, to: assignments[d].host }));
  return { assignments, unplaceable, moves };
}

/**
 * Stayers first, in name order: a second member of a group on one host is the one that leaves.
 * Records each stayer's assignment; returns the stayers and why each leaver must leave.
 */
function stayersAndLeavers(
  ctx: Context,
  running: string[],
  assignments: Record<string, Assignment>,
): { stays: Set<string>; leaving: Map<string, string> } {
  const stays = new Set<string>();
  const leaving = new Map<string, string>();
  const groupAt = new Map<string, Set<string>>();
  for (const d of running) {
    const vm = ctx.vms.get(d)!;
    const rule = ctx.ruleOf.get(d)!;
    const why = mustLeave(ctx, groupAt, vm, rule);
    if (why) {
      leaving.set(d, why);
      continue;
    }
    stays.add(d);
    assignments[d] = {
      host: vm.currentHost!,
      reason: `stays on ${vm.currentHost}: allowed, and its rules hold there`,
    };
    if (rule.antiAffinity) {
      if (!groupAt.has(rule.antiAffinity)) groupAt.set(rule.antiAffinity, new Set());
      groupAt.get(rule.antiAffinity)!.add(vm.currentHost!);
    }
  }
  return { stays, leaving };
}

/**
 * The host a VM that must leave goes to (the best the strategy prefers among those that can
 * take it, held in its bookkeeping), or why it cannot leave (it then stays where it is).
 */
function placeLeaver(
  ctx: Context,
  book: Bookkeeping,
  d: string,
  mustLeaveBecause: string,
): { assignment: Assignment; unplaceable?: Unplaceable } {
  const vm = ctx.vms.get(d)!;
  const rule = ctx.ruleOf.get(d)!;
  const why = `(it must leave ${vm.currentHost}: ${mustLeaveBecause})`;
  const keep = (u: Unplaceable) => ({
    unplaceable: u,
    assignment: {
      host: vm.currentHost!,
      reason: `stays on ${vm.currentHost}: cannot leave: ${u.reason}`,
    },
  });
  if (vm.localDevices.length)
    return keep({
      code: "local-device",
      reason: `it uses ${vm.localDevices.join(", ")} on ${vm.currentHost} ${why}`,
    });
  let best: { host: string; score: number } | undefined;
  const rejections: Unplaceable[] = [];
  for (const host of ctx.allowed.get(d)!) {
    if (host.name === vm.currentHost) continue;
    const no = rejection(ctx, book, vm, rule, host);
    if (no) {
      rejections.push(no);
      continue;
    }
    const score = preference(ctx, book, vm, host);
    if (!best || score > best.score) best = { host: host.name, score };
  }
  if (!best) return keep(summarize(rejections, why));
  book.reserve(vm, best.host);
  book.markGroup(rule.antiAffinity, best.host);
  return {
    assignment: {
      host: best.host,
      reason: `moves ${vm.currentHost} -> ${best.host} ${why}; ${best.host} is the ${ctx.rules.strategy === "spread" ? "least" : "most"} loaded of the hosts that can take it`,
    },
  };
}

/**
 * Up to `budget` single moves of VMs that would stay, each the one that improves the objective
 * most (ties: domain, then host in inventory order), stopping when none improves it. Each round
 * ranks the hosts once per VM size (TargetOrder), so a candidate stops at the first host that
 * cannot beat the best move so far: the cost grows with the fleet, not with VMs times hosts.
 */
function rebalance(
  ctx: Context,
  book: Bookkeeping,
  assignments: Record<string, Assignment>,
  stays: Set<string>,
  budget: number,
): void {
  const used = new Map(ctx.inventory.map((h) => [h.name, h.allocatedMemoryBytes]));
  for (const [d, a] of Object.entries(assignments)) {
    const vm = ctx.vms.get(d)!;
    if (a.host !== vm.currentHost) {
      used.set(a.host, used.get(a.host)! + vm.memoryBytes);
      used.set(vm.currentHost!, used.get(vm.currentHost!)! - vm.memoryBytes);
    }
  }
  // What each round asks of a candidate, looked up once. Candidates of one size on one host
  // share the gain of leaving it: one number per round, their bound with the best arrival.
  const shapes = new Map<string, number>();
  const candidates: Candidate[] = [...stays]
    .filter((d) => !ctx.vms.get(d)!.localDevices.length)
    .sort(byName)
    .map((d) => {
      const vm = ctx.vms.get(d)!;
      const shape = `${vm.currentHost}|${vm.memoryBytes}`;
      if (!shapes.has(shape)) shapes.set(shape, shapes.size);
      return {
        d,
        vm,
        rule: ctx.ruleOf.get(d)!,
        from: ctx.hosts.get(vm.currentHost!)!,
        allowed: new Set(ctx.allowed.get(d)!.map((h) => h.name)),
        shape: shapes.get(shape)!,
      };
    });
  const sign = ctx.rules.strategy === "spread" ? -1 : 1;
  for (let moved = 0; moved < budget; moved++) {
    const targets = new TargetOrder(ctx.inventory, used, ctx.rules.strategy);
    // Per shape, the objective's gain from the candidate leaving its host.
    const leavings = new Float64Array(shapes.size).fill(NaN);
    let best: { d: string; host: string; gain: number } | undefined;
    for (const c of candidates) {
      // Only clear gains (a move for a rounding error is churn), and only one better than the
      // best so far.
      const needed = Math.max(1e-9, best ? best.gain + 1e-12 : -Infinity);
      if (Number.isNaN(leavings[c.shape]))
        leavings[c.shape] =
          sign * squaredShareChange(c.from, used.get(c.from.name)!, -c.vm.memoryBytes);
      const leaving = leavings[c.shape];
      if (leaving + targets.for(c.vm.memoryBytes)[0].arrival <= needed - BOUND_SLACK) continue;
      const found = bestTarget(ctx, book, used, targets, c, leaving, needed);
      if (found) best = { d: c.d, ...found };
    }
    if (!best) return;
    const vm = ctx.vms.get(best.d)!;
    const rule = ctx.ruleOf.get(best.d)!;
    book.reserve(vm, best.host);
    book.markGroup(rule.antiAffinity, best.host);
    used.set(vm.currentHost!, used.get(vm.currentHost!)! - vm.memoryBytes);
    used.set(best.host, used.get(best.host)! + vm.memoryBytes);
    assignments[best.d] = {
      host: best.host,
      reason: `moves ${vm.currentHost} -> ${best.host} to ${ctx.rules.strategy === "spread" ? "even out" : "pack"} memory use (rebalance)`,
    };
    stays.delete(best.d);
    candidates.splice(
      candidates.findIndex((c) => c.d === best!.d),
      1,
    );
  }
}

/** A VM rebalancing may move, with what each round asks of it. */
interface Candidate {
  d: string;
  vm: FleetVm;
  rule: VmRule;
  from: FleetHost;
  allowed: Set<string>;
  /** Its host and size, as an index into the round's leaving gains. */
  shape: number;
}

/** Bounds are summed in another order than gainOf's: room for rounding, so none is cut short. */
const BOUND_SLACK = 1e-12;

/**
 * The host moving the candidate there gains the most by, if that gain exceeds `needed` and the
 * host can take it. Hosts come best arrival first: once `leaving` (the gain of leaving its host)
 * plus the best arrival left cannot reach `needed`, no later host can.
 */
function bestTarget(
  ctx: Context,
  book: Bookkeeping,
  used: Map<string, number>,
  targets: TargetOrder<FleetHost>,
  { vm, rule, from, allowed }: Candidate,
  leaving: number,
  needed: number,
): { host: string; gain: number } | undefined {
  for (const { host, arrival } of targets.for(vm.memoryBytes)) {
    if (leaving + arrival <= needed - BOUND_SLACK) return undefined;
    if (host.name === from.name || !allowed.has(host.name)) continue;
    const gain = gainOf(ctx, used, vm.memoryBytes, from, host);
    // The rules are checked only for a move that would be the best so far: the search stays cheap.
    if (gain > needed && !rejection(ctx, book, vm, rule, host)) return { host: host.name, gain };
  }
  return undefined;
}
