// Places VMs under one migration policy. The placements come from stack config (`vms`: VM name ->
// host, optionally `pools`: VM name -> storage pool); changing one and running `pulumi up`
// migrates that VM live. The hosts are the provider's configuration (`vmplacement:hosts` and the
// ssh settings), so the program names no address.
import * as pulumi from "@pulumi/pulumi";
import * as vmplacement from "@vmplacement/vmplacement";

const config = new pulumi.Config();

const policy = new vmplacement.MigrationPolicy("standard", {
  maxDowntimeMs: 300,
  downtimeLadderMs: [300, 500, 1000],
  allowPostCopy: true,
  allowOfflineFallback: false,
  completionTimeoutSecondsPerGib: 60,
  bandwidthMibps: config.getNumber("bandwidthMibps") ?? 0,
});

const vms = config.requireObject<Record<string, string>>("vms");
const pools = config.getObject<Record<string, string>>("pools") ?? {};

const placements = Object.entries(vms).map(
  ([vm, host]) =>
    new vmplacement.VmPlacement(vm, {
      domain: vm,
      host,
      storagePool: pools[vm] ?? "local",
      policy: policy.spec,
    }),
);

export const where = Object.fromEntries(
  placements.map((p, i) => [Object.keys(vms)[i], p.currentHost]),
);
export const lastMigrations = Object.fromEntries(
  placements.map((p, i) => [Object.keys(vms)[i], p.lastMigration]),
);
