// A plan as the placement's `plannedMigration` output and the preview's line: mode, verdict,
// bytes, duration, downtime, and where each figure came from.
import type { MigrationPlan, PlanForecast } from "../../engine";
import type { PlannedMigrationOutput } from "./types";

const MiB = 1024 * 1024;

const VERDICT_TEXT: Record<PlanForecast["verdict"], string> = {
  converges: "converges",
  "needs-post-copy": "needs post-copy (after the first pass)",
  "needs-auto-converge": "needs auto-converge",
  "cannot-move-live": "cannot move live within the policy",
  "not-live": "",
};

function mib(bytes: number): string {
  return `${Math.round(bytes / MiB)} MiB`;
}

/** The preview's line for a move: mode, verdict, bytes, duration, downtime, and the sources. */
export function planSummary(plan: MigrationPlan): string {
  if (plan.mode === "none") return `${plan.domain}: stays on ${plan.from}`;
  if (plan.failover) return plan.failover.summary;
  const f = plan.forecast;
  const verdict = VERDICT_TEXT[f.verdict];
  const live = plan.mode.startsWith("live");
  const bytes = live
    ? `memory ${mib(f.memoryBytes)}, disks ${mib(f.diskBytes)}`
    : `disks ${mib(f.diskBytes)}`;
  const stream =
    f.sources.stream && f.sources.stream !== "one plain connection"
      ? `; stream: ${f.sources.stream}`
      : "";
  const sources = live
    ? `link ${f.linkMibps} MiB/s: ${f.sources.link}; dirty ${Math.round(f.dirtyRateMibps)} MiB/s: ${f.sources.dirtyRate}; memory: ${f.sources.memory}${stream}`
    : `link ${f.linkMibps} MiB/s: ${f.sources.link}`;
  const timing =
    f.verdict === "cannot-move-live"
      ? `aborted after ~${f.durationSeconds} s`
      : `~${f.durationSeconds} s, downtime ~${f.downtimeMs} ms`;
  return (
    `${plan.domain}: ${plan.from} -> ${plan.to}, ${plan.mode}${verdict ? `, ${verdict}` : ""}, ${bytes}, ${timing} (${sources})` +
    (plan.blockers.length ? `; BLOCKED: ${plan.blockers.map((b) => b.code).join(", ")}` : "")
  );
}

function describeStep(step: MigrationPlan["escalation"][number]): string {
  if (step.kind === "raise-downtime") return `raise-downtime ${step.downtimeMs} ms`;
  if (step.kind === "post-copy" && step.afterFirstPass) return "post-copy after the first pass";
  return step.kind;
}

export function describePlan(plan: MigrationPlan): PlannedMigrationOutput {
  return {
    mode: plan.mode,
    from: plan.from,
    to: plan.to,
    bytesToMove: plan.bytes.total,
    estimatedSeconds: plan.forecast.durationSeconds,
    estimatedDowntimeMs: plan.forecast.downtimeMs,
    verdict: plan.forecast.verdict,
    memoryBytes: plan.forecast.memoryBytes,
    diskBytes: plan.forecast.diskBytes,
    // A failover sends nothing: there is no forecast to show.
    ...(plan.failover ? {} : { forecast: plan.forecast }),
    escalation: plan.escalation.map(describeStep),
    warnings: plan.warnings.map((w) => `${w.code}: ${w.message}`),
    summary: planSummary(plan),
  };
}
