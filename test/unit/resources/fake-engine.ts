// A scripted PlacementEngine for the placement controller's unit tables: each call answers from
// the script and is recorded, so a table row says what the resource asked and what it made of it.
import {
  choosePlan,
  DEFAULT_POLICY,
  LocationUnknownError,
  MigrationError,
  type MigrationPlan,
  type MigrationRecord,
  type Observation,
  type ObservedDomain,
  type PlacementEngine,
  type PlannedMove,
  type Reachability,
} from "../../../provider/src/engine";
import type { ProviderRuntime } from "../../../provider/src/resources/runtime";
import { buildRuntime, checkConfig } from "../../../provider/src/server/config";

export interface Script {
  /** Plans in the order planPlacement is asked for them. */
  plans?: PlannedMove[];
  /** What executePlan returns or throws (a MigrationError), in order. */
  runs?: Array<MigrationRecord | MigrationError>;
  /** What observeDomain answers (or throws), in order; the last one repeats. */
  observed?: Array<Observation | undefined | Error>;
  /** What observeDomainOn answers, by host. */
  observedOn?: Record<string, ObservedDomain | undefined>;
  reach?: Record<string, Reachability>;
}

export interface Recorded {
  calls: string[];
  executed: MigrationPlan[];
}

export function fakeEngine(script: Script): { engine: PlacementEngine; recorded: Recorded } {
  const recorded: Recorded = { calls: [], executed: [] };
  const plans = [...(script.plans ?? [])];
  const runs = [...(script.runs ?? [])];
  const observed = [...(script.observed ?? [])];
  const engine: PlacementEngine = {
    planPlacement: async (req) => {
      recorded.calls.push(`plan ${req.domain} -> ${req.host}`);
      const next = plans.shift();
      if (!next) throw new Error("no more plans scripted");
      return next;
    },
    executePlan: async (plan) => {
      recorded.calls.push(`execute ${plan.mode}`);
      recorded.executed.push(plan);
      const run = runs.shift();
      if (!run) throw new Error("no more runs scripted");
      if (run instanceof Error) throw run;
      return run;
    },
    observeDomain: async (domain) => {
      recorded.calls.push(`observe ${domain}`);
      const next = observed.length > 1 ? observed.shift() : observed[0];
      if (next instanceof Error) throw next;
      return next;
    },
    observeDomainOn: async (host, domain) => {
      recorded.calls.push(`observe ${domain} on ${host}`);
      return script.observedOn?.[host];
    },
    probeHost: async (host) => {
      recorded.calls.push(`probe ${host}`);
      return script.reach?.[host] ?? { lost: false, reason: "answers", since: 0 };
    },
    reconcileAfterFailover: async (domain, failover) => {
      recorded.calls.push(`remove stale ${domain} on ${failover.from}`);
      return {};
    },
  };
  return { engine, recorded };
}

/** A runtime over an inventory of h1..h3 (nothing is connected) with the scripted engine. */
export function runtimeWith(engine: PlacementEngine): ProviderRuntime {
  const { config, policy } = checkConfig({
    hosts: ["h1", "h2", "h3"].map((name) => ({
      name,
      uri: `qemu+tcp://${name}/system`,
      migrationAddress: name,
    })),
  });
  return { ...buildRuntime(config!, policy), engine };
}

/** A plan from `from` to `to` in `mode`, with nothing else to it. */
export function planOf(
  domain: string,
  from: string,
  to: string,
  mode: MigrationPlan["mode"],
  extra: Partial<MigrationPlan> = {},
): MigrationPlan {
  const empty = choosePlan({ domain, host: to }, {}, DEFAULT_POLICY);
  return { ...empty, from, to, mode, blockers: [], ...extra };
}

export function recordOf(
  plan: MigrationPlan,
  result: MigrationRecord["result"],
  finalHost: string,
  extra: Partial<MigrationRecord> = {},
): MigrationRecord {
  return {
    domain: plan.domain,
    from: plan.from,
    to: plan.to,
    finalHost,
    mode: plan.mode,
    steps: [`${result}`],
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:01.000Z",
    durationMs: 1000,
    postCopy: false,
    fallbackUsed: false,
    result,
    ...extra,
  };
}

export function observedOn(host: string, extra: Partial<ObservedDomain> = {}): ObservedDomain {
  return {
    currentHost: host,
    currentDisks: [{ target: "vda", pool: "default", path: "/p/vda.qcow2", capacityBytes: 1 }],
    domainUuid: "uuid-web",
    ...extra,
  };
}

/** What observeDomain answers for a domain on `host`. */
export function observation(
  host: string,
  extra: Partial<ObservedDomain> = {},
  interrupted = false,
): Observation {
  return { domain: observedOn(host, extra), interrupted };
}

export const locationUnknown = (domain: string, silent: string) =>
  new LocationUnknownError(domain, { [silent]: "no route to host" });
