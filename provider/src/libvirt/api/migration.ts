// Live migration: peer-to-peer virDomainMigrateToURI3 with typed parameters and flags, and the
// knobs that steer a running migration (downtime, speed, post-copy).
import type { RemoteProgram } from "../rpc/remote-program";
import type { Domain } from "./handles";
import type { TypedParamSpec } from "./typed-params";
import { encodeTypedParams } from "./typed-params";
import * as C from "./constants.gen";

export type MigrateFlagName = keyof typeof C.virDomainMigrateFlags;

export interface MigrationParams {
  /** Where the source QEMU sends memory: e.g. tcp://<target migration address>. */
  uri?: string;
  /** Where the source sends disks when copying storage (NBD): e.g. tcp://<target address>. */
  disksUri?: string;
  disksPort?: number;
  listenAddress?: string;
  destinationName?: string;
  /** Domain XML used on the target while running (e.g. disk paths rewritten into target pools). */
  destinationXml?: string;
  /** Persistent definition stored on the target. */
  persistentXml?: string;
  /** Disks (target names such as "vda") whose storage is copied. */
  migrateDisks?: string[];
  bandwidthMibps?: number;
  postcopyBandwidthMibps?: number;
  /** Compression methods, e.g. ["xbzrle"], ["zstd"] (needs the COMPRESSED flag). */
  compression?: string[];
  parallelConnections?: number;
  /** Host name the target's TLS certificate is checked against. */
  tlsDestination?: string;
  autoConvergeInitial?: number;
  autoConvergeIncrement?: number;
}

export function migrationTypedParams(p: MigrationParams): TypedParamSpec[] {
  const out: TypedParamSpec[] = [];
  const str = (name: string, value: string | undefined) =>
    value !== undefined && out.push({ name, type: "string", value });
  const int = (name: string, value: number | undefined) =>
    value !== undefined && out.push({ name, type: "int", value });
  const ullong = (name: string, value: number | undefined) =>
    value !== undefined && out.push({ name, type: "ullong", value });
  str(C.VIR_MIGRATE_PARAM_URI, p.uri);
  str(C.VIR_MIGRATE_PARAM_DISKS_URI, p.disksUri);
  int(C.VIR_MIGRATE_PARAM_DISKS_PORT, p.disksPort);
  str(C.VIR_MIGRATE_PARAM_LISTEN_ADDRESS, p.listenAddress);
  str(C.VIR_MIGRATE_PARAM_DEST_NAME, p.destinationName);
  str(C.VIR_MIGRATE_PARAM_DEST_XML, p.destinationXml);
  str(C.VIR_MIGRATE_PARAM_PERSIST_XML, p.persistentXml);
  for (const disk of p.migrateDisks ?? []) str(C.VIR_MIGRATE_PARAM_MIGRATE_DISKS, disk);
  ullong(C.VIR_MIGRATE_PARAM_BANDWIDTH, p.bandwidthMibps);
  ullong(C.VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY, p.postcopyBandwidthMibps);
  for (const method of p.compression ?? []) str(C.VIR_MIGRATE_PARAM_COMPRESSION, method);
  int(C.VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS, p.parallelConnections);
  str(C.VIR_MIGRATE_PARAM_TLS_DESTINATION, p.tlsDestination);
  int(C.VIR_MIGRATE_PARAM_AUTO_CONVERGE_INITIAL, p.autoConvergeInitial);
  int(C.VIR_MIGRATE_PARAM_AUTO_CONVERGE_INCREMENT, p.autoConvergeIncrement);
  return out;
}

export function migrateFlags(names: MigrateFlagName[]): number {
  return names.reduce((flags, name) => flags | C.virDomainMigrateFlags[name], 0);
}

export class MigrationApi {
  constructor(private readonly remote: RemoteProgram) {}

  /**
   * Peer-to-peer migration (virDomainMigrateToURI3 with VIR_MIGRATE_PEER2PEER): the source
   * daemon drives it against `destinationUri`. Resolves when libvirt reports the migration
   * finished; it has no timeout of its own: steer or stop it with the job calls.
   */
  async migrateToUri3(
    dom: Domain,
    destinationUri: string,
    params: MigrationParams,
    flags: MigrateFlagName[] | number,
  ): Promise<void> {
    const bits = typeof flags === "number" ? flags : migrateFlags(flags);
    await this.remote.call(
      "DOMAIN_MIGRATE_PERFORM3_PARAMS",
      {
        dom,
        dconnuri: destinationUri,
        params: encodeTypedParams(migrationTypedParams(params)),
        cookie_in: Buffer.alloc(0),
        flags: bits | C.virDomainMigrateFlags.VIR_MIGRATE_PEER2PEER,
      },
      { timeoutMs: 0 },
    );
  }

  async setMaxDowntime(dom: Domain, downtimeMs: number): Promise<void> {
    await this.remote.call("DOMAIN_MIGRATE_SET_MAX_DOWNTIME", {
      dom,
      downtime: BigInt(downtimeMs),
      flags: 0,
    });
  }

  async getMaxDowntime(dom: Domain): Promise<number> {
    return Number(
      (await this.remote.call("DOMAIN_MIGRATE_GET_MAX_DOWNTIME", { dom, flags: 0 })).downtime,
    );
  }

  /** Bandwidth cap in MiB/s; `postcopy` sets the post-copy phase's cap. */
  async setMaxSpeed(
    dom: Domain,
    mibPerSecond: number,
    options: { postcopy?: boolean } = {},
  ): Promise<void> {
    const flags = options.postcopy
      ? C.virDomainMigrateMaxSpeedFlags.VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY
      : 0;
    await this.remote.call("DOMAIN_MIGRATE_SET_MAX_SPEED", {
      dom,
      bandwidth: BigInt(mibPerSecond),
      flags,
    });
  }

  async getMaxSpeed(dom: Domain, options: { postcopy?: boolean } = {}): Promise<number> {
    const flags = options.postcopy
      ? C.virDomainMigrateMaxSpeedFlags.VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY
      : 0;
    return Number(
      (await this.remote.call("DOMAIN_MIGRATE_GET_MAX_SPEED", { dom, flags })).bandwidth,
    );
  }

  /** Switches a running migration started with VIR_MIGRATE_POSTCOPY to post-copy. */
  async startPostCopy(dom: Domain): Promise<void> {
    await this.remote.call("DOMAIN_MIGRATE_START_POST_COPY", { dom, flags: 0 });
  }
}
