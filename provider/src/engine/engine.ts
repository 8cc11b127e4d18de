// The engine bound to one inventory's connections: the calls a resource makes to plan, carry out
// and observe its placement. Resources hold one of these (or a fake of it in unit tests) and
// never a connection.
import type { ConnectionPool } from "./connections";
import { EarlyMeasurements } from "./early-measure";
import { executePlan, type ExecuteOptions } from "./executor";
import { reconcileAfterFailover, type AfterFailover } from "./failover";
import type { CephStorageFence } from "../fencing/ceph-blocklist";
import {
  observeDomain,
  observeDomainOn,
  type Observation,
  type ObserveOptions,
  type ObservedDomain,
} from "./observe";
import { planPlacement, type PlannedMove, type PlanOptions } from "./placement";
import type { PlacementRequest } from "./planner";
import { probeHost, type Reachability } from "./reachability";
import type { DomainFacts, MigrationPlan, MigrationPolicy, MigrationRecord } from "./types";

export interface PlacementEngine {
  /** Gathers facts and plans one placement (a move, a recovery, a failover); changes nothing. */
  planPlacement(
    req: PlacementRequest,
    policy: MigrationPolicy,
    options?: PlanOptions,
  ): Promise<PlannedMove>;
  /** Carries a plan out; throws MigrationError (with the record) when it does not succeed. */
  executePlan(
    plan: MigrationPlan,
    facts: DomainFacts | undefined,
    options: Omit<ExecuteOptions, "pool">,
  ): Promise<MigrationRecord>;
  /** Where the domain is, asking every host (LocationUnknownError when silent hosts leave it open). */
  observeDomain(domain: string, options?: ObserveOptions): Promise<Observation | undefined>;
  /** The domain as it is on one host, where a move left it. */
  observeDomainOn(
    host: string,
    domain: string,
    options?: ObserveOptions,
  ): Promise<ObservedDomain | undefined>;
  /** Whether a host is lost (libvirt and ssh both silent) or only sick. */
  probeHost(host: string): Promise<Reachability>;
  /**
   * Once a failed-over VM's old host is back: undefines its stale copy there and lifts the
   * blocklist entries of its Ceph clients.
   */
  reconcileAfterFailover(
    domain: string,
    failover: Pick<MigrationRecord, "from" | "storageFence">,
    runningOn: string,
    storageFence?: CephStorageFence,
  ): Promise<AfterFailover>;
}

export function placementEngine(pool: ConnectionPool): PlacementEngine {
  // A refresh's calculations, for the plans of this process's updates.
  const earlyMeasurements = new EarlyMeasurements();
  return {
    planPlacement: (req, policy, options) =>
      planPlacement(pool, req, policy, { earlyMeasurements, ...options }),
    executePlan: (plan, facts, options) => executePlan(plan, facts, { ...options, pool }),
    observeDomain: (domain, options) =>
      observeDomain(pool, domain, { earlyMeasurements, ...options }),
    observeDomainOn: (host, domain, options) => observeDomainOn(pool, host, domain, options),
    probeHost: (host) => probeHost(pool, host),
    reconcileAfterFailover: (domain, failover, runningOn, storageFence) =>
      reconcileAfterFailover(pool, domain, failover, runningOn, storageFence),
  };
}
