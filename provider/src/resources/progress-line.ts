// The ephemeral status line of a move while it runs: phase, percent, real rate and time left.
import type { MigrationProgress } from "../engine";

const MiB = 1024 * 1024;

function phaseText(p: MigrationProgress): string {
  switch (p.phase) {
    case "disk-copy":
      return "disk copy";
    case "precopy":
      return p.iteration > 0 ? `memory pass ${p.iteration}` : "memory pre-copy";
    case "postcopy":
      return "post-copy";
    case "block-copy":
      return "block copy";
    case "offline-copy":
      return "offline copy";
    default:
      return p.phase;
  }
}

/** "queued 2 of 3 (h1 outbound busy: web-1 -> h2), expected start in ~14 s" */
function queuedLine(domain: string, queue: NonNullable<MigrationProgress["queue"]>): string {
  const start = queue.expectedStartSeconds;
  const when =
    start === undefined
      ? ""
      : start < 1
        ? ", expected to start shortly"
        : `, expected start in ~${Math.ceil(start)} s`;
  return `${domain}: queued ${queue.position} of ${queue.queueLength} (${queue.waitingFor})${when}`;
}

export function progressLine(p: MigrationProgress): string {
  if (p.phase === "queued" && p.queue) return queuedLine(p.domain, p.queue);
  if (p.phase === "verifying" || p.phase === "cleanup") return `${p.domain}: ${p.phase}`;
  const memoryTotal = p.memoryProcessed + p.memoryRemaining;
  const parts = [
    `${p.domain}: ${phaseText(p)} ${p.percent}%`,
    `${Math.round(p.bandwidthBps / MiB)} MiB/s`,
    ...(p.secondsLeft !== undefined ? [`~${p.secondsLeft} s left`] : []),
    ...(memoryTotal > 0
      ? [`memory ${Math.round(p.memoryProcessed / MiB)}/${Math.round(memoryTotal / MiB)} MiB`]
      : []),
    ...(p.diskProcessed + p.diskRemaining > 0
      ? [
          `disk ${Math.round(p.diskProcessed / MiB)}/${Math.round((p.diskProcessed + p.diskRemaining) / MiB)} MiB`,
        ]
      : []),
    ...(p.dirtyRateBps > 0 ? [`dirtying ${Math.round(p.dirtyRateBps / MiB)} MiB/s`] : []),
  ];
  return parts.join(", ");
}
