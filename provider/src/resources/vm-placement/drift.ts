// What a refresh records of a VmPlacement: its inputs as the VM really is placed, so a move made
// outside Pulumi shows as drift (the program's inputs differ from the refreshed ones) and
// ignoreChanges keeps it (the engine then takes the refreshed value). Pure.
import type { DiskState, PlacementInputs } from "./types";

export interface ObservedPlacement {
  currentHost: string;
  currentDisks: DiskState[];
}

/**
 * The inputs Read reports: `host` where the domain runs; each pool the inputs name replaced by
 * the pool its disks are really in, in the property that named it (a `disks` entry, else
 * `storagePool` when all the disks it governs share one pool, else a `disks` entry per disk
 * that left it). Disks outside any pool (plain files) and pools the inputs leave open stay as
 * they were. An import (no inputs yet) records the domain and its host.
 */
export function refreshedInputs(
  domain: string,
  inputs: Partial<PlacementInputs>,
  now: ObservedPlacement,
): PlacementInputs {
  if (!inputs.domain) return { domain, host: now.currentHost };
  const overrides: Record<string, string> = { ...(inputs.disks ?? {}) };
  const governed: DiskState[] = [];
  for (const disk of now.currentDisks) {
    if (disk.pool === null) continue;
    if (disk.target in overrides) overrides[disk.target] = disk.pool;
    else if (inputs.storagePool) governed.push(disk);
  }
  let storagePool = inputs.storagePool;
  const pools = new Set(governed.map((d) => d.pool!));
  if (pools.size === 1) storagePool = [...pools][0];
  else
    for (const disk of governed) if (disk.pool !== storagePool) overrides[disk.target] = disk.pool!;
  return {
    ...inputs,
    domain: inputs.domain,
    host: now.currentHost,
    ...(storagePool !== undefined ? { storagePool } : {}),
    ...(Object.keys(overrides).length ? { disks: overrides } : {}),
  };
}
