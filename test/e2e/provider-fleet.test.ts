// The TypeScript example as a fleet: six VMs moving in one update respect the per-host limits;
// a pool change within a host; cancelling `pulumi up` mid-migration leaves every VM on exactly
// one host, and a later `up` completes the move.
import assert from "node:assert/strict";
import path from "node:path";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { hostsRunning, virsh } from "../lab/virsh";
import { GuestFactory } from "../integration/engine/lab-engine";
import { diagnostics } from "../support/event-log";
import { exampleProject, type ExampleProject } from "../support/example-project";

interface Record_ {
  from: string;
  to: string;
  startedAt: string;
  finishedAt: string;
  result: string;
}

/** No two intervals of migrations sharing a key (source or target host) overlap. */
function assertNoOverlap(records: Record_[], key: (r: Record_) => string, what: string): void {
  const byKey = new Map<string, Record_[]>();
  for (const r of records) byKey.set(key(r), [...(byKey.get(key(r)) ?? []), r]);
  for (const [k, rs] of byKey) {
    const sorted = rs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    for (let i = 1; i < sorted.length; i++) {
      assert.ok(
        sorted[i].startedAt >= sorted[i - 1].finishedAt,
        `two ${what} migrations at once on ${k}: ${JSON.stringify(sorted.slice(i - 1, i + 1))}`,
      );
    }
  }
}

describe("provider e2e: a fleet through the TypeScript example", function () {
  let lab: LabDescription;
  let guests: GuestFactory;
  let ws: ExampleProject;
  const names: string[] = [];
  let home: LabHost[];

  before(async () => {
    lab = loadLab();
    guests = new GuestFactory(lab);
    home = [lab.hosts[0], lab.hosts[0], lab.hosts[1], lab.hosts[1], lab.hosts[2], lab.hosts[2]];
    for (const [i, host] of home.entries())
      names.push((await guests.local(`fleet${i}`, host, { memoryMiB: 128, sizeMiB: 16 })).name);
    ws = await exampleProject("typescript");
    await ws.initLabStack("fleet");
    await ws.pulumi([
      "config",
      "set",
      "vms",
      JSON.stringify(Object.fromEntries(names.map((n, i) => [n, home[i].name]))),
    ]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
  });
  after(async () => {
    await ws?.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
    ws?.cleanup();
    await guests?.cleanup();
  });

  const where = async () => ws.output<Record<string, string>>("where");

  it("moves six VMs in one update, never two out of or into one host at a time", async () => {
    // Rotate: every VM moves to the next host.
    const next = (h: LabHost) => lab.hosts[(lab.hosts.indexOf(h) + 1) % lab.hosts.length].name;
    await ws.pulumi([
      "config",
      "set",
      "vms",
      JSON.stringify(Object.fromEntries(names.map((n, i) => [n, next(home[i])]))),
    ]);
    // The CLI writes its engine events (ephemeral progress lines too) with its debug commands on.
    const eventLog = path.join(mkdtempSync(path.join(tmpdir(), "vmp-events-")), "rotate.jsonl");
    ws.env.PULUMI_DEBUG_COMMANDS = "true";
    await ws.pulumi(["up", "--yes", "--skip-preview", "--event-log", eventLog], 900_000);
    delete ws.env.PULUMI_DEBUG_COMMANDS;
    const now = await where();
    for (const [i, n] of names.entries()) assert.equal(now[n], next(home[i]));
    const records = Object.values(await ws.output<Record<string, Record_>>("lastMigrations"));
    assert.equal(records.length, 6);
    for (const r of records) assert.equal(r.result, "succeeded");
    assertNoOverlap(records, (r) => r.from, "outbound");
    assertNoOverlap(records, (r) => r.to, "inbound");
    for (const n of names) {
      assert.equal((await hostsRunning(lab.hosts, n)).length, 1, `${n} runs on one host`);
    }
    // Moves held back by a per-host limit said where they stood while they waited.
    const queued = diagnostics(eventLog).filter((d) => d.ephemeral && / queued /.test(d.message));
    assert.ok(queued.length > 0, "no queue status among the progress lines");
    for (const { message } of queued) {
      assert.match(
        message,
        /^fleet\d+-\w+: queued \d of \d \((h\d (outbound|inbound) busy|all \d migration slots busy): fleet\d+-\w+ .*\)(, expected start in ~\d+ s|, expected to start shortly)$/,
      );
    }
    // Every queued line says when it starts (the pattern above). A move here is forecast at
    // under a second, so a start is mostly "shortly"; the "in ~N s" form is unit-tested.
    rmSync(path.dirname(eventLog), { recursive: true, force: true });
  });

  it("changes a VM's pool within its host", async () => {
    await ws.pulumi(["config", "set", "pools", JSON.stringify({ [names[0]]: "scratch" })]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    const record = (await ws.output<Record<string, Record<string, unknown>>>("lastMigrations"))[
      names[0]
    ];
    assert.equal(record.mode, "block-copy");
    assert.equal(record.result, "succeeded");
    const host = lab.hosts.find((h) => h.name === (record.to as string))!;
    assert.match(await virsh(host, "domblklist", names[0]), /pools\/scratch\//);
  });

  it("cancelling pulumi up mid-migration leaves the VM on one host; a later up completes", async () => {
    const vm = names[1];
    const from = (await where())[vm];
    const to = lab.hosts.find((h) => h.name !== from)!.name;
    const source = lab.hosts.find((h) => h.name === from)!;
    await ws.pulumi(["config", "set", "bandwidthMibps", "2"]);
    // `vms` is stored as one JSON string: set the whole map (a --path set would replace it).
    await ws.pulumi(["config", "set", "vms", JSON.stringify({ ...(await where()), [vm]: to })]);
    const up = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive"], {
      cwd: ws.dir,
      env: ws.env,
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((resolve) => up.on("exit", (code) => resolve(code)));
    let running = false;
    for (let i = 0; i < 150 && !running; i++) {
      const job = await virsh(source, "domjobinfo", vm).catch(() => "");
      running = /Job type:\s+Unbounded/.test(job);
      if (!running) await new Promise((r) => setTimeout(r, 200));
    }
    if (!running) up.kill("SIGKILL");
    assert.ok(running, `the migration of ${vm} was never seen running on ${from}`);
    up.kill("SIGINT");
    const code = await exited;
    assert.notEqual(code, 0, "the cancelled update fails");
    assert.deepEqual(await hostsRunning(lab.hosts, vm), [source.name], `${vm} stays on ${from}`);
    for (const n of names)
      assert.equal((await hostsRunning(lab.hosts, n)).length, 1, `${n} runs on one host`);

    await ws.pulumi(["config", "set", "bandwidthMibps", "0"]);
    await ws.pulumi(["cancel", "--yes"]).catch(() => undefined);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    const now = await where();
    assert.equal(now[vm], to);
    assert.equal(Object.keys(now).length, names.length, "every placement is still managed");
  });
});
