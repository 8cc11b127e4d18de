// Thin virsh wrapper for lab tests: the reference tool our own client is compared against.
import type { LabHost } from "./lab";
import { run } from "./run";

export function virsh(host: LabHost, ...args: string[]): Promise<string> {
  return run("virsh", ["-q", "-c", host.uris.tcp, ...args]);
}

export async function runningDomains(host: LabHost): Promise<string[]> {
  const out = await virsh(host, "list", "--name", "--state-running");
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

export async function definedDomains(host: LabHost): Promise<string[]> {
  const out = await virsh(host, "list", "--name", "--all");
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

/** The names of the hosts where `domain` is running (a VM that is never lost: exactly one). */
export async function hostsRunning(hosts: LabHost[], domain: string): Promise<string[]> {
  const on = await Promise.all(hosts.map(async (h) => (await runningDomains(h)).includes(domain)));
  return hosts.filter((_, i) => on[i]).map((h) => h.name);
}

export function volumeExists(host: LabHost, pool: string, volume: string): Promise<boolean> {
  return virsh(host, "vol-info", "--pool", pool, volume).then(
    () => true,
    () => false,
  );
}

/** Parses `virsh domjobinfo` output into a key → value map (values keep their units). */
export function parseJobInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([^:]+):\s+(.*)$/.exec(line.trim());
    if (m) info[m[1].trim()] = m[2].trim();
  }
  return info;
}

export interface CompletedMigration {
  elapsedMs: number;
  downtimeMs: number;
  /** "Data processed": what the stream carried, compression applied. */
  dataBytes?: number;
}

const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** "274.123 MiB" as bytes; undefined for anything else. */
export function parseByteSize(value: string | undefined): number | undefined {
  const m = /^([\d.]+)\s*(B|KiB|MiB|GiB)$/.exec(value ?? "");
  return m ? Math.round(Number(m[1]) * UNITS[m[2]]) : undefined;
}

export async function completedMigrationStats(
  host: LabHost,
  domain: string,
): Promise<CompletedMigration> {
  const info = parseJobInfo(await virsh(host, "domjobinfo", "--completed", domain));
  const ms = (key: string) => {
    const value = info[key];
    if (value === undefined) throw new Error(`domjobinfo has no '${key}': ${JSON.stringify(info)}`);
    return parseInt(value, 10);
  };
  return {
    elapsedMs: ms("Time elapsed"),
    downtimeMs: ms("Total downtime"),
    // The target of a pre-copy move reports memory only, under either name.
    dataBytes: parseByteSize(info["Data processed"] ?? info["Memory processed"]),
  };
}

/** Stops and forgets a domain on every given host, wherever it is; missing is fine. */
export async function removeDomainEverywhere(hosts: LabHost[], domain: string): Promise<void> {
  await Promise.all(
    hosts.map(async (host) => {
      await virsh(host, "destroy", domain).catch(() => undefined);
      await virsh(host, "undefine", "--nvram", domain).catch(() => undefined);
    }),
  );
}
