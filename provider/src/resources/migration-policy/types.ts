// MigrationPolicy's inputs and spec: how a VM may move. Pure: validates and normalizes inputs into
// `spec`, which VmPlacements (and the provider's defaultPolicy) use. Nothing here touches a host.
import { z } from "zod";
import { DEFAULT_POLICY, type MigrationPolicy } from "../../engine";
import { zodFailures, type CheckFailure } from "../check-failures";
import { normalizeWebhook, webhookInputs, type WebhookSettings } from "../webhook";

const positiveInt = (what: string) =>
  z.number({ error: `${what} must be a number` }).int(`${what} must be a whole number`);

/** Inputs as users write them; every field optional, defaults from DEFAULT_POLICY. */
export const policyInputs = z
  .object({
    allowLive: z.boolean(),
    allowPostCopy: z.boolean(),
    allowOfflineFallback: z.boolean(),
    allowForcedShutdown: z.boolean(),
    allowFailover: z.boolean(),
    storageFencing: z.enum(["auto", "required", "off"], {
      error: "storageFencing must be one of auto, required, off",
    }),
    maxDowntimeMs: positiveInt("maxDowntimeMs")
      .min(1, "maxDowntimeMs must be at least 1 ms")
      .max(
        60_000,
        "maxDowntimeMs above 60000 ms is not a live migration; use the offline fallback instead",
      ),
    downtimeLadderMs: z
      .array(positiveInt("downtimeLadderMs entries").min(1).max(60_000))
      .max(10, "downtimeLadderMs takes at most 10 steps"),
    bandwidthMibps: positiveInt("bandwidthMibps").min(
      0,
      "bandwidthMibps must be 0 (unlimited) or more",
    ),
    postcopyBandwidthMibps: positiveInt("postcopyBandwidthMibps").min(
      0,
      "postcopyBandwidthMibps must be 0 (unlimited) or more",
    ),
    compression: z.enum(["none", "xbzrle", "mt"], {
      error: "compression must be one of none, xbzrle, mt",
    }),
    parallelConnections: positiveInt("parallelConnections")
      .min(1, "parallelConnections must be at least 1")
      .max(64, "parallelConnections must be at most 64"),
    tls: z.boolean(),
    autoConverge: z.boolean(),
    completionTimeoutSecondsPerGib: positiveInt("completionTimeoutSecondsPerGib").min(
      1,
      "completionTimeoutSecondsPerGib must be at least 1",
    ),
    progressTimeoutSeconds: positiveInt("progressTimeoutSeconds").min(
      1,
      "progressTimeoutSeconds must be at least 1",
    ),
    storageCopy: z.enum(["auto", "all", "incremental"], {
      error: "storageCopy must be one of auto, all, incremental",
    }),
    removeSourceVolumes: z.boolean(),
    shutdownTimeoutSeconds: positiveInt("shutdownTimeoutSeconds").min(
      1,
      "shutdownTimeoutSeconds must be at least 1",
    ),
    notify: webhookInputs,
  })
  .partial()
  .strict();

export type PolicyInputs = z.infer<typeof policyInputs>;

/** The normalized policy: what the engine follows, plus whom to tell about moves. */
export type PolicySpec = MigrationPolicy & { notify?: WebhookSettings };

/** The normalized policy: defaults filled in, and cross-field rules checked. */
export function normalizePolicy(
  inputs: PolicyInputs,
  base: PolicySpec = DEFAULT_POLICY,
): { spec?: PolicySpec; failures: CheckFailure[] } {
  const spec: PolicySpec = {
    ...base,
    ...inputs,
    notify: inputs.notify ? normalizeWebhook(inputs.notify) : base.notify,
  };
  if (!spec.notify) delete spec.notify;
  if (inputs.maxDowntimeMs !== undefined && inputs.downtimeLadderMs === undefined) {
    spec.downtimeLadderMs = base.downtimeLadderMs.filter((d) => d >= spec.maxDowntimeMs);
    if (!spec.downtimeLadderMs.includes(spec.maxDowntimeMs))
      spec.downtimeLadderMs.unshift(spec.maxDowntimeMs);
  }
  const failures: CheckFailure[] = [];
  if (!spec.allowLive && !spec.allowOfflineFallback) {
    failures.push({
      property: "allowLive",
      reason:
        "allowLive is false and allowOfflineFallback is false: no way to move a VM is left; allow one of them",
    });
  }
  if (spec.downtimeLadderMs.some((d, i, a) => i > 0 && d <= a[i - 1])) {
    failures.push({
      property: "downtimeLadderMs",
      reason: `downtimeLadderMs must increase step by step (got ${spec.downtimeLadderMs.join(", ")})`,
    });
  }
  if (spec.compression !== "none" && spec.parallelConnections > 1 && spec.compression === "mt") {
    failures.push({
      property: "compression",
      reason:
        "compression 'mt' cannot be combined with parallelConnections > 1 (QEMU refuses it); use xbzrle or one connection",
    });
  }
  return failures.length ? { failures } : { spec, failures };
}

export function checkPolicy(
  news: unknown,
  base?: PolicySpec,
): { inputs?: PolicyInputs; spec?: PolicySpec; failures: CheckFailure[] } {
  const parsed = policyInputs.safeParse(news ?? {});
  if (!parsed.success) return { failures: zodFailures(parsed.error) };
  const { spec, failures } = normalizePolicy(parsed.data, base);
  return { inputs: parsed.data, spec, failures };
}
