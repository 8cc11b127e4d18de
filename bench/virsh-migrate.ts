// Plain `virsh migrate` with the flags of the engine's live plans under the default policy
// (provider/src/engine/planner.ts migrationFlags and params; the client adds PEER2PEER):
// LIVE, ABORT_ON_ERROR, PERSIST_DEST, UNDEFINE_SOURCE, POSTCOPY, and NON_SHARED_DISK when disks
// are copied, with the migration and disk streams sent to the target's migration address. virsh talks to libvirtd
// over tcp, as the benchmark's provider does.
import type { LabHost } from "../test/lab/lab";
import { completedMigrationStats, virsh } from "../test/lab/virsh";

export interface VirshMigrateOptions {
  copyDisks?: string[];
  bandwidthMibps?: number;
  postcopyAfterPrecopy?: boolean;
  compression?: "xbzrle" | "mt";
  parallelConnections?: number;
  /** The domain as it is to be on the target (its disks rewritten), a file virsh reads. */
  destinationXmlFile?: string;
}

export function virshMigrateArgs(
  domain: string,
  target: LabHost,
  options: VirshMigrateOptions = {},
): string[] {
  const stream = `tcp://${target.migrationAddress}`;
  return [
    "migrate",
    "--live",
    "--p2p",
    "--persistent",
    "--undefinesource",
    "--abort-on-error",
    "--postcopy",
    // virsh's own answer to a guest that will not converge: switch once the first pass is done.
    ...(options.postcopyAfterPrecopy ? ["--postcopy-after-precopy"] : []),
    ...(options.copyDisks
      ? [
          "--copy-storage-all",
          "--migrate-disks",
          options.copyDisks.join(","),
          "--disks-uri",
          stream,
        ]
      : []),
    ...(options.bandwidthMibps ? ["--bandwidth", String(options.bandwidthMibps)] : []),
    ...(options.compression ? ["--compressed", "--comp-methods", options.compression] : []),
    ...(options.parallelConnections
      ? ["--parallel", "--parallel-connections", String(options.parallelConnections)]
      : []),
    ...(options.destinationXmlFile
      ? ["--xml", options.destinationXmlFile, "--persistent-xml", options.destinationXmlFile]
      : []),
    "--migrateuri",
    stream,
    domain,
    target.uris.tcp,
  ];
}

/** One timed migration; downtime from the target's completed-job statistics. */
export async function virshMigrate(
  source: LabHost,
  target: LabHost,
  domain: string,
  options: VirshMigrateOptions = { copyDisks: ["vda"] },
): Promise<{ wallMs: number; downtimeMs: number; dataBytes?: number }> {
  const started = Date.now();
  await virsh(source, ...virshMigrateArgs(domain, target, options));
  const wallMs = Date.now() - started;
  // After post-copy the target may keep no completed statistics; the source then has them.
  const stats = await completedMigrationStats(target, domain).catch(() =>
    completedMigrationStats(source, domain).catch(() => ({
      downtimeMs: NaN,
      dataBytes: undefined,
    })),
  );
  return { wallMs, downtimeMs: stats.downtimeMs, dataBytes: stats.dataBytes };
}

/**
 * virsh leaves the source copy of a copied disk behind (the provider removes it as part of its
 * move); the benchmarks remove it outside the timing, as bench/engine.ts does.
 */
export async function removeLeftoverVolume(source: LabHost, domain: string): Promise<void> {
  await virsh(source, "vol-delete", "--pool", "local", `${domain}.qcow2`).catch(() => undefined);
}
