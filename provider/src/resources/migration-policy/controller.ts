// The MigrationPolicy controller: a policy's state is its inputs and the normalized spec that
// placements use. It touches no host: create and update only compute the spec.
import type { ResourceController, Props, State } from "../controller";
import { diffInputs } from "../input-diff";
import { checkPolicy } from "./types";

export const MIGRATION_POLICY_TOKEN = "vmplacement:index:MigrationPolicy";

/** The policy's state: its inputs and the spec; while an input is not known, neither is the spec. */
function policyState(news: Props): State {
  if (news.unknowns.size) return { state: news.value, unknown: ["spec"] };
  return { state: { ...news.value, spec: checkPolicy(news.value).spec ?? null } };
}

export const migrationPolicyController: ResourceController = {
  token: MIGRATION_POLICY_TOKEN,
  // A webhook's URL and headers carry tokens.
  secretPaths: [["notify"], ["spec", "notify"]],
  refreshBeforeUpdate: false,
  check: (news) => checkPolicy(news.value).failures,
  // Its spec follows from its inputs; nothing replaces a policy.
  diff(oldInputs, _oldState, news) {
    const keys = new Set([...Object.keys(oldInputs), ...Object.keys(news.value)]);
    keys.delete("spec");
    return diffInputs(oldInputs, news.value, { keys, unknowns: news.unknowns });
  },
  create: async (news, ctx) => ({ id: ctx.name || "policy", ...policyState(news) }),
  update: async (news) => policyState(news),
  // Its state is what its inputs make it: a refresh finds nothing else.
  read: async (id, state, inputs) => ({ id, state: state.value, inputs: inputs.value }),
  delete: async () => undefined,
};
