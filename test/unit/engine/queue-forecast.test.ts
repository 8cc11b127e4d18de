import assert from "node:assert/strict";
import {
  forecastStarts,
  type QueuedMove,
  type RunningMove,
  type SlotLimits,
} from "../../../provider/src/engine/queue-forecast";

const limits = (perHostOutbound: number, perHostInbound: number, global: number): SlotLimits => ({
  perHostOutbound,
  perHostInbound,
  global,
});
const run = (from: string, to: string, secondsLeft?: number): RunningMove => ({
  from,
  to,
  secondsLeft,
});
const wait = (from: string, to: string, seconds?: number): QueuedMove => ({ from, to, seconds });

describe("queue forecast", () => {
  const cases: Array<{
    name: string;
    limits: SlotLimits;
    running: RunningMove[];
    queue: QueuedMove[];
    lastServed?: Array<[string, number]>;
    starts: Array<number | undefined>;
  }> = [
    {
      name: "one outbound slot: each move waits for the ones before it on its source",
      limits: limits(1, 2, 4),
      running: [run("h1", "h2", 10)],
      queue: [wait("h1", "h3", 5), wait("h1", "h2", 7)],
      starts: [10, 15],
    },
    {
      name: "a move whose hosts are free is not held up by a blocked one",
      limits: limits(1, 1, 4),
      running: [run("h1", "h2", 10)],
      queue: [wait("h3", "h2", 5), wait("h4", "h5", 5)],
      starts: [10, 0],
    },
    {
      name: "global limit: the earliest end frees the next slot",
      limits: limits(4, 4, 2),
      running: [run("h1", "h2", 12), run("h3", "h4", 4)],
      queue: [wait("h5", "h6", 20), wait("h7", "h8", 3)],
      starts: [4, 12],
    },
    {
      name: "round-robin across sources, as the limiter grants",
      limits: limits(4, 4, 1),
      running: [run("h0", "t", 2)],
      queue: [wait("h1", "t", 1), wait("h1", "t", 1), wait("h2", "t", 1)],
      starts: [2, 4, 3],
    },
    {
      name: "the source served least recently goes first",
      limits: limits(4, 4, 1),
      running: [run("h0", "t", 2)],
      queue: [wait("h1", "t", 1), wait("h2", "t", 1)],
      lastServed: [
        ["h1", 5],
        ["h2", 3],
      ],
      starts: [3, 2],
    },
    {
      name: "a running move with no estimate leaves what waits on it unknown",
      limits: limits(1, 1, 4),
      running: [run("h1", "h2")],
      queue: [wait("h1", "h3", 5), wait("h4", "h5", 5)],
      starts: [undefined, 0],
    },
    {
      name: "a queued move with no estimate leaves those behind it unknown",
      limits: limits(1, 1, 4),
      running: [run("h1", "h2", 3)],
      queue: [wait("h1", "h3"), wait("h1", "h4", 5)],
      starts: [3, undefined],
    },
    {
      name: "moves ending at the same time free their slots together",
      limits: limits(1, 1, 2),
      running: [run("h1", "h2", 6), run("h3", "h4", 6)],
      queue: [wait("h1", "h4", 2), wait("h3", "h2", 2)],
      starts: [6, 6],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(
        forecastStarts(c.limits, c.running, c.queue, new Map(c.lastServed ?? [])),
        c.starts,
      );
    });
  }
});
