// A fleet placed by rules. Stack config `vms` lists the VMs (each stays where it runs while its
// host is open and its rules hold) and optional `groups` puts VMs in anti-affinity groups (VM ->
// group: no two of one group on one host). Listing hosts in `cordon` (maintenance) drains them:
// preview lists every move and every VM that cannot leave, and `pulumi up` moves them live
// within the provider's per-host limits (`vmplacement:maxMigrationsPerHostOutbound`/`Inbound`).
// Uncordoning moves nothing back; `rebalance: true` evens out the load, `maxMoves` at a time.
import * as pulumi from "@pulumi/pulumi";
import * as vmplacement from "@vmplacement/vmplacement";

const config = new pulumi.Config();
const vms = config.requireObject<string[]>("vms");
const groups = config.getObject<Record<string, string>>("groups") ?? {};

const fleet = new vmplacement.PlacementGroup("fleet", {
  vms: vms.map((domain) => ({
    domain,
    ...(groups[domain] ? { antiAffinity: groups[domain] } : {}),
  })),
  cordon: config.getObject<string[]>("cordon") ?? [],
  strategy: "spread",
  rebalance: config.getBoolean("rebalance") ?? false,
  maxMoves: config.getNumber("maxMoves") ?? 10,
});

const policy = new vmplacement.MigrationPolicy("evacuation", {
  maxDowntimeMs: 300,
  downtimeLadderMs: [300, 1000],
  allowPostCopy: true,
});

const placements = vms.map(
  (domain) =>
    new vmplacement.VmPlacement(domain, {
      domain,
      host: fleet.assignments.apply((a) => a[domain]),
      storagePool: "local",
      policy: policy.spec,
    }),
);

export const where = Object.fromEntries(placements.map((p, i) => [vms[i], p.currentHost]));
export const lastMigrations = Object.fromEntries(
  placements.map((p, i) => [vms[i], p.lastMigration]),
);
/** VMs the rules cannot place (e.g. cannot leave a cordoned host), with the reason. */
export const unplaceable = fleet.unplaceable;
