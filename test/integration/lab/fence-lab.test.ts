// The lab's fence agent (test/lab/fence_lab) through the provider's fence-agents client, on a
// real lab host: off kills the host's QEMUs, libvirtd and sshd and cuts its link, and status
// confirms it; on brings libvirtd and sshd back with the guest left off; a broken device is
// never taken for a fence.
import assert from "node:assert/strict";
import path from "node:path";
import { runFenceAgent, type FenceDevice } from "../../../provider/src/fencing/agent";
import { fenceOff } from "../../../provider/src/fencing/fence";
import { loadLab, type LabDescription, type LabHost } from "../../lab/lab";
import { run } from "../../lab/run";
import { definedDomains, runningDomains, virsh } from "../../lab/virsh";
import { GuestFactory } from "../engine/lab-engine";

const FENCE_LAB = path.resolve(__dirname, "..", "..", "..", "..", "test", "lab", "fence_lab");

const labDevice = (host: LabHost, extra: Record<string, string> = {}): FenceDevice => ({
  agent: FENCE_LAB,
  options: { plug: host.name, ...extra },
  secrets: {},
  timeoutSeconds: 30,
});

describe("lab fence agent: power a lab host off and on through the fence-agents interface", function () {
  this.timeout(180_000);
  let lab: LabDescription;
  let guests: GuestFactory;
  let host: LabHost;
  let runningBefore: string[] = [];

  before(async () => {
    lab = loadLab();
    guests = new GuestFactory(lab);
    host = lab.hosts[lab.hosts.length - 1];
    runningBefore = await runningDomains(host);
  });
  after(async () => {
    // Whatever failed, the host is on again, running what it ran, for the tests after this one.
    await runFenceAgent(labDevice(host), "on");
    for (const d of runningBefore) await virsh(host, "start", d).catch(() => undefined);
    await guests?.cleanup();
  });

  it("off is confirmed by status, and nothing of the host answers or runs", async () => {
    const g = await guests.local("fence", host, { memoryMiB: 128, sizeMiB: 16 });
    const fenced = await fenceOff(host.name, labDevice(host));
    assert.equal(fenced.confirmed, true, fenced.reason);
    assert.deepEqual(
      fenced.calls.map((c) => [c.action, c.exitCode]),
      [
        ["off", 0],
        ["status", 2],
      ],
    );
    await assert.rejects(run("virsh", ["-c", host.uris.tcp, "version"], { timeoutMs: 15_000 }));
    const inHost = (await run("ip", ["netns", "pids", host.namespace])).trim().split(/\s+/);
    assert.equal(inHost.length, 1, "only the namespace's anchor is left");

    const on = await runFenceAgent(labDevice(host), "on");
    assert.equal(on.ok, true, on.output);
    assert.equal((await runFenceAgent(labDevice(host), "status")).power, "on");
    assert.match(await virsh(host, "version"), /libvirt/i);
    assert.ok(
      (await definedDomains(host)).includes(g.name),
      "the guest's definition is still there",
    );
    assert.ok(!(await runningDomains(host)).includes(g.name), "and it stays off");
  });

  it("a device that fails is not a fence: the host keeps running", async () => {
    const fenced = await fenceOff(host.name, labDevice(host, { fail: "1" }));
    assert.equal(fenced.confirmed, false);
    assert.match(
      fenced.reason!,
      /could not power h\d off: off: exit 1 \(Failed: fence device does not answer/,
    );
    assert.equal((await runFenceAgent(labDevice(host), "status")).power, "on");
  });
});
