// Places three lab VMs under one migration policy. The placements come from stack config
// (`vms`: VM name -> host, optionally `pools`: VM name -> storage pool); changing one and running
// `pulumi up` migrates that VM live. Hosts are read from the lab description, never hard-coded.
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import * as vmplacement from "../../sdk/nodejs";

interface LabHost {
  name: string;
  address: string;
  migrationAddress: string;
  uris: { tcp: string; ssh: string };
}

const config = new pulumi.Config();
const labDir = process.env.VMP_LAB_DIR ?? "/var/lib/vmplacement-lab";
const lab = JSON.parse(readFileSync(`${labDir}/lab.json`, "utf8")) as {
  hosts: LabHost[];
  ssh: { privateKey: string; knownHosts: string };
};

// The lab's hosts over ssh, with host keys verified; daemons reach each other over tcp.
const provider = new vmplacement.Provider("lab", {
  hosts: lab.hosts.map((h) => ({
    name: h.name,
    uri: h.uris.ssh,
    peerUri: h.uris.tcp,
    migrationAddress: h.migrationAddress,
  })),
  sshPrivateKey: pulumi.secret(readFileSync(lab.ssh.privateKey, "utf8")),
  sshKnownHosts: readFileSync(lab.ssh.knownHosts, "utf8"),
  maxMigrationsPerHostOutbound: 1,
  maxMigrationsPerHostInbound: 1,
});

const policy = new vmplacement.MigrationPolicy(
  "standard",
  {
    maxDowntimeMs: 300,
    downtimeLadderMs: [300, 500, 1000],
    allowPostCopy: true,
    allowOfflineFallback: false,
    completionTimeoutSecondsPerGiB: 60,
    bandwidthMiBps: config.getNumber("bandwidthMiBps") ?? 0,
  },
  { provider },
);

const vms = config.requireObject<Record<string, string>>("vms");
const pools = config.getObject<Record<string, string>>("pools") ?? {};

const placements = Object.entries(vms).map(
  ([vm, host]) =>
    new vmplacement.VmPlacement(
      vm,
      { domain: vm, host, storagePool: pools[vm] ?? "local", policy: policy.spec },
      { provider },
    ),
);

export const where = Object.fromEntries(
  placements.map((p, i) => [Object.keys(vms)[i], p.currentHost]),
);
export const lastMigrations = Object.fromEntries(
  placements.map((p, i) => [Object.keys(vms)[i], p.lastMigration]),
);
