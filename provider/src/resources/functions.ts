// The provider's functions (invokes): what the hosts have, where a domain runs, and the plan for
// a placement without a stack (for CI gates). Each validates its arguments the way Check does,
// naming the argument and what to do.
import { z } from "zod";
import { hostStatus, RunLedger } from "../engine";
import { VmpError } from "../errors";
import { checkInputs, type CheckFailure, type FieldGuide } from "./check-failures";
import type { ProviderRuntime } from "./runtime";
import { describePlan } from "./vm-placement/plan-output";
import {
  checkPlacement,
  notInInventory,
  placementRequest,
  policyFor,
  type PlannedMigrationOutput,
} from "./vm-placement/types";

export const FUNCTION_TOKENS = {
  getHosts: "vmplacement:index:getHosts",
  getPlacement: "vmplacement:index:getPlacement",
  planPlacement: "vmplacement:index:planPlacement",
} as const;

/** A function's result, or the failures of its arguments. */
export type InvokeResult =
  | { result: Record<string, unknown>; failures?: undefined }
  | { result?: undefined; failures: CheckFailure[] };

const getHostsArgs = z.strictObject({ names: z.array(z.string().min(1)).optional() });
const getPlacementArgs = z.strictObject({ domain: z.string().min(1) });
const ARGS_GUIDE: FieldGuide = {
  names: { is: "the hosts to describe, a list of inventory host names", example: `["kvm1"]` },
  "names[]": { is: "the name of a host in the provider's hosts", example: "kvm1" },
  domain: { is: "the libvirt domain's name", example: "web-1" },
};

async function getHosts(runtime: ProviderRuntime, args: unknown): Promise<InvokeResult> {
  const parsed = checkInputs(getHostsArgs, args ?? {}, ARGS_GUIDE);
  if (!parsed.data) return { failures: parsed.failures };
  const names = parsed.data.names ?? runtime.hostNames;
  const failures = names.flatMap(
    (n, i) => notInInventory(`names[${i}]`, n, runtime.hostNames) ?? [],
  );
  if (failures.length) return { failures };
  // Side by side: an unreachable host only costs its own connection timeout.
  return { result: { hosts: await Promise.all(names.map((n) => hostStatus(runtime.pool, n))) } };
}

async function getPlacement(runtime: ProviderRuntime, args: unknown): Promise<InvokeResult> {
  const parsed = checkInputs(getPlacementArgs, args ?? {}, ARGS_GUIDE);
  if (!parsed.data) return { failures: parsed.failures };
  const { domain } = parsed.data;
  const seen = await runtime.engine.observeDomain(domain);
  if (!seen)
    throw new VmpError(
      "VMP_DOMAIN_NOT_FOUND",
      `domain '${domain}' runs or is defined on none of the inventory hosts (${runtime.hostNames.join(", ")})`,
    );
  return { result: { domain, ...seen.domain } };
}

async function planWithoutStack(runtime: ProviderRuntime, args: unknown): Promise<InvokeResult> {
  const { inputs, failures } = checkPlacement(args, runtime);
  if (!inputs || failures.length) return { failures };
  // A plan of its own: nothing else in flight reserves room on the target.
  const { plan, facts } = await runtime.engine.planPlacement(
    placementRequest(inputs),
    policyFor(inputs, runtime),
    {
      measureSeconds: runtime.measureSeconds,
      measureGate: runtime.measureGate,
      measuredLinks: runtime.measuredLinks,
      ledger: new RunLedger(),
      claimant: inputs.domain,
      fenceDevice: runtime.fenceDevice,
      storageFence: runtime.storageFence,
    },
  );
  const planned: PlannedMigrationOutput | null =
    plan.blockers.length || plan.mode === "none" ? null : describePlan(plan);
  return {
    result: {
      domain: inputs.domain,
      currentHost: facts?.host ?? plan.from,
      moves: planned !== null,
      blocked: plan.blockers.length > 0,
      blockers: plan.blockers.map((b) => ({ code: b.code, message: b.message })),
      plannedMigration: planned,
      summary: planned?.summary ?? (plan.blockers.length ? plan.blockers[0].message : "no change"),
    },
  };
}

const FUNCTIONS: Record<
  string,
  (runtime: ProviderRuntime, args: unknown) => Promise<InvokeResult>
> = {
  [FUNCTION_TOKENS.getHosts]: getHosts,
  [FUNCTION_TOKENS.getPlacement]: getPlacement,
  [FUNCTION_TOKENS.planPlacement]: planWithoutStack,
};

/**
 * Runs the function `token` names. An unknown token is an error that lists the known ones, and
 * fails before the provider's configuration (`runtime`) is needed.
 */
export function invokeFunction(
  token: string,
  runtime: () => ProviderRuntime,
  args: unknown,
): Promise<InvokeResult> {
  const fn = FUNCTIONS[token];
  if (!fn)
    throw new VmpError(
      "VMP_UNKNOWN_TOKEN",
      `vmplacement has no function '${token}'; it has ${Object.keys(FUNCTIONS).join(", ")}`,
    );
  return fn(runtime(), args);
}
