// A connection to one libvirt daemon: transport, authentication, CONNECT_OPEN and keepalive,
// with the typed API grouped by area.
import { LibvirtClientError } from "../errors";
import { RemoteProgram } from "../rpc/remote-program";
import { openTransport, type TransportCredentials } from "../transports/open-transport";
import { parseLibvirtUri, type LibvirtUri } from "../uri";
import { DomainApi } from "./domains";
import { EventApi } from "./events";
import { HostApi } from "./host";
import { MigrationApi } from "./migration";
import { StorageApi } from "./storage";
import { SecretApi } from "./secrets";
import * as C from "./constants.gen";

export interface ConnectOptions extends TransportCredentials {
  connectTimeoutMs?: number;
  /** Default per-call timeout; 0 disables. Long calls (migration) opt out on their own. */
  callTimeoutMs?: number;
  /** Keepalive: ping every interval; the connection fails after `count` silent intervals. */
  keepaliveIntervalMs?: number;
  keepaliveCount?: number;
  signal?: AbortSignal;
  readOnly?: boolean;
}

const AUTH_NONE = 0;
const AUTH_POLKIT = 2;

export class LibvirtConnection {
  readonly host: HostApi;
  readonly domains: DomainApi;
  readonly migration: MigrationApi;
  readonly storage: StorageApi;
  readonly secrets: SecretApi;
  readonly events: EventApi;

  private constructor(
    readonly uri: LibvirtUri,
    readonly remote: RemoteProgram,
  ) {
    this.host = new HostApi(remote);
    this.domains = new DomainApi(remote);
    this.migration = new MigrationApi(remote);
    this.storage = new StorageApi(remote);
    this.secrets = new SecretApi(remote);
    this.events = new EventApi(remote);
  }

  static async open(uri: string, options: ConnectOptions = {}): Promise<LibvirtConnection> {
    const parsed = parseLibvirtUri(uri);
    const transport = openTransport(parsed, options);
    const socket = await transport.connect({
      timeoutMs: options.connectTimeoutMs,
      signal: options.signal,
    });
    const remote = new RemoteProgram(
      socket,
      transport.description,
      options.callTimeoutMs ?? 60_000,
    );
    const conn = new LibvirtConnection(parsed, remote);
    // A daemon that accepts the connection but does not answer (hung, stopped) is given as long
    // as a connect, not the long default of a call.
    const handshake = { timeoutMs: options.connectTimeoutMs ?? 10_000 };
    try {
      await conn.authenticate(handshake);
      await remote.call(
        "CONNECT_OPEN",
        { name: parsed.name, flags: options.readOnly ? C.virConnectFlags.VIR_CONNECT_RO : 0 },
        handshake,
      );
      const keepalive = await remote.call(
        "CONNECT_SUPPORTS_FEATURE",
        { feature: C.virDrvFeature.VIR_DRV_FEATURE_PROGRAM_KEEPALIVE },
        handshake,
      );
      if (keepalive.supported)
        remote.rpc.startKeepalive(
          options.keepaliveIntervalMs ?? 2_000,
          options.keepaliveCount ?? 3,
        );
    } catch (err) {
      remote.rpc.close();
      throw err;
    }
    return conn;
  }

  private async authenticate(options: { timeoutMs: number }): Promise<void> {
    const { types } = await this.remote.call("AUTH_LIST", undefined, options);
    if (types.length === 0 || types.includes(AUTH_NONE)) return;
    if (types.includes(AUTH_POLKIT)) {
      await this.remote.call("AUTH_POLKIT", undefined, options);
      return;
    }
    throw new LibvirtClientError(
      "VMP_LIBVIRT_AUTH",
      `${this.remote.rpc.description} requires SASL authentication, which this client does not speak; ` +
        `use TLS with client certificates, ssh, or auth_tcp = "none" on a trusted network`,
    );
  }

  get closed(): boolean {
    return this.remote.rpc.closed;
  }

  /** Calls back once when the connection is lost or closed. */
  onClose(listener: (err: Error) => void): void {
    this.remote.rpc.once("close", listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.remote.call("CONNECT_CLOSE", undefined, { timeoutMs: 5_000 });
    } catch {
      // closing anyway
    }
    this.remote.rpc.close();
  }
}
