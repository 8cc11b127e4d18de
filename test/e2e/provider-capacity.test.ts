// Checks across the whole update: two guests that each fit a host alone but not together are
// both placed there in one program; preview blocks the second with HOST_OVERCOMMITTED, naming
// the first, and nothing moves; `up` moves the first and leaves the second where it runs.
import assert from "node:assert/strict";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { hostsRunning, virsh } from "../lab/virsh";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import { exampleProject, type ExampleProject } from "../support/example-project";

describe("provider e2e: placements of one update share the target's memory", function () {
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let h3: LabHost;
  let guests: GuestFactory;
  /** Each configured with ~60% of h2's free memory; QEMU allocates lazily, so both run. */
  let big: TestGuest[];
  let ws: ExampleProject;

  const setVms = (vms: Record<string, string>) =>
    ws.pulumi(["config", "set", "vms", JSON.stringify(vms)]);

  before(async () => {
    lab = loadLab();
    [h1, h2, h3] = lab.hosts;
    guests = new GuestFactory(lab);
    const freeKiB = Number(/Total:\s+(\d+) KiB/.exec(await virsh(h2, "freecell"))![1]);
    const memoryMiB = Math.ceil((freeKiB / 1024) * 0.6);
    big = [
      await guests.local("cap-a", h1, { memoryMiB, sizeMiB: 16 }),
      await guests.local("cap-b", h3, { memoryMiB, sizeMiB: 16 }),
    ];
    ws = await exampleProject("typescript");
    await ws.initLabStack("capacity");
    await setVms({ [big[0].name]: h1.name, [big[1].name]: h3.name });
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
  });
  after(async () => {
    await ws?.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
    ws?.cleanup();
    await guests?.cleanup();
  });

  /** currentHost of each VmPlacement in the state, by domain. */
  const stateHosts = async () => {
    const state = JSON.parse(await ws.pulumi(["stack", "export"]));
    const placements = state.deployment.resources.filter(
      (r: { type: string }) => r.type === "vmplacement:index:VmPlacement",
    );
    return Object.fromEntries(
      placements.map((r: { outputs: { domain: string; currentHost: string } }) => [
        r.outputs.domain,
        r.outputs.currentHost,
      ]),
    );
  };

  it("previews either move alone", async () => {
    const [a, b] = big.map((g) => g.name);
    await setVms({ [a]: h2.name, [b]: h3.name });
    const out = await ws.pulumiWithDiagnostics(["preview"]);
    assert.match(out, new RegExp(`${a}: h1 -> h2`));
    assert.doesNotMatch(out, /HOST_OVERCOMMITTED|INSUFFICIENT_MEMORY/);
  });

  it("blocks the second move into the host, naming the first; preview changes nothing", async () => {
    const [a, b] = big.map((g) => g.name);
    await setVms({ [a]: h2.name, [b]: h2.name });
    const failure = (args: string[]) =>
      ws.pulumiWithDiagnostics(args).then(
        () => assert.fail(`pulumi ${args[0]} should fail`),
        (e: Error) => e.message,
      );
    const blocked = new RegExp(
      `HOST_OVERCOMMITTED: host h2 has \\d+ MiB free, but moves planned in this run hold \\d+ MiB of it \\((${a}|${b}) \\d+ MiB\\), leaving \\d+ MiB; (${a}|${b}) needs \\d+ MiB`,
    );
    const preview = await failure(["preview"]);
    const match = blocked.exec(preview);
    assert.ok(match, `no HOST_OVERCOMMITTED in: ${preview}`);
    assert.notEqual(match[1], match[2], "the blocked placement names the other one");
    assert.doesNotMatch(preview, /INSUFFICIENT_MEMORY/, "each fits h2 on its own");
    assert.deepEqual(await hostsRunning(lab.hosts, a), [h1.name]);
    assert.deepEqual(await hostsRunning(lab.hosts, b), [h3.name]);

    // An update is a partial failure: the move holding h2's memory runs, the blocked one does
    // not start, and the state says where each VM is.
    const up = await failure(["up", "--yes", "--skip-preview"]);
    const upMatch = blocked.exec(up);
    assert.ok(upMatch, `no HOST_OVERCOMMITTED in: ${up}`);
    const [, holder, stopped] = upMatch;
    const home = { [a]: h1.name, [b]: h3.name };
    assert.deepEqual(await hostsRunning(lab.hosts, holder), [h2.name]);
    assert.deepEqual(await hostsRunning(lab.hosts, stopped), [home[stopped]]);
    assert.deepEqual(await stateHosts(), { [holder]: h2.name, [stopped]: home[stopped] });
  });
});
