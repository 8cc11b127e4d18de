// MigrationPolicy's inputs and spec: how a VM may move. Pure: validates and normalizes inputs into
// `spec`, which VmPlacements (and the provider's defaultPolicy) use. Nothing here touches a host.
import { z } from "zod";
import { DEFAULT_POLICY, type MigrationPolicy } from "../../engine";
import {
  checkInputs,
  type CheckFailure,
  type CheckOptions,
  type FieldGuide,
} from "../check-failures";
import { normalizeWebhook, WEBHOOK_GUIDE, webhookInputs, type WebhookSettings } from "../webhook";

const wholeNumber = () => z.number().int();

/** Inputs as users write them; every field optional, defaults from DEFAULT_POLICY. */
export const policyInputs = z
  .strictObject({
    allowLive: z.boolean(),
    allowPostCopy: z.boolean(),
    allowOfflineFallback: z.boolean(),
    allowForcedShutdown: z.boolean(),
    allowFailover: z.boolean(),
    storageFencing: z.enum(["auto", "required", "off"]),
    maxDowntimeMs: wholeNumber().min(1).max(60_000),
    downtimeLadderMs: z.array(wholeNumber().min(1).max(60_000)).max(10),
    bandwidthMibps: wholeNumber().min(0),
    postcopyBandwidthMibps: wholeNumber().min(0),
    compression: z.enum(["none", "xbzrle", "mt"]),
    parallelConnections: wholeNumber().min(1).max(64),
    tls: z.boolean(),
    autoConverge: z.boolean(),
    completionTimeoutSecondsPerGib: wholeNumber().min(1),
    progressTimeoutSeconds: wholeNumber().min(1),
    storageCopy: z.enum(["auto", "all", "incremental"]),
    removeSourceVolumes: z.boolean(),
    shutdownTimeoutSeconds: wholeNumber().min(1),
    notify: webhookInputs,
  })
  .partial();

/** Every policy input: what it is and how to give it, for the messages of a bad value. */
export const POLICY_GUIDE: FieldGuide = {
  allowLive: { is: "true to move running VMs live, false to never do so", example: "true" },
  allowPostCopy: {
    is: "true to let a move that does not converge switch to post-copy",
    example: "true",
  },
  allowOfflineFallback: {
    is: "true to let a VM that cannot move live be shut down, copied and started",
    example: "false",
  },
  allowForcedShutdown: {
    is: "true to let an offline move force off a guest that ignores the shutdown request",
    example: "false",
  },
  allowFailover: {
    is: "true to restart a VM whose host is lost elsewhere, after fencing the host",
    example: "false",
  },
  storageFencing: {
    is: "how a failover fences Ceph storage: auto, required or off",
    example: "auto",
  },
  maxDowntimeMs: {
    is: "the longest pause a live move may cause, whole milliseconds from 1 to 60000",
    example: "300",
    advice: {
      too_big: "a pause above 60000 ms is not a live migration; allow the offline fallback instead",
    },
  },
  downtimeLadderMs: {
    is: "the downtimes a move that does not converge steps through, increasing, at most 10 steps",
    example: "[300, 1000, 3000]",
  },
  "downtimeLadderMs[]": {
    is: "a downtime step, whole milliseconds from 1 to 60000",
    example: "1000",
  },
  bandwidthMibps: { is: "the cap of a move's stream in MiB/s, 0 for none", example: "0" },
  postcopyBandwidthMibps: {
    is: "the cap of the post-copy phase in MiB/s, 0 for none",
    example: "0",
  },
  compression: { is: "the stream's compression: none, xbzrle or mt", example: "none" },
  parallelConnections: {
    is: "how many connections a move's memory stream uses, from 1 to 64",
    example: "1",
  },
  tls: { is: "true to encrypt the migration streams with TLS", example: "false" },
  autoConverge: {
    is: "true to let QEMU slow the guest's CPUs down so a move converges",
    example: "false",
  },
  completionTimeoutSecondsPerGib: {
    is: "seconds a move may take per GiB it moves before the next escalation, at least 1",
    example: "60",
  },
  progressTimeoutSeconds: {
    is: "seconds without progress after which a move is aborted, at least 1",
    example: "30",
  },
  storageCopy: {
    is: "which disk data a move copies: auto, all or incremental",
    example: "auto",
  },
  removeSourceVolumes: {
    is: "true to remove a copied disk's old volume once the move is verified",
    example: "true",
  },
  shutdownTimeoutSeconds: {
    is: "how long an offline move waits for the guest to shut down, seconds of at least 1",
    example: "120",
  },
  notify: {
    is: "a webhook told of moves, an object with url (and headers, events)",
    example: `{"url":"https://hooks.example.com/migrations"}`,
  },
  ...WEBHOOK_GUIDE,
};

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

/** `options.at`: where the policy sits in other inputs (a placement's "policy"), for paths. */
export function checkPolicy(
  news: unknown,
  base?: PolicySpec,
  options: CheckOptions = {},
): { inputs?: PolicyInputs; spec?: PolicySpec; failures: CheckFailure[] } {
  const parsed = checkInputs(policyInputs, news ?? {}, POLICY_GUIDE, options);
  if (!parsed.data) return { failures: parsed.failures };
  const { spec, failures } = normalizePolicy(parsed.data, base);
  const under = options.at ? `${options.at}.` : "";
  return {
    inputs: parsed.data,
    spec,
    failures: failures.map((f) => ({ ...f, property: under + f.property })),
  };
}
