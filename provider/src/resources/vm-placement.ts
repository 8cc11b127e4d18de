// VmPlacement: where a VM runs and which pools its disks live in. A host or pool change is an
// update carried out by the migration engine; only a different domain is a replacement.
import { z } from "zod";
import {
  executePlan,
  measuredLinkOf,
  MigrationError,
  planPlacement,
  type MeasuredLink,
  type MigrationPlan,
  type MigrationProgress,
  type PlanForecast,
  type MigrationRecord,
  type PlacementRequest,
  type PlannedMove,
  type Recovery,
  withoutMoveMarker,
} from "../engine";
import {
  gatherDomainFacts,
  locateDomain,
  LocationUnknownError,
  settledLocation,
} from "../engine/gather";
import { probeHost, type Reachability } from "../fencing/reachability";
import { constants as C } from "../libvirt";
import { diffInputs, type InputDiff } from "./input-diff";
import { refreshedInputs } from "./placement-drift";
import type { ProviderRuntime } from "./runtime";
import { checkPolicy, zodFailures, type CheckFailure, type PolicySpec } from "./migration-policy";
import { notifyWebhook, type WebhookEvent } from "./webhook";
import { PlacementBlockedError } from "./errors";
import {
  carryOutFailover,
  describeFailover,
  planFailover,
  removeStaleDefinition,
  type FailoverPlan,
} from "./failover";

export const VM_PLACEMENT_TOKEN = "vmplacement:index:VmPlacement";

const { VIR_DOMAIN_XML_INACTIVE: XML_INACTIVE, VIR_DOMAIN_XML_MIGRATABLE: XML_MIGRATABLE } =
  C.virDomainXMLFlags;

export const placementInputs = z
  .object({
    domain: z
      .string({ error: "domain (the libvirt domain name) is required" })
      .min(1, "domain must not be empty"),
    host: z
      .string({ error: "host (an inventory host name) is required" })
      .min(1, "host must not be empty"),
    storagePool: z
      .string()
      .min(1, "storagePool must not be empty; leave it out to keep disks in their pools")
      .optional(),
    disks: z.record(z.string(), z.string().min(1)).optional(),
    policy: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export type PlacementInputs = z.infer<typeof placementInputs>;

export interface DiskState {
  target: string;
  pool: string | null;
  path: string | null;
  capacityBytes: number;
}

/** Something an earlier attempt left that the next update removes, and the host it is on. */
export interface PendingCleanup {
  host: string;
  item: string;
}

export interface PlacementOutputs extends PlacementInputs {
  currentHost: string;
  currentDisks: DiskState[];
  plannedMigration: PlannedMigrationOutput | null;
  lastMigration: MigrationRecord | null;
  migrationCount: number;
  /** Found by a refresh; an update removes it (and the state then drops this). */
  pendingCleanup?: PendingCleanup[];
  /**
   * The domain's definition (libvirt's migratable XML) as last seen running: what a failover
   * defines on the target when the VM's host is lost. Kept only when the policy allows failover,
   * and always a secret (it carries graphics passwords, SMBIOS credentials and the like).
   */
  definitionXml?: string;
  /** The domain's UUID as last seen: a failover defines only a definition of this domain. */
  domainUuid?: string;
}

export interface PlannedMigrationOutput {
  mode: string;
  from: string;
  to: string;
  bytesToMove: number;
  estimatedSeconds: number;
  estimatedDowntimeMs: number;
  verdict: PlanForecast["verdict"];
  memoryBytes: number;
  diskBytes: number;
  /** The forecast in full (none for a failover: nothing is sent). */
  forecast?: PlanForecast;
  escalation: string[];
  warnings: string[];
  summary: string;
}

/** The failure for a host name the inventory does not have, naming the ones it has. */
export function notInInventory(
  property: string,
  host: string,
  hostNames: string[],
): CheckFailure | undefined {
  if (hostNames.includes(host)) return undefined;
  return {
    property,
    reason: `host '${host}' is not in the provider's inventory (hosts: ${hostNames.join(", ")}); add it to the provider's hosts or use one of them`,
  };
}

export function checkPlacement(
  news: unknown,
  runtime: ProviderRuntime | undefined,
): { inputs?: PlacementInputs; failures: CheckFailure[] } {
  const parsed = placementInputs.safeParse(news ?? {});
  if (!parsed.success) return { failures: zodFailures(parsed.error) };
  const failures: CheckFailure[] = [];
  const inputs = parsed.data;
  const unknownHost = runtime && notInInventory("host", inputs.host, runtime.hostNames);
  if (unknownHost) failures.push(unknownHost);
  if (inputs.policy) {
    failures.push(
      ...checkPolicy(inputs.policy).failures.map((f) => ({
        ...f,
        property: `policy.${f.property}`,
      })),
    );
  }
  return { inputs, failures };
}

/** The inputs a placement is made of; only a different domain replaces it. */
const PLACEMENT_INPUTS = ["domain", "host", "storagePool", "disks", "policy"];

/** What a placement reports beyond its inputs. */
export const PLACEMENT_COMPUTED_OUTPUTS = [
  "currentHost",
  "currentDisks",
  "plannedMigration",
  "lastMigration",
  "migrationCount",
] as const;

/**
 * Whether a preview must wait for inputs a placement is planned from: never planned with an
 * unknown taken for null, so its outputs stay unknown too.
 */
export function placementAwaitsInputs(unknowns: Set<string>): boolean {
  return PLACEMENT_INPUTS.some((k) => unknowns.has(k));
}

/**
 * Diff of a placement's inputs. Drift (a move made outside Pulumi) reaches it through the old
 * inputs a refresh recorded, so ignoreChanges holds it as Pulumi users expect.
 */
export function diffPlacement(
  oldInputs: Record<string, unknown>,
  oldOutputs: Record<string, unknown>,
  news: Record<string, unknown>,
  unknowns: Set<string>,
): InputDiff {
  const diff = diffInputs(oldInputs, news, {
    keys: PLACEMENT_INPUTS,
    unknowns,
    replaceOn: ["domain"],
  });
  // The state itself says the VM is elsewhere (a failed move kept its new inputs): move it.
  const current = oldOutputs.currentHost;
  if (!diff.changes.has("host") && typeof current === "string" && current !== news.host)
    diff.changes.set("host", "update");
  // A refresh found what an earlier attempt left: the update removes it.
  if (Array.isArray(oldOutputs.pendingCleanup) && oldOutputs.pendingCleanup.length) {
    diff.changes.set("pendingCleanup", "update");
    diff.fromState.push("pendingCleanup");
  }
  return diff;
}

export function policyFor(inputs: PlacementInputs, runtime: ProviderRuntime): PolicySpec {
  return inputs.policy
    ? (checkPolicy(inputs.policy, runtime.defaultPolicy).spec ?? runtime.defaultPolicy)
    : runtime.defaultPolicy;
}

/** The engine's request for a placement, given what the state last recorded of it. */
export function placementRequest(
  inputs: PlacementInputs,
  previous?: Partial<PlacementOutputs>,
): PlacementRequest {
  return {
    domain: inputs.domain,
    host: inputs.host,
    storagePool: inputs.storagePool,
    diskPools: inputs.disks,
    // Where the state last saw it (a move that finished after this process was killed may have
    // left its old copy there), and the last move's source (whose old copies a verified move
    // could not remove when that host stopped answering).
    alsoLookOn: [
      previous?.currentHost,
      previous?.host,
      previous?.lastMigration?.from,
      ...(previous?.pendingCleanup ?? []).map((c) => c.host),
    ].filter((h): h is string => !!h),
  };
}

const MiB = 1024 * 1024;

const VERDICT_TEXT: Record<PlanForecast["verdict"], string> = {
  converges: "converges",
  "needs-post-copy": "needs post-copy (after the first pass)",
  "needs-auto-converge": "needs auto-converge",
  "cannot-move-live": "cannot move live within the policy",
  "not-live": "",
};

function mib(bytes: number): string {
  return `${Math.round(bytes / MiB)} MiB`;
}

/** The preview's line for a move: mode, verdict, bytes, duration, downtime, and the sources. */
export function planSummary(plan: MigrationPlan): string {
  if (plan.mode === "none") return `${plan.domain}: stays on ${plan.from}`;
  const f = plan.forecast;
  const verdict = VERDICT_TEXT[f.verdict];
  const live = plan.mode.startsWith("live");
  const bytes = live
    ? `memory ${mib(f.memoryBytes)}, disks ${mib(f.diskBytes)}`
    : `disks ${mib(f.diskBytes)}`;
  const stream =
    f.sources.stream && f.sources.stream !== "one plain connection"
      ? `; stream: ${f.sources.stream}`
      : "";
  const sources = live
    ? `link ${f.linkMibps} MiB/s: ${f.sources.link}; dirty ${Math.round(f.dirtyRateMibps)} MiB/s: ${f.sources.dirtyRate}; memory: ${f.sources.memory}${stream}`
    : `link ${f.linkMibps} MiB/s: ${f.sources.link}`;
  const timing =
    f.verdict === "cannot-move-live"
      ? `aborted after ~${f.durationSeconds} s`
      : `~${f.durationSeconds} s, downtime ~${f.downtimeMs} ms`;
  return (
    `${plan.domain}: ${plan.from} -> ${plan.to}, ${plan.mode}${verdict ? `, ${verdict}` : ""}, ${bytes}, ${timing} (${sources})` +
    (plan.blockers.length ? `; BLOCKED: ${plan.blockers.map((b) => b.code).join(", ")}` : "")
  );
}

function describeStep(step: MigrationPlan["escalation"][number]): string {
  if (step.kind === "raise-downtime") return `raise-downtime ${step.downtimeMs} ms`;
  if (step.kind === "post-copy" && step.afterFirstPass) return "post-copy after the first pass";
  return step.kind;
}

export function describePlan(plan: MigrationPlan): PlannedMigrationOutput {
  return {
    mode: plan.mode,
    from: plan.from,
    to: plan.to,
    bytesToMove: plan.bytes.total,
    estimatedSeconds: plan.forecast.durationSeconds,
    estimatedDowntimeMs: plan.forecast.downtimeMs,
    verdict: plan.forecast.verdict,
    memoryBytes: plan.forecast.memoryBytes,
    diskBytes: plan.forecast.diskBytes,
    forecast: plan.forecast,
    escalation: plan.escalation.map(describeStep),
    warnings: plan.warnings.map((w) => `${w.code}: ${w.message}`),
    summary: planSummary(plan),
  };
}

/** Link rates earlier moves reached, from the placement's last record and this run's moves. */
export function measuredLinks(
  runtime: ProviderRuntime,
  previous?: Partial<PlacementOutputs>,
): MeasuredLink[] {
  const fromState = previous?.lastMigration && measuredLinkOf(previous.lastMigration);
  return [...(fromState ? [fromState] : []), ...runtime.measuredLinks];
}

export { PlacementBlockedError };

/**
 * A move that failed after it started: `outputs` say where the VM is now and carry the failed
 * attempt's record, so the state keeps the placement and shows what happened.
 */
export class PlacementFailedError extends Error {
  constructor(
    readonly cause: MigrationError,
    readonly outputs: PlacementOutputs,
  ) {
    super(cause.message);
  }
}

type Observed = {
  currentHost: string;
  currentDisks: DiskState[];
  domainUuid: string;
  definitionXml?: string;
};

/**
 * Where the domain is now, as outputs; undefined only when every inventory host answered that it
 * has no such domain. Throws (LocationUnknownError) when unreachable hosts leave it open.
 * `definition`: keep the domain's definition too, for a failover (only placements whose policy
 * allows one hold it: it carries the domain's secrets).
 */
export async function observe(
  runtime: ProviderRuntime,
  domain: string,
  definition = false,
): Promise<Observed | undefined> {
  return (await look(runtime, domain, definition))?.observed;
}

/** observe, and whether an interrupted move may have left something (its note, a second definition). */
async function look(
  runtime: ProviderRuntime,
  domain: string,
  definition: boolean,
): Promise<{ observed: Observed; interrupted: boolean } | undefined> {
  const located = await locateDomain(runtime.pool, domain);
  const found = settledLocation(domain, located);
  if (!found) return undefined;
  const conn = await runtime.pool.get(found.host);
  const facts = await gatherDomainFacts(conn, found.host, found.domain);
  // The persistent definition (what a cold boot uses), in the form another host takes: what a
  // failover defines when this host is lost. The note of a move in progress is not part of it.
  const definitionXml = !definition
    ? undefined
    : withoutMoveMarker(
        facts.persistent
          ? await conn.domains.xml(found.domain, XML_INACTIVE | XML_MIGRATABLE)
          : facts.xml,
      );
  const observed = {
    currentHost: found.host,
    domainUuid: facts.uuid,
    ...(definitionXml ? { definitionXml } : {}),
    currentDisks: facts.disks
      .filter((d) => d.device === "disk" || d.device === "lun")
      .map((d) => ({
        target: d.target,
        pool: d.pool ?? null,
        path: d.path ?? null,
        capacityBytes: d.capacityBytes,
      })),
  };
  return { observed, interrupted: !!facts.moveMarker || located.also.length > 0 };
}

/** Whether the placement keeps the domain's definition: only for a failover its policy allows. */
function keepsDefinition(runtime: ProviderRuntime, inputs: Partial<PlacementInputs>): boolean {
  return policyFor(inputs as PlacementInputs, runtime).allowFailover;
}

/**
 * Read (refresh and import): where the domain is now, and the inputs that placement amounts to,
 * so drift shows against the program's inputs. Undefined when the domain is on no host.
 */
export async function readPlacement(
  runtime: ProviderRuntime,
  domain: string,
  state: Partial<PlacementOutputs>,
  inputs: Partial<PlacementInputs>,
): Promise<{ outputs: PlacementOutputs; inputs: PlacementInputs } | undefined> {
  let seen: Awaited<ReturnType<typeof look>>;
  try {
    seen = await look(runtime, domain, keepsDefinition(runtime, inputs));
  } catch (err) {
    // The VM's host is lost (libvirt and ssh both silent) and no host that answers runs it: the
    // state stays as last seen, so an update that moves the VM elsewhere can fail it over.
    // A host that is only sick (ssh answers) still fails the refresh, naming it.
    const last = state.currentHost;
    if (!(err instanceof LocationUnknownError) || !last || err.unreachable[last] === undefined)
      throw err;
    if (!(await probeHost(runtime.pool, last)).lost) throw err;
    return {
      outputs: {
        lastMigration: null,
        migrationCount: 0,
        plannedMigration: null,
        ...state,
      } as PlacementOutputs,
      inputs: { ...inputs, domain } as PlacementInputs,
    };
  }
  if (!seen) return undefined;
  const now = seen.observed;
  const last = state.lastMigration;
  if (last?.mode === "failover" && last.result === "succeeded")
    await removeStaleDefinition(runtime, domain, last.from, now.currentHost);
  const refreshed = refreshedInputs(domain, inputs, now);
  const cleanup =
    seen.interrupted || mayHaveLeftovers(state, now.currentHost)
      ? await leftBehind(runtime, refreshed, state)
      : [];
  // What an earlier refresh found is found again, or is gone; so is a definition no longer kept.
  const kept = { ...state };
  delete kept.pendingCleanup;
  delete kept.definitionXml;
  return {
    outputs: {
      lastMigration: null,
      migrationCount: 0,
      plannedMigration: null,
      ...kept,
      ...refreshed,
      ...now,
      ...(cleanup.length ? { pendingCleanup: cleanup } : {}),
    },
    inputs: refreshed,
  };
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
  const { plan } = await planPlacement(
    runtime.pool,
    placementRequest(inPlace, state),
    policyFor(inPlace, runtime),
    { measureSeconds: 0 },
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

/**
 * Sends one move's webhook events; a notification that fails is a warning, never an error. The
 * operation's cancel stops a delivery under way (one sent after it gets its own deadline).
 */
function notifier(
  policy: PolicySpec,
  options: Pick<ApplyOptions, "warn" | "signal">,
  move: { domain: string; from: string; to: string; mode: string; summary: string },
) {
  return (event: WebhookEvent, extra: { record?: MigrationRecord; error?: string }) =>
    notifyWebhook(policy.notify, { event, ...move, ...extra }, { signal: options.signal }).then(
      (d) => d.problem && options.warn?.(`${move.domain}: ${event} not notified: ${d.problem}`),
    );
}

/** Runs a move, telling the policy's webhook (if any) when it starts and how it ended. */
async function withNotifications(
  plan: MigrationPlan,
  policy: PolicySpec,
  options: Pick<ApplyOptions, "warn" | "signal">,
  move: () => Promise<MigrationRecord>,
): Promise<MigrationRecord> {
  const notify = notifier(policy, options, {
    domain: plan.domain,
    from: plan.from,
    to: plan.to,
    mode: plan.mode,
    summary: planSummary(plan),
  });
  // Not awaited before the move starts: a slow webhook must not hold up the migration.
  const started = notify("started", {});
  try {
    const record = await move();
    await started;
    await notify("succeeded", { record });
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

/** Create and Update: plan, and unless previewing, carry the plan out and report where the VM is. */
export async function applyPlacement(
  runtime: ProviderRuntime,
  inputs: PlacementInputs,
  options: ApplyOptions,
): Promise<PlacementOutputs> {
  const policy = policyFor(inputs, runtime);
  const ledger = options.preview ? runtime.ledgers.preview : runtime.ledgers.update;
  const claimant = options.claimant ?? inputs.domain;
  const lost = await lostSource(runtime, inputs, options.previous);
  if (lost) return failover(runtime, inputs, options, policy, lost.source, lost.reach);
  const { plan, facts } = await planPlacement(
    runtime.pool,
    placementRequest(inputs, options.previous),
    policy,
    {
      measureSeconds: runtime.measureSeconds,
      measureGate: runtime.measureGate,
      measuredLinks: measuredLinks(runtime, options.previous),
      ledger,
      claimant,
      signal: options.signal,
    },
  );
  if (plan.recovery) return recoverFirst(runtime, inputs, options, policy, plan);
  // A preview's claims stand for the whole preview: nothing it plans is done before it ends.
  if (options.preview) return previewOutputs(inputs, options, plan, facts);
  let landed = false;
  try {
    const outputs = await carryOut(runtime, inputs, options, policy, plan, facts);
    landed = outputs.currentHost === plan.to;
    return outputs;
  } catch (err) {
    landed = err instanceof PlacementFailedError && err.outputs.currentHost === plan.to;
    throw err;
  } finally {
    ledger.settle(claimant, landed);
  }
}

/**
 * What a refresh reports of an interrupted move: the recovery, and the move's other host, where
 * leftovers of the move (its old source volumes, a copy that never completed) are looked for
 * once the recovery is done.
 */
function recoveryCleanup(recovery: Recovery): PendingCleanup[] {
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
  const base = {
    ...inputs,
    lastMigration: options.previous?.lastMigration ?? null,
    migrationCount: options.previous?.migrationCount ?? 0,
    ...(options.previous?.definitionXml ? { definitionXml: options.previous.definitionXml } : {}),
  };
  if (options.preview) {
    const planned = describePlan(plan);
    planned.summary = `${inputs.domain}: ${recovery.summary}; then ${inputs.domain} is placed on ${inputs.host} as planned from there`;
    return { ...base, currentHost: recovery.keep, currentDisks: [], plannedMigration: planned };
  }
  if (options.recovered)
    throw new PlacementBlockedError(
      `${inputs.domain}: the interrupted move was recovered, yet its note is still found (${recovery.summary}); check ${recovery.keep}`,
    );
  try {
    const record = await executePlan(plan, undefined, { pool: runtime.pool, policy });
    for (const step of record.steps) options.info?.(`${inputs.domain}: ${step}`);
  } catch (err) {
    if (!(err instanceof MigrationError)) throw err;
    throw await failedPlacement(runtime, inputs, policy, err, {
      ...base,
      currentHost: recovery.keep,
      currentDisks: [],
    });
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
 * The host the state last saw the VM on, when the program moves it elsewhere and that host does
 * not answer while no answering host runs the VM: the case for a failover.
 */
async function lostSource(
  runtime: ProviderRuntime,
  inputs: PlacementInputs,
  previous: Partial<PlacementOutputs> | undefined,
): Promise<{ source: string; reach: Reachability } | undefined> {
  const source = previous?.currentHost;
  if (!source || source === inputs.host) return undefined;
  // The probe first: a host that answers costs milliseconds, a lost one a single short timeout.
  const reach = await probeHost(runtime.pool, source);
  if (!reach.lost) return undefined;
  const elsewhere = await locateDomain(runtime.pool, inputs.domain, [source]);
  if (elsewhere.found?.running) return undefined;
  return { source, reach };
}

async function failover(
  runtime: ProviderRuntime,
  inputs: PlacementInputs,
  options: ApplyOptions,
  policy: PolicySpec,
  source: string,
  reach: Reachability,
): Promise<PlacementOutputs> {
  const previous = { ...options.previous, currentHost: source };
  const plan = await planFailover(runtime, inputs, previous, policy, reach);
  const base = {
    ...inputs,
    lastMigration: previous.lastMigration ?? null,
    migrationCount: previous.migrationCount ?? 0,
    currentDisks: previous.currentDisks ?? [],
    ...(previous.definitionXml ? { definitionXml: previous.definitionXml } : {}),
  };
  if (options.preview)
    return { ...base, currentHost: source, plannedMigration: describeFailover(plan) };
  const record = await notifyFailover(plan, policy, options, () =>
    carryOutFailover(runtime, plan, options.signal),
  );
  const now = await observe(runtime, inputs.domain, policy.allowFailover).catch(() => undefined);
  return {
    ...base,
    ...(now ?? { currentHost: plan.target }),
    plannedMigration: null,
    lastMigration: record,
    migrationCount: base.migrationCount + 1,
  };
}

/** The webhook's failover event (and failed, when it does not happen), as moves notify. */
async function notifyFailover(
  plan: FailoverPlan,
  policy: PolicySpec,
  options: Pick<ApplyOptions, "warn" | "signal">,
  run: () => Promise<MigrationRecord>,
): Promise<MigrationRecord> {
  const notify = notifier(policy, options, {
    domain: plan.domain,
    from: plan.source,
    to: plan.target,
    mode: "failover",
    summary: plan.summary,
  });
  try {
    const record = await run();
    await notify("failover", { record });
    return record;
  } catch (err) {
    await notify("failed", { error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}

function blockedError(inputs: PlacementInputs, plan: MigrationPlan): PlacementBlockedError {
  return new PlacementBlockedError(
    `cannot place ${inputs.domain} on ${inputs.host}: ${plan.blockers.map((b) => `${b.code}: ${b.message}`).join("; ")}`,
  );
}

function previewOutputs(
  inputs: PlacementInputs,
  options: ApplyOptions,
  plan: MigrationPlan,
  facts: PlannedMove["facts"],
): PlacementOutputs {
  if (plan.blockers.length) throw blockedError(inputs, plan);
  return {
    ...inputs,
    lastMigration: options.previous?.lastMigration ?? null,
    migrationCount: options.previous?.migrationCount ?? 0,
    currentHost: facts!.host,
    currentDisks: [],
    ...(options.previous?.definitionXml ? { definitionXml: options.previous.definitionXml } : {}),
    plannedMigration: describePlan(plan),
  };
}

/**
 * A move or recovery that failed after it started: the state keeps the placement where the VM is
 * now (or, when that cannot be seen, as `lastKnown` says) with the failed attempt's record, and
 * the definition a failover needs where the policy allows one.
 */
async function failedPlacement(
  runtime: ProviderRuntime,
  inputs: PlacementInputs,
  policy: PolicySpec,
  err: MigrationError,
  lastKnown: Omit<PlacementOutputs, "plannedMigration" | "lastMigration">,
): Promise<PlacementFailedError> {
  const now = await observe(runtime, inputs.domain, policy.allowFailover).catch(() => undefined);
  return new PlacementFailedError(err, {
    ...lastKnown,
    ...now,
    plannedMigration: null,
    lastMigration: err.record,
  });
}

/** Runs the plan and reports where the VM is afterwards. */
async function carryOut(
  runtime: ProviderRuntime,
  inputs: PlacementInputs,
  options: ApplyOptions,
  policy: PolicySpec,
  plan: MigrationPlan,
  facts: PlannedMove["facts"],
): Promise<PlacementOutputs> {
  if (plan.blockers.length) throw blockedError(inputs, plan);
  const base = {
    ...inputs,
    lastMigration: options.previous?.lastMigration ?? null,
    migrationCount: options.previous?.migrationCount ?? 0,
  };
  let record: MigrationRecord | undefined;
  if (plan.mode === "none" && (plan.leftovers.length || plan.staleIncoming.length)) {
    // Nothing moves, but an earlier attempt left volumes (or markers) behind: remove them.
    await executePlan(plan, facts!, { pool: runtime.pool, policy });
  } else if (plan.mode !== "none") {
    try {
      record = await withNotifications(plan, policy, options, () =>
        executePlan(plan, facts!, {
          pool: runtime.pool,
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
        ...(previous?.definitionXml ? { definitionXml: previous.definitionXml } : {}),
      });
    }
  }
  const measured = record && measuredLinkOf(record);
  if (measured) runtime.measuredLinks.push(measured);
  const now = await observe(runtime, inputs.domain, policy.allowFailover);
  if (!now)
    throw new Error(`${inputs.domain} is on no inventory host after the move; check the hosts`);
  return {
    ...base,
    ...now,
    plannedMigration: null,
    lastMigration: record ?? base.lastMigration,
    migrationCount: base.migrationCount + (record?.result === "succeeded" ? 1 : 0),
  };
}
