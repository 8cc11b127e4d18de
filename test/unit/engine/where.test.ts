// Which copies of a domain never ran on their host: the fact that lets a later run remove what an
// interrupted migration left on its target, and nothing else.
import assert from "node:assert/strict";
import { describeState, pausedBeforeRunning } from "../../../provider/src/engine/where";
import { constants as C } from "../../../provider/src/libvirt";

const R = C.virDomainPausedReason;

describe("a copy paused before its guest ran", () => {
  const rows: [string, string, number, boolean][] = [
    ["incoming migration", "paused", R.VIR_DOMAIN_PAUSED_MIGRATION, true],
    [
      "start never finished (daemon killed, then reconnected)",
      "paused",
      R.VIR_DOMAIN_PAUSED_STARTING_UP,
      true,
    ],
    ["paused by a user", "paused", R.VIR_DOMAIN_PAUSED_USER, false],
    [
      "post-copy failed: it holds guest state",
      "paused",
      R.VIR_DOMAIN_PAUSED_POSTCOPY_FAILED,
      false,
    ],
    ["post-copy running", "paused", R.VIR_DOMAIN_PAUSED_POSTCOPY, false],
    ["an I/O error", "paused", R.VIR_DOMAIN_PAUSED_IOERROR, false],
    ["reason unknown", "paused", R.VIR_DOMAIN_PAUSED_UNKNOWN, false],
    ["running", "running", 1, false],
  ];
  for (const [name, state, reason, expected] of rows)
    it(`${name}: ${expected ? "never ran here" : "may hold the guest"}`, () =>
      assert.equal(pausedBeforeRunning(state, reason), expected));

  it("is described with libvirt's reason", () => {
    assert.equal(describeState("paused", R.VIR_DOMAIN_PAUSED_STARTING_UP), "paused (starting up)");
    assert.equal(describeState("paused", 99), "paused (reason 99)");
    assert.equal(describeState("running", 1), "running");
  });
});
