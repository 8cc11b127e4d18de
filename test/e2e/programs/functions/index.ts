// E2E test program: the provider's functions through the generated TypeScript SDK. `domain` is
// looked up and planned onto `target`; `badHost` plans onto a host outside the inventory and
// `badFunction` invokes a function the provider does not have, each to see the error.
import * as pulumi from "@pulumi/pulumi";
import * as vmplacement from "../../../../sdk/nodejs";

const config = new pulumi.Config();
const domain = config.require("domain");

const { hosts } = vmplacement.getHostsOutput({});
export const hostNames = hosts.apply((hs) => hs.map((h) => h.name));
export const reachable = hosts.apply((hs) => hs.filter((h) => h.reachable).map((h) => h.name));
export const running = hosts.apply((hs) =>
  Object.fromEntries(hs.map((h) => [h.name, h.runningDomains])),
);
export const pools = hosts.apply((hs) =>
  Object.fromEntries(
    hs.map((h) => [
      h.name,
      h.pools.map((p) => ({ name: p.name, shared: p.shared, free: p.freeBytes })),
    ]),
  ),
);
export const freeMemoryBytes = hosts.apply((hs) =>
  Object.fromEntries(hs.map((h) => [h.name, h.freeMemoryBytes])),
);

export const placement = vmplacement.getPlacementOutput({ domain });

const plan = vmplacement.planPlacementOutput({
  domain,
  host: config.get("badHost") ?? config.require("target"),
});
export const planMoves = plan.moves;
export const planSummary = plan.summary;
export const planMode = plan.apply((p) => p.plannedMigration?.mode ?? null);
export const planVerdict = plan.apply((p) => p.plannedMigration?.verdict ?? null);

if (config.getBoolean("badFunction"))
  pulumi.runtime.invoke("vmplacement:index:getNothing", {}).then(() => undefined);
