// Create and Update of a placement: plan through the engine (a move, a recovery of an interrupted
// one, or a failover from a lost host), and unless previewing, carry the plan out, tell the
// policy's webhook, and report where the VM is. A move that fails after it started keeps the
// placement in the state with the failed attempt's record (ResourceFailedError).
import {
  measuredLinkOf,
  MigrationError,
  type MigrationPlan,
  type MigrationProgress,
  type MigrationRecord,
  type PlannedMove,
} from "../../engine";
import { VmpError } from "../../errors";
import { ResourceFailedError } from "../controller";
import type { PolicySpec } from "../migration-policy/types";
import type { ProviderRuntime } from "../runtime";
import { notifyWebhook, type WebhookEvent } from "../webhook";
import { describePlan, planSummary } from "./plan-output";
import { recoveryCleanup } from "./read";
import {
  measuredLinks,
  placementRequest,
  policyFor,
  type PlacementInputs,
  type PlacementOutputs,
} from "./types";

export interface ApplyOptions {
  preview: boolean;
  /** The placement's name, for naming it to placements it competes with for a target's room. */
  claimant?: string;
  signal?: AbortSignal;
  onProgress?: (p: MigrationProgress) => void;
  previous?: Partial<PlacementOutputs>;
  /** Problems worth a warning that do not fail the placement (an unreachable webhook). */
  warn?: (message: string) => void;
  /** What the update did that the user should hear of (a recovered interrupted move). */
  info?: (message: string) => void;
  /** Set once an interrupted move was recovered in this operation. */
  recovered?: boolean;
}

/** Create and Update: plan, and unless previewing, carry the plan out and report where the VM is. */
export async function applyPlacement(
  runtime: ProviderRuntime,
  inputs: PlacementInputs,
  options: ApplyOptions,
): Promise<PlacementOutputs> {
  const policy = policyFor(inputs, runtime);
  const ledger = options.preview ? runtime.ledgers.preview : runtime.ledgers.update;
  const claimant = options.claimant ?? inputs.domain;
  const { plan, facts } = await runtime.engine.planPlacement(
    placementRequest(inputs, options.previous),
    policy,
    {
      measureSeconds: runtime.measureSeconds,
      measureGate: runtime.measureGate,
      measuredLinks: measuredLinks(runtime, options.previous),
      ledger,
      claimant,
      fenceDevice: runtime.fenceDevice,
      storageFence: runtime.storageFence,
      signal: options.signal,
      lookOnly: options.preview,
    },
  );
  if (plan.recovery) return recoverFirst(runtime, inputs, options, policy, plan);
  if (plan.blockers.length) throw blockedError(inputs, plan);
  // A preview's claims stand for the whole preview: nothing it plans is done before it ends.
  if (options.preview) return previewOutputs(inputs, options, plan);
  let landed = false;
  try {
    const outputs = await carryOut(runtime, inputs, options, policy, { plan, facts });
    landed = outputs.currentHost === plan.to;
    return outputs;
  } catch (err) {
    landed = err instanceof ResourceFailedError && err.state.currentHost === plan.to;
    throw err;
  } finally {
    ledger.settle(claimant, landed);
  }
}

/** What the state carries over from the last operation into this one's outputs. */
function carriedOver(inputs: PlacementInputs, options: ApplyOptions) {
  const previous = options.previous;
  return {
    ...inputs,
    lastMigration: previous?.lastMigration ?? null,
    migrationCount: previous?.migrationCount ?? 0,
    ...(previous?.definitionXml ? { definitionXml: previous.definitionXml } : {}),
    ...(previous?.domainUuid ? { domainUuid: previous.domainUuid } : {}),
  };
}

/**
 * A move of this VM was interrupted (its marker says so): the preview says what will be done
 * first; the update does it (stale definitions removed, the VM started where its disks are
 * complete), says so, and plans the placement again from there.
 */
async function recoverFirst(
  runtime: ProviderRuntime,
  inputs: PlacementInputs,
  options: ApplyOptions,
  policy: PolicySpec,
  plan: MigrationPlan,
): Promise<PlacementOutputs> {
  const recovery = plan.recovery!;
  const lastKnown = {
    ...carriedOver(inputs, options),
    currentHost: recovery.keep,
    currentDisks: [],
  };
  if (options.preview) {
    const planned = describePlan(plan);
    planned.summary = `${inputs.domain}: ${recovery.summary}; then ${inputs.domain} is placed on ${inputs.host} as planned from there`;
    return { ...lastKnown, plannedMigration: planned };
  }
  if (options.recovered)
    throw new VmpError(
      "VMP_RECOVERY_FAILED",
      `${inputs.domain}: the interrupted move was recovered, yet its note is still found (${recovery.summary}); check ${recovery.keep}`,
    );
  try {
    const record = await runtime.engine.executePlan(plan, undefined, { policy });
    for (const step of record.steps) options.info?.(`${inputs.domain}: ${step}`);
  } catch (err) {
    if (!(err instanceof MigrationError)) throw err;
    throw await failedPlacement(runtime, inputs, policy, err, lastKnown);
  }
  // Planned again from where it is now, looking for leftovers on both of the move's hosts.
  return applyPlacement(runtime, inputs, {
    ...options,
    recovered: true,
    previous: {
      ...options.previous,
      currentHost: recovery.keep,
      pendingCleanup: recoveryCleanup(recovery),
    },
  });
}

/**
 * Sends one move's webhook events; a notification that fails is a warning, never an error. The
 * operation's cancel stops a delivery under way (one sent after it gets its own deadline).
 */
function notifier(policy: PolicySpec, options: ApplyOptions, plan: MigrationPlan) {
  const move = {
    domain: plan.domain,
    from: plan.from,
    to: plan.to,
    mode: plan.mode,
    summary: planSummary(plan),
  };
  return (event: WebhookEvent, extra: { record?: MigrationRecord; error?: string }) =>
    notifyWebhook(policy.notify, { event, ...move, ...extra }, { signal: options.signal }).then(
      (d) => d.problem && options.warn?.(`${move.domain}: ${event} not notified: ${d.problem}`),
    );
}

/**
 * Runs a move, telling the policy's webhook (if any) when it starts and how it ended: a failover
 * that happened is its own event.
 */
async function withNotifications(
  plan: MigrationPlan,
  policy: PolicySpec,
  options: ApplyOptions,
  move: () => Promise<MigrationRecord>,
): Promise<MigrationRecord> {
  const notify = notifier(policy, options, plan);
  // Not awaited before the move starts: a slow webhook must not hold up the migration.
  const started = notify("started", {});
  try {
    const record = await move();
    await started;
    await notify(plan.mode === "failover" ? "failover" : "succeeded", { record });
    return record;
  } catch (err) {
    await started;
    await notify("failed", {
      record: err instanceof MigrationError ? err.record : undefined,
      error: err instanceof Error ? err.message : String(err),
    });
    throw err;
  }
}

function blockedError(inputs: PlacementInputs, plan: MigrationPlan): VmpError {
  return new VmpError(
    "VMP_PLAN_BLOCKED",
    `cannot place ${inputs.domain} on ${inputs.host}: ${plan.blockers.map((b) => `${b.code}: ${b.message}`).join("; ")}`,
  );
}

function previewOutputs(
  inputs: PlacementInputs,
  options: ApplyOptions,
  plan: MigrationPlan,
): PlacementOutputs {
  return {
    ...carriedOver(inputs, options),
    currentHost: plan.from,
    currentDisks: plan.mode === "failover" ? (options.previous?.currentDisks ?? []) : [],
    plannedMigration: describePlan(plan),
  };
}

/**
 * A move, recovery or failover that failed after it started: the state keeps the placement where
 * the VM is now (or, when that cannot be seen, as `lastKnown` says) with the failed attempt's
 * record, and the definition a failover needs where the policy allows one.
 */
async function failedPlacement(
  runtime: ProviderRuntime,
  inputs: PlacementInputs,
  policy: PolicySpec,
  err: MigrationError,
  lastKnown: Omit<PlacementOutputs, "plannedMigration" | "lastMigration">,
): Promise<ResourceFailedError> {
  // A failover's VM was last seen on a lost host: asking that host again only costs its timeout.
  const now =
    err.record.mode === "failover"
      ? undefined
      : await runtime.engine
          .observeDomain(inputs.domain, {
            definition: policy.allowFailover,
          })
          .catch(() => undefined);
  const outputs: PlacementOutputs = {
    ...lastKnown,
    ...now?.domain,
    plannedMigration: null,
    lastMigration: err.record,
  };
  return new ResourceFailedError(err, inputs.domain, outputs as unknown as Record<string, unknown>);
}

/** Runs the plan and reports where the VM is afterwards: only that host is asked. */
async function carryOut(
  runtime: ProviderRuntime,
  inputs: PlacementInputs,
  options: ApplyOptions,
  policy: PolicySpec,
  { plan, facts }: PlannedMove,
): Promise<PlacementOutputs> {
  const base = carriedOver(inputs, options);
  let record: MigrationRecord | undefined;
  if (plan.mode === "none" && (plan.leftovers.length || plan.staleIncoming.length)) {
    // Nothing moves, but an earlier attempt left volumes (or markers) behind: remove them.
    await runtime.engine.executePlan(plan, facts, { policy });
  } else if (plan.mode !== "none") {
    try {
      record = await withNotifications(plan, policy, options, () =>
        runtime.engine.executePlan(plan, facts, {
          policy,
          limiter: runtime.limiter,
          signal: options.signal,
          onProgress: options.onProgress,
        }),
      );
    } catch (err) {
      if (!(err instanceof MigrationError)) throw err;
      const previous = options.previous;
      throw await failedPlacement(runtime, inputs, policy, err, {
        ...base,
        currentHost: previous?.currentHost ?? plan.from,
        currentDisks: previous?.currentDisks ?? [],
      });
    }
  }
  const measured = record && measuredLinkOf(record);
  if (measured) runtime.measuredLinks.push(measured);
  const host = record?.finalHost ?? plan.from;
  const now = await runtime.engine.observeDomainOn(host, inputs.domain, {
    definition: policy.allowFailover,
  });
  if (!now)
    throw new VmpError(
      "VMP_DOMAIN_NOT_FOUND",
      `${inputs.domain} is not on ${host} after the move, where the move left it; check the hosts`,
    );
  return {
    ...base,
    ...now,
    plannedMigration: null,
    lastMigration: record ?? base.lastMigration,
    migrationCount: base.migrationCount + (record?.result === "succeeded" ? 1 : 0),
  };
}
