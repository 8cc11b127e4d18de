// The PlacementGroup controller: placement rules for a set of VMs, solved at once. Its outputs
// (assignments, their reasons, what cannot be placed) are computed from the facts in preview as
// in `up`, so placements that take their host from it preview the real moves. It moves nothing
// itself: the VmPlacements do, within the provider's per-host limits.
import { VmpError } from "../../errors";
import { gatherFleetFacts } from "../../fleet/facts";
import { solvePlacements, type FleetRules, type Solution } from "../../fleet/solver";
import { validateRules } from "../../fleet/validate";
import { checkInputs, describeFailures, type CheckFailure } from "../check-failures";
import type { OperationContext, Props, ResourceController, State } from "../controller";
import { diffInputs } from "../input-diff";
import type { ProviderRuntime } from "../runtime";
import { GROUP_GUIDE, groupInputs, type GroupInputs, type GroupOutputs } from "./types";

export const PLACEMENT_GROUP_TOKEN = "vmplacement:index:PlacementGroup";

const GROUP_INPUTS = ["vms", "cordon", "strategy", "rebalance", "maxMoves"];

/** What a group reports beyond its inputs: unknown while inputs it is solved from are. */
const GROUP_COMPUTED_OUTPUTS = ["assignments", "reasons", "unplaceable", "moves"];

/** The inputs, with the rules checked against the inventory when the provider is configured. */
export function checkGroup(
  news: unknown,
  runtime: ProviderRuntime | undefined,
): { inputs?: GroupInputs; failures: CheckFailure[] } {
  const parsed = checkInputs(groupInputs, news ?? {}, GROUP_GUIDE);
  if (!parsed.data) return { failures: parsed.failures };
  const inputs = parsed.data;
  if (!runtime) return { inputs, failures: [] };
  const inventory = runtime.hostNames.map((name) => ({
    name,
    labels: runtime.pool.host(name)?.labels ?? {},
  }));
  return { inputs, failures: validateRules(inputs as FleetRules, inventory) };
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

/**
 * Solves the group from the facts now (in preview too), logs each move and blocker, and tells
 * the run which host it assigned each VM, so a placement's error can name the group.
 */
async function solved(
  news: Props,
  ctx: OperationContext,
  previousAssignments?: Record<string, string>,
): Promise<State> {
  if (news.unknowns.size) return { state: news.value, unknown: GROUP_COMPUTED_OUTPUTS };
  const runtime = ctx.runtime();
  const { inputs, failures } = checkGroup(news.value, runtime);
  if (!inputs || failures.length)
    throw new VmpError("VMP_INVALID_INPUT", describeFailures(failures));
  const { outputs, solution } = await solveGroup(runtime, inputs, previousAssignments);
  for (const line of describeSolution(solution)) ctx.log.info(line);
  for (const [domain, a] of Object.entries(solution.assignments))
    runtime.groupAssignments.set(domain, { group: ctx.name, host: a.host, reason: a.reason });
  return { state: outputs as unknown as Record<string, unknown> };
}

export const placementGroupController: ResourceController = {
  token: PLACEMENT_GROUP_TOKEN,
  secretPaths: [],
  refreshBeforeUpdate: false,
  // Rules are checked as a whole: once every input is known.
  check: (news, runtime) => (news.unknowns.size ? [] : checkGroup(news.value, runtime).failures),
  // Only inputs count: the same rules keep the same assignments until the rules change.
  diff: (oldInputs, _oldState, news) =>
    diffInputs(oldInputs, news.value, { keys: GROUP_INPUTS, unknowns: news.unknowns }),
  create: async (news, ctx) => ({ id: ctx.name || "group", ...(await solved(news, ctx)) }),
  update: (news, oldState, ctx) =>
    solved(news, ctx, oldState.assignments as Record<string, string> | undefined),
  // Its state is its last solution: it changes when its rules do, not on refresh.
  read: async (id, state, inputs) => ({ id, state: state.value, inputs: inputs.value }),
  delete: async () => undefined,
};
