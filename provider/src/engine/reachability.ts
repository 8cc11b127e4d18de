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

/** Both probes side by side: a lost host costs one timeout, not two. */
export async function probeHost(
  pool: ConnectionPool,
  name: string,
  timeoutMs = 3000,
): Promise<Reachability> {
  const since = Date.now();
  const inv = pool.host(name);
  if (!inv) return { lost: false, reason: `${name} is not in the inventory`, since };
  const uri = parseLibvirtUri(inv.uri);
  const address = uri.host ?? inv.migrationAddress;
  const sshPort = uri.transport === "ssh" ? (uri.port ?? 22) : 22;
  const [libvirt, ssh] = await Promise.all([
    libvirtProbe(pool, name, timeoutMs),
    tcpProbe(address, sshPort, timeoutMs),
  ]);
  return {
    lost: libvirt !== undefined && ssh !== undefined,
    reason: `libvirt: ${libvirt ?? "answers"}; ssh: ${ssh ?? "answers"}`,
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
