// The decision for a move that was interrupted, from the definitions the hosts hold and the
// move notes they carry: which copy is the VM, whether it starts, which definitions go.
import assert from "node:assert/strict";
import type { MoveMarker } from "../../../provider/src/engine/move-marker";
import { decideRecovery, type DefinedCopy } from "../../../provider/src/engine/recovery-plan";

const marker = (over: Partial<MoveMarker> = {}): MoveMarker => ({
  id: "m1",
  from: "h1",
  to: "h2",
  mode: "offline",
  stops: true,
  since: "2026-12-04T10:00:00.000Z",
  ...over,
});

const copy = (host: string, running: boolean, m?: MoveMarker): DefinedCopy => ({
  host,
  running,
  ...(m ? { marker: m } : {}),
});

describe("engine: recovery of an interrupted move", () => {
  const table: Array<{
    name: string;
    copies: DefinedCopy[];
    jobActive?: boolean;
    expect:
      | { kind: "none" }
      | { kind: "blocked"; reason: RegExp }
      | { kind: "recover"; keep: string; start: boolean; undefine: string[]; summary: RegExp };
  }> = [
    {
      name: "no note anywhere: not ours to decide",
      copies: [copy("h1", false), copy("h2", true)],
      expect: { kind: "none" },
    },
    {
      name: "offline copy cut short: shut off on the source, which it left running",
      copies: [copy("h1", false, marker())],
      expect: {
        kind: "recover",
        keep: "h1",
        start: true,
        undefine: [],
        summary:
          /start vm on h1, where it was before the move \(it ran when a move h1 -> h2 .* shut it down and was interrupted/,
      },
    },
    {
      name: "stopped by itself during a move that does not stop it (a live one): stays off, the note goes",
      copies: [copy("h1", false, marker({ stops: false, mode: "live-copy-all" }))],
      expect: {
        kind: "recover",
        keep: "h1",
        start: false,
        undefine: [],
        summary:
          /keep vm shut off on h1, where it was before the move: it stopped during a move h1 -> h2 \(live-copy-all, .*\), which did not stop it/,
      },
    },
    {
      name: "killed between the define on the target and its start: the complete copy starts",
      copies: [copy("h1", false, marker()), copy("h2", false, marker())],
      expect: {
        kind: "recover",
        keep: "h2",
        start: true,
        undefine: ["h1"],
        summary: /start vm on h2, where the move's copy was complete .*remove the definition on h1/,
      },
    },
    {
      name: "switched over, source daemon died before its undefine: the running copy stays",
      copies: [copy("h2", true, marker()), copy("h1", false, marker())],
      expect: {
        kind: "recover",
        keep: "h2",
        start: false,
        undefine: ["h1"],
        summary: /vm runs on h2; remove the shut-off definition on h1/,
      },
    },
    {
      name: "a running copy with the note of a finished move: the note goes",
      copies: [copy("h2", true, marker())],
      expect: {
        kind: "recover",
        keep: "h2",
        start: false,
        undefine: [],
        summary: /clear the note/,
      },
    },
    {
      name: "a move under way (its job runs) keeps its note",
      copies: [copy("h1", true, marker())],
      jobActive: true,
      expect: { kind: "none" },
    },
    {
      name: "a second definition without the note was not made by this move",
      copies: [copy("h2", true, marker()), copy("h1", false)],
      expect: { kind: "blocked", reason: /not all made by one move/ },
    },
    {
      name: "notes of two different moves",
      copies: [copy("h2", true, marker()), copy("h1", false, marker({ id: "m2" }))],
      expect: { kind: "blocked", reason: /not all made by one move/ },
    },
    {
      name: "running on two hosts: never touched",
      copies: [copy("h1", true, marker()), copy("h2", true, marker())],
      expect: { kind: "blocked", reason: /runs on h1 and h2; nothing is touched/ },
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      const d = decideRecovery("vm", t.copies, t.jobActive);
      assert.equal(d.kind, t.expect.kind);
      if (d.kind === "blocked" && t.expect.kind === "blocked")
        assert.match(d.reason, t.expect.reason);
      if (d.kind === "recover" && t.expect.kind === "recover") {
        assert.equal(d.recovery.keep, t.expect.keep);
        assert.equal(d.recovery.start, t.expect.start);
        assert.deepEqual(d.recovery.undefine, t.expect.undefine);
        assert.match(d.recovery.summary, t.expect.summary);
      }
    });
  }
});
