// applyPlacement's decisions with a scripted engine: what a preview and an update do with each
// kind of plan (a move, a block, a failover, a recovery), what they report, and what a failure
// leaves in the state. The lab tests prove the moves themselves.
import assert from "node:assert/strict";
import { MigrationError } from "../../../provider/src/engine";
import { ResourceFailedError } from "../../../provider/src/resources/controller";
import { applyPlacement } from "../../../provider/src/resources/vm-placement/apply";
import type { PlacementOutputs } from "../../../provider/src/resources/vm-placement/types";
import { fakeEngine, observation, observedOn, planOf, recordOf, runtimeWith } from "./fake-engine";

const inputs = { domain: "web", host: "h2" };
const previous: Partial<PlacementOutputs> = {
  currentHost: "h1",
  migrationCount: 2,
  lastMigration: null,
};

const recovery = {
  domain: "web",
  keep: "h1",
  summary: "start web on h1, where its disks are complete",
  marker: { id: "m1", from: "h1", to: "h2", mode: "offline", stops: true, since: "t" },
} as unknown as NonNullable<ReturnType<typeof planOf>["recovery"]>;

/** The failover of web from the lost h1 to h2. */
const failoverPlan = () =>
  planOf("web", "h1", "h2", "failover", {
    failover: {
      device: { agent: "/usr/sbin/fence_x", options: {}, secrets: {}, timeoutSeconds: 5 },
      definitionXml: "<domain/>",
      lostSince: 0,
      summary: "h1 unreachable (x): will fence h1 with fence_x, then start web on h2",
    },
  });

describe("applyPlacement with a scripted engine", () => {
  it("a preview plans the move, reports it, and runs nothing", async () => {
    const plan = planOf("web", "h1", "h2", "live-shared");
    const { engine, recorded } = fakeEngine({ plans: [{ plan }] });
    const out = await applyPlacement(runtimeWith(engine), inputs, { preview: true, previous });
    assert.equal(out.currentHost, "h1");
    assert.equal(out.plannedMigration?.mode, "live-shared");
    assert.equal(out.migrationCount, 2);
    assert.deepEqual(recorded.calls, ["plan web -> h2"]);
  });

  it("a blocked plan fails with VMP_PLAN_BLOCKED, naming each blocker, and runs nothing", async () => {
    const plan = planOf("web", "h1", "h2", "live-copy-all", {
      blockers: [{ code: "POOL_MISSING", message: "pool 'fast' does not exist on h2" }],
    });
    for (const preview of [true, false]) {
      const { engine, recorded } = fakeEngine({ plans: [{ plan }] });
      await assert.rejects(
        applyPlacement(runtimeWith(engine), inputs, { preview, previous }),
        (err: Error & { code?: string }) =>
          err.code === "VMP_PLAN_BLOCKED" &&
          /cannot place web on h2: POOL_MISSING: pool 'fast' does not exist on h2/.test(
            err.message,
          ),
      );
      assert.deepEqual(recorded.executed, []);
    }
  });

  it("an update runs the plan, observes only the host it ended on, and counts the move", async () => {
    const plan = planOf("web", "h1", "h2", "live-shared");
    const { engine, recorded } = fakeEngine({
      plans: [{ plan }],
      runs: [recordOf(plan, "succeeded", "h2")],
      observedOn: { h2: observedOn("h2") },
    });
    const out = await applyPlacement(runtimeWith(engine), inputs, { preview: false, previous });
    assert.equal(out.currentHost, "h2");
    assert.equal(out.migrationCount, 3);
    assert.equal(out.lastMigration?.result, "succeeded");
    assert.equal(out.plannedMigration, null);
    assert.deepEqual(recorded.calls, [
      "plan web -> h2",
      "execute live-shared",
      "observe web on h2",
    ]);
  });

  it("a move that fails keeps the placement where the VM is, with the failed record", async () => {
    const plan = planOf("web", "h1", "h2", "live-copy-all");
    const failed = recordOf(plan, "aborted", "h1");
    const { engine } = fakeEngine({
      plans: [{ plan }],
      runs: [new MigrationError("VMP_MIGRATION_ABORTED", "did not converge", failed)],
      observed: [observation("h1")],
    });
    const err = await applyPlacement(runtimeWith(engine), inputs, {
      preview: false,
      previous,
    }).catch((e: unknown) => e);
    assert.ok(err instanceof ResourceFailedError);
    assert.equal(err.code, "VMP_MIGRATION_ABORTED");
    assert.equal(err.id, "web");
    assert.equal(err.state.currentHost, "h1");
    assert.equal((err.state.lastMigration as { result: string }).result, "aborted");
    assert.equal(
      err.state.host,
      "h2",
      "the state keeps the new inputs, so the next update retries",
    );
  });

  it("a failover that fails its fence leaves its record, without asking the lost host again", async () => {
    const plan = failoverPlan();
    const failed = recordOf(plan, "failed", "h1", { errorCategory: "fence", fence: "off: exit 1" });
    const { engine, recorded } = fakeEngine({
      plans: [{ plan }],
      runs: [new MigrationError("VMP_FENCE_UNCONFIRMED", "fence not confirmed", failed)],
    });
    const err = await applyPlacement(runtimeWith(engine), inputs, {
      preview: false,
      previous: { ...previous, definitionXml: "<domain/>" },
    }).catch((e: unknown) => e);
    assert.ok(err instanceof ResourceFailedError);
    assert.equal(err.code, "VMP_FENCE_UNCONFIRMED");
    assert.equal(err.state.currentHost, "h1");
    assert.equal(err.state.definitionXml, "<domain/>", "the definition stays for the next try");
    assert.equal((err.state.lastMigration as { mode: string }).mode, "failover");
    assert.ok(!recorded.calls.some((c) => c.startsWith("observe")), recorded.calls.join("; "));
  });

  it("a preview of a failover shows it from the lost host, with nothing to send", async () => {
    const plan = failoverPlan();
    const { engine } = fakeEngine({ plans: [{ plan }] });
    const out = await applyPlacement(runtimeWith(engine), inputs, { preview: true, previous });
    assert.equal(out.currentHost, "h1");
    assert.equal(out.plannedMigration?.mode, "failover");
    assert.equal(out.plannedMigration?.summary, plan.failover!.summary);
    assert.equal(out.plannedMigration?.forecast, undefined);
    assert.equal(out.plannedMigration?.bytesToMove, 0);
  });

  it("an interrupted move is recovered first, then the placement is planned again", async () => {
    const recover = planOf("web", "h1", "h1", "none", { recovery });
    const move = planOf("web", "h1", "h2", "live-shared");
    const { engine, recorded } = fakeEngine({
      plans: [{ plan: recover }, { plan: move }],
      runs: [recordOf(recover, "noop", "h1"), recordOf(move, "succeeded", "h2")],
      observedOn: { h2: observedOn("h2") },
    });
    const out = await applyPlacement(runtimeWith(engine), inputs, { preview: false, previous });
    assert.equal(out.currentHost, "h2");
    assert.deepEqual(recorded.calls, [
      "plan web -> h2",
      "execute none",
      "plan web -> h2",
      "execute live-shared",
      "observe web on h2",
    ]);
  });

  it("a recovery's preview says what will be done first, and does nothing", async () => {
    const { engine, recorded } = fakeEngine({
      plans: [{ plan: planOf("web", "h1", "h1", "none", { recovery }) }],
    });
    const out = await applyPlacement(runtimeWith(engine), inputs, { preview: true, previous });
    assert.match(
      out.plannedMigration!.summary,
      /^web: start web on h1, where its disks are complete; then web is placed on h2/,
    );
    assert.deepEqual(recorded.executed, []);
  });

  it("a recovery whose note is still found after it ran stops, naming the host", async () => {
    const recover = planOf("web", "h1", "h1", "none", { recovery });
    const { engine } = fakeEngine({
      plans: [{ plan: recover }, { plan: recover }],
      runs: [recordOf(recover, "noop", "h1")],
    });
    await assert.rejects(
      applyPlacement(runtimeWith(engine), inputs, { preview: false, previous }),
      (err: Error & { code?: string }) =>
        err.code === "VMP_RECOVERY_FAILED" && /check h1/.test(err.message),
    );
  });
});
