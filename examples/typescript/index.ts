// Places three lab VMs under one migration policy. The placements come from stack config
// (`vms`: VM name -> host, optionally `pools`: VM name -> storage pool); changing one and running
// `pulumi up` migrates that VM live. Hosts are read from the lab description, never hard-coded.
import * as pulumi from "@pulumi/pulumi";
import * as vmplacement from "../../sdk/nodejs";
import { labProvider, readLab } from "../lab-provider";

const config = new pulumi.Config();
// One migration out of and into each host at a time.
const provider = labProvider("lab", readLab(), { outbound: 1, inbound: 1 });

const policy = new vmplacement.MigrationPolicy(
  "standard",
  {
    maxDowntimeMs: 300,
    downtimeLadderMs: [300, 500, 1000],
    allowPostCopy: true,
    allowOfflineFallback: false,
    completionTimeoutSecondsPerGib: 60,
    bandwidthMibps: config.getNumber("bandwidthMibps") ?? 0,
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
