// The provider's functions through the real CLI, from TypeScript and Python programs using the
// generated SDKs: getHosts sees the lab's hosts and the guest running on one; getPlacement finds
// it; planPlacement plans its move without a stack changing anything; bad arguments and unknown
// function names fail with errors that say what is wrong.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { hostsRunning } from "../lab/virsh";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import { pulumiWorkspace, type PulumiWorkspace } from "../support/pulumi-cli";
import { pythonEnv } from "../support/python-env";
import { labHosts } from "./placement-workspace";

const PROGRAMS = path.resolve(__dirname, "..", "..", "..", "test", "e2e", "programs");

async function functionsStack(
  program: string,
  lab: LabDescription,
  domain: string,
  target: LabHost,
  env: Record<string, string> = {},
): Promise<PulumiWorkspace> {
  const ws = pulumiWorkspace({}, { programDir: path.join(PROGRAMS, program) });
  Object.assign(ws.env, env);
  // A unique stack: its Pulumi.<stack>.yaml lands in the program's directory.
  await ws.pulumi(["stack", "init", `fn-${randomBytes(3).toString("hex")}`]);
  await ws.pulumi(["config", "set", "domain", domain]);
  await ws.pulumi(["config", "set", "target", target.name]);
  await ws.pulumi(["config", "set", "--path", "vmplacement:hosts", JSON.stringify(labHosts(lab))]);
  return ws;
}

const removeStack = async (ws: PulumiWorkspace | undefined) => {
  await ws?.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
  ws?.cleanup();
};

describe("provider e2e: functions from TypeScript and Python programs", function () {
  this.timeout(900_000);
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let guests: GuestFactory;
  let guest: TestGuest;

  before(async () => {
    lab = loadLab();
    [h1, h2] = lab.hosts;
    guests = new GuestFactory(lab);
    guest = await guests.shared("e2e-fn", h1, 7);
  });
  after(async () => {
    await guests?.cleanup();
  });

  describe("TypeScript", () => {
    let ws: PulumiWorkspace;
    before(async () => {
      ws = await functionsStack("functions", lab, guest.name, h2);
    });
    after(() => removeStack(ws));

    it("reports the hosts, finds the guest, and plans its move without changing anything", async () => {
      await ws.pulumi(["up", "--yes", "--skip-preview"]);
      const out = await ws.output<{
        hostNames: string[];
        reachable: string[];
        running: Record<string, string[]>;
        pools: Record<string, Array<{ name: string; shared: boolean; free: number }>>;
        freeMemoryBytes: Record<string, number>;
        placement: {
          currentHost: string;
          currentDisks: Array<{ target: string; pool?: string | null }>;
        };
        planMoves: boolean;
        planSummary: string;
        planMode: string;
        planVerdict: string;
      }>();
      const names = lab.hosts.map((h) => h.name);
      assert.deepEqual(out.hostNames, names);
      assert.deepEqual(out.reachable, names);
      assert.ok(out.running[h1.name].includes(guest.name));
      assert.ok(!out.running[h2.name].includes(guest.name));
      for (const n of names) {
        const local = out.pools[n].find((p) => p.name === "local");
        assert.ok(
          local && !local.shared && local.free > 0,
          `${n}: ${JSON.stringify(out.pools[n])}`,
        );
        assert.ok(out.freeMemoryBytes[n] > 0);
      }
      assert.equal(out.placement.currentHost, h1.name);
      // The guest's disk is a network disk (the lab's shared storage), in no pool.
      assert.deepEqual(
        out.placement.currentDisks.map((d) => [d.target, d.pool ?? null]),
        [["vda", null]],
      );
      assert.equal(out.planMoves, true);
      assert.equal(out.planMode, "live-shared");
      assert.equal(out.planVerdict, "converges");
      assert.match(out.planSummary, new RegExp(`${guest.name}: ${h1.name} -> ${h2.name}`));
      // A plan is only a plan.
      assert.deepEqual(await hostsRunning(lab.hosts, guest.name), [h1.name]);
    });

    it("a host outside the inventory fails the call, naming the argument and the hosts", async () => {
      await ws.pulumi(["config", "set", "badHost", "h9"]);
      await assert.rejects(ws.pulumiWithDiagnostics(["preview"]), (err: Error) => {
        assert.match(err.message, /host 'h9' is not in the provider's inventory/);
        assert.match(err.message, /\bhost\b/);
        return true;
      });
      await ws.pulumi(["config", "rm", "badHost"]);
    });

    it("an unknown function name is a clear error", async () => {
      await ws.pulumi(["config", "set", "badFunction", "true"]);
      await assert.rejects(ws.pulumiWithDiagnostics(["preview"]), (err: Error) => {
        assert.match(
          err.message,
          /vmplacement has no function 'vmplacement:index:getNothing'; it has vmplacement:index:getHosts/,
        );
        return true;
      });
      await ws.pulumi(["config", "rm", "badFunction"]);
    });
  });

  describe("Python", () => {
    let ws: PulumiWorkspace;
    before(async () => {
      ws = await functionsStack("functions-py", lab, guest.name, h2, await pythonEnv());
    });
    after(() => removeStack(ws));

    it("reports the hosts, finds the guest, and plans its move", async () => {
      await ws.pulumi(["up", "--yes", "--skip-preview"]);
      const out = await ws.output<{
        hostNames: string[];
        reachable: string[];
        running: Record<string, string[]>;
        currentHost: string;
        disks: string[];
        planMoves: boolean;
        planSummary: string;
        planMode: string;
      }>();
      assert.deepEqual(
        out.reachable,
        lab.hosts.map((h) => h.name),
      );
      assert.ok(out.running[h1.name].includes(guest.name));
      assert.equal(out.currentHost, h1.name);
      assert.deepEqual(out.disks, ["vda"]);
      assert.equal(out.planMoves, true);
      assert.equal(out.planMode, "live-shared");
      assert.match(out.planSummary, new RegExp(`${guest.name}: ${h1.name} -> ${h2.name}`));
    });
  });
});
