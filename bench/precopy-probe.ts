// The independent check of a convergence verdict: plain `virsh migrate` with pre-copy alone (no
// post-copy, no auto-converge) at the policy's highest downtime, given a bounded time. Finishing
// within the bound means pre-copy converges; otherwise the job is aborted and the guest stays.
import type { LabHost } from "../test/lab/lab";
import { virsh } from "../test/lab/virsh";
import { virshMigrateArgs } from "./virsh-migrate";

export interface ProbeOutcome {
  converged: boolean;
  seconds: number;
}

/** Waits until the source reports the migration job, then sets its max downtime. */
async function setDowntimeOnceStarted(
  source: LabHost,
  domain: string,
  downtimeMs: number,
  until: number,
): Promise<void> {
  while (Date.now() < until) {
    const info = await virsh(source, "domjobinfo", domain).catch(() => "");
    if (/Job type:\s+Unbounded/.test(info)) {
      await virsh(source, "migrate-setmaxdowntime", domain, String(downtimeMs)).catch(
        () => undefined,
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function probePrecopy(
  source: LabHost,
  target: LabHost,
  domain: string,
  options: { bandwidthMibps?: number; copyDisks?: string[]; downtimeMs: number; boundS: number },
): Promise<ProbeOutcome> {
  const started = Date.now();
  const args = virshMigrateArgs(domain, target, options).filter((a) => a !== "--postcopy");
  const migrating = virsh(source, ...args).then(
    () => true,
    () => false,
  );
  void setDowntimeOnceStarted(source, domain, options.downtimeMs, started + options.boundS * 1000);
  const deadline = setTimeout(
    () => void virsh(source, "domjobabort", domain).catch(() => undefined),
    options.boundS * 1000,
  );
  const converged = await migrating;
  clearTimeout(deadline);
  return { converged, seconds: (Date.now() - started) / 1000 };
}
