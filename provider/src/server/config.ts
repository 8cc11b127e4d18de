// Provider configuration: the host inventory, credentials (secrets), concurrency limits and the
// default policy; validated into Check-style failures with property paths.
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
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
  sshKeyProblem,
} from "../engine";
import { checkInputs, type CheckFailure, type FieldGuide } from "../resources/check-failures";
import { checkPolicy, type PolicySpec } from "../resources/migration-policy/types";
import type { ProviderRuntime } from "../resources/runtime";

export type { ProviderRuntime } from "../resources/runtime";

/**
 * A text value that `pulumi config set --path` may have stored as a number or true/false (it
 * turns "1" into 1): the text it was.
 */
const configText = z.preprocess(
  (v) => (typeof v === "number" || typeof v === "boolean" ? String(v) : v),
  z.string(),
);

const hostSchema = z.strictObject({
  name: z.string().min(1),
  uri: z.string().min(1),
  migrationAddress: z.string().min(1),
  peerUri: z.string().min(1).optional(),
  migrationTlsName: z.string().min(1).optional(),
  migrationLinkMibps: z.number().positive().optional(),
  labels: z.record(z.string(), configText).optional(),
  fence: z
    .strictObject({
      agent: z.string().min(1),
      options: z.record(z.string(), configText).optional(),
      timeoutSeconds: z.number().int().min(1).max(600).optional(),
    })
    .optional(),
  storageFence: z
    .strictObject({
      ceph: z.string().min(1),
      clientAddresses: z.array(z.string().min(1)).min(1).optional(),
    })
    .optional(),
});

const cephClusterSchema = z.strictObject({
  name: z.string().min(1),
  monitors: z.array(z.string().min(1)).min(1),
  fenceUser: z
    .string()
    .regex(/^[^.\s]+$/)
    .optional(),
  blocklistExpireSeconds: z.number().int().min(60).optional(),
  timeoutSeconds: z.number().int().min(1).max(300).optional(),
});

export const configSchema = z.strictObject({
  hosts: z.array(hostSchema).min(1),
  sshPrivateKey: z.string().optional(),
  sshPrivateKeyPassphrase: z.string().optional(),
  sshKnownHosts: z.string().optional(),
  sshInsecureIgnoreHostKeys: z.boolean().optional(),
  tlsCaCert: z.string().optional(),
  tlsClientCert: z.string().optional(),
  tlsClientKey: z.string().optional(),
  maxMigrationsPerHostOutbound: z.number().int().min(1).optional(),
  maxMigrationsPerHostInbound: z.number().int().min(1).optional(),
  maxMigrationsTotal: z.number().int().min(1).optional(),
  dirtyRateSampleSeconds: z.number().int().min(0).max(60).optional(),
  defaultPolicy: z.record(z.string(), z.unknown()).optional(),
  /** Per host, the fence agent options that are secrets (password, ...). */
  fenceSecrets: z.record(z.string(), z.record(z.string(), configText)).optional(),
  /** Ceph clusters storage fencing blocklists on, and the cephx key of each one's fence user. */
  cephClusters: z.array(cephClusterSchema).optional(),
  cephKeys: z.record(z.string(), z.string().min(1)).optional(),
});

/** Every configuration key: what it is and how to give it, for the messages of a bad value. */
export const CONFIG_GUIDE: FieldGuide = {
  hosts: {
    is: "the libvirt hosts, a list of objects with name, uri and migrationAddress",
    example: `[{"name":"kvm1","uri":"qemu+ssh://root@10.0.0.5/system","migrationAddress":"10.0.0.5"}]`,
  },
  "hosts[]": {
    is: "a host, an object with name, uri and migrationAddress",
    example: `{"name":"kvm1","uri":"qemu+ssh://root@10.0.0.5/system","migrationAddress":"10.0.0.5"}`,
  },
  "hosts[].name": { is: "the host's name, which placements use", example: "kvm1" },
  "hosts[].uri": {
    is: "the host's libvirt URI (a qemu driver: qemu+ssh, qemu+tls, qemu+tcp or qemu+unix)",
    example: "qemu+ssh://root@10.0.0.5/system",
  },
  "hosts[].migrationAddress": {
    is: "the address on the host that migration and disk streams are sent to",
    example: "10.0.0.5",
  },
  "hosts[].peerUri": {
    is: "the URI other hosts' libvirtd reach this one by (peer-to-peer migration); leave it out to use uri",
    example: "qemu+tls://kvm1.example.com/system",
  },
  "hosts[].migrationTlsName": {
    is: "the name in the host's TLS certificate that migration streams are checked against",
    example: "kvm1.example.com",
  },
  "hosts[].migrationLinkMibps": {
    is: "the rate the host's migration link carries, in MiB/s; leave it out to have moves measure it",
    example: "1100",
  },
  "hosts[].labels": {
    is: "labels of the host as names and string values",
    example: `{"rack":"r1"}`,
  },
  "hosts[].labels.*": { is: "a label's value, a string", example: `"r1"` },
  "hosts[].fence": {
    is: "the host's fence device, an object with agent and options",
    example: `{"agent":"fence_ipmilan","options":{"ip":"10.0.1.5","username":"admin"}}`,
  },
  "hosts[].fence.agent": { is: "the fence agent's program name", example: "fence_ipmilan" },
  "hosts[].fence.options": {
    is: "the agent's options as names and string values (secrets go in fenceSecrets)",
    example: `{"ip":"10.0.1.5","username":"admin"}`,
  },
  "hosts[].fence.options.*": { is: "an option's value, a string", example: `"10.0.1.5"` },
  "hosts[].fence.timeoutSeconds": {
    is: "how long one fence call may take, whole seconds from 1 to 600",
    example: "60",
  },
  "hosts[].storageFence": {
    is: "the host's storage fence, an object naming a Ceph cluster of cephClusters",
    example: `{"ceph":"ceph1"}`,
  },
  "hosts[].storageFence.ceph": { is: "the name of a cluster in cephClusters", example: "ceph1" },
  "hosts[].storageFence.clientAddresses": {
    is: "the host's addresses on Ceph's public network, a non-empty list",
    example: `["10.0.2.5"]`,
  },
  "hosts[].storageFence.clientAddresses[]": { is: "an address", example: "10.0.2.5" },
  sshPrivateKey: { is: "the ssh private key (PEM or OpenSSH), as a secret" },
  sshPrivateKeyPassphrase: { is: "the passphrase of an encrypted sshPrivateKey, as a secret" },
  sshKnownHosts: {
    is: "the hosts' public keys in known_hosts format",
    example: "kvm1 ssh-ed25519 AAAA...",
  },
  sshInsecureIgnoreHostKeys: { is: "true only for throwaway labs", example: "false" },
  tlsCaCert: { is: "the CA certificate (PEM) the hosts' libvirtd certificates are signed by" },
  tlsClientCert: { is: "the client certificate (PEM) for libvirtd over TLS" },
  tlsClientKey: { is: "the client certificate's key (PEM), as a secret" },
  maxMigrationsPerHostOutbound: {
    is: "how many moves may leave one host at once, a whole number of at least 1",
    example: "1",
  },
  maxMigrationsPerHostInbound: {
    is: "how many moves may arrive at one host at once, a whole number of at least 1",
    example: "1",
  },
  maxMigrationsTotal: {
    is: "how many moves may run at once in all, a whole number of at least 1",
    example: "4",
  },
  dirtyRateSampleSeconds: {
    is: "how long a guest's dirty rate is measured, whole seconds from 0 (do not measure) to 60",
    example: "1",
    advice: { too_big: "more than 60 s holds every preview up; 1 to 5 is plenty" },
  },
  defaultPolicy: {
    is: "the MigrationPolicy inputs placements without a policy follow",
    example: `{"maxDowntimeMs":300}`,
  },
  fenceSecrets: {
    is: "per host name, the fence agent options that are secrets",
    example: `{"kvm1":{"password":"..."}}`,
  },
  "fenceSecrets.*": {
    is: "an object of secret option names and values",
    example: `{"password":"..."}`,
  },
  "fenceSecrets.*.*": { is: "a secret option's value, a string" },
  cephClusters: {
    is: "the Ceph clusters storage fencing blocklists on, a list of objects with name and monitors",
    example: `[{"name":"ceph1","monitors":["10.0.2.1:6789"]}]`,
  },
  "cephClusters[]": {
    is: "a Ceph cluster, an object with name and monitors",
    example: `{"name":"ceph1","monitors":["10.0.2.1:6789"]}`,
  },
  "cephClusters[].name": {
    is: "the cluster's name, which hosts[].storageFence.ceph uses",
    example: "ceph1",
  },
  "cephClusters[].monitors": {
    is: "the monitors' addresses, a non-empty list",
    example: `["10.0.2.1:6789"]`,
  },
  "cephClusters[].monitors[]": { is: "a monitor address", example: "10.0.2.1:6789" },
  "cephClusters[].fenceUser": {
    is: "the cephx user without 'client.'",
    example: "vmplacement-fence",
  },
  "cephClusters[].blocklistExpireSeconds": {
    is: "how long a blocklist entry lasts, whole seconds of at least 60",
    example: "31536000",
  },
  "cephClusters[].timeoutSeconds": {
    is: "how long one Ceph call may take, whole seconds from 1 to 300",
    example: "10",
  },
  cephKeys: {
    is: "per Ceph cluster name, the fence user's cephx key, as a secret",
    example: `{"ceph1":"AQ..."}`,
  },
  "cephKeys.*": { is: "a cephx key", example: "AQ..." },
};

/** The command that sets a configuration key, for the message of one that is missing. */
function howToSetConfig(property: string): string | undefined {
  if (property === "hosts")
    return `pulumi config set --path 'vmplacement:hosts[0].name' kvm1 && pulumi config set --path 'vmplacement:hosts[0].uri' qemu+ssh://root@10.0.0.5/system && pulumi config set --path 'vmplacement:hosts[0].migrationAddress' 10.0.0.5`;
  const example = CONFIG_GUIDE[property.replace(/\[\d+\]/g, "[]")]?.example;
  return example ? `pulumi config set --path 'vmplacement:${property}' '${example}'` : undefined;
}

export type ProviderConfigInputs = z.infer<typeof configSchema>;

/**
 * The environment variables a configuration key falls back to when the stack does not set it, as
 * Pulumi providers do (the schema's defaultInfo names the same): the secrets, and the inventory.
 */
export const CONFIG_ENVIRONMENT: Readonly<Record<string, string>> = {
  hosts: "VMPLACEMENT_HOSTS",
  sshPrivateKey: "VMPLACEMENT_SSH_PRIVATE_KEY",
  sshPrivateKeyPassphrase: "VMPLACEMENT_SSH_PRIVATE_KEY_PASSPHRASE",
  sshKnownHosts: "VMPLACEMENT_SSH_KNOWN_HOSTS",
  tlsCaCert: "VMPLACEMENT_TLS_CA_CERT",
  tlsClientCert: "VMPLACEMENT_TLS_CLIENT_CERT",
  tlsClientKey: "VMPLACEMENT_TLS_CLIENT_KEY",
  fenceSecrets: "VMPLACEMENT_FENCE_SECRETS",
  cephKeys: "VMPLACEMENT_CEPH_KEYS",
};

/** The configuration keys that are secrets: kept as Pulumi secrets whatever way they arrive. */
export const SECRET_CONFIG_KEYS = [
  "sshPrivateKey",
  "sshPrivateKeyPassphrase",
  "tlsClientKey",
  "fenceSecrets",
  "cephKeys",
] as const;

/**
 * The raw configuration with each unset key taken from its environment variable, if that is set
 * (before decodeConfigValues: JSON values are decoded the same way as `pulumi config set` ones).
 */
export function withEnvironmentDefaults(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const out = { ...raw };
  const given = new Set(Object.keys(raw).map((k) => k.replace(/^vmplacement:(config:)?/, "")));
  for (const [key, variable] of Object.entries(CONFIG_ENVIRONMENT)) {
    const value = env[variable];
    if (!given.has(key) && value !== undefined && value !== "") out[key] = value;
  }
  return out;
}

/** Where ssh and virsh read host keys when nothing else is given. */
export function userKnownHostsFile(): string {
  return path.join(os.homedir(), ".ssh", "known_hosts");
}

/** Keys whose values are text as given, never JSON (a passphrase may read as a number). */
const TEXT_CONFIG_KEYS = new Set([
  "sshPrivateKey",
  "sshPrivateKeyPassphrase",
  "sshKnownHosts",
  "tlsCaCert",
  "tlsClientCert",
  "tlsClientKey",
]);

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
      !TEXT_CONFIG_KEYS.has(name)
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
  for (const list of ["hosts", "cephClusters"])
    if (Array.isArray(out[list])) out[list] = (out[list] as unknown[]).map(objectFromJson);
  if (Array.isArray(out.hosts))
    out.hosts = (out.hosts as unknown[]).map((h) =>
      h && typeof h === "object"
        ? Object.fromEntries(
            Object.entries(h).map(([k, v]) => [
              k,
              ["fence", "storageFence", "labels"].includes(k) ? objectFromJson(v) : v,
            ]),
          )
        : h,
    );
  return out;
}

/**
 * `pulumi config set --path 'vmplacement:hosts[0]' '{...}'` stores the object as a string inside
 * the list: an element (or a host's object field) that is JSON of an object is that object.
 */
function objectFromJson(value: unknown): unknown {
  if (typeof value !== "string" || !value.trim().startsWith("{")) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : value;
  } catch {
    return value;
  }
}

export function checkConfig(raw: Record<string, unknown>): {
  config?: ProviderConfigInputs;
  policy?: PolicySpec;
  failures: CheckFailure[];
} {
  const parsed = checkInputs(configSchema, raw, CONFIG_GUIDE, {
    prefix: "vmplacement:",
    howToSet: howToSetConfig,
  });
  if (!parsed.data) return { failures: parsed.failures };
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
        if (u.driver !== "qemu")
          failures.push({
            property: `hosts[${i}].${field}`,
            reason: `vmplacement:hosts[${i}].${field} is ${JSON.stringify(uri)}, a '${u.driver}' URI: vmplacement places QEMU/KVM guests, so give the host's qemu URI, e.g. qemu+ssh://root@${u.host ?? "10.0.0.5"}/system`,
          });
        if (
          u.transport === "ssh" &&
          !config.sshKnownHosts &&
          !config.sshInsecureIgnoreHostKeys &&
          !u.params.knownHosts &&
          u.params.knownHostsVerify === "normal" &&
          !existsSync(userKnownHostsFile())
        ) {
          failures.push({
            property: "sshKnownHosts",
            reason: `host ${h.name} is reached over ssh, so its host key must be verified: give sshKnownHosts (the hosts' public keys, known_hosts format), or add the hosts to ${userKnownHostsFile()}, which ssh and virsh read and which does not exist yet (ssh-keyscan -H <host> >> ${userKnownHostsFile()}); set sshInsecureIgnoreHostKeys only for throwaway labs`,
          });
        }
      } catch (err) {
        failures.push({
          property: `hosts[${i}].${field}`,
          reason: `vmplacement:hosts[${i}].${field}: ${(err as Error).message}`,
        });
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
  failures.push(...sshKeyFailures(config));
  const policy = checkPolicy(config.defaultPolicy ?? {}, undefined, {
    at: "defaultPolicy",
    prefix: "vmplacement:",
  });
  failures.push(...policy.failures);
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

/** A private key ssh2 cannot use, named at preview instead of at the first host contacted. */
function sshKeyFailures(config: ProviderConfigInputs): CheckFailure[] {
  if (!config.sshPrivateKey) {
    return config.sshPrivateKeyPassphrase
      ? [
          {
            property: "sshPrivateKeyPassphrase",
            reason: `sshPrivateKeyPassphrase is set but sshPrivateKey is not: give the encrypted key as a secret, pulumi config set --secret vmplacement:sshPrivateKey < ~/.ssh/id_ed25519`,
          },
        ]
      : [];
  }
  switch (sshKeyProblem(config.sshPrivateKey, config.sshPrivateKeyPassphrase)) {
    case "needs-passphrase":
      return [
        {
          property: "sshPrivateKeyPassphrase",
          reason: `sshPrivateKey is encrypted and sshPrivateKeyPassphrase is not set: give its passphrase as a secret, pulumi config set --secret vmplacement:sshPrivateKeyPassphrase '<passphrase>', or use an ssh-agent (SSH_AUTH_SOCK) and leave sshPrivateKey unset`,
        },
      ];
    case "wrong-passphrase":
      return [
        {
          property: "sshPrivateKeyPassphrase",
          reason: `sshPrivateKeyPassphrase is not the passphrase of sshPrivateKey: give the key's passphrase (ssh-keygen -y -f <key> checks it)`,
        },
      ];
    case "unreadable":
      return [
        {
          property: "sshPrivateKey",
          reason: `sshPrivateKey is not a private key ssh can read (OpenSSH or PEM, ed25519, ECDSA or RSA): give the key file's whole text, pulumi config set --secret vmplacement:sshPrivateKey < ~/.ssh/id_ed25519`,
        },
      ];
    default:
      return [];
  }
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
    sshPassphrase: config.sshPrivateKeyPassphrase,
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
