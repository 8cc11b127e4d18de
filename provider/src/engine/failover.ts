// The failover mode of the executor: fence the lost source through its agent, and only once the
// agent confirms it is off (and, for a VM on Ceph, the host's Ceph clients are blocklisted), define
// the VM on the target from its last known definition and start it there from shared storage.
// Nothing starts without a confirmed fence, so the VM can never run twice. The record is built
// like every other mode's, on success and on failure.
import { cephBlocklist, type CephStorageFence } from "../fencing/ceph-blocklist";
import { describeCalls, fenceOff } from "../fencing/fence";
import { RunFailure } from "./context";
import type { ConnectionPool } from "./connections";
import { describeError } from "./errors";
import type { RecordBuilder } from "./record";
import { undefineKeepingNvram } from "./where";
import type { MigrationPlan, StorageFenceRecord } from "./types";

export interface FailoverRun {
  plan: MigrationPlan;
  pool: ConnectionPool;
  record: RecordBuilder;
  signal?: AbortSignal;
}

/** Fences the source, then defines and starts the VM on the target; returns where it runs. */
export async function runFailover(run: FailoverRun): Promise<{ finalHost: string }> {
  const { plan, pool, record } = run;
  const spec = plan.failover!;
  record.step(spec.summary);
  const fenced = await fenceOff(plan.from, spec.device, { signal: run.signal });
  record.fence = `${spec.device.agent.split("/").pop()} ${describeCalls(fenced.calls)}`;
  if (!fenced.confirmed)
    throw new RunFailure(
      "failed",
      "fence",
      `${plan.domain} not started on ${plan.to}: the fence of ${plan.from} is not confirmed (${fenced.reason}); nothing was started, the placement is kept as it was`,
      plan.from,
    );
  record.step(`fenced ${plan.from}: ${record.fence}`);
  if (spec.storageFence) await fenceStorage(run, spec.storageFence);
  try {
    const conn = await pool.get(plan.to);
    const dom = await conn.domains.define(spec.definitionXml);
    // Never started by a host's boot: where it runs is the placement's to say.
    await conn.domains.setAutostart(dom, false);
    record.step(
      `defined ${plan.domain} on ${plan.to} from its last known definition, autostart off`,
    );
    await conn.domains.start(dom);
    const { state } = await conn.domains.state(dom);
    if (state !== "running")
      throw new Error(`${plan.domain} was started on ${plan.to} but is ${state} there`);
  } catch (err) {
    // The source is fenced (off): the VM runs nowhere until the next update starts it.
    throw new RunFailure(
      "failed",
      "libvirt",
      `${plan.domain} was fenced off ${plan.from} but did not start on ${plan.to}: ${describeError(err)}; the next update tries again, check ${plan.to}`,
      plan.from,
      { cause: err },
    );
  }
  record.downtimeMs = Date.now() - spec.lostSince;
  record.step(`started ${plan.domain} on ${plan.to}; it runs`);
  return { finalHost: plan.to };
}

/**
 * The second guard: the lost host's Ceph clients are blocklisted, so a QEMU the power fence
 * missed cannot write to the images the VM now opens elsewhere. Without it nothing starts.
 */
async function fenceStorage(run: FailoverRun, fence: CephStorageFence): Promise<void> {
  const { plan, record } = run;
  const outcome = await cephBlocklist(fence, "add", run.signal);
  if (!outcome.ok)
    throw new RunFailure(
      "failed",
      "fence",
      `${plan.domain} not started on ${plan.to}: ${plan.from} is fenced, but its Ceph clients could not be blocklisted on ${fence.cluster} (${outcome.output}); nothing was started, the placement is kept as it was`,
      plan.from,
    );
  record.storageFence = { cluster: fence.cluster, host: plan.from, entries: outcome.entries };
  record.step(
    `blocklisted ${plan.from}'s Ceph clients on ${fence.cluster}: ${outcome.entries.join(", ")}`,
  );
}

export interface AfterFailover {
  /** The stale definition removed from the old host, if there was one. */
  removed?: string;
  /** The storage fence record with its entries lifted, once the old host is back. */
  lifted?: StorageFenceRecord;
}

/**
 * After a failover, the lost host may come back still defining the VM (never running it: it was
 * powered off, and autostart is off). Once it answers and does not run the VM, its stale
 * definition is undefined there (its NVRAM kept: the host's file, not the VM's running state),
 * and its Ceph clients' blocklist entries are lifted (`storageFence` gives the key to do it).
 */
export async function reconcileAfterFailover(
  pool: ConnectionPool,
  domain: string,
  failover: { from: string; storageFence?: StorageFenceRecord },
  runningOn: string,
  storageFence?: CephStorageFence,
): Promise<AfterFailover> {
  const lostHost = failover.from;
  if (lostHost === runningOn) return {};
  // Still lost: nothing to clean yet, and a refresh should not wait out a connect timeout for it.
  const conn = await Promise.race([
    pool.get(lostHost).catch(() => undefined),
    new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000).unref()),
  ]);
  if (!conn) return {};
  const dom = await conn.domains.lookupByName(domain).catch(() => undefined);
  // Never touch a copy that runs: that would be the VM running twice, for a human to look at.
  if (dom && (await conn.domains.state(dom)).state !== "shutoff") return {};
  const after: AfterFailover = {};
  if (dom) {
    await undefineKeepingNvram(conn, dom);
    after.removed = `${domain}'s stale definition on ${lostHost} (failed over to ${runningOn})`;
  }
  const fenced = failover.storageFence;
  if (fenced && !fenced.liftedAt && storageFence) {
    const outcome = await cephBlocklist(
      { ...storageFence, clientAddresses: addresses(fenced) },
      "rm",
    );
    if (outcome.ok) after.lifted = { ...fenced, liftedAt: new Date().toISOString() };
  }
  return after;
}

/** The addresses of a record's entries (ADDR:0/0, [ADDR]:0/0 for IPv6). */
function addresses(record: StorageFenceRecord): string[] {
  return record.entries.map((e) => e.replace(/:0\/0$/, "").replace(/^\[(.*)\]$/, "$1"));
}
