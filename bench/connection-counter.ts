// Counts new TCP connections to the lab hosts' libvirtd (16509) and sshd (22) with nftables
// counters on SYN packets, so the numbers come from the kernel, not from the provider:
// - daemon side: in each host's network namespace, every connection from the root namespace
//   (the bridge address), whoever opened it;
// - ours: in the root namespace, only sockets of one group id, i.e. the measured process tree
//   (tests running on the lab at the same time open connections too).
// Peer-to-peer migration connections between daemons come from host addresses and are not counted.
import type { LabDescription } from "../test/lab/lab";
import { run } from "../test/lab/run";

const PORTS = { libvirt: 16509, ssh: 22 } as const;
type Service = keyof typeof PORTS;
const SERVICES = Object.keys(PORTS) as Service[];

export type ConnectionCounts = Record<string, { daemonSide: number; ours: number }>;

const SYN_ONLY = "tcp flags & (syn | ack) == syn";

function nft(namespace: string | undefined, args: string[], input?: string): Promise<string> {
  return namespace
    ? run("ip", ["netns", "exec", namespace, "nft", ...args], { input })
    : run("nft", args, { input });
}

async function readCounters(namespace: string | undefined, table: string) {
  const out = JSON.parse(await nft(namespace, ["-j", "list", "counters", "table", "inet", table]));
  const counters: Record<string, number> = {};
  for (const item of out.nftables as Array<{ counter?: { name: string; packets: number } }>)
    if (item.counter) counters[item.counter.name] = item.counter.packets;
  return counters;
}

export class ConnectionCounter {
  private readonly table = `vmpbench_${process.pid}`;
  private installed: Array<string | undefined> = [];

  constructor(
    private readonly lab: LabDescription,
    private readonly gid: number,
  ) {}

  async install(): Promise<void> {
    const bridge = this.lab.bridge.address;
    for (const h of this.lab.hosts) {
      const rules = SERVICES.map(
        (s) => `ip saddr ${bridge} tcp dport ${PORTS[s]} ${SYN_ONLY} counter name "${s}"`,
      );
      await this.load(h.namespace, SERVICES, rules);
    }
    const names = this.lab.hosts.flatMap((h) => SERVICES.map((s) => `${h.name}_${s}`));
    const rules = this.lab.hosts.flatMap((h) =>
      SERVICES.map(
        (s) =>
          `meta skgid ${this.gid} ip daddr ${h.address} tcp dport ${PORTS[s]} ${SYN_ONLY} counter name "${h.name}_${s}"`,
      ),
    );
    await this.load(undefined, names, rules);
  }

  private async load(
    namespace: string | undefined,
    counters: string[],
    rules: string[],
  ): Promise<void> {
    const hook = namespace ? "input" : "output";
    const script = [
      `table inet ${this.table} {`,
      ...counters.map((c) => `  counter ${c} {}`),
      `  chain count { type filter hook ${hook} priority -10; policy accept;`,
      ...rules.map((r) => `    ${r}`),
      "  }",
      "}",
    ].join("\n");
    this.installed.push(namespace);
    await nft(namespace, ["-f", "-"], script);
  }

  /** Connections per host so far, libvirt and ssh together. */
  async snapshot(): Promise<ConnectionCounts> {
    const ours = await readCounters(undefined, this.table);
    const counts: ConnectionCounts = {};
    for (const h of this.lab.hosts) {
      const daemon = await readCounters(h.namespace, this.table);
      counts[h.name] = {
        daemonSide: SERVICES.reduce((n, s) => n + (daemon[s] ?? 0), 0),
        ours: SERVICES.reduce((n, s) => n + (ours[`${h.name}_${s}`] ?? 0), 0),
      };
    }
    return counts;
  }

  /** Runs `measured` and returns what it opened, per host. */
  async around<T>(
    measured: () => Promise<T>,
  ): Promise<{ result: T; connections: ConnectionCounts }> {
    const before = await this.snapshot();
    const result = await measured();
    const after = await this.snapshot();
    const connections: ConnectionCounts = {};
    for (const h of Object.keys(after))
      connections[h] = {
        daemonSide: after[h].daemonSide - before[h].daemonSide,
        ours: after[h].ours - before[h].ours,
      };
    return { result, connections };
  }

  async remove(): Promise<void> {
    for (const namespace of this.installed.splice(0))
      await nft(namespace, ["delete", "table", "inet", this.table]).catch(() => undefined);
  }
}

/** "h1 1 / h2 1 / h3 1 = 3" for one side of the counts. */
export function describeCounts(counts: ConnectionCounts, side: "daemonSide" | "ours"): string {
  const hosts = Object.keys(counts);
  const total = hosts.reduce((n, h) => n + counts[h][side], 0);
  return `${hosts.map((h) => `${h}:${counts[h][side]}`).join(" ")} = ${total}`;
}
