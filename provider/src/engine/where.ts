// Where a domain is on a host right now: the facts verification and rollback decide on.
import { constants as C, isNotFound, type Domain, type LibvirtConnection } from "../libvirt";
import { sleep } from "../util/sleep";
import type { RunContext } from "./context";

// Engine modules import sleep from here.
export { sleep };

export interface Presence {
  defined: boolean;
  running: boolean;
  persistent: boolean;
  state?: string;
  /** Paused before its guest ran here (see pausedBeforeRunning): a half-received copy. */
  incoming: boolean;
}

const { VIR_DOMAIN_PAUSED_MIGRATION, VIR_DOMAIN_PAUSED_STARTING_UP } = C.virDomainPausedReason;

/**
 * Paused before its guest ran on this host: the receiving end of a migration, or a QEMU whose
 * start never finished (its daemon died while a migration's target was starting, and the copy
 * came back paused as "starting up" when the daemon reconnected to it).
 */
export function pausedBeforeRunning(state: string, reason: number): boolean {
  return (
    state === "paused" &&
    (reason === VIR_DOMAIN_PAUSED_MIGRATION || reason === VIR_DOMAIN_PAUSED_STARTING_UP)
  );
}

const PAUSED_REASONS = new Map<number, string>(
  Object.entries(C.virDomainPausedReason).map(([name, value]) => [
    value,
    name.replace("VIR_DOMAIN_PAUSED_", "").toLowerCase().replaceAll("_", " "),
  ]),
);

/** libvirt's state for a message: "running", "paused (starting up)". */
export function describeState(state: string, reason: number): string {
  return state === "paused"
    ? `paused (${PAUSED_REASONS.get(reason) ?? `reason ${reason}`})`
    : state;
}

export async function presence(conn: LibvirtConnection, name: string): Promise<Presence> {
  try {
    const dom = await conn.domains.lookupByName(name);
    const [state, persistent] = await Promise.all([
      conn.domains.state(dom),
      conn.domains.isPersistent(dom),
    ]);
    return {
      defined: true,
      running: state.state === "running" || state.state === "paused" || state.state === "blocked",
      persistent,
      state: state.state,
      incoming: pausedBeforeRunning(state.state, state.reason),
    };
  } catch (err) {
    if (isNotFound(err))
      return { defined: false, running: false, persistent: false, incoming: false };
    throw err;
  }
}

const { VIR_DOMAIN_UNDEFINE_NVRAM, VIR_DOMAIN_UNDEFINE_KEEP_NVRAM } =
  C.virDomainUndefineFlagsValues;

/**
 * Undefines a copy whose NVRAM is not needed: a target copy the engine made, or a source whose
 * move to a verified target carried the NVRAM. libvirt refuses a plain undefine with NVRAM.
 */
export function undefineWithNvram(conn: LibvirtConnection, dom: Domain): Promise<void> {
  return conn.domains.undefine(dom, VIR_DOMAIN_UNDEFINE_NVRAM);
}

/** Undefines a source whose NVRAM did not move with it: the file stays (the only copy). */
export function undefineKeepingNvram(conn: LibvirtConnection, dom: Domain): Promise<void> {
  return conn.domains.undefine(dom, VIR_DOMAIN_UNDEFINE_KEEP_NVRAM);
}

/** Waits (bounded) until `host` answers; undefined when it never does (`unanswered` says so). */
export async function waitForPresence(
  ctx: RunContext,
  host: string,
  unanswered: string,
): Promise<Presence | undefined> {
  const deadline = Date.now() + ctx.silentHostWaitMs;
  while (Date.now() < deadline) {
    const seen = await presenceVia(ctx, host);
    if (seen) return seen;
    await sleep(1000);
  }
  ctx.record.step(`${host} did not answer within ${ctx.silentHostWaitMs / 1000} s; ${unanswered}`);
  return undefined;
}

/** Where the domain is on `host`; undefined when the host does not answer. */
export async function presenceVia(ctx: RunContext, host: string): Promise<Presence | undefined> {
  try {
    return await presence(await ctx.pool.get(host), ctx.plan.domain);
  } catch {
    return undefined;
  }
}
