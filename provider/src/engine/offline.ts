// Offline move: shut the guest down (forcing only if the policy allows), copy its volumes
// through libvirt streams, define and start it on the target, verify, then forget the source.
// Until the target copy starts (the switch-over) a cancel or a failure puts the VM back on the
// source with nothing left on the target; after it, the move finishes.
import { constants as C, type Domain, type LibvirtConnection } from "../libvirt";
import { progressEvent, RateMeter, RunFailure, secondsLeft, type RunContext } from "./context";
import { withTargetDiskPaths } from "./domain-xml";
import { describeError, stopCause } from "./errors";
import { copyNvram, removeNvramFile } from "./nvram";
import { copyVolume } from "./volume-copy";
import { writeMoveMarker } from "./interrupted-move";
import { CreatedVolumes, removeSourceVolumes, withSourceMarks, type SourceMarks } from "./volumes";
import { presence, sleep, undefineKeepingNvram, undefineWithNvram, waitForPresence } from "./where";

/** Thrown inside the run when a cancel (or customTimeouts) stops it before the switch-over. */
class Stopped extends Error {}

function throwIfStopped(ctx: RunContext, where: string): void {
  if (ctx.signal?.aborted) throw new Stopped(where);
}

/** Asks the guest to shut down and waits (a cancel ends the wait with Stopped). */
async function shutDown(ctx: RunContext, src: LibvirtConnection): Promise<void> {
  const { plan, policy, record } = ctx;
  const dom = await src.domains.lookupByName(plan.domain);
  record.step(`asked ${plan.domain} to shut down`);
  await src.domains
    .shutdown(dom)
    .catch((err) => record.step(`the shutdown request failed (${describeError(err)})`));
  const deadline = Date.now() + policy.shutdownTimeoutSeconds * 1000;
  while (Date.now() < deadline) {
    if ((await src.domains.state(dom)).state === "shutoff") return;
    throwIfStopped(ctx, "while waiting for the guest to shut down");
    await sleep(500, ctx.signal);
  }
  throwIfStopped(ctx, "while waiting for the guest to shut down");
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
    throwIfStopped(ctx, `before copying ${d.target}`);
    const from = await src.storage.volByPath(d.sourcePath);
    const to = await dst.storage.volByPath(d.targetPath);
    const meter = new RateMeter();
    let reportedAt = 0;
    const report = (moved: number) => {
      // Reported at the poll interval, not per chunk.
      if (Date.now() - reportedAt < ctx.pollIntervalMs) return;
      reportedAt = Date.now();
      const bps = meter.sample(moved);
      const remaining = Math.max(0, d.capacityBytes - moved);
      ctx.onProgress?.(
        progressEvent(ctx.plan.domain, "offline-copy", {
          percent: d.capacityBytes ? Math.min(100, Math.round((moved / d.capacityBytes) * 100)) : 0,
          secondsLeft: secondsLeft(remaining, bps),
          diskProcessed: moved,
          diskRemaining: remaining,
          bandwidthBps: bps,
        }),
      );
    };
    let moved: number;
    try {
      moved = await copyVolume(src, from, dst, to, { signal: ctx.signal, onBytes: report });
    } catch (err) {
      throwIfStopped(ctx, `while copying ${d.target}`);
      throw err;
    }
    ctx.record.bytesMoved = (ctx.record.bytesMoved ?? 0) + moved;
    ctx.record.step(`copied ${d.target} (${moved} bytes) to ${d.targetPath} on ${ctx.plan.to}`);
  }
}

/**
 * Removes the copy from the target. Returns false when it cannot be confirmed stopped: then the
 * source must not be restarted, or the VM could run twice.
 */
async function removeTargetCopy(ctx: RunContext): Promise<boolean> {
  const { plan } = ctx;
  try {
    const dst = await ctx.pool.get(plan.to);
    const now = await presence(dst, plan.domain);
    if (!now.defined) return true;
    const dom = await dst.domains.lookupByName(plan.domain);
    if (now.running) await dst.domains.destroy(dom);
    if ((await presence(dst, plan.domain)).running) return false;
    await undefineWithNvram(dst, dom);
    return true;
  } catch (err) {
    ctx.record.step(
      `could not confirm ${plan.domain} is stopped on ${plan.to}: ${describeError(err)}`,
    );
    return false;
  }
}

export async function runOffline(ctx: RunContext): Promise<{ finalHost: string }> {
  return withSourceMarks(ctx, (sources) => moveOffline(ctx, sources));
}

async function moveOffline(ctx: RunContext, sources: SourceMarks): Promise<{ finalHost: string }> {
  const { plan, record, facts } = ctx;
  const src = await ctx.pool.get(plan.from);
  const sameHost = plan.from === plan.to;
  const wasRunning = (await presence(src, plan.domain)).running;
  if (!facts.persistent)
    throw new RunFailure(
      "failed",
      "blocked",
      `${plan.domain} is a transient domain: shutting it down for an offline move would delete its definition. Define it persistently (virsh define) or allow a live move.`,
      plan.from,
    );
  const dom = await src.domains.lookupByName(plan.domain);
  // The note says the move stops the VM before it does, and goes into the target's definition.
  if (wasRunning && ctx.moveMarker) {
    ctx.moveMarker = { ...ctx.moveMarker, stops: true };
    await writeMoveMarker(src, plan.domain, ctx.moveMarker, { running: true, persistent: true });
  }
  const inactiveXml = await src.domains.xml(
    dom,
    C.virDomainXMLFlags.VIR_DOMAIN_XML_INACTIVE | C.virDomainXMLFlags.VIR_DOMAIN_XML_SECURE,
  );
  const targetXml = withTargetDiskPaths(inactiveXml, plan.disks) ?? inactiveXml;

  // Downtime counts from the shutdown request: the guest stops serving from then on.
  const downSince = Date.now();
  const volumes = new CreatedVolumes(ctx.pool, facts.uuid);
  let shutDownBySelf = false;
  let definedOnTarget = false;
  const carriesNvram = !sameHost && Boolean(facts.nvram);
  let nvramCopied = false;
  try {
    throwIfStopped(ctx, "before the shutdown");
    await sources.mark(plan.from, plan.disks, sameHost);
    if (wasRunning) {
      shutDownBySelf = true;
      await shutDown(ctx, src);
    }
    const dst = await ctx.pool.get(plan.to);
    await volumes.createFor(plan.to, plan.disks);
    await copyVolumes(ctx, src, dst);
    if (carriesNvram) {
      nvramCopied = true;
      const bytes = await copyNvram(src, dst, facts.nvram!, ctx.signal);
      record.step(`copied the NVRAM ${facts.nvram} (${bytes} bytes) to ${plan.to}`);
    }
    throwIfStopped(ctx, "before the switch-over");
    if (!sameHost) {
      definedOnTarget = true;
      await dst.domains.define(targetXml);
      record.step(`defined ${plan.domain} on ${plan.to}`);
    } else {
      await src.domains.define(targetXml);
      record.step(`redefined ${plan.domain} with its disks in the new pool(s)`);
    }
    if (wasRunning) {
      // The switch-over: from here on the move finishes, cancelled or not.
      await dst.domains.start(await dst.domains.lookupByName(plan.domain));
      record.step(`started ${plan.domain} on ${plan.to}`);
      const state = await presence(dst, plan.domain);
      if (!state.running)
        throw new Error(`${plan.domain} did not start on ${plan.to} (state ${state.state})`);
    }
  } catch (err) {
    return rollBack(ctx, err, {
      volumes,
      inactiveXml,
      sameHost,
      definedOnTarget,
      nvramCopied,
      restart: wasRunning && shutDownBySelf,
    });
  }
  // The guest serves again from the start on the target.
  record.downtimeMs = wasRunning ? Date.now() - downSince : undefined;
  await settleOnTarget(ctx, { src, dom, volumes, sources, carriesNvram });
  return { finalHost: plan.to };
}

/**
 * After the switch-over: the source's definition (and NVRAM, when it was copied) and the source
 * volumes go, and the target's volumes are the VM's.
 */
async function settleOnTarget(
  ctx: RunContext,
  moved: {
    src: LibvirtConnection;
    dom: Domain;
    volumes: CreatedVolumes;
    sources: SourceMarks;
    carriesNvram: boolean;
  },
): Promise<void> {
  const { plan, record, facts } = ctx;
  const sameHost = plan.from === plan.to;
  if (ctx.signal?.aborted)
    record.step(`${stopCause(ctx.signal).phrase} after the switch-over: the move was finished`);
  if (!sameHost) {
    // The NVRAM went with it (copied): the source's file goes with the source's definition.
    await (moved.carriesNvram ? undefineWithNvram : undefineKeepingNvram)(moved.src, moved.dom);
    record.step(
      `undefined ${plan.domain} on ${plan.from}${moved.carriesNvram ? ` with its NVRAM ${facts.nvram}` : ""}`,
    );
  }
  await moved.volumes.keep();
  await removeSourceVolumes(ctx, plan.disks, moved.sources, { sameHost, cleanupPhase: true });
}

/** Puts the VM back on the source: target copy confirmed gone first, then the source restarted. */
async function rollBack(
  ctx: RunContext,
  err: unknown,
  state: {
    volumes: CreatedVolumes;
    inactiveXml: string;
    sameHost: boolean;
    /** A define on the target was attempted: the copy there must be confirmed gone. */
    definedOnTarget: boolean;
    /** The NVRAM file was (being) copied to the target. */
    nvramCopied: boolean;
    restart: boolean;
  },
): Promise<never> {
  const { plan, record } = ctx;
  const stopped = err instanceof Stopped;
  if (!state.sameHost && state.definedOnTarget && !(await removeTargetCopy(ctx))) {
    throw new RunFailure(
      "failed",
      "verification",
      `offline move of ${plan.domain} failed (${describeError(err)}), and its copy on ${plan.to} could not be confirmed stopped; it was not restarted on ${plan.from}, so that it cannot run twice. Check ${plan.to}, then run this again.`,
      "unknown",
      { cause: err },
    );
  }
  // The source's daemon may be restarting (what failed the move): it is waited for, bounded.
  const onSource = await waitForPresence(
    ctx,
    plan.from,
    `${plan.domain} could not be ${state.restart ? "restarted" : "checked"} there now; the next run does it`,
  );
  if (!onSource)
    throw new RunFailure(
      "failed",
      "libvirt",
      `offline move of ${plan.domain} failed (${describeError(err)}), and ${plan.from} did not answer to ${state.restart ? "restart it" : "put it back"}; the next run ${state.restart ? "starts it there" : "finishes the rollback"} once ${plan.from} answers`,
      "unknown",
      { cause: err },
    );
  const src = await ctx.pool.get(plan.from);
  if (state.sameHost) await src.domains.define(state.inactiveXml).catch(() => undefined);
  const { removed, left } = await state.volumes.removeAll();
  // Copied but never defined there; with a definition, removeTargetCopy's undefine took it.
  if (state.nvramCopied && !state.definedOnTarget) {
    try {
      if (await removeNvramFile(await ctx.pool.get(plan.to), ctx.facts.nvram!))
        removed.push(`NVRAM ${ctx.facts.nvram} on ${plan.to}`);
    } catch (nvramErr) {
      left.push(`NVRAM ${ctx.facts.nvram} on ${plan.to} (${describeError(nvramErr)})`);
    }
  }
  let outcome = "left as it was";
  if (state.restart) {
    const wasOff = !(await presence(src, plan.domain)).running;
    if (wasOff) await src.domains.start(await src.domains.lookupByName(plan.domain));
    outcome = wasOff ? "restarted" : "kept running";
  }
  record.step(
    `rolled back: ${plan.domain} ${outcome} on ${plan.from}` +
      (removed.length ? `; removed ${removed.join(", ")}` : "") +
      (left.length ? `; could not remove ${left.join(", ")} now (the next run removes them)` : ""),
  );
  if (err instanceof RunFailure) throw err;
  if (stopped) {
    const stop = stopCause(ctx.signal);
    throw new RunFailure(
      "cancelled",
      stop.category,
      `offline move of ${plan.domain} ${stop.phrase} (${err.message}, before the switch-over); it is back on ${plan.from} and nothing of it is left on ${plan.to}`,
      plan.from,
    );
  }
  throw new RunFailure(
    "failed",
    "libvirt",
    `offline move of ${plan.domain} failed: ${describeError(err)}; it is back on ${plan.from}`,
    plan.from,
    { cause: err },
  );
}
