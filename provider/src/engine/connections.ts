// One pooled libvirt connection per inventory host, opened on first use and reused by every
// migration; a lost connection is replaced on the next use.
import { LibvirtConnection, type ConnectOptions } from "../libvirt";

export interface InventoryHost {
  name: string;
  /** libvirt URI this process uses to reach the host. */
  uri: string;
  /** URI the source daemon uses to reach this host for peer-to-peer migration (default: uri). */
  peerUri?: string;
  /** Address QEMU migration streams (and NBD storage copy) are sent to. */
  migrationAddress: string;
  /** Name the host's migration TLS certificate is issued to, when not migrationAddress. */
  migrationTlsName?: string;
  /** What the migration link of this host carries (MiB/s), when the operator knows it. */
  migrationLinkMibps?: number;
  labels?: Record<string, string>;
}

export class ConnectionPool {
  private readonly open = new Map<string, Promise<LibvirtConnection>>();

  constructor(
    readonly hosts: InventoryHost[],
    private readonly options: ConnectOptions = {},
  ) {}

  host(name: string): InventoryHost | undefined {
    return this.hosts.find((h) => h.name === name);
  }

  /**
   * The connection to `name`, opening (or reopening) it when needed. Concurrent callers share
   * one open; a caller that waited for an open that failed gets its error.
   */
  async get(name: string): Promise<LibvirtConnection> {
    const host = this.host(name);
    if (!host) throw new Error(`host '${name}' is not in the inventory`);
    for (;;) {
      const existing = this.open.get(name);
      if (!existing) break;
      const conn = await existing;
      if (!conn.closed) return conn;
      // Closed: replace it, unless another caller already did while we waited.
      if (this.open.get(name) === existing) {
        this.open.delete(name);
        break;
      }
    }
    const opening = LibvirtConnection.open(host.uri, this.options);
    this.open.set(name, opening);
    opening.catch(() => {
      if (this.open.get(name) === opening) this.open.delete(name);
    });
    return opening;
  }

  /** How many connections were opened in total (for tests and benchmarks). */
  get size(): number {
    return this.open.size;
  }

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }
}
