// Same-host pool change of a running domain: mirror every moving disk into its new pool with a
// block copy, and pivot only once all mirrors are in sync, so the disks move together. The
// persistent definition is rewritten last, to exactly the disks the running domain then uses.
import path from "node:path";
import { constants as C, type Domain, type LibvirtConnection } from "../libvirt";
import { progressEvent, RateMeter, RunFailure, secondsLeft, type RunContext } from "./context";
import {
  blockCopyDestinationXml,
  parseDomainXml,
  rewriteDiskSources,
  targetSources,
} from "./domain-xml";
import { describeError, stopCause } from "./errors";
import type { DiskPlacement } from "./types";
import { CreatedVolumes, removeSourceVolumes, withSourceMarks, type SourceMarks } from "./volumes";
import { sleep } from "./where";

/** Starts a mirror for each disk and waits until all are in sync (or throws). */
async function mirrorAll(
  ctx: RunContext,
  conn: LibvirtConnection,
  dom: Domain,
  copies: DiskPlacement[],
  started: string[],
): Promise<void> {
  const { plan, policy, record } = ctx;
  const live = parseDomainXml(await conn.domains.xml(dom)).disks;
  for (const d of copies) {
    if (await conn.domains.blockJobInfo(dom, d.target)) {
      // A mirror an earlier attempt started (its process was killed) still runs: end it first.
      if (live.find((l) => l.target === d.target)?.mirrorPath !== d.targetPath)
        throw new Error(
          `disk ${d.target} already has a block job that this provider did not start; wait for it to end or end it (virsh blockjob ${plan.domain} ${d.target} --abort)`,
        );
      await conn.domains.blockJobAbort(dom, d.target);
      while (await conn.domains.blockJobInfo(dom, d.target)) await sleep(100);
      record.step(`ended the block copy of ${d.target} an earlier attempt left running`);
    }
    await conn.domains.blockCopy(
      dom,
      d.target,
      blockCopyDestinationXml(d.targetPath!, d.format, d.targetNetwork),
      policy.bandwidthMibps
        ? [
            {
              name: C.VIR_DOMAIN_BLOCK_COPY_BANDWIDTH,
              type: "ullong",
              value: policy.bandwidthMibps * 1024 * 1024,
            },
          ]
        : [],
      C.virDomainBlockCopyFlags.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT |
        C.virDomainBlockCopyFlags.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB,
    );
    started.push(d.target);
    record.step(`block copy of ${d.target} into pool ${d.pool} started`);
  }
  const meter = new RateMeter();
  for (;;) {
    if (ctx.signal?.aborted) {
      const stop = stopCause(ctx.signal);
      throw new RunFailure(
        "cancelled",
        stop.category,
        `pool change of ${plan.domain} ${stop.phrase}; its disks stay where they were`,
        plan.from,
      );
    }
    const jobs = await Promise.all(copies.map((d) => conn.domains.blockJobInfo(dom, d.target)));
    const gone = copies.find((_, i) => !jobs[i]);
    if (gone) throw new Error(`the block copy of ${gone.target} ended unexpectedly`);
    const cur = jobs.reduce((sum, j) => sum + j!.cur, 0);
    const end = jobs.reduce((sum, j) => sum + j!.end, 0);
    // The jobs' own bandwidth field is the limit set on them; the real rate is measured.
    const bps = meter.sample(cur);
    ctx.onProgress?.(
      progressEvent(plan.domain, "block-copy", {
        percent: end ? Math.round((cur / end) * 100) : 0,
        secondsLeft: secondsLeft(end - cur, bps),
        diskProcessed: cur,
        diskRemaining: end - cur,
        bandwidthBps: bps,
      }),
    );
    if (jobs.every((j) => j!.end > 0 && j!.cur === j!.end)) return;
    await sleep(ctx.pollIntervalMs, ctx.signal);
  }
}

/** Pivots each mirror; stops at the first that fails. Returns that error, if any. */
async function pivotAll(
  ctx: RunContext,
  conn: LibvirtConnection,
  dom: Domain,
  copies: DiskPlacement[],
): Promise<unknown> {
  for (const d of copies) {
    try {
      await conn.domains.blockJobAbort(
        dom,
        d.target,
        C.virDomainBlockJobAbortFlags.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT,
      );
      while (await conn.domains.blockJobInfo(dom, d.target)) await sleep(100);
      ctx.record.step(`pivoted ${d.target} to ${d.targetPath}`);
    } catch (err) {
      return err;
    }
  }
  return undefined;
}

/** Cancels the mirrors still running (the guest keeps using the original volumes). */
async function cancelMirrors(conn: LibvirtConnection, dom: Domain, targets: string[]) {
  for (const t of targets) {
    if (await conn.domains.blockJobInfo(dom, t).catch(() => null))
      await conn.domains.blockJobAbort(dom, t).catch(() => undefined);
  }
}

export async function runBlockCopy(ctx: RunContext): Promise<{ finalHost: string }> {
  return withSourceMarks(ctx, (sources) => copyAndPivot(ctx, sources));
}

async function copyAndPivot(ctx: RunContext, sources: SourceMarks): Promise<{ finalHost: string }> {
  const { plan, record, facts } = ctx;
  const conn = await ctx.pool.get(plan.from);
  const dom = await conn.domains.lookupByName(plan.domain);
  const volumes = new CreatedVolumes(ctx.pool, facts.uuid);
  const copies = plan.disks.filter((d) => d.copy && d.targetPath);
  const started: string[] = [];
  try {
    await sources.mark(plan.from, copies, true);
    await volumes.createFor(plan.from, copies);
    await mirrorAll(ctx, conn, dom, copies, started);
  } catch (err) {
    await cancelMirrors(conn, dom, started);
    const { left } = await volumes.removeAll();
    if (left.length)
      record.step(`could not remove ${left.join(", ")} now (the next run removes them)`);
    if (err instanceof RunFailure) throw err;
    throw new RunFailure(
      "failed",
      "libvirt",
      `pool change of ${plan.domain} failed: ${describeError(err)}; its disks stay where they were`,
      plan.from,
      { cause: err },
    );
  }

  const pivotError = await pivotAll(ctx, conn, dom, copies);
  if (pivotError)
    await cancelMirrors(
      conn,
      dom,
      copies.map((d) => d.target),
    );
  // What the running domain really uses now decides the persistent definition and the volumes.
  const live = parseDomainXml(await conn.domains.xml(dom)).disks;
  const moved = copies.filter((d) => {
    const now = live.find((l) => l.target === d.target);
    return (now?.path ?? now?.network?.name) === d.targetPath;
  });
  const movedNames = new Set(moved.map((d) => path.basename(d.targetPath!)));
  if (facts.persistent && moved.length) {
    const inactive = await conn.domains.xml(
      dom,
      C.virDomainXMLFlags.VIR_DOMAIN_XML_INACTIVE | C.virDomainXMLFlags.VIR_DOMAIN_XML_SECURE,
    );
    await conn.domains.define(rewriteDiskSources(inactive, targetSources(moved)));
    record.step(`updated the persistent definition (${moved.map((d) => d.target).join(", ")})`);
  }
  await volumes.settle((volume) => movedNames.has(volume));
  await removeSourceVolumes(ctx, moved, sources, {
    sameHost: true,
    removedAs: (paths) => `removed old volumes: ${paths.map((p) => path.basename(p)).join(", ")}`,
  });
  if (moved.length < copies.length) {
    const stayed = copies.filter((d) => !moved.includes(d)).map((d) => d.target);
    throw new RunFailure(
      "failed",
      pivotError ? "libvirt" : "verification",
      `pool change of ${plan.domain} did not complete: ${pivotError ? describeError(pivotError) : "the running domain does not use every copy after the pivot"}; ` +
        `${moved.length ? `disks ${moved.map((d) => d.target).join(", ")} moved, ` : ""}disks ${stayed.join(", ")} stayed where they were, and the persistent definition matches what runs. Run the update again to move the rest.`,
      plan.from,
      { cause: pivotError },
    );
  }
  return { finalHost: plan.from };
}
