// The PlacementGroup controller: placement rules for a set of VMs, solved at once. Its outputs
// (assignments, their reasons, what cannot be placed) are computed from the facts in preview as
// in `up`, so placements that take their host from it preview the real moves. It moves nothing
// itself: the VmPlacements do, within the provider's per-host limits.
import { z } from "zod";
import { gatherFleetFacts } from "../fleet/facts";
import { solvePlacements, type FleetRules, type Solution } from "../fleet/solver";
import { validateRules } from "../fleet/validate";
import { diffInputs, type InputDiff } from "./input-diff";
import { zodFailures, type CheckFailure } from "./migration-policy";
import type { ProviderRuntime } from "./runtime";

export const PLACEMENT_GROUP_TOKEN = "vmplacement:index:PlacementGroup";

const vmRule = z.strictObject({
  domain: z.string().min(1),
  hosts: z.array(z.string().min(1)).min(1).optional(),
  hostSelector: z.record(z.string(), z.string()).optional(),
  antiAffinity: z.string().min(1).optional(),
  pinned: z.string().min(1).optional(),
});

export const groupInputs = z.strictObject({
  vms: z.array(vmRule).min(1),
  cordon: z.array(z.string().min(1)).default([]),
  strategy: z.enum(["spread", "pack"]).default("spread"),
  rebalance: z.boolean().default(false),
  maxMoves: z.number().int().min(0).default(10),
});

export type GroupInputs = z.infer<typeof groupInputs>;

export interface GroupOutputs extends GroupInputs {
  assignments: Record<string, string>;
  reasons: Record<string, string>;
  unplaceable: Record<string, { code: string; reason: string }>;
  moves: Array<{ domain: string; from: string; to: string }>;
}

const GROUP_INPUTS = ["vms", "cordon", "strategy", "rebalance", "maxMoves"];

/** The inputs, with the rules checked against the inventory when the provider is configured. */
export function checkGroup(
  news: unknown,
  runtime: ProviderRuntime | undefined,
): { inputs?: GroupInputs; failures: CheckFailure[] } {
  const parsed = groupInputs.safeParse(news ?? {});
  if (!parsed.success) return { failures: zodFailures(parsed.error) };
  const inputs = parsed.data;
  if (!runtime) return { inputs, failures: [] };
  const inventory = runtime.hostNames.map((name) => ({
    name,
    labels: runtime.pool.host(name)?.labels ?? {},
  }));
  return { inputs, failures: validateRules(inputs as FleetRules, inventory) };
}

/** Only inputs count: the same rules keep the same assignments until the rules change. */
export function diffGroup(
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  unknowns: Set<string>,
): InputDiff {
  return diffInputs(olds, news, { keys: GROUP_INPUTS, unknowns });
}

/** One line per move and per VM that cannot leave, as preview prints them. */
export function describeSolution(solution: Solution): string[] {
  return [
    ...solution.moves.map(
      (m) => `${m.domain}: ${m.from} -> ${m.to}: ${solution.assignments[m.domain].reason}`,
    ),
    ...Object.entries(solution.unplaceable).map(
      ([d, u]) => `${d}: cannot be placed (${u.code}): ${u.reason}`,
    ),
  ];
}

/** Solves the group from the facts gathered now. */
export async function solveGroup(
  runtime: ProviderRuntime,
  inputs: GroupInputs,
  previousAssignments: Record<string, string> = {},
): Promise<{ outputs: GroupOutputs; solution: Solution }> {
  const { hosts, vms } = await gatherFleetFacts(
    runtime.pool,
    runtime.hostNames,
    inputs.vms.map((v) => v.domain),
    previousAssignments,
  );
  const solution = solvePlacements(inputs as FleetRules, hosts, vms);
  const pick = <T>(f: (a: Solution["assignments"][string]) => T) =>
    Object.fromEntries(Object.entries(solution.assignments).map(([d, a]) => [d, f(a)]));
  return {
    solution,
    outputs: {
      ...inputs,
      assignments: pick((a) => a.host),
      reasons: pick((a) => a.reason),
      unplaceable: solution.unplaceable,
      moves: solution.moves,
    },
  };
}
