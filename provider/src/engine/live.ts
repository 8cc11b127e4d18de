// Live migration: peer-to-peer pre-copy (with storage copy when disks are not shared), watched
// through job statistics and escalated along the policy's ladder; verified before success.
import {
  constants as C,
  isConnectionClosed,
  isNotFound,
  type Domain,
  type JobStats,
  type LibvirtConnection,
  type MigrateFlagName,
} from "../libvirt";
import { reportPhase, RunFailure, secondsLeft, type RunContext } from "./context";
import { describeError, stopCause } from "./errors";
import { decideEscalation, postCopyRefused, startLadder, type LadderState } from "./ladder";
import { removeNvramFile } from "./nvram";
import { SETUP_SECONDS } from "./plan-forecast";
import { CreatedVolumes, removeSourceVolumes, SourceMarks } from "./volumes";
import type { MigrationPlan, MigrationPolicy, MigrationTransport } from "./types";
import {
  presence,
  presenceVia,
  sleep,
  undefineWithNvram,
  waitForPresence,
  type Presence,
} from "./where";

function progressOf(ctx: RunContext, stats: JobStats, postCopy: boolean) {
  const total = stats.dataTotal ?? 0;
  const memoryBegun = memoryMigrationBegun(stats);
  // Before memory migration begins, a storage copy is what the job is doing.
  const copyingDisks = !postCopy && !memoryBegun && (stats.diskTotal ?? 0) > 0;
  const bps = copyingDisks ? (stats.diskBps ?? 0) : (stats.memoryBps ?? stats.diskBps ?? 0);
  ctx.onProgress?.({
    domain: ctx.plan.domain,
    phase: postCopy ? "postcopy" : copyingDisks ? "disk-copy" : "precopy",
    percent: total ? Math.min(100, Math.round(((stats.dataProcessed ?? 0) / total) * 100)) : 0,
    secondsLeft: secondsLeft(stats.dataRemaining ?? 0, bps),
    memoryProcessed: stats.memoryProcessed ?? 0,
    memoryRemaining: stats.memoryRemaining ?? 0,
    diskProcessed: stats.diskProcessed ?? 0,
    diskRemaining: stats.diskRemaining ?? 0,
    bandwidthBps: bps,
    dirtyRateBps: stats.memoryDirtyRateBps ?? 0,
    iteration: stats.memoryIteration ?? 0,
  });
}

/** A steering call that fails is noted; the job goes on and the loop keeps watching it. */
async function steer(ctx: RunContext, what: string, call: () => Promise<void>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (err) {
    ctx.record.step(`${what} failed (${describeError(err)}); still watching the job`);
    return false;
  }
}

/** The memory pass's figures for judging convergence, once QEMU reports them. */
function runningPrecopy(stats: JobStats) {
  if (stats.memoryIteration === undefined || stats.memoryRemaining === undefined) return undefined;
  return {
    iteration: stats.memoryIteration,
    memoryRemainingBytes: stats.memoryRemaining,
    dirtyRateBps: stats.memoryDirtyRateBps ?? 0,
    bandwidthBps: stats.memoryBps ?? 0,
  };
}

/** QEMU accepts post-copy only once memory migration has begun (not during the disk copy). */
function memoryMigrationBegun(stats: JobStats): boolean {
  return (stats.memoryProcessed ?? 0) > 0 || (stats.memoryIteration ?? 0) > 0;
}

/** Post-copy refused this often (in a phase that should accept it) ends in an abort. */
const MAX_POSTCOPY_REFUSALS = 3;

/** What the steering loop has done to a job so far; survives a reconnect to the source. */
interface Steering {
  ladder: LadderState;
  abortedBy?: "ladder" | "cancel";
  /** When the abort was asked for, and whether a stuck incoming copy was then destroyed. */
  abortedAt?: number;
  incomingDestroyed?: boolean;
  cancelNoted: boolean;
  postCopyRefusals: number;
  /** Disk bytes the storage copy moved, as the source's job reported them. */
  diskCopied: number;
  /** QEMU's own rate of its pre-copy memory passes, as each poll saw it (bytes/s). */
  passBps: number[];
}

/**
 * The storage copy's bytes so far. Once memory goes, the mirror is complete and its total is
 * what it moved (the completed statistics on the target count memory only).
 */
function diskCopiedSoFar(stats: JobStats, before: number): number {
  const seen = memoryMigrationBegun(stats) ? (stats.diskTotal ?? 0) : (stats.diskProcessed ?? 0);
  return Math.max(before, seen);
}

/**
 * Fires when QEMU begins a memory pass (libvirt's migration-iteration event), so the steering
 * loop looks at once: post-copy after the first pass then starts as that pass ends, as
 * `virsh migrate --postcopy-after-precopy` does, not at the next poll.
 */
class PassStarts {
  private pending?: { promise: Promise<void>; resolve: () => void };

  fire(): void {
    this.pending?.resolve();
    this.pending = undefined;
  }

  /** Resolves at the next pass start (one promise for every waiter until then). */
  next(): Promise<void> {
    if (!this.pending) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.pending = { promise, resolve };
    }
    return this.pending.promise;
  }
}

/** Runs the migration call and steers it until it settles; returns its error, if any. */
async function migrateAndSteer(
  ctx: RunContext,
  src: LibvirtConnection,
  dom: Domain,
  passes: PassStarts,
): Promise<{
  error?: unknown;
  abortedBy?: "ladder" | "cancel";
  diskCopied: number;
  passBps: number[];
}> {
  const { plan, record } = ctx;
  const target = ctx.pool.host(plan.to)!;
  let settled = false;
  const call = src.migration
    .migrateToUri3(dom, target.peerUri ?? target.uri, plan.params, plan.flags as MigrateFlagName[])
    .then(
      () => undefined,
      (e: unknown) => e,
    )
    .finally(() => (settled = true));
  record.step(
    `started ${plan.mode} migration ${plan.from} -> ${plan.to} (${plan.flags.join(" ")})`,
  );
  const state: Steering = {
    ladder: startLadder(Date.now()),
    cancelNoted: false,
    postCopyRefusals: 0,
    diskCopied: 0,
    passBps: [],
  };
  await steerJob(ctx, src, dom, state, () => settled, call, passes);
  const error = await call;
  if (error !== undefined) await followJob(ctx, state);
  return {
    error,
    abortedBy: state.abortedBy,
    diskCopied: state.diskCopied,
    passBps: state.passBps,
  };
}

/**
 * Watches the job on `src` and climbs the ladder until `ended()` says the job is over. A steering
 * call that fails is noted and the watch goes on: the job is never left to itself.
 */
async function steerJob(
  ctx: RunContext,
  src: LibvirtConnection,
  dom: Domain,
  state: Steering,
  ended: () => boolean | Promise<boolean>,
  wake?: Promise<unknown>,
  passes?: PassStarts,
): Promise<void> {
  const { plan, policy, record } = ctx;
  const abort = () => {
    state.abortedAt = Date.now();
    return steer(ctx, "aborting the migration job", () => src.domains.abortJob(dom));
  };
  for (;;) {
    // A cancellation, the call's end or a new memory pass wakes the loop at once; otherwise
    // poll at the configured interval.
    const nap = sleep(ctx.pollIntervalMs, state.abortedBy ? undefined : ctx.signal);
    await Promise.race([nap, ...(wake ? [wake] : []), ...(passes ? [passes.next()] : [])]);
    if (await ended()) return;
    if (state.abortedAt && Date.now() - state.abortedAt > ABORT_GRACE_MS)
      await destroyStuckIncoming(ctx, state);
    if (ctx.signal?.aborted && !state.abortedBy) {
      if (!state.ladder.postCopy) {
        state.abortedBy = "cancel";
        record.step(
          `${plan.domain} ${stopCause(ctx.signal).phrase}: aborting the migration job; the domain stays on the source`,
        );
        await abort();
        continue;
      }
      if (!state.cancelNoted) {
        state.cancelNoted = true;
        record.step(
          "cancel requested during post-copy: the guest already runs on the target, finishing",
        );
      }
    }
    const stats = await src.domains.jobStats(dom).catch(() => undefined);
    if (!stats || (stats.type !== "bounded" && stats.type !== "unbounded")) continue;
    progressOf(ctx, stats, state.ladder.postCopy);
    state.diskCopied = diskCopiedSoFar(stats, state.diskCopied);
    if (memoryMigrationBegun(stats) && !state.ladder.postCopy && (stats.memoryBps ?? 0) > 0)
      state.passBps.push(stats.memoryBps!);
    if (state.abortedBy) continue;
    const decision = decideEscalation(
      state.ladder,
      {
        nowMs: Date.now(),
        remainingBytes: stats.dataRemaining ?? 0,
        postCopyPossible: memoryMigrationBegun(stats),
        memory: runningPrecopy(stats),
      },
      policy,
      plan.completionTimeoutSeconds,
      plan.forecast.escalation,
    );
    state.ladder = decision.state;
    await escalate(ctx, src, dom, state, decision.action, abort);
  }
}

/**
 * How long an aborted pre-copy may take to end. A storage copy cannot end while the target's
 * QEMU does not take its last writes (its own storage stopped answering: Ceph monitors out of
 * reach); the source waits for those as long as they take.
 */
const ABORT_GRACE_MS = 10_000;

/**
 * Ends an abort that does not end: the incoming copy on the target is destroyed, which drops its
 * side of the stream, and the source's job fails at once. Only ever in pre-copy, where the guest
 * has never run on the target: it runs on the source throughout.
 */
async function destroyStuckIncoming(ctx: RunContext, state: Steering): Promise<void> {
  if (state.incomingDestroyed || state.ladder.postCopy) return;
  state.incomingDestroyed = true;
  try {
    const conn = await ctx.pool.get(ctx.plan.to);
    await conn.domains.destroy(await conn.domains.lookupByName(ctx.plan.domain));
    ctx.record.step(
      `the aborted job did not end within ${ABORT_GRACE_MS / 1000} s (the target's copy took no more writes): destroyed the incoming copy on ${ctx.plan.to}; the domain stays on the source`,
    );
  } catch (err) {
    ctx.record.step(
      `the aborted job did not end, and the incoming copy on ${ctx.plan.to} could not be destroyed: ${describeError(err)}`,
    );
  }
}

/** Takes the ladder's next step on the job: a longer downtime, post-copy, or the abort. */
async function escalate(
  ctx: RunContext,
  src: LibvirtConnection,
  dom: Domain,
  state: Steering,
  action: ReturnType<typeof decideEscalation>["action"],
  abort: () => Promise<boolean>,
): Promise<void> {
  const { record } = ctx;
  if (action.kind === "raise-downtime") {
    if (
      await steer(ctx, `raising the max downtime to ${action.downtimeMs} ms`, () =>
        src.migration.setMaxDowntime(dom, action.downtimeMs),
      )
    )
      record.step(`raised max downtime to ${action.downtimeMs} ms (${action.reason})`);
  } else if (action.kind === "defer-post-copy") {
    record.step(
      `post-copy is due (${action.reason}), but the job is still copying disks; it starts once memory migration begins`,
    );
  } else if (action.kind === "post-copy") {
    if (await steer(ctx, "switching to post-copy", () => src.migration.startPostCopy(dom))) {
      record.step(`switched to post-copy (${action.reason})`);
      record.postCopy = true;
    } else {
      state.ladder = postCopyRefused(state.ladder);
      if (++state.postCopyRefusals >= MAX_POSTCOPY_REFUSALS) {
        state.abortedBy = "ladder";
        record.step(
          `libvirt refused post-copy ${state.postCopyRefusals} times: aborting pre-copy; the domain stays on the source`,
        );
        await abort();
      }
    }
  } else if (action.kind === "abort") {
    state.abortedBy = "ladder";
    record.step(`aborting pre-copy (${action.reason}); the domain stays on the source`);
    await abort();
  }
}

/** How long the source may stay silent while the engine waits to see how its job ended. */
const SETTLE_TIMEOUT_MS = 90_000;

/**
 * The call failed, but the job may still run inside the source daemon (a peer-to-peer migration
 * outlives the client's connection). Over fresh connections, follow it to its end and keep
 * steering it; give up only when the source stays silent for SETTLE_TIMEOUT_MS.
 */
async function followJob(ctx: RunContext, state: Steering): Promise<void> {
  let deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let noted = false;
  let reattached = false;
  while (Date.now() < deadline) {
    try {
      const src = await ctx.pool.get(ctx.plan.from);
      const dom = await src.domains.lookupByName(ctx.plan.domain);
      const active = async () => {
        // A domain that stopped (its QEMU ended) has no job; libvirt refuses to report one.
        if (!(await src.domains.isActive(dom))) return false;
        const job = await src.domains.jobInfo(dom);
        return job.type === "bounded" || job.type === "unbounded";
      };
      if (!(await active())) return;
      if (!reattached) {
        reattached = true;
        ctx.record.step(`the migration job still runs on ${ctx.plan.from}: watching it again`);
      }
      await steerJob(ctx, src, dom, state, async () => src.closed || !(await active()));
      deadline = Date.now() + SETTLE_TIMEOUT_MS;
    } catch (err) {
      if (isNotFound(err)) return;
      if (!noted) {
        noted = true;
        ctx.record.step(
          `waiting for ${ctx.plan.from} to answer, to see how the job ended (${describeError(err)})`,
        );
      }
      await sleep(1000);
    }
  }
  ctx.record.step(`${ctx.plan.from} did not answer within ${SETTLE_TIMEOUT_MS / 1000} s`);
}

/** A move must send this much memory for its rate to say something about the link. */
const LINK_SAMPLE_BYTES = 64 * 1024 * 1024;
/** ... and take this long beyond its setup. */
const MIN_LINK_SAMPLE_SECONDS = 0.3;

/**
 * The rate an uncapped move reached, as the forecast counts it: what it moved over its time
 * less the fixed setup the forecast adds, so the next forecast between these hosts reproduces
 * this move. (QEMU's own throughput figure is that of the last iteration, which swings with it.)
 */
function reachedLinkMibps(bytesMoved: number | undefined, elapsedMs: number): number | undefined {
  const seconds = elapsedMs / 1000 - SETUP_SECONDS;
  if (!bytesMoved || bytesMoved < LINK_SAMPLE_BYTES || seconds < MIN_LINK_SAMPLE_SECONDS)
    return undefined;
  return Math.round(bytesMoved / seconds / (1024 * 1024));
}

/**
 * The rate QEMU's memory passes reach when sending data: the 90th percentile of what the polls
 * saw, each sample being one of QEMU's 100 ms periods. Lower samples are periods spent scanning
 * untouched pages, which send next to nothing; QEMU sets its switch-over threshold from the
 * latest period, so the periods that send data are the ones it converges in.
 */
function passRateMibps(samples: number[]): number | undefined {
  if (samples.length < 3) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  return Math.round(sorted[Math.floor(sorted.length * 0.9)] / (1024 * 1024));
}

/** Completed-job statistics: the target keeps them after pre-copy, the source's event after post-copy. */
async function completedStats(
  dst: LibvirtConnection,
  name: string,
  fromEvent: JobStats | undefined,
): Promise<JobStats | undefined> {
  const dom = await dst.domains.lookupByName(name);
  const stats = await dst.domains.jobStats(dom, { completed: true }).catch(() => undefined);
  return stats?.type === "completed" ? stats : fromEvent;
}

/** The source domain, made ready to migrate: its job events watched until `stop`. */
interface SourceWatch {
  dom: Domain;
  /** The completed-job statistics the source's event carried. */
  completed?: JobStats;
  /** The highest memory pass QEMU announced. */
  iterations: number;
  stop(): Promise<void>;
}

/** Looks the domain up on the source, watches its job events and sets its max downtime. */
async function prepareSource(
  ctx: RunContext,
  src: LibvirtConnection,
  passes: PassStarts,
): Promise<SourceWatch> {
  const { plan, policy } = ctx;
  const dom = await src.domains.lookupByName(plan.domain);
  const unsubscribe: Array<() => Promise<void>> = [];
  const watch: SourceWatch = {
    dom,
    iterations: 0,
    stop: () => Promise.all(unsubscribe.map((u) => u().catch(() => undefined))).then(() => {}),
  };
  const subscribed = await Promise.allSettled([
    src.events.onJobCompleted(dom, (e) => (watch.completed = e.stats)),
    src.events.onMigrationIteration(dom, (e) => {
      watch.iterations = Math.max(watch.iterations, e.iteration);
      passes.fire();
    }),
    steer(ctx, `setting the max downtime to ${policy.maxDowntimeMs} ms`, () =>
      src.migration.setMaxDowntime(dom, policy.maxDowntimeMs),
    ).then(() => undefined),
  ]);
  for (const s of subscribed) if (s.status === "fulfilled" && s.value) unsubscribe.push(s.value);
  const failed = subscribed.find((s) => s.status === "rejected");
  if (failed) {
    await watch.stop();
    throw failed.reason;
  }
  return watch;
}

export async function runLive(ctx: RunContext): Promise<{ finalHost: string }> {
  const { plan, record, facts } = ctx;
  const volumes = new CreatedVolumes(ctx.pool, facts.uuid);
  const sources = new SourceMarks(ctx.pool, facts.uuid);
  const passes = new PassStarts();
  let watch: SourceWatch | undefined;
  let outcome: Awaited<ReturnType<typeof migrateAndSteer>>;
  try {
    const src = await ctx.pool.get(plan.from);
    // The source's marks, the target's volumes and the source domain's watch do not depend on
    // each other: made at once. All have finished before anything is decided, so a rollback
    // sees everything that was made.
    const prepared = await Promise.allSettled([
      sources.mark(plan.from, plan.disks, false),
      volumes.createFor(plan.to, plan.disks),
      prepareSource(ctx, src, passes),
    ]);
    if (prepared[2].status === "fulfilled") watch = prepared[2].value;
    for (const p of prepared) if (p.status === "rejected") throw p.reason;
    if (plan.disks.some((d) => d.copy))
      record.step(
        `created target volumes in ${[...new Set(plan.disks.filter((d) => d.copy).map((d) => d.pool))].join(", ")} on ${plan.to}`,
      );
    outcome = await migrateAndSteer(ctx, src, watch!.dom, passes);
  } catch (err) {
    // Nothing was started (or the source could not be reached to start it): undo the volumes.
    outcome = { error: err, diskCopied: 0, passBps: [] };
  } finally {
    await watch?.stop();
  }
  const completedEvent = watch?.completed;
  const iterations = watch?.iterations ?? 0;

  if (!outcome.error) reportPhase(ctx, "verifying");
  const [onSource, onTarget] = await Promise.all([
    presenceVia(ctx, plan.from),
    presenceVia(ctx, plan.to),
  ]);
  try {
    return await decide(ctx, outcome, {
      volumes,
      sources,
      onSource,
      onTarget,
      completedEvent,
      iterations,
      diskCopied: outcome.diskCopied,
      passBps: outcome.passBps,
    });
  } finally {
    await sources.clear();
  }
}

/** What an attempt made and saw, for deciding how it ended. */
interface Seen {
  volumes: CreatedVolumes;
  sources: SourceMarks;
  onSource: Presence | undefined;
  onTarget: Presence | undefined;
  completedEvent: JobStats | undefined;
  iterations: number;
  diskCopied: number;
  passBps: number[];
}

/** Decides how the attempt ended from where the domain is now, and cleans up accordingly. */
async function decide(
  ctx: RunContext,
  outcome: Awaited<ReturnType<typeof migrateAndSteer>>,
  seen: Seen,
): Promise<{ finalHost: string }> {
  const { plan, record } = ctx;
  const { volumes } = seen;
  let { onSource, onTarget } = seen;
  if (!outcome.error) {
    if (!onSource && onTarget?.running) {
      // Its daemon went away after the switch-over: only it can confirm the source stopped.
      record.step(`waiting for ${plan.from} to answer, to verify the move`);
      onSource = await waitForPresence(ctx, plan.from, "the move cannot be verified");
    }
    return verifyMoved(ctx, { ...seen, onSource, onTarget });
  }

  const err = outcome.error;
  if (onSource && !onTarget) {
    // The target does not answer. If its daemon died after starting the guest there, it resumes
    // that copy when it comes back: wait for it, so the copy can be stopped before we return (or,
    // with the source stopped, to learn whether the switch-over happened).
    record.step(`waiting for ${plan.to} to answer, to remove what the attempt left there`);
    onTarget = await waitForPresence(ctx, plan.to, "the next run removes what is left there");
  }
  if (onSource?.state === "running" && onTarget?.state === "running") {
    // Both run: libvirt resumed the source because the move was never confirmed, while the
    // target had already started the guest. The source is the VM (the record and the state say
    // so); the target copy goes, with what it did since the switch-over.
    await stopTargetCopy(ctx);
    record.step(
      `${plan.domain} ran on both hosts after the failure (libvirt resumed it on ${plan.from}, the move was never confirmed, while ${plan.to} had started it too): stopped the copy on ${plan.to}; what it did since the switch-over is lost`,
    );
    onTarget = await presenceVia(ctx, plan.to);
  }
  const sourceRuns = onSource?.running === true;
  // An incoming domain paused for a migration that never switched over does not count as running.
  const targetRuns = onTarget?.running === true && !onTarget.incoming;
  if (targetRuns && onSource && !onSource.running) {
    // The switch-over happened before the error (e.g. a late confirmation failure): it moved.
    record.step(
      `libvirt reported an error after switch-over (${describeError(err)}); ${plan.domain} runs on ${plan.to}`,
    );
    // Verified like any move, and the old source volumes go as the policy says.
    return verifyMoved(ctx, { ...seen, onSource, onTarget });
  }
  if (onTarget && !targetRuns && onSource && !sourceRuns) {
    // The source's QEMU ended before the switch-over (killed, crashed, or the guest powered off):
    // nothing runs. Its disks on the source are as it left them; starting it is not ours to do.
    const rolledBack = await rollBackTarget(ctx, volumes, onTarget);
    record.step(
      `${plan.domain} stopped on ${plan.from} during the move (state ${onSource.state ?? "shut off"}); ${rolledBack}`,
    );
    throw new RunFailure(
      "failed",
      "libvirt",
      `migration of ${plan.domain} to ${plan.to} failed: ${describeError(err)}; its QEMU on ${plan.from} ended during the move (killed, crashed or the guest powered off), so it is shut off there with its disks untouched and was not started anywhere. Start it with virsh start, or run the update again to move it offline`,
      plan.from,
      { cause: err },
    );
  }
  if (!targetRuns && (sourceRuns || !onSource))
    return rolledBack(ctx, outcome, { ...seen, onSource, onTarget });
  throw new RunFailure(
    "failed",
    "verification",
    `migration of ${plan.domain} failed (${describeError(err)}) and left it ${sourceRuns ? "running on both hosts" : targetRuns ? `running on ${plan.to}, while ${plan.from} does not answer` : `stopped on ${plan.from}, while ${plan.to} does not answer (it may have switched over)`}; not touching it further`,
    "unknown",
    { cause: err },
  );
}

/**
 * Failed before the switch-over: the domain stays where it runs (its source), what this attempt
 * made on the target goes, and the failure says why it ended (a cancel, the ladder, an error).
 */
async function rolledBack(
  ctx: RunContext,
  outcome: Awaited<ReturnType<typeof migrateAndSteer>>,
  seen: Seen,
): Promise<never> {
  const { plan, record } = ctx;
  const { onSource, onTarget } = seen;
  const err = outcome.error;
  const sourceRuns = onSource?.running === true;
  const removed = await rollBackTarget(ctx, seen.volumes, onTarget);
  record.step(
    `rolled back: ${plan.domain} ${sourceRuns ? "keeps running" : "was left running (its host does not answer)"} on ${plan.from}; ${removed}`,
  );
  const where = sourceRuns ? plan.from : "unknown";
  const keeps = sourceRuns
    ? `it keeps running on ${plan.from}`
    : `${plan.from} does not answer; libvirt leaves guests running when its daemon goes, so it should still run there`;
  if (outcome.abortedBy === "cancel") {
    const stop = stopCause(ctx.signal);
    throw new RunFailure(
      "cancelled",
      stop.category,
      `migration of ${plan.domain} ${stop.phrase}; ${keeps}`,
      where,
      { cause: err },
    );
  }
  if (outcome.abortedBy === "ladder")
    throw new RunFailure(
      "aborted",
      "timeout",
      `migration of ${plan.domain} did not converge within the policy and was aborted; ${keeps}`,
      where,
      { cause: err },
    );
  throw new RunFailure(
    "failed",
    isConnectionClosed(err) || !onSource || !onTarget ? "connection" : "libvirt",
    `migration of ${plan.domain} to ${plan.to} failed: ${describeError(err)}; ${keeps}`,
    where,
    { cause: err },
  );
}

/**
 * Removes what a failed attempt made on the target (the guest never ran there): the incoming
 * copy, a leaked NVRAM file, the volumes. Says what it did, for the record.
 */
async function rollBackTarget(
  ctx: RunContext,
  volumes: CreatedVolumes,
  onTarget: Presence | undefined,
): Promise<string> {
  const { plan } = ctx;
  const done: string[] = [];
  if (onTarget?.defined) {
    const failure = await stopTargetCopy(ctx);
    done.push(
      failure === undefined
        ? `removed the incomplete incoming copy on ${plan.to}`
        : `could not remove the incomplete incoming copy on ${plan.to} now (${failure}; the next run removes it)`,
    );
  }
  if (ctx.facts.nvram) await removeIncomingNvram(ctx);
  const { removed, left } = await volumes.removeAll();
  if (removed.length) done.push(`removed target volume(s) ${removed.join(", ")}`);
  if (left.length) done.push(`could not remove ${left.join(", ")} now (the next run removes them)`);
  return done.join("; ") || "nothing was left on the target";
}

/**
 * A failed incoming migration leaves the NVRAM file libvirt made for it on the target (seen with
 * libvirt 9.0), where a later cold start would pick it up instead of the source's variables.
 * Skipped when the target holds a definition of it (the file is that definition's).
 */
async function removeIncomingNvram(ctx: RunContext): Promise<void> {
  const { plan, facts, record } = ctx;
  try {
    const dst = await ctx.pool.get(plan.to);
    if ((await presence(dst, plan.domain)).defined) return;
    if (await removeNvramFile(dst, facts.nvram!))
      record.step(`removed the NVRAM file ${facts.nvram} the attempt left on ${plan.to}`);
  } catch (err) {
    record.step(`could not remove NVRAM file ${facts.nvram} on ${plan.to}: ${describeError(err)}`);
  }
}

/** Stops and forgets the domain's copy on the target; says why when it could not. */
async function stopTargetCopy(ctx: RunContext): Promise<string | undefined> {
  try {
    const conn = await ctx.pool.get(ctx.plan.to);
    const dom = await conn.domains.lookupByName(ctx.plan.domain);
    const now = await presence(conn, ctx.plan.domain);
    if (now.running) await conn.domains.destroy(dom);
    if (now.persistent) await undefineWithNvram(conn, dom);
    return undefined;
  } catch (err) {
    return isNotFound(err) ? undefined : describeError(err);
  }
}

/** libvirt said the migration succeeded: verify it, never assume it. */
async function verifyMoved(ctx: RunContext, seen: Seen): Promise<{ finalHost: string }> {
  const { plan, policy, record, facts } = ctx;
  const { volumes, sources, onSource, onTarget, completedEvent, iterations } = seen;
  if (!onTarget?.running)
    throw new RunFailure(
      "failed",
      "verification",
      `libvirt reported the migration done, but ${plan.domain} is not running on ${plan.to} (${onTarget ? `state ${onTarget.state ?? "undefined"}` : "the host does not answer"})`,
      onSource?.running ? plan.from : "unknown",
    );
  if (!onSource || onSource.running)
    throw new RunFailure(
      "failed",
      "verification",
      onSource
        ? `${plan.domain} still runs on ${plan.from} after migrating to ${plan.to}`
        : `${plan.domain} runs on ${plan.to}, but ${plan.from} does not answer to confirm it stopped there`,
      "unknown",
    );
  const sourceLeftForUs = Boolean(facts.nvram) && onSource.defined;
  if (facts.persistent && (!onTarget.persistent || (onSource.defined && !sourceLeftForUs))) {
    throw new RunFailure(
      "failed",
      "verification",
      `${plan.domain} should be defined on ${plan.to} only (target persistent: ${onTarget.persistent}, still defined on source: ${onSource.defined})`,
      plan.to,
    );
  }
  // The target's volumes are kept (their markers dropped) while its job statistics are read.
  const dst = await ctx.pool.get(plan.to);
  const [stats] = await Promise.all([
    completedStats(dst, plan.domain, completedEvent),
    volumes.keep(),
  ]);
  if (sourceLeftForUs) {
    // The VM has moved whatever happens here: a failure is reported, not treated as a failed move.
    try {
      const src = await ctx.pool.get(plan.from);
      await undefineWithNvram(src, await src.domains.lookupByName(plan.domain));
      record.step(`undefined ${plan.domain} on ${plan.from} with its NVRAM (${facts.nvram})`);
    } catch (err) {
      record.step(
        `could not undefine the shut-off source definition of ${plan.domain} on ${plan.from}: ${describeError(err)}; undefine it there with its NVRAM (virsh undefine --nvram)`,
      );
    }
  }
  record.downtimeMs = stats?.downtimeMs;
  // The target's completed statistics count memory only; the storage copy is the source's.
  const memoryMoved = stats?.memoryProcessed ?? stats?.dataProcessed;
  const diskMoved = Math.max(
    stats?.diskProcessed ?? 0,
    completedEvent?.diskProcessed ?? 0,
    seen.diskCopied,
  );
  record.bytesMoved = memoryMoved === undefined ? undefined : memoryMoved + diskMoved;
  record.iterations = stats?.memoryIteration ?? (iterations || undefined);
  // A capped rate says what the cap was, not what the link carries.
  const capped =
    policy.bandwidthMibps > 0 || (record.postCopy && policy.postcopyBandwidthMibps > 0);
  record.linkMibps = capped ? undefined : reachedLinkMibps(record.bytesMoved, record.elapsedMs());
  record.passMibps = record.linkMibps ? passRateMibps(seen.passBps) : undefined;
  record.transport = transportOf(plan, policy, stats);
  record.step(
    `verified: running on ${plan.to} only${facts.persistent ? ", persistent there, undefined on the source" : ""}`,
  );
  if (plan.disks.some((d) => d.copy))
    await removeSourceVolumes(ctx, plan.disks, sources, { cleanupPhase: true });
  return { finalHost: plan.to };
}

/** The stream's options as the plan set them, and QEMU's own counts from the completed job. */
function transportOf(
  plan: MigrationPlan,
  policy: MigrationPolicy,
  stats: JobStats | undefined,
): MigrationTransport {
  const raw = stats?.raw ?? {};
  const count = (field: string) => {
    const value = Number(raw[field]);
    return Number.isFinite(value) && raw[field] !== undefined ? value : undefined;
  };
  const compressed =
    policy.compression === "xbzrle"
      ? {
          compressedBytes: count(C.VIR_DOMAIN_JOB_COMPRESSION_BYTES),
          compressedPages: count(C.VIR_DOMAIN_JOB_COMPRESSION_PAGES),
          compressionCacheMisses: count(C.VIR_DOMAIN_JOB_COMPRESSION_CACHE_MISSES),
          compressionOverflows: count(C.VIR_DOMAIN_JOB_COMPRESSION_OVERFLOW),
        }
      : {};
  return {
    tls: plan.flags.includes("VIR_MIGRATE_TLS"),
    ...(plan.params.tlsDestination ? { tlsDestination: plan.params.tlsDestination } : {}),
    parallelConnections: plan.params.parallelConnections ?? 1,
    compression: policy.compression,
    ...(stats?.dataProcessed !== undefined ? { transferredBytes: stats.dataProcessed } : {}),
    ...Object.fromEntries(Object.entries(compressed).filter(([, v]) => v !== undefined)),
  };
}
