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
  /** Paused as the receiving end of a migration that never switched over (guest never ran here). */
  incoming: boolean;
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
      incoming:
        state.state === "paused" &&
        state.reason === C.virDomainPausedReason.VIR_DOMAIN_PAUSED_MIGRATION,
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
