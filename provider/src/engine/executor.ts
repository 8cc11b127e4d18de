// The executor: the only part of the engine that changes hosts. It runs a plan in the mode the
// planner chose, falls back to an offline move when the policy allows, and always returns (or
// throws with) a truthful migration record.
import { runBlockCopy } from "./block-copy";
import type { ConnectionPool } from "./connections";
import { progressEvent, RunFailure, type RunContext } from "./context";
import { describeError, MigrationError, stopCause } from "./errors";
import type { MigrationLimiter, SlotRelease } from "./limiter";
import { runLive } from "./live";
import { runFailover } from "./failover";
import { runOffline } from "./offline";
import { RecordBuilder } from "./record";
import { withMoveMarker as withMoveMarkerXml } from "./domain-xml";
import {
  clearMoveMarker,
  newMoveMarker,
  recoverInterruptedMove,
  writeMoveMarker,
} from "./interrupted-move";
import type { Recovery } from "./recovery-plan";
import { presenceVia } from "./where";
import { removeLeftovers } from "./volumes";
import { forgetHostReadings } from "./gather";
import type {
  DomainFacts,
  MigrationPlan,
  MigrationPolicy,
  MigrationProgress,
  MigrationRecord,
} from "./types";

export interface ExecuteOptions {
  pool: ConnectionPool;
  policy: MigrationPolicy;
  limiter?: MigrationLimiter;
  signal?: AbortSignal;
  onProgress?: (p: MigrationProgress) => void;
  log?: (message: string) => void;
  pollIntervalMs?: number;
  /** How long to wait for a silent host whose answer the outcome needs (default 30 s). */
  silentHostWaitMs?: number;
}

const MIN_POLL_MS = 500;
const SILENT_HOST_WAIT_MS = 30_000;

export async function executePlan(
  plan: MigrationPlan,
  facts: DomainFacts | undefined,
  options: ExecuteOptions,
): Promise<MigrationRecord> {
  try {
    return await execute(plan, facts, options);
  } finally {
    // Memory and volumes changed there: later plans read these hosts afresh.
    forgetHostReadings(options.pool, plan.from, plan.to, ...plan.staleIncoming);
    for (const v of plan.leftovers) forgetHostReadings(options.pool, v.host);
  }
}

async function execute(
  plan: MigrationPlan,
  facts: DomainFacts | undefined,
  options: ExecuteOptions,
): Promise<MigrationRecord> {
  const record = new RecordBuilder(plan);
  if (plan.recovery) return recover(plan.recovery, options.pool, record);
  if (plan.blockers.length) {
    const message = plan.blockers.map((b) => `${b.code}: ${b.message}`).join("; ");
    throw new MigrationError(
      "VMP_PLAN_BLOCKED",
      message,
      record.finish("failed", plan.from, { category: "blocked", message }),
    );
  }
  if (plan.mode === "none") {
    await cleanUpLeftovers(options.pool, plan, record);
    return record.finish("noop", plan.from);
  }
  // A failover moves nothing through a migration slot: its VM runs nowhere until it is done.
  if (plan.mode === "failover")
    return settle(record, () => runFailover({ ...options, plan, record }));
  if (!facts) throw new Error(`no facts gathered for moving ${plan.domain}`);

  let release: () => void = () => undefined;
  const ctx: RunContext = {
    plan,
    facts,
    policy: options.policy,
    pool: options.pool,
    record,
    signal: options.signal,
    onProgress: options.onProgress,
    log: options.log ?? (() => undefined),
    pollIntervalMs: Math.max(MIN_POLL_MS, options.pollIntervalMs ?? MIN_POLL_MS),
    silentHostWaitMs: options.silentHostWaitMs ?? SILENT_HOST_WAIT_MS,
  };
  try {
    return await settle(record, async () => {
      if (options.limiter) release = await takeSlot(ctx, options.limiter);
      record.begin();
      await cleanUpLeftovers(options.pool, plan, record);
      return withMoveMarker(ctx, () => run(ctx));
    });
  } finally {
    release();
  }
}

/**
 * Waits for the move's slots; a cancel while waiting ends the run with the VM where it is. The
 * limiter's queue forecasts then use the move's own time left, as its progress tells it.
 */
async function takeSlot(ctx: RunContext, limiter: MigrationLimiter): Promise<() => void> {
  const { plan } = ctx;
  const slot = await waitForSlot(ctx, limiter).catch((err: unknown) => {
    const stop = stopCause(ctx.signal);
    throw new RunFailure(
      "cancelled",
      stop.category,
      `migration of ${plan.domain} ${stop.phrase} while waiting for a migration slot (${(err as Error).message}); it keeps running on ${plan.from}`,
      plan.from,
      { cause: err },
    );
  });
  const report = ctx.onProgress;
  ctx.onProgress = (p) => {
    slot.report(p.secondsLeft);
    report?.(p);
  };
  return slot;
}

/**
 * The record of a run: succeeded where it ended, or, when it throws, a MigrationError whose code
 * and record say how it ended.
 */
async function settle(
  record: RecordBuilder,
  run: () => Promise<{ finalHost: string }>,
): Promise<MigrationRecord> {
  try {
    const { finalHost } = await run();
    return record.finish("succeeded", finalHost);
  } catch (err) {
    const failure =
      err instanceof RunFailure
        ? err
        : new RunFailure("failed", "libvirt", describeError(err), "unknown", { cause: err });
    throw new MigrationError(
      failure.code,
      failure.message,
      record.finish(failure.result, failure.finalHost, {
        category: failure.category,
        message: failure.message,
      }),
      { cause: failure.cause ?? err },
    );
  }
}

/** Carries out the recovery of an interrupted move; its steps make the record. */
async function recover(
  recovery: Recovery,
  pool: ConnectionPool,
  record: RecordBuilder,
): Promise<MigrationRecord> {
  try {
    for (const step of await recoverInterruptedMove(pool, recovery)) record.step(step);
  } catch (err) {
    const message = `recovering from an interrupted move of ${recovery.domain}: ${describeError(err)}`;
    throw new MigrationError(
      "VMP_RECOVERY_FAILED",
      message,
      record.finish("failed", recovery.keep, { category: "verification", message }),
      { cause: err },
    );
  }
  return record.finish("noop", recovery.keep);
}

/**
 * Runs a move that can stop the VM or give it a second definition under a move marker: written
 * on the source before the first such step (and into the definitions a live migration sends),
 * cleared where the VM ends up once the move settled there. A run that ends where the VM does not
 * run as it did (or in doubt) keeps the marker, so the next run puts it right.
 */
async function withMoveMarker(
  ctx: RunContext,
  move: () => Promise<{ finalHost: string }>,
): Promise<{ finalHost: string }> {
  const { plan, facts } = ctx;
  // A block copy stays on its host and never stops the VM; a failover is not run here.
  if (plan.mode === "block-copy" || plan.mode === "failover") return move();
  const marker = newMoveMarker({ from: plan.from, to: plan.to, mode: plan.mode, stops: false });
  const src = await ctx.pool.get(plan.from);
  await writeMoveMarker(src, plan.domain, marker, facts);
  ctx.moveMarker = marker;
  // The definitions a live migration sends are taken as given: they carry the note too.
  const { destinationXml, persistentXml } = plan.params;
  ctx.plan = {
    ...plan,
    params: {
      ...plan.params,
      ...(destinationXml ? { destinationXml: withMoveMarkerXml(destinationXml, marker) } : {}),
      ...(persistentXml ? { persistentXml: withMoveMarkerXml(persistentXml, marker) } : {}),
    },
  };
  let finalHost: string;
  try {
    finalHost = (await move()).finalHost;
  } catch (err) {
    const host = err instanceof RunFailure ? err.finalHost : "unknown";
    if (ctx.pool.host(host) && (await runsAsBefore(ctx, host)))
      await clearMoveMarker(ctx.pool, host, plan.domain);
    throw err;
  }
  if (!(await clearMoveMarker(ctx.pool, finalHost, plan.domain)))
    ctx.record.step(`could not clear the move's note on ${finalHost} now; the next run clears it`);
  return { finalHost };
}

/** Whether the VM is on `host` as it was before the move: running if it ran. */
async function runsAsBefore(ctx: RunContext, host: string): Promise<boolean> {
  const now = await presenceVia(ctx, host);
  return !!now?.defined && (!ctx.facts.running || now.running);
}

/** Waits for the move's slots, reporting its place in the queue at every poll while it waits. */
async function waitForSlot(ctx: RunContext, limiter: MigrationLimiter): Promise<SlotRelease> {
  const { plan } = ctx;
  const request = limiter.request(plan.from, plan.to, {
    signal: ctx.signal,
    label: plan.domain,
    expectedSeconds: plan.forecast.durationSeconds,
  });
  const report = () => {
    const queue = request.status();
    if (!queue) return;
    ctx.onProgress?.(progressEvent(plan.domain, "queued", { queue }));
  };
  report();
  const timer = setInterval(report, ctx.pollIntervalMs);
  try {
    return await request.granted;
  } finally {
    clearInterval(timer);
  }
}

/** Removes what earlier attempts of this domain left behind, before anything new is made. */
async function cleanUpLeftovers(
  pool: ConnectionPool,
  plan: MigrationPlan,
  record: RecordBuilder,
): Promise<void> {
  for (const host of plan.staleIncoming) {
    const conn = await pool.get(host);
    const dom = await conn.domains.lookupByName(plan.domain);
    await conn.domains.destroy(dom);
    record.step(
      `removed a half-received copy of ${plan.domain} an earlier attempt left on ${host}`,
    );
  }
  if (!plan.leftovers.length) return;
  const removed = await removeLeftovers(pool, plan.leftovers);
  if (removed.length)
    record.step(`removed what an earlier attempt left behind: ${removed.join(", ")}`);
}

async function run(ctx: RunContext): Promise<{ finalHost: string }> {
  switch (ctx.plan.mode) {
    case "block-copy":
      return runBlockCopy(ctx);
    case "offline":
      return runOffline(ctx);
    case "live-shared":
    case "live-copy-all":
    case "live-copy-incremental":
      try {
        return await runLive(ctx);
      } catch (err) {
        // Step 4 of the ladder: pre-copy (and post-copy, if allowed) gave up with the domain
        // still on the source; move it offline if the policy allows.
        // The plan leaves the fallback out where it cannot work (transient domain, backing chain).
        if (
          !(err instanceof RunFailure) ||
          err.result !== "aborted" ||
          !ctx.plan.escalation.some((s) => s.kind === "offline-fallback")
        )
          throw err;
        ctx.record.fallbackUsed = true;
        ctx.record.mode = "offline";
        ctx.record.step("falling back to an offline move");
        return runOffline(ctx);
      }
    case "none":
      return { finalHost: ctx.plan.from };
    case "failover":
      // Run apart from the slots and the move marker (executePlan): nothing is migrated.
      return runFailover(ctx);
  }
}
