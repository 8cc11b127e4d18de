// Failover: a placement whose VM sits on a host that is lost (libvirt and ssh both fail) and that
// the program (or a PlacementGroup cordon) assigns elsewhere. With the policy's allowFailover,
// the lost host is fenced through its fence agent, and only once the agent confirms it is off is
// the VM defined on the target from its last known definition and started there, from shared
// storage. Nothing starts without a confirmed fence, and a VM with disks on the lost host is
// reported lost with them, never started elsewhere: it can never run twice, nor on a copy of its
// data.
import { gatherHostFacts } from "../engine/gather";
import { undefineKeepingNvram } from "../engine/where";
import { parseDomainXml } from "../engine/domain-xml";
import type { MigrationRecord } from "../engine";
import { describeCalls, fenceOff } from "../fencing/fence";
import { probeHost, type Reachability } from "../fencing/reachability";
import type { FenceDevice } from "../fencing/agent";
import type { ProviderRuntime } from "./runtime";
import type { PolicySpec } from "./migration-policy";
import { PlacementBlockedError } from "./errors";
import type { PlacementInputs, PlacementOutputs, PlannedMigrationOutput } from "./vm-placement";

export interface FailoverPlan {
  domain: string;
  source: string;
  target: string;
  device: FenceDevice;
  definitionXml: string;
  /** When the source was first found not to answer (ms since the epoch). */
  lostSince: number;
  summary: string;
}

const refuse = (domain: string, source: string, why: string) =>
  new PlacementBlockedError(
    `${domain} cannot fail over from ${source}: ${why}; the placement is kept as it was`,
  );

/** The disks of a definition that are not on storage the target reaches as shared. */
async function unsharedDisks(
  runtime: ProviderRuntime,
  xml: string,
  target: string,
): Promise<string[]> {
  const facts = await gatherHostFacts(runtime.pool, target);
  const sharedDirs = Object.values(facts?.pools ?? {})
    .filter((p) => p.sharedStorageKey !== undefined && p.path)
    .map((p) => p.path!.replace(/\/?$/, "/"));
  return parseDomainXml(xml)
    .disks.filter((d) => d.device === "disk" || d.device === "lun")
    .filter((d) => !d.network && !(d.path && sharedDirs.some((dir) => d.path!.startsWith(dir))))
    .map((d) => `${d.target} (${d.path ?? d.sourceType})`);
}

/**
 * The failover of a placement whose VM was last seen on a host that does not answer now, or
 * why it cannot happen (PlacementBlockedError, at preview as at `up`).
 */
export async function planFailover(
  runtime: ProviderRuntime,
  inputs: PlacementInputs,
  previous: Partial<PlacementOutputs>,
  policy: PolicySpec,
  probed?: Reachability,
): Promise<FailoverPlan> {
  const source = previous.currentHost!;
  const domain = inputs.domain;
  const reach = probed ?? (await probeHost(runtime.pool, source));
  const lostSince = reach.since;
  if (!reach.lost)
    throw refuse(
      domain,
      source,
      `${source} is not lost (${reach.reason}): bring its libvirtd back and move the VM live`,
    );
  const lost = `${source} unreachable (${reach.reason})`;
  if (!policy.allowFailover)
    throw refuse(
      domain,
      source,
      `${lost}, and its policy does not allow failover; set allowFailover in the MigrationPolicy, or bring ${source} back`,
    );
  const device = runtime.fenceDevice(source);
  if (!device)
    throw refuse(
      domain,
      source,
      `${lost}, and it has no fence device; give its inventory entry a fence agent (hosts[].fence)`,
    );
  if (!previous.definitionXml)
    throw refuse(
      domain,
      source,
      `${lost}, and the state holds no definition of ${domain} to start elsewhere: it is kept only while the placement's policy allows failover, so allow it before a host is lost (the next update or refresh keeps it once ${source} answers)`,
    );
  // Only this placement's own domain is ever defined elsewhere: a state edited by hand, or one
  // holding another VM's definition, stops here.
  const defined = parseDomainXml(previous.definitionXml);
  const uuidDiffers = !!previous.domainUuid && defined.uuid !== previous.domainUuid;
  if (defined.name !== domain || uuidDiffers)
    throw refuse(
      domain,
      source,
      `${lost}, but the definition the state holds is of '${defined.name}' (UUID ${defined.uuid}), not of ${domain}${previous.domainUuid ? ` (UUID ${previous.domainUuid})` : ""}: nothing is started. Refresh the placement once ${source} answers`,
    );
  const unshared = await unsharedDisks(runtime, previous.definitionXml, inputs.host);
  if (unshared.length)
    throw refuse(
      domain,
      source,
      `${lost}; ${domain} is lost with its disks ${unshared.join(", ")}, which are not on storage ${inputs.host} reaches as shared: it is not started elsewhere; bring ${source} back`,
    );
  return {
    domain,
    source,
    target: inputs.host,
    device,
    definitionXml: previous.definitionXml,
    lostSince,
    summary: `${lost}: will fence ${source} with ${device.agent.split("/").pop()}, then start ${domain} on ${inputs.host} from shared storage`,
  };
}

export function describeFailover(plan: FailoverPlan): PlannedMigrationOutput {
  return {
    mode: "failover",
    from: plan.source,
    to: plan.target,
    bytesToMove: 0,
    estimatedSeconds: 0,
    estimatedDowntimeMs: 0,
    verdict: "not-live",
    memoryBytes: 0,
    diskBytes: 0,
    escalation: [],
    warnings: [],
    summary: plan.summary,
  };
}

/** Fences the source, then defines and starts the VM on the target; the record says how it went. */
export async function carryOutFailover(
  runtime: ProviderRuntime,
  plan: FailoverPlan,
  signal?: AbortSignal,
): Promise<MigrationRecord> {
  const started = new Date();
  const steps: string[] = [];
  const step = (s: string) => steps.push(`${new Date().toISOString()} ${s}`);
  step(`${plan.summary}`);
  const fenced = await fenceOff(plan.source, plan.device, { signal });
  const fence = `${plan.device.agent.split("/").pop()} ${describeCalls(fenced.calls)}`;
  if (!fenced.confirmed)
    throw new PlacementBlockedError(
      `${plan.domain} not started on ${plan.target}: the fence of ${plan.source} is not confirmed (${fenced.reason}); nothing was started, the placement is kept as it was`,
    );
  step(`fenced ${plan.source}: ${fence}`);
  const conn = await runtime.pool.get(plan.target);
  const dom = await conn.domains.define(plan.definitionXml);
  // Never started by a host's boot: where it runs is the placement's to say.
  await conn.domains.setAutostart(dom, false);
  step(`defined ${plan.domain} on ${plan.target} from its last known definition, autostart off`);
  await conn.domains.start(dom);
  const { state } = await conn.domains.state(dom);
  if (state !== "running")
    throw new Error(
      `${plan.domain} was started on ${plan.target} but is ${state} there; check the host`,
    );
  const running = Date.now();
  step(`started ${plan.domain} on ${plan.target}; it runs`);
  return {
    domain: plan.domain,
    from: plan.source,
    to: plan.target,
    finalHost: plan.target,
    mode: "failover",
    steps,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: Date.now() - started.getTime(),
    downtimeMs: running - plan.lostSince,
    postCopy: false,
    fallbackUsed: false,
    result: "succeeded",
    fence,
  };
}

/**
 * After a failover, the lost host may come back still defining the VM (never running it: it was
 * powered off, and autostart is off). That stale definition is undefined there, its NVRAM kept
 * (it is the host's file, not the VM's running state). Returns what was removed, if anything.
 */
export async function removeStaleDefinition(
  runtime: ProviderRuntime,
  domain: string,
  lostHost: string,
  runningOn: string,
): Promise<string | undefined> {
  if (lostHost === runningOn) return undefined;
  // Still lost: nothing to clean yet, and a refresh should not wait out a connect timeout for it.
  const conn = await Promise.race([
    runtime.pool.get(lostHost).catch(() => undefined),
    new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000).unref()),
  ]);
  if (!conn) return undefined;
  const dom = await conn.domains.lookupByName(domain).catch(() => undefined);
  if (!dom) return undefined;
  // Never touch a copy that runs: that would be the VM running twice, for a human to look at.
  if ((await conn.domains.state(dom)).state !== "shutoff") return undefined;
  await undefineKeepingNvram(conn, dom);
  return `${domain}'s stale definition on ${lostHost} (failed over to ${runningOn})`;
}
