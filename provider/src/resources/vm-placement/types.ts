// VmPlacement's inputs and state, and the pure decisions on them: checking inputs, the diff,
// the policy a placement follows, and the engine's request it amounts to.
import { z } from "zod";
import type {
  MeasuredLink,
  MigrationRecord,
  ObservedDisk,
  PlacementRequest,
  PlanForecast,
} from "../../engine";
import { measuredLinkOf } from "../../engine";
import { checkInputs, type CheckFailure, type FieldGuide } from "../check-failures";
import { diffInputs, type InputDiff } from "../input-diff";
import { checkPolicy, type PolicySpec } from "../migration-policy/types";
import type { ProviderRuntime } from "../runtime";

export const placementInputs = z.strictObject({
  domain: z.string().min(1),
  host: z.string().min(1),
  storagePool: z.string().min(1).optional(),
  disks: z.record(z.string(), z.string().min(1)).optional(),
  policy: z.record(z.string(), z.unknown()).optional(),
});

/** Every placement input: what it is and how to give it, for the messages of a bad value. */
export const PLACEMENT_GUIDE: FieldGuide = {
  domain: { is: "the libvirt domain's name", example: "web-1" },
  host: { is: "the name of a host in the provider's hosts", example: "kvm1" },
  storagePool: {
    is: "the storage pool the VM's disks live in on the host; leave it out to keep them where they are",
    example: "local",
  },
  disks: {
    is: "per disk target, the storage pool that disk lives in",
    example: `{"vdb":"ceph"}`,
  },
  "disks.*": { is: "a storage pool's name", example: "ceph" },
  policy: {
    is: "the MigrationPolicy's spec output, or policy inputs written inline",
    example: `{"maxDowntimeMs":300}`,
  },
};

export type PlacementInputs = z.infer<typeof placementInputs>;

export type DiskState = ObservedDisk;

/** Something an earlier attempt left that the next update removes, and the host it is on. */
export interface PendingCleanup {
  host: string;
  item: string;
}

export interface PlacementOutputs extends PlacementInputs {
  currentHost: string;
  currentDisks: DiskState[];
  plannedMigration: PlannedMigrationOutput | null;
  lastMigration: MigrationRecord | null;
  migrationCount: number;
  /** Found by a refresh; an update removes it (and the state then drops this). */
  pendingCleanup?: PendingCleanup[];
  /**
   * The domain's definition (libvirt's migratable XML) as last seen running: what a failover
   * defines on the target when the VM's host is lost. Kept only when the policy allows failover,
   * and always a secret (it carries graphics passwords, SMBIOS credentials and the like).
   */
  definitionXml?: string;
  /** The domain's UUID as last seen: a failover defines only a definition of this domain. */
  domainUuid?: string;
}

export interface PlannedMigrationOutput {
  mode: string;
  from: string;
  to: string;
  bytesToMove: number;
  estimatedSeconds: number;
  estimatedDowntimeMs: number;
  verdict: PlanForecast["verdict"];
  memoryBytes: number;
  diskBytes: number;
  /** The forecast in full (none for a failover: nothing is sent). */
  forecast?: PlanForecast;
  escalation: string[];
  warnings: string[];
  summary: string;
}

/** The failure for a host name the inventory does not have, naming the ones it has. */
export function notInInventory(
  property: string,
  host: string,
  hostNames: string[],
): CheckFailure | undefined {
  if (hostNames.includes(host)) return undefined;
  return {
    property,
    reason: `host '${host}' is not in the provider's inventory (hosts: ${hostNames.join(", ")}); add it to the provider's hosts or use one of them`,
  };
}

export function checkPlacement(
  news: unknown,
  runtime: ProviderRuntime | undefined,
): { inputs?: PlacementInputs; failures: CheckFailure[] } {
  const parsed = checkInputs(placementInputs, news ?? {}, PLACEMENT_GUIDE);
  if (!parsed.data) return { failures: parsed.failures };
  const failures: CheckFailure[] = [];
  const inputs = parsed.data;
  const unknownHost = runtime && notInInventory("host", inputs.host, runtime.hostNames);
  if (unknownHost) failures.push(unknownHost);
  if (inputs.policy) {
    failures.push(...checkPolicy(inputs.policy, undefined, { at: "policy" }).failures);
  }
  return { inputs, failures };
}

/** The inputs a placement is made of; only a different domain replaces it. */
const PLACEMENT_INPUTS = ["domain", "host", "storagePool", "disks", "policy"];

/** What a placement reports beyond its inputs. */
export const PLACEMENT_COMPUTED_OUTPUTS = [
  "currentHost",
  "currentDisks",
  "plannedMigration",
  "lastMigration",
  "migrationCount",
];

/**
 * Whether a preview must wait for inputs a placement is planned from: never planned with an
 * unknown taken for null, so its outputs stay unknown too.
 */
export function placementAwaitsInputs(unknowns: Set<string>): boolean {
  return PLACEMENT_INPUTS.some((k) => unknowns.has(k));
}

/**
 * Diff of a placement's inputs. Drift (a move made outside Pulumi) reaches it through the old
 * inputs a refresh recorded, so ignoreChanges holds it as Pulumi users expect.
 */
export function diffPlacement(
  oldInputs: Record<string, unknown>,
  oldOutputs: Record<string, unknown>,
  news: Record<string, unknown>,
  unknowns: Set<string>,
): InputDiff {
  const diff = diffInputs(oldInputs, news, {
    keys: PLACEMENT_INPUTS,
    unknowns,
    replaceOn: ["domain"],
  });
  // The state itself says the VM is elsewhere (a failed move kept its new inputs): move it.
  const current = oldOutputs.currentHost;
  if (!diff.changes.has("host") && typeof current === "string" && current !== news.host)
    diff.changes.set("host", "update");
  // A refresh found what an earlier attempt left: the update removes it.
  if (Array.isArray(oldOutputs.pendingCleanup) && oldOutputs.pendingCleanup.length) {
    diff.changes.set("pendingCleanup", "update");
    diff.fromState.push("pendingCleanup");
  }
  return diff;
}

export function policyFor(inputs: PlacementInputs, runtime: ProviderRuntime): PolicySpec {
  return inputs.policy
    ? (checkPolicy(inputs.policy, runtime.defaultPolicy).spec ?? runtime.defaultPolicy)
    : runtime.defaultPolicy;
}

/** Whether the placement keeps the domain's definition: only for a failover its policy allows. */
export function keepsDefinition(
  runtime: ProviderRuntime,
  inputs: Partial<PlacementInputs>,
): boolean {
  return policyFor(inputs as PlacementInputs, runtime).allowFailover;
}

/** The engine's request for a placement, given what the state last recorded of it. */
export function placementRequest(
  inputs: PlacementInputs,
  previous?: Partial<PlacementOutputs>,
): PlacementRequest {
  return {
    domain: inputs.domain,
    host: inputs.host,
    storagePool: inputs.storagePool,
    diskPools: inputs.disks,
    // Where the state last saw it (a move that finished after this process was killed may have
    // left its old copy there), and the last move's source (whose old copies a verified move
    // could not remove when that host stopped answering).
    alsoLookOn: [
      previous?.currentHost,
      previous?.host,
      previous?.lastMigration?.from,
      ...(previous?.pendingCleanup ?? []).map((c) => c.host),
    ].filter((h): h is string => !!h),
    // A failover starts the domain elsewhere from what the state last saw, should that host be lost.
    ...(previous?.currentHost
      ? {
          lastSeen: {
            host: previous.currentHost,
            definitionXml: previous.definitionXml,
            domainUuid: previous.domainUuid,
          },
        }
      : {}),
  };
}

/** Link rates earlier moves reached, from the placement's last record and this run's moves. */
export function measuredLinks(
  runtime: ProviderRuntime,
  previous?: Partial<PlacementOutputs>,
): MeasuredLink[] {
  const fromState = previous?.lastMigration && measuredLinkOf(previous.lastMigration);
  return [...(fromState ? [fromState] : []), ...runtime.measuredLinks];
}
