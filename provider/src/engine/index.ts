// The migration engine: gather facts, plan (pure), execute (side effects).
import type { ConnectionPool } from "./connections";
import { executePlan, type ExecuteOptions } from "./executor";
import {
  gatherDomainFacts,
  gatherHostFacts,
  locateDomain,
  LocationUnknownError,
  markedCopies,
  settledLocation,
  type LocatedDomain,
} from "./gather";
import { decideRecovery, type Recovery } from "./recovery-plan";
import type { Observed, RunLedger } from "./ledger";
import { chooseLink, type LinkFacts, type MeasuredLink } from "./link";
import { MeasureGate, measureMemory, residentMemory } from "./measure";
import { needlessToMeasure } from "./plan-forecast";
import { blockedPlan, choosePlan, type PlacementRequest } from "./planner";
import type {
  DomainFacts,
  HostFacts,
  MigrationPlan,
  MigrationPolicy,
  MigrationRecord,
} from "./types";

export { ConnectionPool, type InventoryHost } from "./connections";
export {
  MigrationLimiter,
  type LimiterLimits,
  type QueueStatus,
  type SlotRelease,
} from "./limiter";
export { DeadlineExceeded, MigrationError } from "./errors";
export { LocationUnknownError } from "./gather";
export { gatherFleetDomain, gatherFleetHost, hostCpuModel, type FleetHostScan } from "./fleet-scan";
export { executePlan, type ExecuteOptions } from "./executor";
export type { Recovery } from "./recovery-plan";
export { cpuMode, withoutMoveMarker } from "./domain-xml";
export { DEFAULT_POLICY } from "./policy";
export { choosePlan, type PlacementRequest } from "./planner";
export { MeasureGate } from "./measure";
export { RunLedger } from "./ledger";
export { measuredLinkOf, type MeasuredLink } from "./link";
export type * from "./types";

export interface PlannedMove {
  plan: MigrationPlan;
  facts?: DomainFacts;
}

export interface PlanOptions {
  /** Seconds over which a moving guest's dirty rate is measured (0: not measured; default 1). */
  measureSeconds?: number;
  /** Shared by the placements of one run, to bound measurements per host. */
  measureGate?: MeasureGate;
  /** Link rates earlier moves measured (from the state and this run). */
  measuredLinks?: MeasuredLink[];
  /**
   * The run's claims on targets: the plan is checked against what other placements hold, and a
   * move that can go ahead holds its own demand until `ledger.settle(claimant, ...)`.
   */
  ledger?: RunLedger;
  /** Who holds the claim in the ledger (the placement's name); the domain name if unset. */
  claimant?: string;
  signal?: AbortSignal;
}

const DEFAULT_MEASURE_SECONDS = 1;
const defaultGate = new MeasureGate();

/** Gathers what the planner needs for one placement and plans it; changes nothing. */
export async function planPlacement(
  pool: ConnectionPool,
  req: PlacementRequest,
  policy: MigrationPolicy,
  options: PlanOptions = {},
): Promise<PlannedMove> {
  const located = await locateDomain(pool, req.domain);
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
  // A copy that is not running, or a second definition, may be what an interrupted move left.
  if (copies.length || !found.running) {
    const decision = decideRecovery(req.domain, await markedCopies(pool, [found, ...copies]));
    if (decision.kind === "recover") return { plan: recoveryPlan(req, decision.recovery) };
    if (copies.length) {
      // Two copies of one VM: moving either could lose the other's data or run it twice.
      const where = [found, ...copies]
        .map((l) => `${l.host} (${l.running ? "running" : "defined, shut off"})`)
        .join(", ");
      const why = decision.kind === "blocked" ? ` (${decision.reason})` : "";
      return {
        plan: blockedPlan(req, found.host, [
          {
            code: "DEFINED_ON_SEVERAL_HOSTS",
            message: `${req.domain} is defined on more than one host: ${where}${why}. Decide which copy is the VM, remove the other (virsh undefine on that host, after checking its disks), then run this again; neither copy is touched until then.`,
          },
        ]),
      };
    }
  }
  const sourceConn = await pool.get(found.host);
  let facts = await gatherDomainFacts(sourceConn, found.host, found.domain);
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
  const seconds = options.measureSeconds ?? DEFAULT_MEASURE_SECONDS;
  const link = linkFacts(pool, found.host, req.host, options.measuredLinks);
  // Only a live move to another host needs to know how much memory the guest holds and how fast
  // it dirties it; a guest small enough for one downtime needs no dirty-rate measurement.
  const moving = facts.running && req.host !== facts.host && policy.allowLive;
  if (moving) facts.residentBytes = await residentMemory(sourceConn, found.domain);
  const needless = moving
    ? needlessToMeasure(
        facts.memoryBytes,
        facts.residentBytes,
        chooseLink(policy, found.host, req.host, link),
        policy,
      )
    : undefined;
  const otherHosts = [...new Set(req.alsoLookOn ?? [])].filter(
    (h) => h !== facts.host && h !== req.host && pool.host(h),
  );
  // The hosts' facts are gathered while the guest is measured: the window is the longest wait.
  const hostsGathered = (domain: DomainFacts) => {
    const gathered = Promise.all([
      gatherHostFacts(pool, domain.host, domain),
      req.host === domain.host ? undefined : gatherHostFacts(pool, req.host, domain),
      ...otherHosts.map((h) => gatherHostFacts(pool, h)),
    ]);
    // Awaited below; until then a failure must not count as unhandled.
    gathered.catch(() => undefined);
    return gathered;
  };
  let hosts = hostsGathered(facts);
  if (needless) {
    facts.memoryMeasurement = { windowSeconds: 0, needless };
  } else if (moving && seconds > 0) {
    const measured = await (options.measureGate ?? defaultGate).run(found.host, () =>
      measureMemory(sourceConn, found.domain, seconds, options.signal, facts.nvram !== undefined),
    );
    if (measured.stopped) {
      // Plan from what the guest is now: a guest that stopped moves offline, never started.
      facts = await gatherDomainFacts(sourceConn, found.host, found.domain);
      hosts = hostsGathered(facts);
    } else {
      facts.dirtyRateBps = measured.dirtyRateBps;
      facts.residentBytes = measured.residentBytes ?? facts.residentBytes;
      facts.memoryMeasurement = { windowSeconds: seconds, problem: measured.dirtyRateProblem };
    }
  }
  const [source, target, ...others] = await hosts;
  // A CPU check only means something if the CPU passes it where the guest runs now: with
  // check='partial' a guest may run on a host that strict comparison calls incompatible.
  if (source?.cpuCompatible === false && target) target.cpuCompatible = undefined;
  const targetFacts = req.host === facts.host ? source : target;
  const planningFacts = {
    domain: facts,
    source,
    target: targetFacts,
    others: others.filter((h): h is HostFacts => !!h?.reachable),
    link,
  };
  // From here to the reservation nothing awaits, so placements planned at the same time cannot
  // both take the room that is left.
  const claimant = options.claimant ?? req.domain;
  const plan = choosePlan(req, planningFacts, policy);
  const { ledger } = options;
  if (ledger && plan.demand && targetFacts?.reachable) {
    // The first plan tells what the move needs on the target; this one weighs it against what
    // the run's other placements hold there.
    const observed = observedFigures(targetFacts);
    const checked = choosePlan(
      req,
      { ...planningFacts, held: ledger.held(plan.demand, claimant, observed) },
      policy,
    );
    if (!checked.blockers.length) ledger.reserve(claimant, req.domain, plan.demand, observed);
    checked.staleIncoming = staleIncoming;
    return { plan: checked, facts };
  }
  plan.staleIncoming = staleIncoming;
  return { plan, facts };
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
