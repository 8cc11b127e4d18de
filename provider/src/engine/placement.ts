// One placement, end to end: locate the domain once, gather what the planner needs (measuring the
// guest only where the forecast depends on it), plan, and hold the move's room on its target in
// the run's ledger. A domain whose host is lost is planned as a failover. Changes nothing;
// `place` also carries the plan out.
import type { FenceDevice } from "../fencing/agent";
import type { CephStorageFence } from "../fencing/ceph-blocklist";
import type { ConnectionPool } from "./connections";
import { executePlan, type ExecuteOptions } from "./executor";
import { chooseFailover } from "./failover-plan";
import {
  gatherDomainFacts,
  gatherHostFacts,
  locateDomain,
  LocationUnknownError,
  markedCopies,
  readHostsAhead,
  settledLocation,
  type LocatedDomain,
  type Location,
} from "./gather";
import type { Observed, RunLedger } from "./ledger";
import { chooseLink, type LinkFacts, type MeasuredLink } from "./link";
import type { EarlyMeasurements } from "./early-measure";
import { MeasureGate, measuredAfter, measureMemory, residentMemory } from "./measure";
import { needlessToMeasure } from "./plan-forecast";
import { blockedPlan, choosePlan, type PlacementRequest, type PlanningFacts } from "./planner";
import { parseDomainXml } from "./domain-xml";
import { rbdAccessBlockers, rbdAccessNeeds, rbdPoolNeeds } from "./storage-access";
import { probeHost, type Reachability } from "./reachability";
import { decideRecovery, type Recovery } from "./recovery-plan";
import type {
  DomainFacts,
  HostFacts,
  MigrationPlan,
  MigrationPolicy,
  MigrationRecord,
} from "./types";

export interface PlannedMove {
  plan: MigrationPlan;
  facts?: DomainFacts;
}

export interface PlanOptions {
  /** Seconds over which a moving guest's dirty rate is measured (0: not measured; default 1). */
  measureSeconds?: number;
  /** Shared by the placements of one run, to bound measurements per host. */
  measureGate?: MeasureGate;
  /** Calculations the refresh started moments ago: one for this guest and window is waited for, not started again. */
  earlyMeasurements?: EarlyMeasurements;
  /** Link rates earlier moves measured (from the state and this run). */
  measuredLinks?: MeasuredLink[];
  /**
   * The run's claims on targets: the plan is checked against what other placements hold, and a
   * move that can go ahead holds its own demand until `ledger.settle(claimant, ...)`.
   */
  ledger?: RunLedger;
  /** Who holds the claim in the ledger (the placement's name); the domain name if unset. */
  claimant?: string;
  /** The fence device of an inventory host (with its secrets), for a failover from it. */
  fenceDevice?: (host: string) => FenceDevice | undefined;
  /** The storage fence of an inventory host (Ceph blocklist, with its key), for a failover. */
  storageFence?: (host: string) => CephStorageFence | undefined;
  signal?: AbortSignal;
  /** The run only looks (a preview): where domains are may come from listings shared by its placements. */
  lookOnly?: boolean;
}

export const DEFAULT_MEASURE_SECONDS = 1;
const defaultGate = new MeasureGate();

/** Gathers what the planner needs for one placement and plans it; changes nothing. */
export async function planPlacement(
  pool: ConnectionPool,
  req: PlacementRequest,
  policy: MigrationPolicy,
  options: PlanOptions = {},
): Promise<PlannedMove> {
  const lost = await lostSource(pool, req);
  // A lost host is not asked again: it would only cost its connect timeout.
  const located = await locateDomain(pool, req.domain, lost ? [lost.host] : [], {
    fromListings: options.lookOnly,
  });
  if (lost && !located.found?.running)
    return { plan: await failoverPlan(pool, req, policy, lost, options) };
  const where = await settle(pool, req, policy, located);
  if ("plan" in where) return where;
  const { found, copies, staleIncoming } = where;
  const conflict = await copiesConflict(pool, req, found, copies);
  if (conflict) return { plan: conflict };
  const sourceConn = await pool.get(found.host);
  readHostsAhead(pool, [found.host, req.host]);
  const facts = await gatherDomainFacts(sourceConn, found.host, found.domain, found.running);
  if (facts.moveMarker && found.running) {
    // Running where it is, with the note of a move: one under way (a job) keeps it; an
    // interrupted one's note is cleared.
    const job = await sourceConn.domains.jobInfo(found.domain);
    const decision = decideRecovery(
      req.domain,
      [{ host: found.host, running: true, marker: facts.moveMarker }],
      job.type !== "none",
    );
    if (decision.kind === "recover") return { plan: recoveryPlan(req, decision.recovery), facts };
  }
  const gathered = await gatherPlanningFacts(pool, req, policy, found, facts, options);
  return reserve(req, policy, gathered, staleIncoming, options);
}

/**
 * The host the state last saw the domain on, when the placement wants it elsewhere and that host
 * is lost (neither libvirt nor ssh answers): the case for a failover.
 */
async function lostSource(
  pool: ConnectionPool,
  req: PlacementRequest,
): Promise<{ host: string; reach: Reachability } | undefined> {
  const last = req.lastSeen?.host;
  if (!last || last === req.host || !pool.host(last)) return undefined;
  // The probe first: a host that answers costs milliseconds, a lost one a single short timeout.
  const reach = await probeHost(pool, last);
  return reach.lost ? { host: last, reach } : undefined;
}

async function failoverPlan(
  pool: ConnectionPool,
  req: PlacementRequest,
  policy: MigrationPolicy,
  lost: { host: string; reach: Reachability },
  options: PlanOptions,
): Promise<MigrationPlan> {
  const target = await gatherHostFacts(pool, req.host).catch(() => undefined);
  const definition = req.lastSeen?.definitionXml;
  if (target?.reachable && definition)
    target.storageBlockers = await rbdAccessBlockers(
      rbdAccessNeeds(parseDomainXml(definition).disks),
      { name: lost.host },
      { name: req.host, conn: await pool.get(req.host) },
    );
  return chooseFailover(
    req,
    {
      source: lost.host,
      reach: lost.reach,
      fenceDevice: options.fenceDevice?.(lost.host),
      storageFence: options.storageFence?.(lost.host),
      target: target?.reachable ? target : undefined,
    },
    policy,
  );
}

/**
 * Where the domain is, once the hosts that answered can tell: the host that has it, other hosts
 * that define it, and half-received copies a killed migration left. A plan when that settles it
 * (nowhere, or unknown).
 */
async function settle(
  pool: ConnectionPool,
  req: PlacementRequest,
  policy: MigrationPolicy,
  located: Location,
): Promise<
  { found: LocatedDomain; copies: LocatedDomain[]; staleIncoming: string[] } | PlannedMove
> {
  let found: LocatedDomain | undefined;
  try {
    found = settledLocation(req.domain, located);
  } catch (err) {
    if (!(err instanceof LocationUnknownError)) throw err;
    return {
      plan: blockedPlan(req, located.found?.host ?? "unknown", [
        { code: "HOST_UNREACHABLE", message: err.message },
      ]),
    };
  }
  if (!found) return { plan: choosePlan(req, {}, policy) };
  const staleIncoming = await staleIncomingCopies(pool, found, located.also);
  const copies = located.also.filter((l) => !staleIncoming.includes(l.host));
  return { found, copies, staleIncoming };
}

/**
 * A copy that is not running, or a second definition, may be what an interrupted move left:
 * the recovery of it, or the blocker that leaves both copies alone.
 */
async function copiesConflict(
  pool: ConnectionPool,
  req: PlacementRequest,
  found: LocatedDomain,
  copies: LocatedDomain[],
): Promise<MigrationPlan | undefined> {
  if (!copies.length && found.running) return undefined;
  const decision = decideRecovery(req.domain, await markedCopies(pool, [found, ...copies]));
  if (decision.kind === "recover") return recoveryPlan(req, decision.recovery);
  if (!copies.length) return undefined;
  // Two copies of one VM: moving either could lose the other's data or run it twice.
  const where = [found, ...copies]
    .map((l) => `${l.host} (${l.running ? l.state : "defined, shut off"})`)
    .join(", ");
  const why = decision.kind === "blocked" ? ` (${decision.reason})` : "";
  return blockedPlan(req, found.host, [
    {
      code: "DEFINED_ON_SEVERAL_HOSTS",
      message: `${req.domain} is defined on more than one host: ${where}${why}. Decide which copy is the VM, remove the other (virsh undefine on that host, after checking its disks), then run this again; neither copy is touched until then.`,
    },
  ]);
}

/**
 * The facts the planner weighs: the domain (its memory measured when a live move's forecast
 * depends on it), the source, the target and the hosts to look for leftovers on, and the link.
 * The hosts are gathered while the guest is measured: the window is the longest wait.
 */
async function gatherPlanningFacts(
  pool: ConnectionPool,
  req: PlacementRequest,
  policy: MigrationPolicy,
  found: LocatedDomain,
  domainFacts: DomainFacts,
  options: PlanOptions,
): Promise<PlanningFacts & { domain: DomainFacts }> {
  let facts = domainFacts;
  const sourceConn = await pool.get(found.host);
  const seconds = options.measureSeconds ?? DEFAULT_MEASURE_SECONDS;
  const link = linkFacts(pool, found.host, req.host, options.measuredLinks);
  // Only a live move to another host needs to know how much memory the guest holds and how fast
  // it dirties it; a guest small enough for one downtime needs no dirty-rate measurement.
  const moving = facts.running && req.host !== facts.host && policy.allowLive;
  let hosts = hostsGathered(pool, req, facts);
  if (moving) facts.residentBytes = await residentMemory(sourceConn, found.domain);
  const needless = moving
    ? needlessToMeasure(
        facts.memoryBytes,
        facts.residentBytes,
        chooseLink(policy, found.host, req.host, link),
        policy,
      )
    : undefined;
  if (needless) {
    facts.memoryMeasurement = { windowSeconds: 0, needless };
  } else if (moving && seconds > 0) {
    const early = options.earlyMeasurements?.take(found.host, found.domain, seconds);
    const startedEarlierMs = early && Date.now() - early.startedAtMs;
    let measured =
      early &&
      (await measuredAfter(sourceConn, found.domain, seconds, early.startedAtMs, options.signal));
    const reused = measured?.dirtyRateBps !== undefined || measured?.stopped;
    if (!reused)
      measured = await (options.measureGate ?? defaultGate).run(found.host, () =>
        measureMemory(sourceConn, found.domain, seconds, options.signal, facts.nvram !== undefined),
      );
    if (measured!.stopped) {
      // Plan from what the guest is now: a guest that stopped moves offline, never started.
      facts = await gatherDomainFacts(sourceConn, found.host, found.domain);
      hosts = hostsGathered(pool, req, facts);
    } else {
      facts.dirtyRateBps = measured!.dirtyRateBps;
      facts.residentBytes = measured!.residentBytes ?? facts.residentBytes;
      facts.memoryMeasurement = {
        windowSeconds: seconds,
        problem: measured!.dirtyRateProblem,
        ...(reused ? { startedEarlierMs } : {}),
      };
    }
  }
  const [source, target, ...others] = await hosts;
  const onTarget = req.host === facts.host ? source : target;
  if (onTarget?.reachable) {
    // A host change needs the disks' Ceph on the target; a copy into an rbd pool needs that pool's.
    const onRbd = req.host !== facts.host ? rbdAccessNeeds(facts.disks) : [];
    const needs = [...onRbd, ...rbdPoolNeeds(req, onTarget, onRbd)];
    if (needs.length)
      onTarget.storageBlockers = await rbdAccessBlockers(
        needs,
        { name: found.host, conn: sourceConn },
        { name: req.host, conn: await pool.get(req.host) },
      );
  }
  // A CPU check only means something if the CPU passes it where the guest runs now: with
  // check='partial' a guest may run on a host that strict comparison calls incompatible.
  if (source?.cpuCompatible === false && target) target.cpuCompatible = undefined;
  return {
    domain: facts,
    source,
    target: onTarget,
    others: others.filter((h): h is HostFacts => !!h?.reachable),
    link,
  };
}

/** The source's, the target's and the other hosts' facts, gathered side by side. */
function hostsGathered(pool: ConnectionPool, req: PlacementRequest, domain: DomainFacts) {
  const otherHosts = [...new Set(req.alsoLookOn ?? [])].filter(
    (h) => h !== domain.host && h !== req.host && pool.host(h),
  );
  const gathered = Promise.all([
    gatherHostFacts(pool, domain.host, domain),
    req.host === domain.host ? undefined : gatherHostFacts(pool, req.host, domain),
    ...otherHosts.map((h) => gatherHostFacts(pool, h)),
  ]);
  // Awaited by the caller; until then a failure must not count as unhandled.
  gathered.catch(() => undefined);
  return gathered;
}

/**
 * The plan, weighed against what the run's other placements hold on the target; a move that can
 * go ahead holds its own demand there. From the first plan to the reservation nothing awaits,
 * so placements planned at the same time cannot both take the room that is left.
 */
function reserve(
  req: PlacementRequest,
  policy: MigrationPolicy,
  facts: PlanningFacts & { domain: DomainFacts },
  staleIncoming: string[],
  options: PlanOptions,
): PlannedMove {
  const claimant = options.claimant ?? req.domain;
  const plan = choosePlan(req, facts, policy);
  const { ledger } = options;
  let chosen = plan;
  if (ledger && plan.demand && facts.target?.reachable) {
    const observed = observedFigures(facts.target);
    chosen = choosePlan(
      req,
      { ...facts, held: ledger.held(plan.demand, claimant, observed) },
      policy,
    );
    if (!chosen.blockers.length) ledger.reserve(claimant, req.domain, plan.demand, observed);
  }
  chosen.staleIncoming = staleIncoming;
  return { plan: chosen, facts: facts.domain };
}

/** A plan that only recovers an interrupted move; the placement is planned again afterwards. */
function recoveryPlan(req: PlacementRequest, recovery: Recovery): MigrationPlan {
  return { ...blockedPlan(req, recovery.keep, []), recovery };
}

function observedFigures(host: HostFacts): Observed {
  return {
    freeMemoryBytes: host.freeMemoryBytes,
    pools: Object.fromEntries(Object.values(host.pools).map((p) => [p.name, p.availableBytes])),
  };
}

function linkFacts(
  pool: ConnectionPool,
  from: string,
  to: string,
  measured: MeasuredLink[] | undefined,
): LinkFacts {
  return {
    inventory: {
      source: pool.host(from)?.migrationLinkMibps,
      target: pool.host(to)?.migrationLinkMibps,
    },
    measured,
  };
}

/**
 * Hosts holding a half-received copy of the domain from a migration that ended without a
 * switch-over (its process or a daemon was killed): paused as incoming, while the domain runs on
 * `found` with no migration job. Such a copy never ran; it is removed before the next move.
 */
async function staleIncomingCopies(
  pool: ConnectionPool,
  found: LocatedDomain,
  also: LocatedDomain[],
): Promise<string[]> {
  const incoming = also.filter((l) => l.incoming);
  if (!incoming.length || !found.running || found.incoming) return [];
  const job = await (await pool.get(found.host)).domains.jobInfo(found.domain);
  return job.type === "none" ? incoming.map((l) => l.host) : [];
}

/** Plans and carries out one placement. */
export async function place(
  pool: ConnectionPool,
  req: PlacementRequest,
  policy: MigrationPolicy,
  options: Omit<ExecuteOptions, "pool" | "policy"> & PlanOptions = {},
): Promise<{ plan: MigrationPlan; record: MigrationRecord }> {
  let planned = await planPlacement(pool, req, policy, options);
  if (planned.plan.recovery) {
    await executePlan(planned.plan, planned.facts, { ...options, pool, policy });
    planned = await planPlacement(pool, req, policy, options);
  }
  const { plan, facts } = planned;
  const record = await executePlan(plan, facts!, { ...options, pool, policy });
  return { plan, record };
}
