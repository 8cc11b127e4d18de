// Live migration: peer-to-peer pre-copy (with storage copy when disks are not shared), watched
// through job statistics and escalated along the policy's ladder; verified before success.
import {
  findLibvirtError,
  isConnectionClosed,
  type JobStats,
  type LibvirtConnection,
  type MigrateFlagName,
} from "../libvirt";
import { RunFailure, type RunContext } from "./context";
import { stopCause } from "./errors";
import { decideEscalation, startLadder } from "./ladder";
import { CreatedVolumes, removeSourceVolumes } from "./volumes";
import { presence, sleep } from "./where";

function progressOf(ctx: RunContext, stats: JobStats, phase: "precopy" | "postcopy") {
  const total = stats.dataTotal ?? 0;
  ctx.onProgress?.({
    domain: ctx.plan.domain,
    phase,
    percent: total ? Math.min(100, Math.round(((stats.dataProcessed ?? 0) / total) * 100)) : 0,
    memoryProcessed: stats.memoryProcessed ?? 0,
    memoryRemaining: stats.memoryRemaining ?? 0,
    diskProcessed: stats.diskProcessed ?? 0,
    diskRemaining: stats.diskRemaining ?? 0,
    bandwidthBps: stats.memoryBps ?? stats.diskBps ?? 0,
    dirtyRateBps: stats.memoryDirtyRate ?? 0,
    iteration: stats.memoryIteration ?? 0,
  });
}

/** Runs the migration call and steers it until it settles; returns its error, if any. */
async function migrateAndSteer(
  ctx: RunContext,
  src: LibvirtConnection,
): Promise<{ error?: unknown; abortedBy?: "ladder" | "cancel" }> {
  const { plan, policy, record } = ctx;
  const dom = await src.domains.lookupByName(plan.domain);
  const target = ctx.pool.host(plan.to)!;
  await src.migration.setMaxDowntime(dom, policy.maxDowntimeMs);

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

  let ladder = startLadder(Date.now());
  let abortedBy: "ladder" | "cancel" | undefined;
  let cancelNoted = false;
  while (!settled) {
    // A cancellation wakes the loop at once; otherwise poll at the configured interval.
    await Promise.race([call, sleep(ctx.pollIntervalMs, abortedBy ? undefined : ctx.signal)]);
    if (settled) break;
    if (ctx.signal?.aborted && !abortedBy) {
      if (!ladder.postCopy) {
        abortedBy = "cancel";
        record.step(
          `${plan.domain} ${stopCause(ctx.signal).phrase}: aborting the migration job; the domain stays on the source`,
        );
        await src.domains
          .abortJob(dom)
          .catch((e) => ctx.log(`abort failed: ${(e as Error).message}`));
        continue;
      }
      if (!cancelNoted) {
        cancelNoted = true;
        record.step(
          "cancel requested during post-copy: the guest already runs on the target, finishing",
        );
      }
    }
    const stats = await src.domains.jobStats(dom).catch(() => undefined);
    if (!stats || (stats.type !== "bounded" && stats.type !== "unbounded")) continue;
    progressOf(ctx, stats, ladder.postCopy ? "postcopy" : "precopy");
    if (abortedBy) continue;
    const decision = decideEscalation(
      ladder,
      { nowMs: Date.now(), remainingBytes: stats.dataRemaining ?? 0 },
      policy,
      plan.completionTimeoutSeconds,
    );
    ladder = decision.state;
    const action = decision.action;
    if (action.kind === "raise-downtime") {
      record.step(`raised max downtime to ${action.downtimeMs} ms (${action.reason})`);
      await src.migration.setMaxDowntime(dom, action.downtimeMs);
    } else if (action.kind === "post-copy") {
      record.step(`switched to post-copy (${action.reason})`);
      record.postCopy = true;
      await src.migration.startPostCopy(dom);
    } else if (action.kind === "abort") {
      abortedBy = "ladder";
      record.step(`aborted pre-copy (${action.reason}); the domain stays on the source`);
      await src.domains
        .abortJob(dom)
        .catch((e) => ctx.log(`abort failed: ${(e as Error).message}`));
    }
  }
  return { error: await call, abortedBy };
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

export async function runLive(ctx: RunContext): Promise<{ finalHost: string }> {
  const { plan, policy, record, facts } = ctx;
  const src = await ctx.pool.get(plan.from);
  const dst = await ctx.pool.get(plan.to);
  const volumes = new CreatedVolumes();
  await volumes.createFor(dst, plan.disks);
  if (plan.disks.some((d) => d.copy))
    record.step(
      `created target volumes in ${[...new Set(plan.disks.filter((d) => d.copy).map((d) => d.pool))].join(", ")} on ${plan.to}`,
    );

  let completedEvent: JobStats | undefined;
  let iterations = 0;
  const dom = await src.domains.lookupByName(plan.domain);
  const unsubscribe = await Promise.all([
    src.events.onJobCompleted(dom, (e) => (completedEvent = e.stats)),
    src.events.onMigrationIteration(dom, (e) => (iterations = Math.max(iterations, e.iteration))),
  ]);
  let outcome: Awaited<ReturnType<typeof migrateAndSteer>>;
  try {
    outcome = await migrateAndSteer(ctx, src);
  } finally {
    await Promise.all(unsubscribe.map((u) => u().catch(() => undefined)));
  }

  const [onSource, onTarget] = await Promise.all([
    presence(src, plan.domain),
    presence(dst, plan.domain),
  ]);
  if (!outcome.error) {
    // Success is verified, never assumed.
    if (!onTarget.running)
      throw new RunFailure(
        "failed",
        "verification",
        `libvirt reported the migration done, but ${plan.domain} is not running on ${plan.to} (state ${onTarget.state ?? "undefined"})`,
        onSource.running ? plan.from : "unknown",
      );
    if (onSource.running)
      throw new RunFailure(
        "failed",
        "verification",
        `${plan.domain} still runs on ${plan.from} after migrating to ${plan.to}`,
        "unknown",
      );
    if (facts.persistent && (!onTarget.persistent || onSource.defined)) {
      throw new RunFailure(
        "failed",
        "verification",
        `${plan.domain} should be defined on ${plan.to} only (target persistent: ${onTarget.persistent}, still defined on source: ${onSource.defined})`,
        plan.to,
      );
    }
    const stats = await completedStats(dst, plan.domain, completedEvent);
    record.downtimeMs = stats?.downtimeMs;
    record.bytesMoved =
      stats?.dataProcessed ??
      (stats ? (stats.memoryProcessed ?? 0) + (stats.diskProcessed ?? 0) : undefined);
    record.iterations = stats?.memoryIteration ?? (iterations || undefined);
    record.step(
      `verified: running on ${plan.to} only${facts.persistent ? ", persistent there, undefined on the source" : ""}`,
    );
    if (policy.removeSourceVolumes && plan.disks.some((d) => d.copy)) {
      const removed = await removeSourceVolumes(src, plan.disks, false);
      if (removed.length) record.step(`removed source volumes: ${removed.join(", ")}`);
    }
    return { finalHost: plan.to };
  }

  // Failed: leave the domain running on exactly one host, and remove what this attempt made.
  const err = outcome.error;
  if (onSource.running && !onTarget.running) {
    if (onTarget.defined) {
      const dom = await dst.domains.lookupByName(plan.domain).catch(() => undefined);
      if (dom) await dst.domains.undefine(dom).catch(() => undefined);
    }
    const removed = await volumes.removeAll();
    record.step(
      `rolled back: ${plan.domain} keeps running on ${plan.from}${removed.length ? `; removed ${removed.length} target volume(s)` : ""}`,
    );
    const message = (err as Error)?.message ?? String(err);
    if (outcome.abortedBy === "cancel") {
      const stop = stopCause(ctx.signal);
      throw new RunFailure(
        "cancelled",
        stop.category,
        `migration of ${plan.domain} ${stop.phrase}; it keeps running on ${plan.from}`,
        plan.from,
        { cause: err },
      );
    }
    if (outcome.abortedBy === "ladder")
      throw new RunFailure(
        "aborted",
        "timeout",
        `migration of ${plan.domain} did not converge within the policy and was aborted; it keeps running on ${plan.from}`,
        plan.from,
        { cause: err },
      );
    throw new RunFailure(
      "failed",
      isConnectionClosed(err) ? "connection" : "libvirt",
      `migration of ${plan.domain} to ${plan.to} failed: ${message}; it keeps running on ${plan.from}`,
      plan.from,
      { cause: err },
    );
  }
  if (onTarget.running && !onSource.running) {
    // The switch-over happened before the error (e.g. a late confirmation failure): it moved.
    record.step(
      `libvirt reported an error after switch-over (${(err as Error)?.message}); ${plan.domain} runs on ${plan.to}`,
    );
    return { finalHost: plan.to };
  }
  const libvirtErr = findLibvirtError(err);
  throw new RunFailure(
    "failed",
    "verification",
    `migration of ${plan.domain} failed (${libvirtErr?.message ?? (err as Error)?.message}) and left it ${onSource.running && onTarget.running ? "running on both hosts" : "running on neither host (post-copy failure: it is paused on the target; recover with virsh migrate --postcopy-resume)"}; not touching it further`,
    "unknown",
    { cause: err },
  );
}
