// Offline move: shut the guest down (forcing only if the policy allows), copy its volumes
// through libvirt streams, define and start it on the target, verify, then forget the source.
import { pipeline } from "node:stream/promises";
import { constants as C, type LibvirtConnection } from "../libvirt";
import { RunFailure, type RunContext } from "./context";
import { rewriteDiskSources } from "./domain-xml";
import { CreatedVolumes, removeSourceVolumes } from "./volumes";
import { presence, sleep } from "./where";

async function shutDown(ctx: RunContext, src: LibvirtConnection): Promise<void> {
  const { plan, policy, record } = ctx;
  const dom = await src.domains.lookupByName(plan.domain);
  record.step(`asked ${plan.domain} to shut down`);
  await src.domains.shutdown(dom).catch(() => undefined);
  const deadline = Date.now() + policy.shutdownTimeoutSeconds * 1000;
  while (Date.now() < deadline) {
    if ((await src.domains.state(dom)).state === "shutoff") return;
    await sleep(500);
  }
  if (!policy.allowForcedShutdown) {
    throw new RunFailure(
      "failed",
      "timeout",
      `${plan.domain} did not shut down within ${policy.shutdownTimeoutSeconds} s; it keeps running on ${plan.from}. Allow a forced shutdown in the policy, or shut it down yourself.`,
      plan.from,
    );
  }
  record.step(`forced ${plan.domain} off after ${policy.shutdownTimeoutSeconds} s`);
  await src.domains.destroy(dom);
}

async function copyVolumes(
  ctx: RunContext,
  src: LibvirtConnection,
  dst: LibvirtConnection,
): Promise<void> {
  for (const d of ctx.plan.disks) {
    if (!d.copy || !d.sourcePath || !d.targetPath) continue;
    const from = await src.storage.volByPath(d.sourcePath);
    const to = await dst.storage.volByPath(d.targetPath);
    const download = await src.storage.download(from);
    const upload = await dst.storage.upload(to);
    let moved = 0;
    download.stream.on("data", (chunk: Buffer) => {
      moved += chunk.length;
      ctx.onProgress?.({
        domain: ctx.plan.domain,
        phase: "offline-copy",
        percent: d.bytesToCopy ? Math.min(100, Math.round((moved / d.capacityBytes) * 100)) : 0,
        memoryProcessed: 0,
        memoryRemaining: 0,
        diskProcessed: moved,
        diskRemaining: Math.max(0, d.capacityBytes - moved),
        bandwidthBps: 0,
        dirtyRateBps: 0,
        iteration: 0,
      });
    });
    await pipeline(download.stream, upload.stream);
    await Promise.all([download.done, upload.done]);
    ctx.record.bytesMoved = (ctx.record.bytesMoved ?? 0) + moved;
    ctx.record.step(`copied ${d.target} (${moved} bytes) to ${d.targetPath} on ${ctx.plan.to}`);
  }
}

export async function runOffline(ctx: RunContext): Promise<{ finalHost: string }> {
  const { plan, record, policy } = ctx;
  const src = await ctx.pool.get(plan.from);
  const dst = await ctx.pool.get(plan.to);
  const sameHost = plan.from === plan.to;
  const wasRunning = (await presence(src, plan.domain)).running;
  const dom = await src.domains.lookupByName(plan.domain);
  const inactiveXml = await src.domains.xml(
    dom,
    C.virDomainXMLFlags.VIR_DOMAIN_XML_INACTIVE | C.virDomainXMLFlags.VIR_DOMAIN_XML_SECURE,
  );
  const changes = Object.fromEntries(
    plan.disks
      .filter((d) => d.copy && d.targetPath && d.targetPath !== d.sourcePath)
      .map((d) => [d.target, { path: d.targetPath! }]),
  );
  const targetXml = Object.keys(changes).length
    ? rewriteDiskSources(inactiveXml, changes)
    : inactiveXml;

  if (wasRunning) await shutDown(ctx, src);
  const started = Date.now();
  const volumes = new CreatedVolumes();
  let definedOnTarget = false;
  try {
    await volumes.createFor(dst, plan.disks);
    await copyVolumes(ctx, src, dst);
    if (!sameHost) {
      await dst.domains.define(targetXml);
      definedOnTarget = true;
      record.step(`defined ${plan.domain} on ${plan.to}`);
    } else {
      await src.domains.define(targetXml);
      record.step(`redefined ${plan.domain} with its disks in the new pool(s)`);
    }
    if (wasRunning) {
      const onTarget = await dst.domains.lookupByName(plan.domain);
      await dst.domains.start(onTarget);
      record.step(`started ${plan.domain} on ${plan.to}`);
      const state = await presence(dst, plan.domain);
      if (!state.running)
        throw new Error(`${plan.domain} did not start on ${plan.to} (state ${state.state})`);
    }
  } catch (err) {
    // Roll back: the source definition and volumes are untouched; restart it there.
    if (definedOnTarget) {
      const onTarget = await dst.domains.lookupByName(plan.domain).catch(() => undefined);
      if (onTarget) {
        await dst.domains.destroy(onTarget).catch(() => undefined);
        await dst.domains.undefine(onTarget).catch(() => undefined);
      }
    }
    if (sameHost) await src.domains.define(inactiveXml).catch(() => undefined);
    await volumes.removeAll();
    if (wasRunning)
      await src.domains.start(await src.domains.lookupByName(plan.domain)).catch(() => undefined);
    record.step(`rolled back: ${plan.domain} ${wasRunning ? "restarted" : "left"} on ${plan.from}`);
    throw new RunFailure(
      "failed",
      "libvirt",
      `offline move of ${plan.domain} failed: ${(err as Error).message}; it is back on ${plan.from}`,
      plan.from,
      { cause: err },
    );
  }
  if (!sameHost) {
    await src.domains.undefine(dom);
    record.step(`undefined ${plan.domain} on ${plan.from}`);
  }
  record.downtimeMs = wasRunning ? Date.now() - started : undefined;
  if (policy.removeSourceVolumes) {
    const removed = await removeSourceVolumes(src, plan.disks, sameHost);
    if (removed.length) record.step(`removed source volumes: ${removed.join(", ")}`);
  }
  return { finalHost: plan.to };
}
