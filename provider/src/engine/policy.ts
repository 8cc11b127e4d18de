// The default migration policy and the helpers that derive limits from it.
import type { MigrationPolicy } from "./types";

export const DEFAULT_POLICY: MigrationPolicy = {
  allowLive: true,
  allowPostCopy: true,
  allowOfflineFallback: false,
  allowForcedShutdown: false,
  allowFailover: false,
  storageFencing: "auto",
  maxDowntimeMs: 300,
  downtimeLadderMs: [300, 500, 1000],
  bandwidthMibps: 0,
  postcopyBandwidthMibps: 0,
  compression: "none",
  parallelConnections: 1,
  tls: false,
  autoConverge: false,
  completionTimeoutSecondsPerGib: 60,
  progressTimeoutSeconds: 10,
  storageCopy: "auto",
  removeSourceVolumes: true,
  shutdownTimeoutSeconds: 120,
};

const GiB = 1024 ** 3;

/** Seconds a migration of `bytes` may take before the ladder switches to post-copy or aborts. */
export function completionTimeoutSeconds(policy: MigrationPolicy, bytes: number): number {
  return Math.max(30, Math.ceil((policy.completionTimeoutSecondsPerGib * bytes) / GiB));
}

/** Downtime steps above the starting maximum, in increasing order. */
export function downtimeSteps(policy: MigrationPolicy): number[] {
  return [...new Set(policy.downtimeLadderMs)]
    .filter((d) => d > policy.maxDowntimeMs)
    .sort((a, b) => a - b);
}
