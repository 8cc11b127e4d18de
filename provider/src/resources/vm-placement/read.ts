// Read (refresh and import) of a placement: where the domain is now, the inputs that amounts to
// (so drift shows against the program), and what earlier attempts left for the next update.
import {
  DEFAULT_MEASURE_SECONDS,
  LocationUnknownError,
  type Observation,
  type Recovery,
} from "../../engine";
import type { ProviderRuntime } from "../runtime";
import { refreshedInputs } from "./drift";
import {
  keepsDefinition,
  placementRequest,
  policyFor,
  type PendingCleanup,
  type PlacementInputs,
  type PlacementOutputs,
} from "./types";

/** Outputs a placement always has, for a state that lacks them (an import). */
const NO_MIGRATION = { lastMigration: null, migrationCount: 0, plannedMigration: null };

/**
 * Where the domain is now, and the inputs that placement amounts to. Undefined when the domain
 * is on no host.
 */
export async function readPlacement(
  runtime: ProviderRuntime,
  domain: string,
  state: Partial<PlacementOutputs>,
  inputs: Partial<PlacementInputs>,
): Promise<{ outputs: PlacementOutputs; inputs: PlacementInputs } | undefined> {
  let seen: Observation | undefined;
  try {
    seen = await runtime.engine.observeDomain(domain, {
      definition: keepsDefinition(runtime, inputs),
      // A refresh only looks: hosts' domain listings are shared by its placements.
      fromListings: true,
      // Pulumi refreshes a placement right before updating it: the update then finds the
      // guest's dirty rate measured instead of waiting a window for it.
      measureAheadSeconds: runtime.measureSeconds ?? DEFAULT_MEASURE_SECONDS,
    });
  } catch (err) {
    if (!(await lastHostLost(runtime, err, state))) throw err;
    // The VM's host is lost and no host that answers runs it: the state stays as last seen, so
    // an update that moves the VM elsewhere can fail it over.
    return {
      outputs: { ...NO_MIGRATION, ...state } as PlacementOutputs,
      inputs: { ...inputs, domain } as PlacementInputs,
    };
  }
  if (!seen) return undefined;
  const { domain: now, interrupted } = seen;
  let last = state.lastMigration;
  if (last?.mode === "failover" && last.result === "succeeded") {
    const after = await runtime.engine.reconcileAfterFailover(
      domain,
      last,
      now.currentHost,
      runtime.storageFence(last.from),
    );
    // The record keeps when its blocklist entries were lifted, so no later refresh tries again.
    if (after.lifted) last = { ...last, storageFence: after.lifted };
  }
  const refreshed = refreshedInputs(domain, inputs, now);
  const cleanup =
    interrupted || mayHaveLeftovers(state, now.currentHost)
      ? await leftBehind(runtime, refreshed, state)
      : [];
  // What an earlier refresh found is found again, or is gone; so is a definition no longer kept.
  const kept = { ...state };
  delete kept.pendingCleanup;
  delete kept.definitionXml;
  return {
    outputs: {
      ...NO_MIGRATION,
      ...kept,
      ...(last ? { lastMigration: last } : {}),
      ...refreshed,
      ...now,
      ...(cleanup.length ? { pendingCleanup: cleanup } : {}),
    },
    inputs: refreshed,
  };
}

/**
 * Whether the refresh failed only because the host the state last saw the VM on is lost
 * (libvirt and ssh both silent). A host that is only sick (ssh answers) still fails the refresh,
 * naming it.
 */
async function lastHostLost(
  runtime: ProviderRuntime,
  err: unknown,
  state: Partial<PlacementOutputs>,
): Promise<boolean> {
  const last = state.currentHost;
  if (!(err instanceof LocationUnknownError) || !last || err.unreachable[last] === undefined)
    return false;
  return (await runtime.engine.probeHost(last)).lost;
}

/**
 * Whether an earlier attempt may have left something: the VM is not where the state last saw it
 * (a move finished after the process that ran it was killed), the last attempt did not succeed,
 * or an earlier refresh found something. Otherwise the state is that of a finished, verified move
 * or adoption, which leaves nothing, and a refresh need not look.
 */
function mayHaveLeftovers(state: Partial<PlacementOutputs>, currentHost: string): boolean {
  const last = state.lastMigration;
  return (
    (state.currentHost !== undefined && state.currentHost !== currentHost) ||
    (!!last && last.result !== "succeeded" && last.result !== "noop") ||
    !!state.pendingCleanup?.length
  );
}

/**
 * What earlier attempts left (volumes and markers of a move that was killed or failed, a
 * half-received copy on a target), looking where the state last saw the domain as well: the
 * plan for keeping it where it is, which the next update carries out.
 */
async function leftBehind(
  runtime: ProviderRuntime,
  inPlace: PlacementInputs,
  state: Partial<PlacementOutputs>,
): Promise<PendingCleanup[]> {
  const { plan } = await runtime.engine.planPlacement(
    placementRequest(inPlace, state),
    policyFor(inPlace, runtime),
    { measureSeconds: 0, lookOnly: true },
  );
  if (plan.recovery) return recoveryCleanup(plan.recovery);
  return [
    ...plan.staleIncoming.map((host) => ({
      host,
      item: `a half-received copy of ${inPlace.domain}`,
    })),
    ...plan.leftovers.map((v) => ({ host: v.host, item: `${v.pool}/${v.volume}` })),
  ];
}

/**
 * What a refresh reports of an interrupted move: the recovery, and the move's other host, where
 * leftovers of the move (its old source volumes, a copy that never completed) are looked for
 * once the recovery is done.
 */
export function recoveryCleanup(recovery: Recovery): PendingCleanup[] {
  const { marker, keep, domain } = recovery;
  return [
    { host: keep, item: recovery.summary },
    ...[...new Set([marker.from, marker.to])]
      .filter((h) => h !== keep)
      .map((host) => ({
        host,
        item: `what the interrupted move of ${domain} may have left on ${host}, looked for once it is recovered`,
      })),
  ];
}
