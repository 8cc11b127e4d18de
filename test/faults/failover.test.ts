// Host failure through the real CLI on the lab: h1's link is cut while its VM keeps running
// (a partition), and the program moves the VM to h2.
//   (a) With failover allowed, `up` fences h1 through the lab's fence agent before any QEMU on
//       h2 opens the shared disk (the old QEMU's exit is observed before the new one's start),
//       the VM runs on h2 only, its shared disk is intact, and the record says failover.
//   (d) When h1 comes back, a refresh undefines its stale definition; nothing runs twice.
//   (b) A fence agent that fails: nothing starts, the error says why, the state keeps the VM
//       where it was with the failed failover's record.
//   (c) A VM with a local disk on the lost host is refused like (e): a row of the unit table.
//   (e) A policy without allowFailover fails at preview, saying so.
//   (f) A PlacementGroup that cordons the lost host assigns its VM elsewhere: it fails over (h1
//       fenced, its QEMU gone, the record says failover) and runs on one host.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import { cutLink, processAlive as alive, repairAll } from "../lab/faults";
import { diskContentSha256 } from "../lab/guests";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { run } from "../lab/run";
import { definedDomains, hostsRunning, virsh } from "../lab/virsh";
import { labHosts, placementWorkspace } from "../e2e/placement-workspace";
import { pulumiWorkspace, type PulumiWorkspace } from "../support/pulumi-cli";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const FENCE_LAB = path.join(REPO_ROOT, "test", "lab", "fence_lab");
const GROUP_PROGRAM = path.join(REPO_ROOT, "test", "e2e", "programs", "group");

/** The guest's QEMU processes inside a host's namespace. */
async function qemuPids(host: LabHost, domain: string): Promise<number[]> {
  const inNs = new Set(
    (await run("ip", ["netns", "pids", host.namespace])).split(/\s+/).filter(Boolean),
  );
  const all = await run("pgrep", ["-f", `guest=${domain},`]).catch(() => "");
  return all
    .split(/\s+/)
    .filter((p) => p && inNs.has(p))
    .map(Number);
}

/** Seconds since boot: the clock /proc's process start times count in. */
const uptime = () => Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);

/** When a process started, in seconds since boot (field 22 of its stat, in 100 Hz ticks). */
function startedAt(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[19]) / 100;
}

describe("fault tier: a lost host is fenced and its VM started elsewhere, never twice", function () {
  this.timeout(300_000);
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let guests: GuestFactory;
  let ws: PulumiWorkspace;

  before(() => {
    lab = loadLab();
    [h1, h2] = lab.hosts;
    guests = new GuestFactory(lab);
  });
  afterEach(async () => {
    await repairAll();
    // A fenced h1 is powered on again (its guests stay off, as on real hosts).
    await run(FENCE_LAB, [`--action=on`, `--plug=${h1.name}`]).catch(() => undefined);
    await ws?.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
    ws?.cleanup();
    await guests.cleanup();
  });

  /** The lab's hosts, h1 with its fence device (the lab agent, plus `fence` options). */
  const fencedHosts = (fence: Record<string, string> = {}) =>
    labHosts(lab).map((h) =>
      h.name === h1.name
        ? { ...h, fence: { agent: FENCE_LAB, options: { plug: h1.name, ...fence } } }
        : h,
    );

  /** A stack placing `g` on h1 with the lab's hosts, h1's fence device and a policy. */
  async function adopt(
    g: TestGuest,
    policy: Record<string, unknown>,
    fence: Record<string, string> = {},
    webhookUrl?: string,
  ) {
    ws = placementWorkspace();
    await ws.pulumi(["stack", "init", `fo-${g.name}`]);
    await ws.pulumi(["config", "set", "vmplacement:hosts", JSON.stringify(fencedHosts(fence))]);
    await ws.pulumi(["config", "set", "domain", g.name]);
    await ws.pulumi(["config", "set", "host", h1.name]);
    await ws.pulumi(["config", "set", "policyResource", JSON.stringify(policy)]);
    if (webhookUrl) {
      await ws.pulumi(["config", "set", "webhookUrl", webhookUrl]);
      await ws.setSecret("webhookToken", "Bearer lab-hook");
    }
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
  }
  const state = async () => {
    const exported = JSON.parse(await ws.pulumi(["stack", "export"]));
    return exported.deployment.resources.find(
      (r: { type: string }) => r.type === "vmplacement:index:VmPlacement",
    ).outputs as { currentHost: string; lastMigration?: Record<string, unknown> | null };
  };

  it("(a) partition: fences h1 before h2 opens the shared disk; (d) h1's stale definition goes", async () => {
    // A domain with what real ones carry: kept in the state for the failover, as a secret only.
    const secrets = { vncPassword: "vncFo123", credential: "cred-failover-7a1c" };
    const g = await guests.shared("fo-a", h1, 1, "heartbeat", 128, secrets);
    const events: Array<{ event: string; domain: string; record?: { mode: string } }> = [];
    const hook = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        events.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    after(() => hook.close());
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    await adopt(g, { allowFailover: true }, {}, hookUrl);
    const sum = await diskContentSha256(h2, g.disk, 1024 * 1024);
    const [oldPid] = await qemuPids(h1, g.name);
    assert.ok(oldPid, "the guest's QEMU runs on h1");

    await cutLink(h1);
    await ws.pulumi(["config", "set", "host", h2.name]);
    const preview = await ws.pulumiWithDiagnostics(["preview"]);
    assert.match(
      preview,
      new RegExp(
        `h1 unreachable \\(libvirt: .*; ssh: .*\\): will fence h1 with fence_lab, then start ${g.name} on h2 from shared storage`,
      ),
    );
    assert.ok(alive(oldPid), "preview fences nothing");

    // When the old QEMU goes (seconds since boot), seen every 20 ms while `up` runs.
    let goneAt: number | undefined;
    const watch = setInterval(() => {
      if (goneAt === undefined && !alive(oldPid)) goneAt = uptime();
    }, 20);
    const started = Date.now();
    try {
      await ws.pulumi(["up", "--yes", "--skip-preview"]);
    } finally {
      clearInterval(watch);
    }
    const upSeconds = (Date.now() - started) / 1000;
    const [newPid] = await qemuPids(h2, g.name);
    assert.ok(newPid, "the guest's QEMU runs on h2");
    assert.ok(goneAt !== undefined, "the old QEMU is gone");
    const newStart = startedAt(newPid);
    // The watch sees the old one gone up to 20 ms late; start times have 10 ms resolution.
    assert.ok(
      goneAt! <= newStart + 0.03,
      `old QEMU gone at ${goneAt} s, new one started at ${newStart} s (since boot)`,
    );

    const s = await state();
    assert.equal(s.currentHost, h2.name);
    assert.equal(s.lastMigration?.mode, "failover");
    assert.match(
      String(s.lastMigration?.fence),
      /fence_lab off: exit 0.*status: exit 2, power off/,
    );
    assert.ok(Number(s.lastMigration?.downtimeMs) > 0);
    const failover = events.find((e) => e.event === "failover");
    assert.equal(failover?.domain, g.name, "the webhook got a failover event");
    assert.equal(failover?.record?.mode, "failover");
    assert.deepEqual(await hostsRunning([h2, lab.hosts[2]], g.name), [h2.name]);
    assert.equal((await virsh(h2, "dominfo", g.name)).match(/Autostart:\s+(\w+)/)?.[1], "disable");
    assert.equal(
      await diskContentSha256(h2, g.disk, 1024 * 1024),
      sum,
      "the shared disk is intact",
    );
    // The VM started from the kept definition has its password and credential; the state holds
    // them only as secrets.
    const started2 = await virsh(h2, "dumpxml", "--security-info", g.name);
    assert.ok(started2.includes(secrets.vncPassword), "the VNC password came along");
    assert.ok(started2.includes(secrets.credential), "the SMBIOS credential came along");
    const exported = await ws.pulumi(["stack", "export"]);
    for (const value of Object.values(secrets))
      assert.ok(!exported.includes(value), `${value} is not in the state in plain text`);
    console.log(
      `      failover: up took ${upSeconds.toFixed(1)} s; downtime ${s.lastMigration?.downtimeMs} ms (from the first failed contact to running on h2)`,
    );

    // (d) h1 comes back: its definition of the VM is stale, and a refresh removes it.
    await repairAll();
    await run(FENCE_LAB, [`--action=on`, `--plug=${h1.name}`]);
    assert.ok((await definedDomains(h1)).includes(g.name), "h1 still defines the VM");
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h2.name], "and does not run it");
    await ws.pulumi(["refresh", "--yes", "--skip-preview"]);
    assert.ok(!(await definedDomains(h1)).includes(g.name), "the refresh undefined it on h1");
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h2.name]);
  });

  it("(e) a policy without allowFailover fails at preview; (b) a failing fence agent starts nothing", async () => {
    const g = await guests.shared("fo-be", h1, 1, "heartbeat", 128);
    await adopt(g, { allowFailover: false }, { fail: "1" });
    await cutLink(h1);
    await ws.pulumi(["config", "set", "host", h2.name]);
    await assert.rejects(
      ws.pulumiWithDiagnostics(["preview"]),
      /h1 unreachable \(libvirt: .*; ssh: .*\), and its policy does not allow failover; set allowFailover in the MigrationPolicy, or bring h1 back/,
    );
    assert.equal((await state()).currentHost, h1.name);

    // Allowed only now: the definition a failover needs was never kept (it is a secret kept
    // only for placements that may fail over).
    await ws.pulumi(["config", "set", "policyResource", JSON.stringify({ allowFailover: true })]);
    await assert.rejects(
      ws.pulumiWithDiagnostics(["preview"]),
      /the state holds no definition of .* to start elsewhere: it is kept only while the placement's policy allows failover, so allow it before a host is lost/,
    );
    // h1 answers again, an update that keeps the VM there keeps its definition, and h1 is lost
    // again.
    await repairAll();
    await ws.pulumi(["config", "set", "host", h1.name]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    await cutLink(h1);
    await ws.pulumi(["config", "set", "host", h2.name]);
    await assert.rejects(
      ws.pulumi(["up", "--yes", "--skip-preview"]),
      /not started on h2: the fence of h1 is not confirmed \(fence_lab could not power h1 off: off: exit 1 \(Failed: fence device does not answer/,
    );
    // The failed failover is in the state like any failed move: its record, mode and fence.
    const failed = await state();
    assert.equal(failed.currentHost, h1.name);
    assert.equal(failed.lastMigration?.mode, "failover");
    assert.equal(failed.lastMigration?.result, "failed");
    assert.equal(failed.lastMigration?.errorCategory, "fence");
    assert.match(String(failed.lastMigration?.fence), /fence_lab off: exit 1/);
    assert.ok(!(await definedDomains(h2)).includes(g.name), "nothing was defined on h2");
    await repairAll();
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h1.name], "it still runs on h1 alone");
  });

  // (c) a VM with a disk on the lost host's own storage is refused like (e), at preview, changing
  // nothing: that decision is a row of the failover table (test/unit/engine/failover-plan.test.ts).

  it("(f) a PlacementGroup cordon of the lost host fails its VM over", async () => {
    const g = await guests.shared("fo-f", h1, 1, "heartbeat", 128);
    ws = pulumiWorkspace({}, { programDir: GROUP_PROGRAM });
    await ws.pulumi(["stack", "init", `fo-${g.name}`]);
    await ws.pulumi(["config", "set", "vmplacement:hosts", JSON.stringify(fencedHosts())]);
    await ws.pulumi(["config", "set", "vms", JSON.stringify([{ domain: g.name }])]);
    await ws.pulumi(["config", "set", "allowFailover", "true"]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    const [oldPid] = await qemuPids(h1, g.name);
    assert.ok(oldPid, "the guest's QEMU runs on h1");
    await cutLink(h1);
    await ws.pulumi(["config", "set", "cordon", JSON.stringify([h1.name])]);
    const preview = await ws.pulumiWithDiagnostics(["preview"]);
    assert.match(
      preview,
      new RegExp(
        `${g.name}: h1 -> h[23]: moves h1 -> h[23] \\(it must leave h1: h1 is cordoned\\)`,
      ),
    );
    assert.match(
      preview,
      new RegExp(`will fence h1 with fence_lab, then start ${g.name} on h[23] from shared storage`),
    );
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    const where = await ws.output<Record<string, string>>("where");
    assert.notEqual(where[g.name], h1.name);
    const s = await state();
    assert.equal(s.lastMigration?.mode, "failover");
    assert.equal(s.lastMigration?.result, "succeeded");
    assert.match(
      String(s.lastMigration?.fence),
      /fence_lab off: exit 0.*status: exit 2, power off/,
    );
    assert.ok(!alive(oldPid), "the old QEMU on h1 is gone");
    // h1 is powered off (its libvirtd with it): what runs there is its QEMU processes.
    const onH1 = (await qemuPids(h1, g.name)).length ? [h1.name] : [];
    const others = lab.hosts.filter((h) => h !== h1);
    assert.deepEqual(
      [...onH1, ...(await hostsRunning(others, g.name))],
      [where[g.name]],
      `${g.name} runs on ${where[g.name]} only`,
    );
  });
});
