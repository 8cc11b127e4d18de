// readPlacement's decisions with a scripted engine: a refresh that finds the VM, finds it gone,
// cannot see a lost host's VM, or finds what an earlier attempt left.
import assert from "node:assert/strict";
import { readPlacement } from "../../../provider/src/resources/vm-placement/read";
import type { PlacementOutputs } from "../../../provider/src/resources/vm-placement/types";
import {
  fakeEngine,
  locationUnknown,
  observation,
  planOf,
  recordOf,
  runtimeWith,
} from "./fake-engine";

const inputs = { domain: "web", host: "h1" };
const state: Partial<PlacementOutputs> = {
  domain: "web",
  host: "h1",
  currentHost: "h1",
  migrationCount: 1,
  lastMigration: null,
};

describe("readPlacement with a scripted engine", () => {
  it("a VM where the state saw it: its facts, nothing to clean, no plan asked for", async () => {
    const { engine, recorded } = fakeEngine({ observed: [observation("h1")] });
    const read = await readPlacement(runtimeWith(engine), "web", state, inputs);
    assert.equal(read?.outputs.currentHost, "h1");
    assert.equal(read?.outputs.pendingCleanup, undefined);
    assert.equal(read?.inputs.host, "h1");
    assert.deepEqual(recorded.calls, ["observe web"]);
  });

  it("a VM on no host: gone", async () => {
    const { engine } = fakeEngine({ observed: [undefined] });
    assert.equal(await readPlacement(runtimeWith(engine), "web", state, inputs), undefined);
  });

  it("moved outside Pulumi: the refreshed inputs say where, and leftovers are looked for", async () => {
    const { engine, recorded } = fakeEngine({
      observed: [observation("h3")],
      plans: [{ plan: planOf("web", "h3", "h3", "none") }],
    });
    const read = await readPlacement(runtimeWith(engine), "web", state, inputs);
    assert.equal(read?.inputs.host, "h3", "drift shows against the program's inputs");
    assert.deepEqual(recorded.calls, ["observe web", "plan web -> h3"]);
  });

  it("its host lost (libvirt and ssh silent): the state stays as last seen", async () => {
    const { engine } = fakeEngine({
      observed: [locationUnknown("web", "h1")],
      reach: { h1: { lost: true, reason: "libvirt: x; ssh: y", since: 0 } },
    });
    const read = await readPlacement(runtimeWith(engine), "web", state, inputs);
    assert.equal(read?.outputs.currentHost, "h1");
    assert.equal(read?.outputs.migrationCount, 1);
  });

  it("its host only sick (ssh answers): the refresh fails, naming the host", async () => {
    const { engine } = fakeEngine({
      observed: [locationUnknown("web", "h1")],
      reach: { h1: { lost: false, reason: "libvirt: x; ssh: answers", since: 0 } },
    });
    await assert.rejects(
      readPlacement(runtimeWith(engine), "web", state, inputs),
      /cannot tell where web runs: inventory host\(s\) h1 \(no route to host\)/,
    );
  });

  it("another host silent while the VM's host answers it is not there: the refresh fails", async () => {
    const { engine, recorded } = fakeEngine({ observed: [locationUnknown("web", "h3")] });
    await assert.rejects(readPlacement(runtimeWith(engine), "web", state, inputs), /h3/);
    assert.ok(!recorded.calls.includes("probe h3"), "only the VM's own host can be lost for it");
  });

  it("an interrupted move: the recovery and the move's other host are reported for the update", async () => {
    const recovery = {
      domain: "web",
      keep: "h1",
      summary: "start web on h1",
      marker: { from: "h1", to: "h2" },
    } as unknown as NonNullable<ReturnType<typeof planOf>["recovery"]>;
    const { engine } = fakeEngine({
      observed: [observation("h1", {}, true)],
      plans: [{ plan: planOf("web", "h1", "h1", "none", { recovery }) }],
    });
    const read = await readPlacement(runtimeWith(engine), "web", state, inputs);
    assert.deepEqual(
      read?.outputs.pendingCleanup?.map((c) => c.host),
      ["h1", "h2"],
    );
  });

  it("a failed last move: what it left is reported, and found again or gone on the next refresh", async () => {
    const plan = planOf("web", "h1", "h1", "none", {
      leftovers: [{ host: "h2", pool: "default", volume: "web-vda.qcow2" }],
      staleIncoming: ["h3"],
    });
    const failed = { ...state, lastMigration: recordOf(plan, "failed", "h1") };
    const { engine } = fakeEngine({ observed: [observation("h1")], plans: [{ plan }] });
    const read = await readPlacement(runtimeWith(engine), "web", failed, inputs);
    assert.deepEqual(read?.outputs.pendingCleanup, [
      { host: "h3", item: "a half-received copy of web" },
      { host: "h2", item: "default/web-vda.qcow2" },
    ]);
  });

  it("after a failover: the old host's stale definition is removed once it answers", async () => {
    const plan = planOf("web", "h1", "h2", "failover");
    const failedOver = {
      ...state,
      currentHost: "h2",
      host: "h2",
      lastMigration: recordOf(plan, "succeeded", "h2"),
    };
    const { engine, recorded } = fakeEngine({ observed: [observation("h2")] });
    await readPlacement(runtimeWith(engine), "web", failedOver, { domain: "web", host: "h2" });
    assert.ok(recorded.calls.includes("remove stale web on h1"), recorded.calls.join("; "));
  });

  it("keeps the definition only while the policy allows failover", async () => {
    for (const allowFailover of [true, false]) {
      const { engine } = fakeEngine({
        observed: [observation("h1", { definitionXml: "<domain/>" })],
      });
      let asked: boolean | undefined;
      const observe = engine.observeDomain;
      engine.observeDomain = (domain, options) => {
        asked = options?.definition;
        return observe(domain, options);
      };
      await readPlacement(
        runtimeWith(engine),
        "web",
        { ...state, definitionXml: "<old/>" },
        { ...inputs, policy: { allowFailover } },
      );
      assert.equal(asked, allowFailover);
    }
  });
});
