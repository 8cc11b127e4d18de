// Where a domain is on a host right now: the facts verification and rollback decide on.
import { isNotFound, type LibvirtConnection } from "../libvirt";

export interface Presence {
  defined: boolean;
  running: boolean;
  persistent: boolean;
  state?: string;
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
    };
  } catch (err) {
    if (isNotFound(err)) return { defined: false, running: false, persistent: false };
    throw err;
  }
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });
