// Whether a host is lost, as failover needs it: neither its libvirtd nor its ssh daemon answers.
// A host whose ssh answers while libvirtd does not is sick, not lost: nothing of it is fenced.
import net from "node:net";
import { parseLibvirtUri } from "../libvirt";
import type { ConnectionPool } from "./connections";

export interface Reachability {
  lost: boolean;
  /** "libvirt: ...; ssh: ..." — what each probe got. */
  reason: string;
  /** When the probes were sent (ms since the epoch): the first failed contact, when lost. */
  since: number;
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer on ${host}:${port} within ${timeoutMs} ms`));
    socket.once("connect", () => done(undefined));
    socket.once("error", (err) => done(`${host}:${port}: ${err.message}`));
  });
}

/**
 * How long one ssh probe's answer serves other placements asking about the same host: one
 * operation (a preview or an update of many placements leaving one host) probes it once.
 */
const SSH_PROBE_REUSE_MS = 10_000;

const sshProbes = new WeakMap<
  ConnectionPool,
  Map<string, { at: number; problem: Promise<string | undefined> }>
>();

/** The host's ssh port probed at most once per host and reuse window, shared by every caller. */
function sshProbeShared(
  pool: ConnectionPool,
  name: string,
  address: string,
  port: number,
  timeoutMs: number,
): Promise<string | undefined> {
  let probes = sshProbes.get(pool);
  if (!probes) sshProbes.set(pool, (probes = new Map()));
  const now = Date.now();
  const earlier = probes.get(name);
  if (earlier && now - earlier.at < SSH_PROBE_REUSE_MS) return earlier.problem;
  const problem = tcpProbe(address, port, timeoutMs);
  probes.set(name, { at: now, problem });
  return problem;
}

/**
 * The pooled libvirt connection first: a host whose libvirt answers is not lost, and costs no new
 * connection. Only a host whose libvirt is silent has its ssh port probed (once, see above), so
 * a preview of many placements never opens a connection per placement (sshd drops bursts of
 * them under its default MaxStartups).
 */
export async function probeHost(
  pool: ConnectionPool,
  name: string,
  timeoutMs = 3000,
): Promise<Reachability> {
  const since = Date.now();
  const inv = pool.host(name);
  if (!inv) return { lost: false, reason: `${name} is not in the inventory`, since };
  const libvirt = await libvirtProbe(pool, name, timeoutMs);
  if (libvirt === undefined) return { lost: false, reason: "libvirt: answers", since };
  const uri = parseLibvirtUri(inv.uri);
  const address = uri.host ?? inv.migrationAddress;
  const sshPort = uri.transport === "ssh" ? (uri.port ?? 22) : 22;
  const ssh = await sshProbeShared(pool, name, address, sshPort, timeoutMs);
  return {
    lost: ssh !== undefined,
    reason: `libvirt: ${libvirt}; ssh: ${ssh ?? "answers"}`,
    since,
  };
}

/** What keeps libvirt from answering a cheap call, or undefined when it answers. */
function libvirtProbe(
  pool: ConnectionPool,
  name: string,
  timeoutMs: number,
): Promise<string | undefined> {
  return Promise.race([
    pool
      .get(name)
      .then((c) => c.host.hostname())
      .then(
        () => undefined,
        (err: Error) => err.message,
      ),
    new Promise<string>((r) =>
      setTimeout(() => r(`no answer within ${timeoutMs} ms`), timeoutMs).unref(),
    ),
  ]);
}
