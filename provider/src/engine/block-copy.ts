// Same-host pool change of a running domain: copy each disk live into its new pool with a
// block copy, pivot to the copy, then make the persistent definition follow.
import path from "node:path";
import { constants as C } from "../libvirt";
import { RunFailure, type RunContext } from "./context";
import { rewriteDiskSources } from "./domain-xml";
import { stopCause } from "./errors";
import { CreatedVolumes, removeSourceVolumes } from "./volumes";
import { sleep } from "./where";

export async function runBlockCopy(ctx: RunContext): Promise<{ finalHost: string }> {
  const { plan, record, policy, facts } = ctx;
  const conn = await ctx.pool.get(plan.from);
  const dom = await conn.domains.lookupByName(plan.domain);
  const volumes = new CreatedVolumes();
  const copies = plan.disks.filter((d) => d.copy && d.targetPath);
  const pivoted: string[] = [];
  try {
    await volumes.createFor(conn, copies);
    for (const d of copies) {
      await conn.domains.blockCopy(
        dom,
        d.target,
        `<disk type='file'><driver type='${d.format}'/><source file='${d.targetPath}'/></disk>`,
        policy.bandwidthMiBps
          ? [
              {
                name: C.VIR_DOMAIN_BLOCK_COPY_BANDWIDTH,
                type: "ullong",
                value: policy.bandwidthMiBps * 1024 * 1024,
              },
            ]
          : [],
        C.virDomainBlockCopyFlags.VIR_DOMAIN_BLOCK_COPY_REUSE_EXT |
          C.virDomainBlockCopyFlags.VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB,
      );
      record.step(`block copy of ${d.target} into pool ${d.pool} started`);
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
        const job = await conn.domains.blockJobInfo(dom, d.target);
        if (!job) throw new Error(`the block copy of ${d.target} ended unexpectedly`);
        ctx.onProgress?.({
          domain: plan.domain,
          phase: "block-copy",
          percent: job.end ? Math.round((job.cur / job.end) * 100) : 0,
          memoryProcessed: 0,
          memoryRemaining: 0,
          diskProcessed: job.cur,
          diskRemaining: job.end - job.cur,
          bandwidthBps: job.bandwidth,
          dirtyRateBps: 0,
          iteration: 0,
        });
        if (job.end > 0 && job.cur === job.end) break;
        await sleep(ctx.pollIntervalMs);
      }
      await conn.domains.blockJobAbort(
        dom,
        d.target,
        C.virDomainBlockJobAbortFlags.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT,
      );
      while (await conn.domains.blockJobInfo(dom, d.target)) await sleep(100);
      pivoted.push(d.target);
      record.step(`pivoted ${d.target} to ${d.targetPath}`);
    }
  } catch (err) {
    for (const d of copies) {
      if (!pivoted.includes(d.target))
        await conn.domains.blockJobAbort(dom, d.target).catch(() => undefined);
    }
    if (pivoted.length === 0) await volumes.removeAll();
    if (err instanceof RunFailure) throw err;
    throw new RunFailure(
      "failed",
      "libvirt",
      `pool change of ${plan.domain} failed: ${(err as Error).message}${pivoted.length ? `; disks ${pivoted.join(", ")} already moved` : "; its disks stay where they were"}`,
      plan.from,
      { cause: err },
    );
  }
  // Verify the running definition uses the copies, then make the persistent one follow.
  const liveXml = await conn.domains.xml(dom);
  for (const d of copies) {
    if (!liveXml.includes(`'${d.targetPath}'`))
      throw new RunFailure(
        "failed",
        "verification",
        `after the pivot ${d.target} of ${plan.domain} does not use ${d.targetPath}`,
        plan.from,
      );
  }
  if (facts.persistent) {
    const inactive = await conn.domains.xml(
      dom,
      C.virDomainXMLFlags.VIR_DOMAIN_XML_INACTIVE | C.virDomainXMLFlags.VIR_DOMAIN_XML_SECURE,
    );
    await conn.domains.define(
      rewriteDiskSources(
        inactive,
        Object.fromEntries(copies.map((d) => [d.target, { path: d.targetPath! }])),
      ),
    );
    record.step("updated the persistent definition");
  }
  if (policy.removeSourceVolumes) {
    const removed = await removeSourceVolumes(conn, copies, true);
    if (removed.length)
      record.step(`removed old volumes: ${removed.map((p) => path.basename(p)).join(", ")}`);
  }
  return { finalHost: plan.from };
}
