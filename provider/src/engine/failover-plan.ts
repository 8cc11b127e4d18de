// Failover planning (pure): a VM whose host is lost (libvirt and ssh both silent) and that the
// placement wants elsewhere is started on the target from its last known definition, after the
// lost host is fenced. Each reason it cannot happen is a blocker naming what to do; nothing here
// talks to a host.
import type { FenceDevice } from "../fencing/agent";
import type { CephStorageFence } from "../fencing/ceph-blocklist";
import { parseDomainXml, type ParsedDomain } from "./domain-xml";
import { blockedPlan, type PlacementRequest } from "./planner";
import type { Reachability } from "./reachability";
import type { HostFacts, MigrationPlan, MigrationPolicy } from "./types";

export interface FailoverFacts {
  /** The lost host the VM was last seen on, and what its probes got. */
  source: string;
  reach: Reachability;
  fenceDevice?: FenceDevice;
  /** The lost host's storage fence (its Ceph clients' blocklist), when it has one. */
  storageFence?: CephStorageFence;
  /** The target's facts: which of its pools are on shared storage. */
  target?: HostFacts;
}

const BLOCKER = "FAILOVER_REFUSED";

/** The disks of a definition that are not on storage the target reaches as shared. */
function unsharedDisks(defined: ParsedDomain, target: HostFacts | undefined): string[] {
  const sharedDirs = Object.values(target?.pools ?? {})
    .filter((p) => p.sharedStorageKey !== undefined && p.path)
    .map((p) => p.path!.replace(/\/?$/, "/"));
  return defined.disks
    .filter((d) => d.device === "disk" || d.device === "lun")
    .filter((d) => !d.network && !(d.path && sharedDirs.some((dir) => d.path!.startsWith(dir))))
    .map((d) => `${d.target} (${d.path ?? d.sourceType})`);
}

const onRbd = (defined: ParsedDomain) => defined.disks.some((d) => d.network?.protocol === "rbd");

/** Why the failover cannot happen, or undefined when it can. */
function refusal(
  req: PlacementRequest,
  facts: FailoverFacts,
  policy: MigrationPolicy,
  defined: ParsedDomain | undefined,
): string | undefined {
  const { source, reach } = facts;
  const { domain, host: target } = req;
  const lastSeen = req.lastSeen ?? { host: source };
  if (!reach.lost)
    return `${source} is not lost (${reach.reason}): bring its libvirtd back and move the VM live`;
  const lost = `${source} unreachable (${reach.reason})`;
  if (!policy.allowFailover)
    return `${lost}, and its policy does not allow failover; set allowFailover in the MigrationPolicy, or bring ${source} back`;
  if (!facts.fenceDevice)
    return `${lost}, and it has no fence device; give its inventory entry a fence agent (hosts[].fence)`;
  if (!defined)
    return `${lost}, and the state holds no definition of ${domain} to start elsewhere: it is kept only while the placement's policy allows failover, so allow it before a host is lost (the next update or refresh keeps it once ${source} answers)`;
  // Only this placement's own domain is ever defined elsewhere: a state edited by hand, or one
  // holding another VM's definition, stops here.
  const uuid = lastSeen.domainUuid;
  if (defined.name !== domain || (!!uuid && defined.uuid !== uuid))
    return `${lost}, but the definition the state holds is of '${defined.name}' (UUID ${defined.uuid}), not of ${domain}${uuid ? ` (UUID ${uuid})` : ""}: nothing is started. Refresh the placement once ${source} answers`;
  const unshared = unsharedDisks(defined, facts.target);
  if (unshared.length)
    return `${lost}; ${domain} is lost with its disks ${unshared.join(", ")}, which are not on storage ${target} reaches as shared: it is not started elsewhere; bring ${source} back`;
  if (policy.storageFencing === "required" && onRbd(defined) && !facts.storageFence)
    return `${lost}; its policy requires storage fencing for VMs on Ceph RBD, and ${source} has none: give its inventory entry a storageFence (hosts[].storageFence, with the cluster in cephClusters), or set storageFencing to auto`;
  return undefined;
}

/** The failover of `req`'s domain from the lost `facts.source`, or the plan of why not. */
export function chooseFailover(
  req: PlacementRequest,
  facts: FailoverFacts,
  policy: MigrationPolicy,
): MigrationPlan {
  const { source, reach } = facts;
  const base = { ...blockedPlan(req, source, []), mode: "failover" as const };
  const definitionXml = req.lastSeen?.definitionXml;
  const defined = definitionXml ? parseDomainXml(definitionXml) : undefined;
  const why = refusal(req, facts, policy, defined);
  if (why)
    return {
      ...base,
      blockers: [
        {
          code: BLOCKER,
          message: `${req.domain} cannot fail over from ${source}: ${why}; the placement is kept as it was`,
        },
      ],
    };
  // The target must reach the VM's Ceph storage with its own secret before anything is fenced.
  const storage = facts.target?.storageBlockers ?? [];
  if (storage.length) return { ...base, blockers: storage };
  const device = facts.fenceDevice!;
  // The lost host's storage fence, when the VM is on RBD.
  const storageFence =
    policy.storageFencing !== "off" && onRbd(defined!) ? facts.storageFence : undefined;
  const blocklist = storageFence
    ? `, blocklist its Ceph clients (${storageFence.clientAddresses.join(", ")}) on ${storageFence.cluster}`
    : "";
  return {
    ...base,
    failover: {
      device,
      ...(storageFence ? { storageFence } : {}),
      definitionXml: definitionXml!,
      lostSince: reach.since,
      summary: `${source} unreachable (${reach.reason}): will fence ${source} with ${device.agent.split("/").pop()}${blocklist}, then start ${req.domain} on ${req.host} from shared storage`,
    },
  };
}
