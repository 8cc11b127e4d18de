// The VmPlacement controller: where a VM runs and which pools its disks live in. A host or pool
// change is an update carried out by the migration engine; only a different domain replaces it.
// Deleting a placement leaves the VM where it runs.
import type { OperationContext, Props, ResourceController, State } from "../controller";
import { ResourceFailedError } from "../controller";
import { progressLine } from "../progress-line";
import { applyPlacement } from "./apply";
import { readPlacement } from "./read";
import {
  checkPlacement,
  diffPlacement,
  PLACEMENT_COMPUTED_OUTPUTS,
  placementAwaitsInputs,
  type PlacementInputs,
  type PlacementOutputs,
} from "./types";

export const VM_PLACEMENT_TOKEN = "vmplacement:index:VmPlacement";

/** Says, next to a failure, that the host it was placed on came from a PlacementGroup. */
function withGroupAssignment(
  err: unknown,
  inputs: PlacementInputs,
  ctx: OperationContext,
): unknown {
  const by = ctx.runtime().groupAssignments.get(inputs.domain);
  if (err instanceof Error && by && by.host === inputs.host)
    err.message += ` (host ${by.host} was assigned by PlacementGroup '${by.group}': ${by.reason})`;
  return err;
}

/** Plans the placement and, unless previewing, carries the plan out; logs what it plans and did. */
async function place(
  news: Props,
  ctx: OperationContext,
  previous?: Partial<PlacementOutputs>,
): Promise<State> {
  // Nothing to plan yet: known inputs as given, everything it would report unknown.
  if (ctx.preview && placementAwaitsInputs(news.unknowns))
    return { state: news.value, unknown: PLACEMENT_COMPUTED_OUTPUTS };
  const inputs = news.value as unknown as PlacementInputs;
  const outs = await applyPlacement(ctx.runtime(), inputs, {
    preview: ctx.preview,
    claimant: ctx.name || inputs.domain,
    previous,
    signal: ctx.signal,
    warn: ctx.log.warn,
    info: ctx.log.info,
    onProgress: (p) => ctx.log.progress(progressLine(p)),
  }).catch((err: unknown) => {
    if (err instanceof ResourceFailedError) {
      const record = err.state.lastMigration as PlacementOutputs["lastMigration"];
      ctx.log.error(
        `${inputs.domain}: ${record?.result} (${record?.steps.length} steps); ${err.message}`,
      );
    }
    throw withGroupAssignment(err, inputs, ctx);
  });
  if (ctx.preview && outs.plannedMigration) {
    ctx.log.info(outs.plannedMigration.summary);
    for (const w of outs.plannedMigration.warnings) ctx.log.warn(`${inputs.domain}: ${w}`);
  }
  const r = outs.lastMigration;
  if (!ctx.preview && r && r !== previous?.lastMigration)
    ctx.log.info(
      `${r.domain}: ${r.from} -> ${r.finalHost} ${r.result} (${r.mode}${r.postCopy ? ", post-copy" : ""}${r.fallbackUsed ? ", offline fallback" : ""}) in ${r.durationMs} ms, downtime ${r.downtimeMs ?? "n/a"} ms`,
    );
  return { state: outs as unknown as Record<string, unknown> };
}

export const vmPlacementController: ResourceController = {
  token: VM_PLACEMENT_TOKEN,
  // The domain's definition carries graphics passwords, SMBIOS credentials and the like; a
  // webhook written into the policy carries tokens in its URL and headers.
  secretPaths: [["definitionXml"], ["policy", "notify"]],
  refreshBeforeUpdate: true,
  check: (news, runtime) => checkPlacement(news.value, runtime).failures,
  diff: (oldInputs, oldState, news) =>
    diffPlacement(oldInputs, oldState, news.value, news.unknowns),
  async create(news, ctx) {
    const domain = news.unknowns.has("domain") ? "" : String(news.value.domain);
    return { id: domain, ...(await place(news, ctx)) };
  },
  update: (news, oldState, ctx) => place(news, ctx, oldState as Partial<PlacementOutputs>),
  async read(id, state, inputs, ctx) {
    const read = await readPlacement(
      ctx.runtime(),
      id,
      state.value as Partial<PlacementOutputs>,
      inputs.value as Partial<PlacementInputs>,
    );
    if (!read) return undefined;
    return {
      id: read.outputs.domain,
      state: read.outputs as unknown as Record<string, unknown>,
      inputs: read.inputs,
    };
  },
  // The VM stays where it runs: a placement only stops managing it.
  delete: async () => undefined,
};
