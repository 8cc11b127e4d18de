// E2E test program: one VmPlacement, driven by stack config. Registers resources by token, so
// the test exercises the provider without depending on the generated SDK. `policy` goes into the
// placement as written (to test its checks); `policyResource` makes a MigrationPolicy and passes
// its spec; `updateTimeout` sets the placement's customTimeouts; `ignoreChanges` (a list) its
// ignoreChanges; `hostFromResource` takes the host from a resource created in the same update,
// whose outputs preview does not know yet.
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

class MigrationPolicy extends pulumi.CustomResource {
  declare readonly spec: pulumi.Output<Record<string, unknown>>;
  constructor(name: string, args: Record<string, pulumi.Input<unknown>>) {
    super("vmplacement:index:MigrationPolicy", name, { ...args, spec: undefined });
  }
}

// `webhookUrl` (with the secret `webhookToken` as its Authorization header) adds a webhook.
const webhookUrl = config.get("webhookUrl");
const notify = webhookUrl
  ? { url: webhookUrl, headers: { authorization: config.requireSecret("webhookToken") } }
  : undefined;
const policyArgs = config.getObject<Record<string, unknown>>("policyResource");
const policy = policyArgs
  ? new MigrationPolicy("policy", { ...policyArgs, ...(notify ? { notify } : {}) }).spec
  : undefined;
const updateTimeout = config.get("updateTimeout");
const ignoreChanges = config.getObject<string[]>("ignoreChanges");

/** Chooses a host once it is created: a dynamic resource, so preview leaves its output unknown. */
const hostChoiceProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: { wanted: string }) {
    return { id: inputs.wanted, outs: { wanted: inputs.wanted, chosen: inputs.wanted } };
  },
};
class HostChoice extends pulumi.dynamic.Resource {
  declare readonly chosen: pulumi.Output<string>;
  constructor(name: string, wanted: string) {
    super(hostChoiceProvider, name, { wanted, chosen: undefined });
  }
}
const host = config.getBoolean("hostFromResource")
  ? new HostChoice("host-choice", config.require("host")).chosen
  : config.require("host");

const vm = new VmPlacement(
  "vm",
  {
    domain: config.require("domain"),
    host,
    ...(config.get("pool") ? { storagePool: config.get("pool")! } : {}),
    ...(config.getObject("policy")
      ? { policy: config.getObject<Record<string, unknown>>("policy")! }
      : {}),
    ...(policy ? { policy } : {}),
  },
  {
    ...(updateTimeout ? { customTimeouts: { update: updateTimeout } } : {}),
    ...(ignoreChanges ? { ignoreChanges } : {}),
  },
);

export const currentHost = vm.currentHost;
export const lastMigration = vm.lastMigration;
export const migrationCount = vm.migrationCount;
