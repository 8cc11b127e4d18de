// E2E test program: one VmPlacement, driven by stack config. Registers the resource by token,
// so the test exercises the provider without depending on the generated SDK.
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();

class VmPlacement extends pulumi.CustomResource {
  declare readonly currentHost: pulumi.Output<string>;
  declare readonly lastMigration: pulumi.Output<Record<string, unknown> | undefined>;
  declare readonly migrationCount: pulumi.Output<number>;
  constructor(
    name: string,
    args: Record<string, pulumi.Input<unknown>>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      "vmplacement:index:VmPlacement",
      name,
      {
        ...args,
        currentHost: undefined,
        currentDisks: undefined,
        plannedMigration: undefined,
        lastMigration: undefined,
        migrationCount: undefined,
      },
      opts,
    );
  }
}

const vm = new VmPlacement("vm", {
  domain: config.require("domain"),
  host: config.require("host"),
  ...(config.get("pool") ? { storagePool: config.get("pool")! } : {}),
  ...(config.getObject("policy")
    ? { policy: config.getObject<Record<string, unknown>>("policy")! }
    : {}),
});

export const currentHost = vm.currentHost;
export const lastMigration = vm.lastMigration;
export const migrationCount = vm.migrationCount;
