// Evacuates hosts by changing placements. Stack config `vms` maps each VM to its home host;
// listing hosts in `evacuate` (e.g. for maintenance) moves their VMs live to the least-loaded
// remaining hosts in one `pulumi up`, several at a time within the per-host limits. Removing a
// host from `evacuate` and running `pulumi up` again brings its VMs home.
import * as pulumi from "@pulumi/pulumi";
import * as vmplacement from "@vmplacement/vmplacement";
import { spread } from "./spread";

const config = new pulumi.Config();
// The inventory is the provider's configuration (`vmplacement:hosts`), and so are the limits on
// moves at a time per host (`vmplacement:maxMigrationsPerHostOutbound` and `...Inbound`).
const inventory = new pulumi.Config("vmplacement").requireObject<{ name: string }[]>("hosts");

const policy = new vmplacement.MigrationPolicy("evacuation", {
  maxDowntimeMs: 300,
  downtimeLadderMs: [300, 1000],
  allowPostCopy: true,
});

const placements = spread(
  config.requireObject<Record<string, string>>("vms"),
  inventory.map((h) => h.name),
  config.getObject<string[]>("evacuate") ?? [],
);

const vms = Object.entries(placements).map(
  ([vm, host]) =>
    new vmplacement.VmPlacement(vm, {
      domain: vm,
      host,
      storagePool: "local",
      policy: policy.spec,
    }),
);

export const where = Object.fromEntries(
  vms.map((p, i) => [Object.keys(placements)[i], p.currentHost]),
);
export const lastMigrations = Object.fromEntries(
  vms.map((p, i) => [Object.keys(placements)[i], p.lastMigration]),
);
