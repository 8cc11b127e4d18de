// E2E test program: config `vms` (the group's VM rules) and `cordon` make a PlacementGroup, and
// each VM gets a VmPlacement whose host is the group's assignment (in pool `pools[vm]`, default
// local), under a policy that allows failover when config `allowFailover` says so.
import * as pulumi from "@pulumi/pulumi";
import * as vmplacement from "../../../../sdk/nodejs";

const config = new pulumi.Config();
const vms = config.requireObject<vmplacement.types.input.PlacementGroupVmArgs[]>("vms");
const pools = config.getObject<Record<string, string>>("pools") ?? {};

const group = new vmplacement.PlacementGroup("fleet", {
  vms,
  cordon: config.getObject<string[]>("cordon") ?? [],
  strategy: "spread",
});
const policy = new vmplacement.MigrationPolicy("drain", {
  maxDowntimeMs: 300,
  allowPostCopy: true,
  allowFailover: config.getBoolean("allowFailover") ?? false,
});

const placements = vms.map(
  (v) =>
    new vmplacement.VmPlacement(String(v.domain), {
      domain: v.domain,
      host: group.assignments.apply((a) => a[String(v.domain)]),
      storagePool: pools[String(v.domain)] ?? "local",
      policy: policy.spec,
    }),
);

export const assignments = group.assignments;
export const unplaceable = group.unplaceable;
export const moves = group.moves;
export const where = Object.fromEntries(
  placements.map((p, i) => [String(vms[i].domain), p.currentHost]),
);
export const migrations = Object.fromEntries(
  placements.map((p, i) => [String(vms[i].domain), p.migrationCount]),
);
export const records = Object.fromEntries(
  placements.map((p, i) => [String(vms[i].domain), p.lastMigration]),
);
