// Provider configuration: the host inventory, credentials (secrets), concurrency limits and the
// default policy; validated into Check-style failures with property paths.
import { z } from "zod";
import {
  ConnectionPool,
  DEFAULT_POLICY,
  parseLibvirtUri,
  type CephStorageFence,
  type ConnectOptions,
  MeasureGate,
  MigrationLimiter,
  placementEngine,
  RunLedger,
} from "../engine";
import { zodFailures, type CheckFailure } from "../resources/check-failures";
import { checkPolicy, type PolicySpec } from "../resources/migration-policy/types";
import type { ProviderRuntime } from "../resources/runtime";

export type { ProviderRuntime } from "../resources/runtime";

const hostSchema = z
  .object({
    name: z.string().min(1, "a host needs a name"),
    uri: z.string().min(1, "a host needs a libvirt uri, e.g. qemu+ssh://root@10.0.0.5/system"),
    migrationAddress: z.string().min(1, "a host needs the address migration streams are sent to"),
    peerUri: z.string().optional(),
    migrationTlsName: z.string().min(1, "migrationTlsName must not be empty").optional(),
    migrationLinkMibps: z
      .number()
      .positive(
        "migrationLinkMibps is the rate the host's migration link carries, in MiB/s; leave it out to have moves measure it",
      )
      .optional(),
    labels: z.record(z.string(), z.string()).optional(),
    fence: z
      .object({
        agent: z.string().min(1, "a fence device needs its agent, e.g. fence_ipmilan"),
        options: z.record(z.string(), z.string()).optional(),
        timeoutSeconds: z.number().int().min(1).max(600).optional(),
      })
      .strict()
      .optional(),
    storageFence: z
      .object({
        ceph: z.string().min(1, "storageFence.ceph names a cluster of cephClusters"),
        clientAddresses: z
          .array(z.string().min(1))
          .min(1, "clientAddresses lists the host's addresses on Ceph's public network")
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const cephClusterSchema = z
  .object({
    name: z.string().min(1, "a Ceph cluster needs a name (hosts[].storageFence.ceph refers to it)"),
    monitors: z
      .array(z.string().min(1))
      .min(1, "monitors lists the cluster's monitor addresses, e.g. 10.0.0.1:6789"),
    fenceUser: z
      .string()
      .regex(/^[^.\s]+$/, "fenceUser is the cephx user without 'client.', e.g. vmplacement-fence")
      .optional(),
    blocklistExpireSeconds: z.number().int().min(60).optional(),
    timeoutSeconds: z.number().int().min(1).max(300).optional(),
  })
  .strict();

export const configSchema = z
  .object({
    hosts: z.array(hostSchema).min(1, "hosts must list at least one libvirt host"),
    sshPrivateKey: z.string().optional(),
    sshKnownHosts: z.string().optional(),
    sshInsecureIgnoreHostKeys: z.boolean().optional(),
    tlsCaCert: z.string().optional(),
    tlsClientCert: z.string().optional(),
    tlsClientKey: z.string().optional(),
    maxMigrationsPerHostOutbound: z.number().int().min(1).optional(),
    maxMigrationsPerHostInbound: z.number().int().min(1).optional(),
    maxMigrationsTotal: z.number().int().min(1).optional(),
    dirtyRateSampleSeconds: z
      .number()
      .int("dirtyRateSampleSeconds must be whole seconds")
      .min(0, "dirtyRateSampleSeconds must be 0 (do not measure) or more")
      .max(60, "dirtyRateSampleSeconds above 60 holds every preview up; 1 to 5 is plenty")
      .optional(),
    defaultPolicy: z.record(z.string(), z.unknown()).optional(),
    /** Per host, the fence agent options that are secrets (password, ...). */
    fenceSecrets: z.record(z.string(), z.record(z.string(), z.string())).optional(),
    /** Ceph clusters storage fencing blocklists on, and the cephx key of each one's fence user. */
    cephClusters: z.array(cephClusterSchema).optional(),
    cephKeys: z.record(z.string(), z.string().min(1)).optional(),
  })
  .strict();

export type ProviderConfigInputs = z.infer<typeof configSchema>;

/** Config values arrive as JSON strings when set with `pulumi config set`; objects otherwise. */
export function decodeConfigValues(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const name = key.replace(/^vmplacement:(config:)?/, "");
    // Set by the engine and SDKs on every provider, not configuration of ours.
    if (name === "version" || name === "pluginDownloadURL") continue;
    if (
      typeof value === "string" &&
      /^[[{]|^(true|false|\d+)$/.test(value.trim()) &&
      name !== "sshPrivateKey" &&
      name !== "sshKnownHosts"
    ) {
      try {
        out[name] = JSON.parse(value);
        continue;
      } catch {
        // not JSON: keep the string
      }
    }
    out[name] = value;
  }
  return out;
}

export function checkConfig(raw: Record<string, unknown>): {
  config?: ProviderConfigInputs;
  policy?: PolicySpec;
  failures: CheckFailure[];
} {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) return { failures: zodFailures(parsed.error) };
  const config = parsed.data;
  const failures: CheckFailure[] = [];
  const names = new Set<string>();
  config.hosts.forEach((h, i) => {
    if (names.has(h.name))
      failures.push({
        property: `hosts[${i}].name`,
        reason: `host name '${h.name}' appears twice; names must be unique`,
      });
    names.add(h.name);
    for (const [field, uri] of [
      ["uri", h.uri],
      ["peerUri", h.peerUri],
    ] as const) {
      if (!uri) continue;
      try {
        const u = parseLibvirtUri(uri);
        if (
          u.transport === "ssh" &&
          !config.sshKnownHosts &&
          !config.sshInsecureIgnoreHostKeys &&
          !u.params.knownHosts &&
          u.params.knownHostsVerify === "normal"
        ) {
          failures.push({
            property: "sshKnownHosts",
            reason: `host ${h.name} is reached over ssh, so sshKnownHosts (the hosts' public keys, known_hosts format) is required to verify it; set sshInsecureIgnoreHostKeys only for throwaway labs`,
          });
        }
      } catch (err) {
        failures.push({ property: `hosts[${i}].${field}`, reason: (err as Error).message });
      }
    }
  });
  for (const host of Object.keys(config.fenceSecrets ?? {})) {
    if (!config.hosts.some((h) => h.name === host && h.fence))
      failures.push({
        property: `fenceSecrets.${host}`,
        reason: `fence secrets for '${host}', which is not an inventory host with a fence device; give hosts[].fence for it or remove the entry`,
      });
  }
  failures.push(...storageFenceFailures(config));
  const policy = checkPolicy(config.defaultPolicy ?? {});
  failures.push(...policy.failures.map((f) => ({ ...f, property: `defaultPolicy.${f.property}` })));
  return { config, policy: policy.spec, failures: dedupe(failures) };
}

/**
 * The insecure opt-outs the configuration uses, one warning each, naming the host, the setting
 * and what it costs: shown on every preview and update that uses them.
 */
export function insecureSettings(config: ProviderConfigInputs): string[] {
  const warnings: string[] = [];
  for (const h of config.hosts) {
    for (const [field, uri] of [
      ["uri", h.uri],
      ["peerUri", h.peerUri],
    ] as const) {
      if (!uri) continue;
      let u: ReturnType<typeof parseLibvirtUri>;
      try {
        u = parseLibvirtUri(uri);
      } catch {
        continue; // a check failure says so
      }
      const where = `host ${h.name} (${field})`;
      if (u.transport === "ssh" && config.sshInsecureIgnoreHostKeys)
        warnings.push(
          `${where}: sshInsecureIgnoreHostKeys accepts any ssh host key, so anyone on the path to ${h.name} can pose as it and receive the libvirt session (and the VMs' definitions); give sshKnownHosts instead`,
        );
      else if (u.transport === "ssh" && u.params.knownHostsVerify === "ignore")
        warnings.push(
          `${where}: known_hosts_verify=ignore accepts any ssh host key, so anyone on the path to ${h.name} can pose as it; remove it and give sshKnownHosts`,
        );
      if (u.transport === "tls" && u.params.noVerify)
        warnings.push(
          `${where}: no_verify=1 does not check ${h.name}'s TLS certificate, so anyone on the path can pose as it; remove it and give tlsCaCert`,
        );
    }
  }
  return warnings;
}

function dedupe(failures: CheckFailure[]): CheckFailure[] {
  const seen = new Set<string>();
  return failures.filter(
    (f) => !seen.has(f.property + f.reason) && seen.add(f.property + f.reason),
  );
}

export function buildRuntime(
  config: ProviderConfigInputs,
  policy: PolicySpec | undefined,
): ProviderRuntime {
  const options: ConnectOptions = {
    sshPrivateKey: config.sshPrivateKey,
    sshKnownHosts: config.sshKnownHosts,
    sshInsecureIgnoreHostKeys: config.sshInsecureIgnoreHostKeys,
    tls: config.tlsCaCert
      ? { ca: config.tlsCaCert, cert: config.tlsClientCert, key: config.tlsClientKey }
      : undefined,
  };
  const pool = new ConnectionPool(
    config.hosts.map((h) => ({ ...h })),
    options,
  );
  const limiter = new MigrationLimiter({
    perHostOutbound: config.maxMigrationsPerHostOutbound ?? 1,
    perHostInbound: config.maxMigrationsPerHostInbound ?? 1,
    global: config.maxMigrationsTotal ?? 4,
  });
  return {
    pool,
    engine: placementEngine(pool),
    limiter,
    defaultPolicy: policy ?? DEFAULT_POLICY,
    hostNames: config.hosts.map((h) => h.name),
    measureSeconds: config.dirtyRateSampleSeconds,
    measureGate: new MeasureGate(),
    measuredLinks: [],
    ledgers: { preview: new RunLedger(), update: new RunLedger() },
    groupAssignments: new Map(),
    storageFence: (host) => storageFence(config, host),
    fenceDevice: (host) => {
      const fence = config.hosts.find((h) => h.name === host)?.fence;
      if (!fence) return undefined;
      return {
        agent: fence.agent,
        options: fence.options ?? {},
        secrets: config.fenceSecrets?.[host] ?? {},
        timeoutSeconds: fence.timeoutSeconds ?? 60,
      };
    },
  };
}

/** A year: an entry outlives any outage; the refresh that sees the host back lifts it. */
const BLOCKLIST_EXPIRE_SECONDS = 365 * 24 * 3600;

function storageFence(config: ProviderConfigInputs, host: string): CephStorageFence | undefined {
  const entry = config.hosts.find((h) => h.name === host);
  const cluster = config.cephClusters?.find((c) => c.name === entry?.storageFence?.ceph);
  const key = cluster && config.cephKeys?.[cluster.name];
  if (!entry?.storageFence || !cluster || !key) return undefined;
  return {
    cluster: cluster.name,
    monitors: cluster.monitors,
    user: cluster.fenceUser ?? "vmplacement-fence",
    key,
    clientAddresses: entry.storageFence.clientAddresses ?? [parseLibvirtUri(entry.uri).host ?? ""],
    expireSeconds: cluster.blocklistExpireSeconds ?? BLOCKLIST_EXPIRE_SECONDS,
    timeoutSeconds: cluster.timeoutSeconds ?? 10,
  };
}

/** Each host's storage fence names a configured cluster, and each cluster has its key. */
function storageFenceFailures(config: ProviderConfigInputs): CheckFailure[] {
  const failures: CheckFailure[] = [];
  const clusters = config.cephClusters ?? [];
  config.hosts.forEach((h, i) => {
    const name = h.storageFence?.ceph;
    if (name !== undefined && !clusters.some((c) => c.name === name))
      failures.push({
        property: `hosts[${i}].storageFence.ceph`,
        reason: `'${name}' is not a cluster of cephClusters (${clusters.map((c) => c.name).join(", ") || "none configured"}); add it there with its monitors`,
      });
  });
  clusters.forEach((c, i) => {
    if (!config.cephKeys?.[c.name])
      failures.push({
        property: `cephClusters[${i}]`,
        reason: `no key for Ceph cluster '${c.name}': set the cephx key of client.${c.fenceUser ?? "vmplacement-fence"} as a secret, pulumi config set --secret vmplacement:cephKeys '{"${c.name}":"<key>"}'`,
      });
  });
  for (const name of Object.keys(config.cephKeys ?? {}))
    if (!clusters.some((c) => c.name === name))
      failures.push({
        property: `cephKeys.${name}`,
        reason: `a key for '${name}', which is not a cluster of cephClusters; add the cluster or remove the key`,
      });
  return failures;
}
