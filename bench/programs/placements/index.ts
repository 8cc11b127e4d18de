// Benchmark program: one VmPlacement per entry of config `vms` (VM name -> host), disks in
// `pool` when set, moved under a MigrationPolicy of config `policy` when set; or, with config
// `trivial` = N, N MigrationPolicy resources and nothing else (Pulumi's own cost per resource:
// the provider touches no host for them; `trivialVariant` changes every third). The default
// provider takes its hosts and limits from the stack's vmplacement:* config. Resources are registered by token, so the program can be copied into a
// throwaway workspace without the generated SDK next to it.
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();

class VmPlacement extends pulumi.CustomResource {
  declare readonly currentHost: pulumi.Output<string>;
  declare readonly lastMigration: pulumi.Output<Record<string, unknown> | undefined>;
  constructor(name: string, args: Record<string, pulumi.Input<unknown>>) {
    super("vmplacement:index:VmPlacement", name, {
      ...args,
      currentHost: undefined,
      currentDisks: undefined,
      plannedMigration: undefined,
      lastMigration: undefined,
      migrationCount: undefined,
    });
  }
}

class MigrationPolicy extends pulumi.CustomResource {
  declare readonly spec: pulumi.Output<Record<string, unknown>>;
  constructor(name: string, args: Record<string, unknown>) {
    super("vmplacement:index:MigrationPolicy", name, { ...args, spec: undefined });
  }
}

const trivial = config.getNumber("trivial") ?? 0;
const variant = config.getNumber("trivialVariant") ?? 0;
for (let i = 0; i < trivial; i++)
  new MigrationPolicy(`trivial-${i}`, { maxDowntimeMs: 300 + (i % 3 === 0 ? variant : 0) });

const vms = trivial ? {} : config.requireObject<Record<string, string>>("vms");
const pool = config.get("pool");
const policyInputs = config.getObject<Record<string, unknown>>("policy");
const policy = policyInputs ? new MigrationPolicy("policy", policyInputs).spec : undefined;

const placements = Object.entries(vms).map(
  ([vm, host]) =>
    [
      vm,
      new VmPlacement(vm, {
        domain: vm,
        host,
        ...(pool ? { storagePool: pool } : {}),
        ...(policy ? { policy } : {}),
      }),
    ] as const,
);

export const where = Object.fromEntries(placements.map(([vm, p]) => [vm, p.currentHost]));
export const lastMigrations = Object.fromEntries(
  placements.map(([vm, p]) => [vm, p.lastMigration]),
);
