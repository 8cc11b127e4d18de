// The rebalance example (a PlacementGroup fleet) and the evacuation pipeline on the lab, both as
// fresh projects outside the repository: the pipeline (Automation API) cordons a host, printing
// the plan from the preview and a report after `up`; only the host's VMs move, spread over the
// other hosts, every VM running on exactly one host. A plan that strands a VM changes nothing and
// fails, naming the VM and why. Ending the maintenance moves nothing back; turning rebalance on
// evens the load with no more moves than that needs.
import assert from "node:assert/strict";
import path from "node:path";
import { loadLab, type LabDescription } from "../lab/lab";
import { run } from "../lab/run";
import { hostsRunning, virsh } from "../lab/virsh";
import { GuestFactory } from "../integration/engine/lab-engine";
import { exampleProject, type ExampleProject } from "../support/example-project";

/** The fleet's VMs are all this size (KiB). */
const VM_KIB = 128 * 1024;

describe("rebalance example and evacuation pipeline: evacuate a host", function () {
  let lab: LabDescription;
  let guests: GuestFactory;
  let fleet: ExampleProject;
  let pipeline: ExampleProject;
  const homes: Record<string, string> = {};

  before(async () => {
    lab = loadLab();
    guests = new GuestFactory(lab);
    const [h1, h2, h3] = lab.hosts;
    for (const [i, host] of [h1, h1, h1, h1, h2, h3].entries())
      homes[(await guests.local(`rb${i}`, host, { memoryMiB: VM_KIB / 1024, sizeMiB: 16 })).name] =
        host.name;
    fleet = await exampleProject("rebalance");
    pipeline = await exampleProject("evacuate-pipeline");
    await fleet.initLabStack("rebalance");
    await fleet.pulumi(["config", "set", "vmplacement:maxMigrationsPerHostOutbound", "2"]);
    await fleet.pulumi(["config", "set", "vmplacement:maxMigrationsPerHostInbound", "2"]);
    await fleet.pulumi(["config", "set", "vms", JSON.stringify(Object.keys(homes))]);
    await fleet.pulumi(["up", "--yes", "--skip-preview"]);
  });
  after(async () => {
    await fleet?.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
    fleet?.cleanup();
    pipeline?.cleanup();
    await guests?.cleanup();
  });

  const where = async () => fleet.output<Record<string, string>>("where");
  async function assertEachOnOneHost(expected: Record<string, string>): Promise<void> {
    for (const [vm, host] of Object.entries(expected))
      assert.deepEqual(await hostsRunning(lab.hosts, vm), [host], `${vm} runs only on ${host}`);
  }
  /** The memory given to every VM running on each host (KiB), by host name. */
  async function memoryPerHost(): Promise<Record<string, number>> {
    const perHost = await Promise.all(
      lab.hosts.map(async (h) => {
        const names = (await virsh(h, "list", "--name")).split("\n").filter((n) => n.trim());
        const kib = await Promise.all(
          names.map(async (n) =>
            Number(/Used memory:\s+(\d+)/.exec(await virsh(h, "dominfo", n.trim()))?.[1] ?? 0),
          ),
        );
        return kib.reduce((a, b) => a + b, 0);
      }),
    );
    return Object.fromEntries(lab.hosts.map((h, i) => [h.name, perHost[i]]));
  }
  /** How many of the VMs in `placed` (VM -> host) are on `host`. */
  const count = (placed: Record<string, string>, host: string) =>
    Object.values(placed).filter((p) => p === host).length;

  /** The pipeline run with the fleet project's backend, home and passphrase. */
  const evacuate = (host: string) =>
    run(
      "node",
      [
        path.join(pipeline.dir, "bin", "index.js"),
        "--host",
        host,
        "--stack",
        "rebalance",
        "--work-dir",
        fleet.dir,
      ],
      {
        env: fleet.env,
        timeoutMs: 600_000,
        withStderr: true,
      },
    );

  it("refuses an evacuation that would strand a VM, naming it and why, changing nothing", async () => {
    // rb4 and rb5 (on h2 and h3) in one anti-affinity group with an h1 VM: with h1 cordoned,
    // rb0 has nowhere to go.
    const [rb0, , , , rb4, rb5] = Object.keys(homes);
    await fleet.pulumi([
      "config",
      "set",
      "groups",
      JSON.stringify({ [rb0]: "g", [rb4]: "g", [rb5]: "g" }),
    ]);
    await fleet.pulumi(["up", "--yes", "--skip-preview"]);
    await assert.rejects(
      evacuate("h1"),
      new RegExp(
        `evacuation of h1 not started: 1 VMs cannot leave:\\n  ${rb0}: no allowed host can take it`,
      ),
    );
    await assert.rejects(
      fleet.pulumi(["config", "get", "cordon"]),
      /configuration key .* not found/,
    );
    await fleet.pulumi(["config", "rm", "groups"]);
    await fleet.pulumi(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(await where(), homes);
  });

  it("evacuates h1: prints the plan, spreads its VMs over h2 and h3, reports each move", async () => {
    const [h1, h2, h3] = lab.hosts.map((h) => h.name);
    const leaving = Object.keys(homes).filter((vm) => homes[vm] === h1);
    // Spread sends each leaver to the least loaded host that can take it (load: the memory
    // given to every VM there, the lab's other guests too), counting the ones already sent there.
    const start = await memoryPerHost();
    const out = await evacuate(h1);
    const now = await where();
    for (const vm of leaving)
      assert.match(
        out,
        new RegExp(`${vm}\\s+${h1}\\s+${now[vm]}\\s+live-`),
        `the plan lists ${vm}`,
      );
    assert.match(out, new RegExp(`moved ${leaving.length}, failed 0, in [\\d.]+ s`));
    for (const vm of leaving)
      assert.match(
        out,
        new RegExp(`${vm}\\s+${h1}\\s+${now[vm]}\\s+${now[vm]}\\s+moved\\s+[\\d.]+\\s+\\d+`),
        `the report has ${vm}`,
      );

    assert.deepEqual(
      Object.keys(now)
        .filter((vm) => now[vm] !== homes[vm])
        .sort(),
      leaving.sort(),
      "exactly the VMs that had to leave h1 moved",
    );
    assert.equal(count(now, h1), 0, `${h1} runs none of the fleet`);
    // The lighter of h2 and h3 takes VMs until it is no lighter, then they alternate: both take
    // some unless one starts lighter by all but one of them, and they end at most one VM apart
    // (or as far apart as the moves could not close).
    const gap = Math.abs(start[h2] - start[h3]);
    const moved = leaving.length * VM_KIB;
    if (gap < moved - VM_KIB)
      for (const h of [h2, h3])
        assert.ok(
          leaving.some((vm) => now[vm] === h),
          `${h} took some of ${h1}'s VMs (loads before: ${JSON.stringify(start)}): ${JSON.stringify(now)}`,
        );
    const end = await memoryPerHost();
    assert.ok(
      Math.abs(end[h2] - end[h3]) <= Math.max(VM_KIB, gap - moved),
      `${h2} and ${h3} end evenly loaded: before ${JSON.stringify(start)}, after ${JSON.stringify(end)}`,
    );
    await assertEachOnOneHost(now);
  });

  it("ending the maintenance moves nothing back; rebalance evens the load", async () => {
    const drained = await where();
    await fleet.pulumi(["config", "rm", "cordon"]);
    await fleet.pulumi(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(await where(), drained, "uncordoning moves nothing");
    const start = await memoryPerHost();
    await fleet.pulumi(["config", "set", "rebalance", "true"]);
    await fleet.pulumi(["up", "--yes", "--skip-preview"], 600_000);
    const now = await where();
    const end = await memoryPerHost();
    // All VMs are one size: a move helps while a host with one of them is more than one VM
    // heavier than another. So at the end none is, and every move went from a host above the
    // mean load to one below it, no more of them than it takes to bring those down to it.
    const hosts = lab.hosts.map((h) => h.name);
    const lightest = Math.min(...hosts.map((h) => end[h]));
    for (const h of hosts.filter((h) => count(now, h) > 0))
      assert.ok(
        end[h] - lightest <= VM_KIB,
        `${h} is at most one VM heavier than the lightest host: ${JSON.stringify(end)}`,
      );
    const mean = hosts.reduce((sum, h) => sum + start[h], 0) / hosts.length;
    const moved = Object.keys(now).filter((vm) => now[vm] !== drained[vm]);
    for (const vm of moved)
      assert.ok(
        start[drained[vm]] > mean && start[now[vm]] < mean,
        `${vm} moved ${drained[vm]} -> ${now[vm]}, from above the mean load to below it: ${JSON.stringify(start)}`,
      );
    const needed = hosts.reduce((n, h) => n + Math.ceil(Math.max(0, start[h] - mean) / VM_KIB), 0);
    assert.ok(
      moved.length >= 1 && moved.length <= needed,
      `${moved.join(", ")} moved; at most ${needed} needed`,
    );
    assert.ok(
      Math.max(...Object.values(end)) - lightest <
        Math.max(...Object.values(start)) - Math.min(...Object.values(start)),
      "memory given to VMs is more even across the hosts",
    );
    await assertEachOnOneHost(now);
  });
});
