// The escalation ladder as a pure state machine: given what the job statistics show over time,
// decide whether to wait, raise the allowed downtime, switch to post-copy, or abort.
import { judgeRunningPrecopy, type RunningPrecopy } from "./forecast";
import type { MigrationPolicy, PlanForecast } from "./types";
import { downtimeSteps } from "./policy";

export interface LadderState {
  startedAtMs: number;
  /** When the remaining bytes last shrank noticeably. */
  lastProgressAtMs: number;
  /** The least remaining bytes seen so far. */
  bestRemaining: number;
  /** Index into the downtime steps already applied (-1: none). */
  downtimeStep: number;
  postCopy: boolean;
  aborting: boolean;
  /** Post-copy is due but the job is still copying disks, where QEMU refuses it. */
  postCopyDeferred: boolean;
  /** Polls in a row whose statistics said pre-copy will not converge. */
  notConverging: number;
}

export interface LadderObservation {
  nowMs: number;
  remainingBytes: number;
  /** Whether the job is in a phase that accepts post-copy (memory migration has begun). */
  postCopyPossible: boolean;
  /** The memory pass under way and the rates now, to judge convergence again as the job runs. */
  memory?: RunningPrecopy;
}

export type LadderAction =
  | { kind: "wait" }
  | { kind: "raise-downtime"; downtimeMs: number; reason: string }
  | { kind: "post-copy"; reason: string }
  | { kind: "defer-post-copy"; reason: string }
  | { kind: "abort"; reason: string };

/** Progress counts only when the remaining bytes shrink by at least this share. */
const PROGRESS_FRACTION = 0.02;

export function startLadder(nowMs: number): LadderState {
  return {
    startedAtMs: nowMs,
    lastProgressAtMs: nowMs,
    bestRemaining: Number.POSITIVE_INFINITY,
    downtimeStep: -1,
    postCopy: false,
    aborting: false,
    postCopyDeferred: false,
    notConverging: 0,
  };
}

/** Polls in a row that must say "will not converge" before the statistics switch to post-copy. */
const NOT_CONVERGING_POLLS = 2;

const MiB = 1024 * 1024;

/** The downtime allowed now: the last step the ladder applied, else the policy's maximum. */
function currentDowntimeMs(state: LadderState, policy: MigrationPolicy): number {
  return state.downtimeStep >= 0 ? downtimeSteps(policy)[state.downtimeStep] : policy.maxDowntimeMs;
}

/**
 * Post-copy chosen from the forecast: the plan said pre-copy cannot converge (switch once the
 * first pass is done, as `virsh migrate --postcopy-after-precopy` does), or the live statistics
 * now say so for a guest whose behaviour changed.
 */
function forecastPostCopy(
  state: LadderState,
  obs: LadderObservation,
  policy: MigrationPolicy,
  planned: PlanForecast["escalation"],
): { state: LadderState; reason?: string } {
  if (!policy.allowPostCopy || !obs.postCopyPossible || !obs.memory) return { state };
  const m = obs.memory;
  if (planned === "post-copy-after-first-pass" && m.iteration >= 2)
    return {
      state,
      reason: "the forecast said pre-copy cannot converge: post-copy after the first pass",
    };
  const judged = judgeRunningPrecopy(m, policy, currentDowntimeMs(state, policy));
  const notConverging =
    judged === "not-converging"
      ? state.notConverging + 1
      : judged === "converging"
        ? 0
        : state.notConverging;
  const next = { ...state, notConverging };
  if (notConverging < NOT_CONVERGING_POLLS) return { state: next };
  return {
    state: next,
    reason: `live statistics in pass ${m.iteration}: the guest dirties ~${Math.round(m.dirtyRateBps / MiB)} MiB/s while ~${Math.round(m.bandwidthBps / MiB)} MiB/s are sent, ${Math.round(m.memoryRemainingBytes / MiB)} MiB left; pre-copy will not converge`,
  };
}

/** Returns the next state and the action to take for one observation. */
export function decideEscalation(
  state: LadderState,
  obs: LadderObservation,
  policy: MigrationPolicy,
  completionTimeoutSeconds: number,
  planned: PlanForecast["escalation"] = "none",
): { state: LadderState; action: LadderAction } {
  let next = { ...state };
  // Zero remaining means the job has not sized itself yet, not that it is done.
  if (
    obs.remainingBytes > 0 &&
    obs.remainingBytes < state.bestRemaining * (1 - PROGRESS_FRACTION)
  ) {
    next = { ...next, bestRemaining: obs.remainingBytes, lastProgressAtMs: obs.nowMs };
  }
  // Once in post-copy the guest runs on the target: finishing is the only way forward.
  if (next.postCopy || next.aborting) return { state: next, action: { kind: "wait" } };

  const early = forecastPostCopy(next, obs, policy, planned);
  next = early.state;
  if (early.reason)
    return {
      state: { ...next, postCopy: true, postCopyDeferred: false },
      action: { kind: "post-copy", reason: early.reason },
    };

  const elapsedS = (obs.nowMs - next.startedAtMs) / 1000;
  const stalledS = (obs.nowMs - next.lastProgressAtMs) / 1000;
  const overdue = elapsedS >= completionTimeoutSeconds;
  const stalled = stalledS >= policy.progressTimeoutSeconds;
  if (!overdue && !stalled) return { state: next, action: { kind: "wait" } };

  const steps = downtimeSteps(policy);
  if (stalled && !overdue && next.downtimeStep + 1 < steps.length) {
    const downtimeStep = next.downtimeStep + 1;
    return {
      state: { ...next, downtimeStep, lastProgressAtMs: obs.nowMs },
      action: {
        kind: "raise-downtime",
        downtimeMs: steps[downtimeStep],
        reason: `no progress for ${Math.round(stalledS)} s`,
      },
    };
  }
  const reason = overdue
    ? `not finished after ${Math.round(elapsedS)} s (completion timeout ${completionTimeoutSeconds} s)`
    : `no progress for ${Math.round(stalledS)} s at the highest allowed downtime`;
  if (policy.allowPostCopy && obs.postCopyPossible)
    return {
      state: { ...next, postCopy: true, postCopyDeferred: false },
      action: { kind: "post-copy", reason },
    };
  // Still copying disks: post-copy must wait for memory migration, unless the copy is stuck.
  if (policy.allowPostCopy && !stalled) {
    if (next.postCopyDeferred) return { state: next, action: { kind: "wait" } };
    return {
      state: { ...next, postCopyDeferred: true },
      action: { kind: "defer-post-copy", reason },
    };
  }
  return { state: { ...next, aborting: true }, action: { kind: "abort", reason } };
}

/** Undoes a switch to post-copy that libvirt refused, so the ladder asks again later. */
export function postCopyRefused(state: LadderState): LadderState {
  return { ...state, postCopy: false };
}
