// PlacementGroup through the real CLI on the lab: 8 heartbeat VMs over 3 hosts in two
// anti-affinity groups, one VM allowed only on h1, each VmPlacement taking its host from the
// group. Cordoning h1 previews the drain and the VMs that cannot leave, changing nothing; `up`
// drains it with every moved VM on exactly one host, its heartbeat continuing, and anti-affinity
// held at every sample taken during the update; a second `up` changes nothing, and uncordoning
// moves nothing back.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { assertHeartbeatContinues } from "../lab/guests";
import { hostsRunning, virsh } from "../lab/virsh";
import { GuestFactory } from "../integration/engine/lab-engine";
import { pulumiWorkspace, type PulumiWorkspace } from "../support/pulumi-cli";
import { labHosts } from "./placement-workspace";

const PROGRAM = path.resolve(__dirname, "..", "..", "..", "test", "e2e", "programs", "group");

interface Rule {
  domain: string;
  antiAffinity?: string;
  hosts?: string[];
}

/** Active domains (running or paused, incoming ones too) on each host. */
async function presence(hosts: LabHost[]): Promise<Record<string, string[]>> {
  const lists = await Promise.all(hosts.map((h) => virsh(h, "list", "--name")));
  return Object.fromEntries(
    hosts.map((h, i) => [
      h.name,
      lists[i]
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean),
    ]),
  );
}

describe("PlacementGroup e2e: cordon drains a host under anti-affinity", function () {
  this.timeout(900_000);
  let lab: LabDescription;
  let guests: GuestFactory;
  let ws: PulumiWorkspace;
  let h1: LabHost, h2: LabHost, h3: LabHost;
  const name: Record<string, string> = {};
  const rules: Rule[] = [];
  const home: Record<string, string> = {};

  before(async () => {
    lab = loadLab();
    guests = new GuestFactory(lab);
    [h1, h2, h3] = lab.hosts;
    // web: one per host; db: on h1 and h2; only-h1 may run nowhere else; two without rules.
    const layout: Array<[string, LabHost, Omit<Rule, "domain">]> = [
      ["w0", h1, { antiAffinity: "web" }],
      ["w1", h2, { antiAffinity: "web" }],
      ["w2", h3, { antiAffinity: "web" }],
      ["d0", h1, { antiAffinity: "db" }],
      ["d1", h2, { antiAffinity: "db" }],
      ["p0", h1, { hosts: [h1.name] }],
      ["f0", h1, {}],
      ["f1", h3, {}],
    ];
    for (const [role, host, rule] of layout) {
      name[role] = (await guests.local(`pg-${role}`, host, { memoryMiB: 128, sizeMiB: 16 })).name;
      rules.push({ domain: name[role], ...rule });
      home[name[role]] = host.name;
    }
    ws = pulumiWorkspace({}, { programDir: PROGRAM });
    await ws.pulumi(["stack", "init", `pg-${randomBytes(3).toString("hex")}`]);
    await ws.pulumi(["config", "set", "vmplacement:hosts", JSON.stringify(labHosts(lab))]);
    await ws.pulumi(["config", "set", "vmplacement:maxMigrationsPerHostOutbound", "2"]);
    await ws.pulumi(["config", "set", "vms", JSON.stringify(rules)]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(
      await ws.output("assignments"),
      home,
      "the group adopts every VM where it runs",
    );
  });
  after(async () => {
    await ws?.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
    ws?.cleanup();
    await guests?.cleanup();
  });

  /** h1 cordoned in the stack's config (nothing moves until an `up`). */
  const cordonH1 = () => ws.pulumi(["config", "set", "cordon", JSON.stringify([h1.name])]);
  /** h1 cordoned and drained: an `up` only while a VM that can leave it is still there. */
  async function drainedH1(): Promise<void> {
    await cordonH1();
    const where = await ws.output<Record<string, string>>("where");
    if ([name.d0, name.f0].some((vm) => where[vm] === h1.name))
      await ws.pulumi(["up", "--yes", "--skip-preview"], 600_000);
  }

  it("cordoning h1 previews the drain and every VM that cannot leave, changing nothing", async () => {
    await cordonH1();
    const preview = await ws.pulumiWithDiagnostics(["preview"]);
    assert.match(
      preview,
      new RegExp(`${name.d0}: h1 -> h3: moves h1 -> h3 \\(it must leave h1: h1 is cordoned\\)`),
    );
    assert.match(preview, new RegExp(`${name.f0}: h1 -> h[23]: `));
    assert.match(
      preview,
      new RegExp(
        `${name.w0}: cannot be placed \\(anti-affinity\\): .*h2 holds a member of anti-affinity group 'web'`,
      ),
    );
    assert.match(preview, new RegExp(`${name.p0}: cannot be placed \\(no-allowed-host\\)`));
    // The placements' own plans: the real live moves.
    assert.match(preview, new RegExp(`${name.d0}: h1 -> h3, live`));
    for (const [vm, host] of Object.entries(home))
      assert.deepEqual(await hostsRunning(lab.hosts, vm), [host]);
  });

  it("up drains h1: one host per VM, heartbeats continue, anti-affinity held at every sample", async () => {
    await cordonH1();
    const groups = Object.fromEntries(
      ["web", "db"].map((g) => [g, rules.filter((r) => r.antiAffinity === g).map((r) => r.domain)]),
    );
    const violations: string[] = [];
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = await presence(lab.hosts);
        samples++;
        for (const [host, domains] of Object.entries(now))
          for (const [g, members] of Object.entries(groups)) {
            const here = members.filter((m) => domains.includes(m));
            if (here.length > 1)
              violations.push(`sample ${samples}: ${host} holds ${here.join(", ")} of '${g}'`);
          }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const upStarted = Date.now();
    try {
      await ws.pulumi(["up", "--yes", "--skip-preview"], 600_000);
    } finally {
      sampling = false;
      await sampler;
    }
    const upSeconds = (Date.now() - upStarted) / 1000;
    assert.ok(samples >= 3, `sampled ${samples} times during the update`);
    assert.deepEqual(violations, []);

    const where = await ws.output<Record<string, string>>("where");
    assert.equal(where[name.d0], h3.name);
    assert.notEqual(where[name.f0], h1.name);
    assert.equal(where[name.w0], h1.name, "w0 cannot leave: both other hosts hold a web VM");
    assert.equal(where[name.p0], h1.name, "p0 may run nowhere else");
    const unplaceable = await ws.output<Record<string, { code: string }>>("unplaceable");
    assert.deepEqual(Object.fromEntries(Object.entries(unplaceable).map(([d, u]) => [d, u.code])), {
      [name.w0]: "anti-affinity",
      [name.p0]: "no-allowed-host",
    });
    // The drain's timeline, from the migration records (seconds after `up` started).
    const records = await ws.output<
      Record<
        string,
        {
          from: string;
          to: string;
          startedAt: string;
          durationMs: number;
          downtimeMs: number;
          mode: string;
        } | null
      >
    >("records");
    for (const vm of [name.d0, name.f0]) {
      const r = records[vm]!;
      const at = (Date.parse(r.startedAt) - upStarted) / 1000;
      console.log(
        `      drain: ${vm} ${r.from} -> ${r.to} ${r.mode} started +${at.toFixed(1)} s, took ${(r.durationMs / 1000).toFixed(1)} s, downtime ${r.downtimeMs} ms`,
      );
    }
    console.log(
      `      drain: up took ${upSeconds.toFixed(1)} s; ${samples} anti-affinity samples, ${violations.length} violations`,
    );
    for (const vm of [name.d0, name.f0]) {
      assert.deepEqual(await hostsRunning(lab.hosts, vm), [where[vm]], `${vm} runs on one host`);
      assertHeartbeatContinues(
        h1,
        lab.hosts.find((h) => h.name === where[vm])!,
        vm,
      );
    }
    for (const vm of Object.keys(home).filter((v) => v !== name.d0 && v !== name.f0))
      assert.deepEqual(await hostsRunning(lab.hosts, vm), [home[vm]], `${vm} did not move`);
  });

  it("a second up changes nothing", async () => {
    await drainedH1();
    await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
  });

  it("uncordoning h1 moves nothing back", async () => {
    await drainedH1();
    const before = await ws.output<Record<string, number>>("migrations");
    const where = await ws.output<Record<string, string>>("where");
    await ws.pulumi(["config", "rm", "cordon"]);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(await ws.output("migrations"), before);
    assert.deepEqual(await ws.output("where"), where);
    assert.deepEqual(await ws.output("moves"), []);
  });

  it("a placement whose assigned host fails its own plan reports both, and nothing changes", async () => {
    const where = await ws.output<Record<string, string>>("where");
    await ws.pulumi(["config", "set", "cordon", JSON.stringify([h3.name])]);
    await ws.pulumi(["config", "set", "pools", JSON.stringify({ [name.f1]: "nope" })]);
    try {
      const err = await ws.pulumiWithDiagnostics(["preview"]).then(
        () => assert.fail("the preview should fail"),
        (e: Error) => e.message,
      );
      assert.match(err, /pool 'nope' does not exist on host h[12]/);
      assert.match(
        err,
        /was assigned by PlacementGroup 'fleet': moves h3 -> h[12] \(it must leave h3: h3 is cordoned\)/,
      );
    } finally {
      await ws.pulumi(["config", "rm", "cordon"]);
      await ws.pulumi(["config", "rm", "pools"]);
    }
    for (const [vm, host] of Object.entries(where))
      assert.deepEqual(await hostsRunning(lab.hosts, vm), [host]);
  });

  it("impossible rules fail at preview naming the property path, and nothing changes", async () => {
    const pinned = rules.map((r) => (r.domain === name.f1 ? { ...r, pinned: h3.name } : r));
    await ws.pulumi(["config", "set", "vms", JSON.stringify(pinned)]);
    await ws.pulumi(["config", "set", "cordon", JSON.stringify([h3.name])]);
    try {
      await assert.rejects(
        ws.pulumiWithDiagnostics(["preview"]),
        new RegExp(
          // The CLI prints a Check failure as "resource '<name>' has a problem: <reason>", and
          // the reason names the property path.
          `has a problem: vms\\[7\\]\\.pinned: ${name.f1} is pinned to 'h3', which is cordoned; uncordon it or unpin the VM`,
        ),
      );
    } finally {
      await ws.pulumi(["config", "set", "vms", JSON.stringify(rules)]);
      await ws.pulumi(["config", "rm", "cordon"]);
    }
  });
});
