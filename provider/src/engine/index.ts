// The migration engine: gather facts, plan (pure), execute (side effects).
import type { ConnectionPool } from "./connections";
import { executePlan, type ExecuteOptions } from "./executor";
import { gatherDomainFacts, gatherHostFacts, locateDomain } from "./gather";
import { choosePlan, type PlacementRequest } from "./planner";
import type { DomainFacts, MigrationPlan, MigrationPolicy, MigrationRecord } from "./types";

export { ConnectionPool, type InventoryHost } from "./connections";
export { MigrationLimiter, type LimiterLimits } from "./limiter";
export { DeadlineExceeded, MigrationError } from "./errors";
export { executePlan, type ExecuteOptions } from "./executor";
export { DEFAULT_POLICY } from "./policy";
export { choosePlan, type PlacementRequest } from "./planner";
export type * from "./types";

export interface PlannedMove {
  plan: MigrationPlan;
  facts?: DomainFacts;
}

/** Gathers what the planner needs for one placement and plans it; changes nothing. */
export async function planPlacement(
  pool: ConnectionPool,
  req: PlacementRequest,
  policy: MigrationPolicy,
): Promise<PlannedMove> {
  const located = await locateDomain(pool, req.domain);
  if (!located.found) {
    const unreachable = Object.entries(located.unreachable);
    const plan = choosePlan(req, {}, policy);
    if (unreachable.length) {
      plan.blockers[0].message += ` (unreachable hosts: ${unreachable.map(([h, why]) => `${h}: ${why}`).join("; ")})`;
    }
    return { plan };
  }
  const sourceConn = await pool.get(located.found.host);
  const facts = await gatherDomainFacts(sourceConn, located.found.host, located.found.domain);
  const [source, target] = await Promise.all([
    gatherHostFacts(pool, facts.host, facts),
    req.host === facts.host ? undefined : gatherHostFacts(pool, req.host, facts),
  ]);
  // A CPU check only means something if the CPU passes it where the guest runs now: with
  // check='partial' a guest may run on a host that strict comparison calls incompatible.
  if (source?.cpuCompatible === false && target) target.cpuCompatible = undefined;
  const plan = choosePlan(
    req,
    { domain: facts, source, target: req.host === facts.host ? source : target },
    policy,
  );
  for (const other of located.also) {
    plan.warnings.push({
      code: "DEFINED_ON_SEVERAL_HOSTS",
      message: `${req.domain} is also defined on ${other.host}${other.running ? " and running there" : ""}; the copy ${located.found.running ? "running" : "defined"} on ${located.found.host} is the one managed.`,
    });
  }
  return { plan, facts };
}

/** Plans and carries out one placement. */
export async function place(
  pool: ConnectionPool,
  req: PlacementRequest,
  policy: MigrationPolicy,
  options: Omit<ExecuteOptions, "pool" | "policy"> = {},
): Promise<{ plan: MigrationPlan; record: MigrationRecord }> {
  const { plan, facts } = await planPlacement(pool, req, policy);
  const record = await executePlan(plan, facts!, { ...options, pool, policy });
  return { plan, record };
}
