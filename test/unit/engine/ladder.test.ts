import assert from "node:assert/strict";
import {
  decideEscalation,
  startLadder,
  type LadderAction,
  type LadderState,
} from "../../../provider/src/engine/ladder";
import { DEFAULT_POLICY } from "../../../provider/src/engine/policy";
import type { MigrationPolicy } from "../../../provider/src/engine/types";

/** One job-statistics sample: milliseconds since the start, bytes remaining. */
type Obs = [number, number];

/** Samples every `stepMs` from 0 to `untilMs` inclusive. */
function every(stepMs: number, untilMs: number, remaining: (ms: number) => number): Obs[] {
  const out: Obs[] = [];
  for (let t = 0; t <= untilMs; t += stepMs) out.push([t, remaining(t)]);
  return out;
}

function label(a: LadderAction): string {
  return a.kind === "raise-downtime" ? `raise-downtime ${a.downtimeMs}` : a.kind;
}

/** Feeds the samples through the ladder; returns every action and the final state. */
function run(
  samples: Obs[],
  policy: MigrationPolicy,
  completionTimeoutSeconds: number,
  memoryFromMs = 0,
): { actions: Array<[number, LadderAction]>; state: LadderState } {
  let state = startLadder(0);
  const actions: Array<[number, LadderAction]> = [];
  for (const [nowMs, remainingBytes] of samples) {
    const d = decideEscalation(
      state,
      { nowMs, remainingBytes, postCopyPossible: nowMs >= memoryFromMs },
      policy,
      completionTimeoutSeconds,
    );
    state = d.state;
    actions.push([nowMs, d.action]);
  }
  return { actions, state };
}

const FLAT = (): number => 1000;
/** Remaining shrinks 5% a second from 10 GiB. */
const STEADY = (ms: number): number => Math.round(10 * 1024 ** 3 * 0.95 ** (ms / 1000));

interface Case {
  name: string;
  policy?: Partial<MigrationPolicy>;
  /** Completion timeout in seconds (600 unless given). */
  timeout?: number;
  samples: Obs[];
  /** Memory migration (and so post-copy) begins at this time; before it, disks are copied. */
  memoryFromMs?: number;
  /** The actions other than "wait", by sample time. */
  expect: Record<number, string>;
  final?: Partial<LadderState>;
}

const cases: Case[] = [
  {
    name: "steady progress: only waits",
    samples: every(1000, 120_000, STEADY),
    expect: {},
    final: { downtimeStep: -1, postCopy: false, aborting: false },
  },
  {
    name: "stall: each downtime step in turn, then post-copy, then only waits",
    samples: every(1000, 60_000, FLAT),
    expect: { 10_000: "raise-downtime 500", 20_000: "raise-downtime 1000", 30_000: "post-copy" },
    final: { downtimeStep: 1, postCopy: true, aborting: false },
  },
  {
    name: "stall, post-copy forbidden: abort after the last step",
    policy: { allowPostCopy: false },
    samples: every(1000, 60_000, FLAT),
    expect: { 10_000: "raise-downtime 500", 20_000: "raise-downtime 1000", 30_000: "abort" },
    final: { postCopy: false, aborting: true },
  },
  {
    name: "stall, post-copy forbidden, offline fallback allowed: the ladder still aborts",
    policy: { allowPostCopy: false, allowOfflineFallback: true },
    samples: every(1000, 40_000, FLAT),
    expect: { 10_000: "raise-downtime 500", 20_000: "raise-downtime 1000", 30_000: "abort" },
  },
  {
    name: "overdue while disks copy: post-copy is deferred once, then starts with memory migration",
    timeout: 5,
    memoryFromMs: 12_000,
    samples: every(1000, 20_000, STEADY),
    expect: { 5000: "defer-post-copy", 12_000: "post-copy" },
    final: { postCopy: true, postCopyDeferred: false, aborting: false },
  },
  {
    name: "disk copy stuck past the highest downtime: abort, since post-copy cannot start",
    memoryFromMs: 1_000_000,
    samples: every(1000, 40_000, FLAT),
    expect: { 10_000: "raise-downtime 500", 20_000: "raise-downtime 1000", 30_000: "abort" },
    final: { postCopy: false, aborting: true },
  },
  {
    name: "overdue while disks copy, then the copy sticks: deferred, then aborted",
    timeout: 5,
    memoryFromMs: 1_000_000,
    samples: every(1000, 30_000, (t) => (t <= 8000 ? STEADY(t) : STEADY(8000))),
    expect: { 5000: "defer-post-copy", 18_000: "abort" },
    final: { postCopy: false, aborting: true },
  },
  {
    name: "stall with no downtime steps above the maximum: post-copy at once",
    policy: { maxDowntimeMs: 1000 },
    samples: every(1000, 30_000, FLAT),
    expect: { 10_000: "post-copy" },
  },
  {
    name: "stall with a longer progress timeout",
    policy: { progressTimeoutSeconds: 30, downtimeLadderMs: [300, 2000] },
    samples: every(5000, 120_000, FLAT),
    expect: { 30_000: "raise-downtime 2000", 60_000: "post-copy" },
  },
  {
    name: "the stall clock counts from the raise: progress after it restarts the wait",
    // Flat until 12 s, then 10% less each second until 20 s, then flat again.
    samples: every(1000, 60_000, (t) =>
      t <= 12_000 ? 1000 : Math.round(1000 * 0.9 ** (Math.min(t, 20_000) / 1000 - 12)),
    ),
    expect: { 10_000: "raise-downtime 500", 30_000: "raise-downtime 1000", 40_000: "post-copy" },
  },
  {
    name: "exactly the progress timeout counts; just under it does not",
    samples: [
      [0, 1000],
      [4000, 1000],
      [9999, 1000],
      [10_000, 1000],
      [19_999, 1000],
      [20_000, 1000],
    ],
    expect: { 10_000: "raise-downtime 500", 20_000: "raise-downtime 1000" },
  },
  {
    name: "completion timeout with steady progress: post-copy at once, steps left or not",
    timeout: 5,
    samples: every(1000, 30_000, STEADY),
    expect: { 5000: "post-copy" },
    final: { downtimeStep: -1, postCopy: true },
  },
  {
    name: "completion timeout, post-copy forbidden: abort",
    policy: { allowPostCopy: false },
    timeout: 5,
    samples: every(1000, 30_000, STEADY),
    expect: { 5000: "abort" },
    final: { downtimeStep: -1, aborting: true },
  },
  {
    name: "completion timeout after one raise: post-copy, skipping the step left",
    timeout: 15,
    samples: every(1000, 40_000, FLAT),
    expect: { 10_000: "raise-downtime 500", 15_000: "post-copy" },
    final: { downtimeStep: 0, postCopy: true },
  },
  {
    name: "stalled and overdue at the same sample: post-copy",
    timeout: 10,
    samples: every(1000, 20_000, FLAT),
    expect: { 10_000: "post-copy" },
  },
  {
    name: "stalled and overdue, post-copy forbidden: abort",
    policy: { allowPostCopy: false },
    timeout: 10,
    samples: every(1000, 20_000, FLAT),
    expect: { 10_000: "abort" },
  },
  {
    name: "fluctuations under 2% are not progress",
    samples: [
      [0, 1000],
      [1000, 990],
      [2000, 985],
      [3000, 995],
      [4000, 981],
      [5000, 1010],
      [6000, 982],
      [7000, 999],
      [8000, 981],
      [9000, 990],
      [10_000, 985],
      [11_000, 983],
    ],
    expect: { 10_000: "raise-downtime 500" },
  },
  {
    name: "a 3% drop is progress and restarts the stall clock",
    samples: every(1000, 30_000, (t) => (t < 9000 ? 1000 : 970)),
    expect: { 19_000: "raise-downtime 500", 29_000: "raise-downtime 1000" },
  },
  {
    name: "slow steady shrinking adds up to progress against the best seen",
    // 1.5% a second: no single sample is progress, every second one is.
    samples: every(1000, 60_000, (t) => Math.round(1_000_000 * 0.985 ** (t / 1000))),
    expect: {},
  },
  {
    name: "remaining growing (the guest dirties faster than the link) is no progress",
    samples: every(1000, 30_000, (t) => 1000 + t / 10),
    expect: { 10_000: "raise-downtime 500", 20_000: "raise-downtime 1000", 30_000: "post-copy" },
  },
  {
    name: "after post-copy, further stalls and timeouts only wait",
    timeout: 12,
    samples: every(1000, 120_000, FLAT),
    expect: { 10_000: "raise-downtime 500", 12_000: "post-copy" },
  },
  {
    name: "after abort, further stalls and timeouts only wait",
    policy: { allowPostCopy: false, maxDowntimeMs: 1000 },
    samples: every(1000, 120_000, FLAT),
    expect: { 10_000: "abort" },
  },
  {
    name: "irregular sampling: the first sample past the timeout escalates",
    samples: [
      [0, 1000],
      [7000, 1000],
      [13_000, 1000],
      [14_000, 1000],
      [26_000, 1000],
      [27_000, 1000],
      [40_000, 1000],
    ],
    expect: { 13_000: "raise-downtime 500", 26_000: "raise-downtime 1000", 40_000: "post-copy" },
  },
];

describe("ladder", () => {
  describe("decideEscalation", () => {
    for (const c of cases) {
      it(c.name, () => {
        const policy = { ...DEFAULT_POLICY, ...c.policy };
        const { actions, state } = run(c.samples, policy, c.timeout ?? 600, c.memoryFromMs);
        const got = Object.fromEntries(
          actions.filter(([, a]) => a.kind !== "wait").map(([t, a]) => [t, label(a)]),
        );
        const want = Object.fromEntries(Object.entries(c.expect).map(([t, a]) => [t, a]));
        assert.deepEqual(got, want);
        for (const [k, v] of Object.entries(c.final ?? {})) {
          assert.equal(state[k as keyof LadderState], v, `state.${k}`);
        }
      });
    }

    it("gives reasons: how long without progress, or the completion timeout", () => {
      const stall = run(every(1000, 30_000, FLAT), DEFAULT_POLICY, 600).actions;
      const reasons = stall
        .map(([, a]) => a)
        .filter((a) => a.kind !== "wait")
        .map((a) => ("reason" in a ? a.reason : ""));
      assert.deepEqual(reasons, [
        "no progress for 10 s",
        "no progress for 10 s",
        "no progress for 10 s at the highest allowed downtime",
      ]);
      const overdue = run(every(1000, 5000, STEADY), DEFAULT_POLICY, 5).actions.at(-1)![1];
      assert.equal(overdue.kind, "post-copy");
      assert.ok("reason" in overdue);
      assert.equal(overdue.reason, "not finished after 5 s (completion timeout 5 s)");
    });

    it("does not change the state it is given", () => {
      const state = startLadder(0);
      const before = { ...state };
      const d = decideEscalation(
        state,
        { nowMs: 10_000, remainingBytes: 1000, postCopyPossible: true },
        DEFAULT_POLICY,
        600,
      );
      assert.deepEqual(state, before);
      assert.notEqual(d.state, state);
      const stalled = decideEscalation(
        d.state,
        { nowMs: 20_000, remainingBytes: 1000, postCopyPossible: true },
        DEFAULT_POLICY,
        600,
      );
      assert.equal(stalled.action.kind, "raise-downtime");
      assert.equal(d.state.downtimeStep, -1);
      assert.equal(d.state.lastProgressAtMs, 10_000);
    });

    it("tracks the best remaining and when it last shrank", () => {
      let state = startLadder(0);
      const seen: Array<[number, number]> = [];
      for (const [nowMs, remainingBytes] of [
        [1000, 1000],
        [2000, 990],
        [3000, 900],
        [4000, 950],
      ] as Obs[]) {
        state = decideEscalation(
          state,
          { nowMs, remainingBytes, postCopyPossible: true },
          DEFAULT_POLICY,
          600,
        ).state;
        seen.push([state.bestRemaining, state.lastProgressAtMs]);
      }
      assert.deepEqual(seen, [
        [1000, 1000],
        [1000, 1000],
        [900, 3000],
        [900, 3000],
      ]);
    });
  });

  describe("startLadder", () => {
    it("starts with no progress seen, no step taken", () => {
      assert.deepEqual(startLadder(1234), {
        startedAtMs: 1234,
        lastProgressAtMs: 1234,
        bestRemaining: Number.POSITIVE_INFINITY,
        downtimeStep: -1,
        postCopy: false,
        aborting: false,
        postCopyDeferred: false,
        notConverging: 0,
      });
    });

    it("counts time from its start", () => {
      let state = startLadder(50_000);
      const kinds: string[] = [];
      for (const t of [50_000, 55_000, 59_999, 60_000]) {
        const d = decideEscalation(
          state,
          { nowMs: t, remainingBytes: 1000, postCopyPossible: true },
          DEFAULT_POLICY,
          600,
        );
        state = d.state;
        kinds.push(label(d.action));
      }
      assert.deepEqual(kinds, ["wait", "wait", "wait", "raise-downtime 500"]);
    });
  });
});

describe("escalation ladder: the forecast and the live statistics", () => {
  const MiB = 1024 * 1024;
  const policy: MigrationPolicy = { ...DEFAULT_POLICY, downtimeLadderMs: [300, 500, 1000] };
  /** A job in memory pass `iteration` with these rates. */
  const obs = (nowMs: number, iteration: number, dirtyMibps: number, sentMibps = 100) => ({
    nowMs,
    remainingBytes: 400 * MiB,
    postCopyPossible: true,
    memory: {
      iteration,
      memoryRemainingBytes: 400 * MiB,
      dirtyRateBps: dirtyMibps * MiB,
      bandwidthBps: sentMibps * MiB,
    },
  });
  const feed = (
    samples: ReturnType<typeof obs>[],
    planned: "none" | "post-copy-after-first-pass",
    p = policy,
  ) => {
    let state = startLadder(0);
    return samples.map((o) => {
      const d = decideEscalation(state, o, p, 600, planned);
      state = d.state;
      return d.action;
    });
  };

  it("the forecast's post-copy comes once the first pass is done, not before", () => {
    const actions = feed(
      [obs(500, 1, 0), obs(1000, 1, 0), obs(1500, 2, 150)],
      "post-copy-after-first-pass",
    );
    assert.deepEqual(actions.map(label), ["wait", "wait", "post-copy"]);
    assert.match(
      (actions[2] as { reason: string }).reason,
      /the forecast said pre-copy cannot converge/,
    );
  });

  it("a guest that starts dirtying faster than the link goes to post-copy within two polls", () => {
    const actions = feed(
      [obs(500, 1, 0), obs(1000, 2, 20), obs(1500, 3, 180), obs(2000, 3, 180)],
      "none",
    );
    assert.deepEqual(actions.map(label), ["wait", "wait", "wait", "post-copy"]);
    assert.match(
      (actions[3] as { reason: string }).reason,
      /live statistics in pass 3: the guest dirties ~180 MiB\/s while ~100 MiB\/s are sent, 400 MiB left/,
    );
  });

  it("one noisy poll does not switch; a converging guest never does", () => {
    const noisy = feed(
      [obs(500, 2, 180), obs(1000, 2, 20), obs(1500, 3, 180), obs(2000, 3, 20)],
      "none",
    );
    assert.deepEqual(noisy.map(label), ["wait", "wait", "wait", "wait"]);
    const calm = feed([obs(500, 2, 10), obs(1000, 3, 10), obs(1500, 4, 10)], "none");
    assert.deepEqual(calm.map(label), ["wait", "wait", "wait"]);
  });

  it("without post-copy the statistics change nothing: the ladder stays in charge", () => {
    const actions = feed(
      [obs(500, 2, 180), obs(1000, 3, 180), obs(1500, 3, 180)],
      "post-copy-after-first-pass",
      { ...policy, allowPostCopy: false },
    );
    assert.deepEqual(actions.map(label), ["wait", "wait", "wait"]);
  });
});
