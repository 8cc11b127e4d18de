// Ctrl-C as an operator gives it: SIGINT to its whole process group (what a terminal sends) and
// two SIGINTs (the CLI then terminates and kills its plugins), each landed in every phase of a
// move where it matters; SIGINT to the `pulumi` process alone (what a CI runner may send) in the
// offline copy. The CLI starts plugins in a process group of their own, so the provider sees the
// group's SIGINT and the lone one alike (the CLI's Cancel): only the language host tells them
// apart, and it does not depend on the move's phase. After each: the provider did not crash
// (or, after the second SIGINT, was killed by the CLI), the VM runs on exactly one host with its
// disk intact, the state still holds the placement, and the next `up` converges with nothing left
// over. Phases are found on the lab (the move's note on the source, the target's volume growing,
// the job, post-copy), and the start on the target is held in libvirt's prepare hook.
import assert from "node:assert/strict";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import { freezeLibvirtd, killLibvirtd, restartLibvirtd, thawLibvirtd } from "../lab/faults";
import type { LabDescription, LabHost } from "../lab/lab";
import { definedDomains, hostsRunning, virsh } from "../lab/virsh";
import type { PulumiWorkspace } from "../support/pulumi-cli";
import {
  adoptInStack,
  useCliLab,
  jobsSettled,
  labPicture,
  placementState,
  processTree,
  sleep,
  upInBackground,
} from "./cli-stack";
import { recordFault } from "./fault-results";
import { before as snapshot, checkInvariants, leftovers } from "./invariants";

type Signal = "SIGINT to pulumi" | "SIGINT to its process group" | "two SIGINTs";

interface Lab {
  lab: LabDescription;
  h1: LabHost;
  h2: LabHost;
  g: TestGuest;
}

interface PhaseCase {
  phase: string;
  mode: string;
  guest(f: GuestFactory, h1: LabHost): Promise<TestGuest>;
  policy: Record<string, unknown>;
  /** The policy of the converging `up` (the fault's slowness is not needed any more). */
  converge: Record<string, unknown>;
  /** Set up before `up` starts. */
  arm?(c: Lab): void;
  /** Resolves once the move is in the phase (bounded). */
  reached(c: Lab): Promise<void>;
  /** Undoes what arm did, right after the signal. */
  release?(c: Lab): void;
  /** The interrupted attempt never stops the guest (a live move, or a shutdown the guest ignores). */
  live: boolean;
}

/** Polls `check` every 100 ms for at most `seconds`. */
async function until(what: string, seconds: number, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`never saw ${what} within ${seconds} s`);
}

const offline = { allowLive: false, allowOfflineFallback: true, allowForcedShutdown: true };
const slowPreCopy = {
  bandwidthMibps: 8,
  allowPostCopy: false,
  progressTimeoutSeconds: 300,
  completionTimeoutSecondsPerGib: 3000,
};
const holdFile = (c: Lab) => path.join(c.h2.dir, "hold-start", c.g.name);
const jobRunning = async (c: Lab, field: RegExp) => {
  const info = await virsh(c.h1, "domjobinfo", c.g.name);
  return /Job type:\s+Unbounded/.test(info) && field.test(info);
};

const PHASES: PhaseCase[] = [
  {
    phase: "shutdown wait",
    mode: "offline",
    // The boot-sector guest ignores ACPI: the move waits out its shutdown timeout.
    guest: (f, h) => f.local("int", h),
    policy: { ...offline, shutdownTimeoutSeconds: 60 },
    converge: { ...offline, shutdownTimeoutSeconds: 1 },
    // The move's note is written right before the shutdown request.
    reached: (c) =>
      until("the move's note on h1", 60, async () =>
        (await virsh(c.h1, "dumpxml", "--inactive", c.g.name)).includes("vmplacement:move"),
      ).then(() => sleep(1000).then(() => undefined)),
    live: true,
  },
  {
    phase: "offline copy",
    mode: "offline",
    guest: (f, h) => f.local("int", h, { sizeMiB: 1024, randomMiB: 128 }),
    policy: { ...offline, shutdownTimeoutSeconds: 1 },
    converge: { ...offline, shutdownTimeoutSeconds: 1 },
    // The copy is held where it is (the target's daemon frozen) until the signal is in: a copy
    // that finished first would be a test of the switch-over, not of the copy.
    reached: async (c) => {
      await until("the copy begun on h2", 90, async () => {
        const info = await virsh(
          c.h2,
          "vol-info",
          "--pool",
          "local",
          `${c.g.name}.qcow2`,
          "--bytes",
        );
        return Number(/Allocation:\s+(\d+)/.exec(info)?.[1] ?? 0) > 1024 * 1024;
      });
      freezeLibvirtd(c.h2);
    },
    release: (c) => thawLibvirtd(c.h2),
    live: false,
  },
  {
    phase: "start on target",
    mode: "offline",
    guest: (f, h) => f.local("int", h),
    policy: { ...offline, shutdownTimeoutSeconds: 1 },
    converge: { ...offline, shutdownTimeoutSeconds: 1 },
    arm: (c) => writeFileSync(holdFile(c), ""),
    reached: (c) =>
      until("the start held on h2", 90, async () => existsSync(`${holdFile(c)}.held`)),
    release: (c) => {
      rmSync(holdFile(c), { force: true });
      rmSync(`${holdFile(c)}.held`, { force: true });
    },
    live: false,
  },
  {
    phase: "live pre-copy",
    mode: "live-shared",
    guest: (f, h) => f.shared("int", h, 3, "churn-fast", 512),
    policy: slowPreCopy,
    converge: {},
    reached: (c) => until("pre-copy", 60, () => jobRunning(c, /Memory processed:\s+[1-9]/)),
    live: true,
  },
  {
    phase: "storage copy",
    mode: "live-copy-all",
    guest: (f, h) => f.local("int", h, { randomMiB: 32, memoryMiB: 128 }),
    policy: { ...slowPreCopy, bandwidthMibps: 4 },
    converge: {},
    reached: (c) => until("the storage copy", 60, () => jobRunning(c, /File processed:\s+[1-9]/)),
    live: true,
  },
  {
    phase: "post-copy",
    mode: "live-shared",
    guest: (f, h) => f.shared("int", h, 3, "churn-fast", 256),
    policy: {
      bandwidthMibps: 64,
      postcopyBandwidthMibps: 32,
      allowPostCopy: true,
      progressTimeoutSeconds: 2,
      downtimeLadderMs: [300],
    },
    converge: {},
    reached: (c) =>
      until("post-copy", 60, async () =>
        /post-copy/.test(await virsh(c.h1, "domstate", "--reason", c.g.name)),
      ),
    live: true,
  },
];

const SIGNALS: Signal[] = ["SIGINT to pulumi", "SIGINT to its process group", "two SIGINTs"];

/** Whether any of `pids` is still alive (a zombie counts as gone). */
function anyAlive(pids: number[]): boolean {
  return pids.some((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
}

function send(signal: Signal, pid: number): Promise<void> {
  if (signal === "SIGINT to its process group") process.kill(-pid, "SIGINT");
  else process.kill(pid, "SIGINT");
  if (signal !== "two SIGINTs") return Promise.resolve();
  // The second comes while the first cancel is under way; a CLI that already finished it is gone.
  return sleep(100).then(() => {
    try {
      process.kill(pid, "SIGINT");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  });
}

describe("fault tier: Ctrl-C through the Pulumi CLI in every phase of a move", function () {
  this.timeout(300_000);
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let guests: GuestFactory;
  let ws: PulumiWorkspace;
  let stacks = 0;

  const fixture = useCliLab();
  before(() => ({ lab, h1, h2, guests, ws } = fixture));

  // One guest and one stack per phase; the signals take turns, each moving it back the other way.
  for (const c of PHASES) {
    describe(`${c.phase} (${c.mode})`, () => {
      let phaseGuests: GuestFactory;
      let g: TestGuest;
      before(async () => {
        phaseGuests = new GuestFactory(lab);
        g = await c.guest(phaseGuests, h1);
        await adoptInStack(ws, lab, `interrupt-${++stacks}`, g, h1, { policy: c.policy });
      });
      after(() => phaseGuests?.cleanup());

      for (const signal of SIGNALS.filter(
        (sig) => sig !== "SIGINT to pulumi" || c.phase === "offline copy",
      )) {
        it(`${signal}, ${c.phase} (${c.mode})`, async () => {
          const [from, to] = (await hostsRunning(lab.hosts, g.name)).includes(h1.name)
            ? [h1, h2]
            : [h2, h1];
          await interruptedMove(c, signal, g, from, to);
        });
      }
    });
  }

  /** Moves `g` from `from` to `to`, interrupts it with `signal` in the phase, then converges. */
  async function interruptedMove(
    c: PhaseCase,
    signal: Signal,
    g: TestGuest,
    from: LabHost,
    to: LabHost,
  ): Promise<void> {
    const ctx = { lab, h1: from, h2: to, g };
    await ws.pulumi(["config", "set", "policy", JSON.stringify(c.policy)]);
    await ws.pulumi(["config", "set", "host", to.name]);
    const was = snapshot(from, g);
    c.arm?.(ctx);
    const up = upInBackground(ws);
    let output = "";
    try {
      await c.reached(ctx).catch(async (err: Error) => {
        up.child.kill("SIGKILL");
        throw new Error(`${err.message}\n${(await up.exited).output}`);
      });
      const tree = await processTree(up.child.pid!);
      await send(signal, up.child.pid!);
      c.release?.(ctx);
      ({ output } = await up.exited);
      // The CLI kills its plugins 5 s after the second SIGINT at the latest.
      for (let i = 0; i < 100 && anyAlive(tree); i++) await sleep(100);
      assert.ok(!anyAlive(tree), "every process of the pulumi tree is gone");
    } finally {
      c.release?.(ctx);
    }
    const twice = signal === "two SIGINTs";
    if (!twice) {
      assert.doesNotMatch(output, /exited prematurely|internal error|unhandled/i);
      assert.match(output, /cancel/i, `the CLI cancelled:\n${output}`);
    }
    await jobsSettled(lab, g.name);
    const immediately = await hostsRunning(lab.hosts, g.name);
    let after = "";
    if (!twice) {
      // The provider rolled back or finished, and answered: the VM runs on one host now.
      const seen = await checkInvariants(lab, g, was, c.live).catch(async (err: Error) => {
        throw new Error(`${err.message}\n${await labPicture(lab, g)}\n${output}`);
      });
      after = `${seen.host === from.name ? "source" : "target"} only`;
      const state = await placementState(ws);
      assert.equal(state.outputs.currentHost, seen.host, "the state says where it runs");
    } else {
      await ws.pulumi(["cancel", "--yes"]).catch(() => undefined);
      after = immediately.length
        ? `${immediately[0] === from.name ? "source" : "target"} (${immediately.length} host)`
        : "nowhere until the next up";
      if (!immediately.length) {
        // The provider was killed with the VM shut off: the preview says it will run again.
        const preview = await ws.pulumiWithDiagnostics(["preview"]);
        const move = `${from.name} -> ${to.name}`;
        assert.ok(preview.includes(`(it ran when a move ${move}`), preview);
      }
    }
    // One `up` converges, whatever the interruption left.
    await ws.pulumi(["config", "set", "policy", JSON.stringify(c.converge)]);
    const converged = await ws
      .pulumiWithDiagnostics(["up", "--yes", "--skip-preview"])
      .catch(async (err: Error) => {
        throw new Error(`${err.message}\nthe lab when it failed: ${await labPicture(lab, g)}`);
      });
    // A live mode never restarts the guest, through the interruption and the converging move.
    const final = await checkInvariants(lab, g, was, c.mode.startsWith("live"));
    assert.equal(final.host, to.name, `one up converged:\n${converged}`);
    assert.equal((await placementState(ws)).outputs.currentHost, to.name);
    assert.deepEqual(await leftovers(lab, g), [], `nothing left over after:\n${converged}`);
    recordFault({
      fault: signal,
      mode: c.mode,
      phase: c.phase,
      result: twice ? "provider killed by the CLI" : "provider survived, answered",
      ranOn: after,
      heartbeat: final.heartbeat,
      checksum: final.checksum,
      state: "placement kept",
      leftovers: "none after 1 up",
      convergeSeconds: 0,
    });
  }

  it("SIGKILL of the whole pulumi tree in the offline copy: the VM is left off, the next preview says it will run, one up restarts and moves it", async () => {
    const c = PHASES.find((p) => p.phase === "offline copy")!;
    const g = await c.guest(guests, h1);
    const ctx = { lab, h1, h2, g };
    await adoptInStack(ws, lab, `interrupt-${++stacks}`, g, h1, { policy: c.policy });
    await ws.pulumi(["config", "set", "host", h2.name]);
    const was = snapshot(h1, g);
    const up = upInBackground(ws);
    await c.reached(ctx);
    // The CLI, its language host and the provider: nobody gets a word in.
    const tree = await processTree(up.child.pid!);
    for (const pid of tree) process.kill(pid, "SIGKILL");
    c.release?.(ctx);
    await up.exited;
    for (let i = 0; i < 50 && anyAlive(tree); i++) await sleep(100);
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [], "the VM was left shut off");
    assert.match(
      await virsh(h1, "dumpxml", "--inactive", g.name),
      /vmplacement:move .*stops="yes"/,
    );
    await ws.pulumi(["cancel", "--yes"]).catch(() => undefined);
    const preview = await ws.pulumiWithDiagnostics(["preview"]);
    assert.match(
      preview,
      /start .* on h1, where it was before the move \(it ran when a move h1 -> h2/,
    );
    await ws.pulumi(["config", "set", "policy", JSON.stringify(c.converge)]);
    const converged = await ws.pulumiWithDiagnostics(["up", "--yes", "--skip-preview"]);
    assert.match(converged, /started .* on h1 \(disks checked\)/);
    const final = await checkInvariants(lab, g, was, false);
    assert.equal(final.host, h2.name);
    assert.deepEqual(await leftovers(lab, g), [], `nothing left over after:\n${converged}`);
    recordFault({
      fault: "SIGKILL of the pulumi tree",
      mode: c.mode,
      phase: c.phase,
      result: "provider killed",
      ranOn: "nowhere until the next up",
      heartbeat: final.heartbeat,
      checksum: final.checksum,
      state: "placement kept",
      leftovers: "none after 1 up",
      convergeSeconds: 0,
    });
  });

  it("the source's libvirtd dies between the start on the target and the source's undefine: the next up keeps the running copy and removes the other", async () => {
    const g = await guests.local("int", h1);
    const ctx = { lab, h1, h2, g };
    const policy = { ...offline, shutdownTimeoutSeconds: 1 };
    await adoptInStack(ws, lab, `interrupt-${++stacks}`, g, h1, { policy });
    await ws.pulumi(["config", "set", "host", h2.name]);
    const was = snapshot(h1, g);
    writeFileSync(holdFile(ctx), "");
    const up = upInBackground(ws);
    try {
      await until("the start held on h2", 90, async () => existsSync(`${holdFile(ctx)}.held`));
      killLibvirtd(h1);
    } finally {
      rmSync(holdFile(ctx), { force: true });
      rmSync(`${holdFile(ctx)}.held`, { force: true });
    }
    const { code, output } = await up.exited;
    assert.notEqual(
      code,
      0,
      `the update fails: the source's undefine could not be done\n${output}`,
    );
    await restartLibvirtd(h1);
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h2.name]);
    assert.ok((await definedDomains(h1)).includes(g.name), "h1 still defines it, shut off");
    const preview = await ws.pulumiWithDiagnostics(["preview"]);
    assert.match(preview, /runs on h2; remove the shut-off definition on h1 that a move h1 -> h2/);
    const converged = await ws.pulumiWithDiagnostics(["up", "--yes", "--skip-preview"]);
    assert.match(converged, /removed the definition of .* on h1 that an interrupted move left/);
    const final = await checkInvariants(lab, g, was, false);
    assert.equal(final.host, h2.name);
    assert.ok(!(await definedDomains(h1)).includes(g.name), "h1 no longer defines it");
    assert.equal((await placementState(ws)).outputs.currentHost, h2.name);
    assert.deepEqual(await leftovers(lab, g), [], `nothing left over after:\n${converged}`);
    assert.doesNotMatch(await virsh(h2, "dumpxml", "--inactive", g.name), /vmplacement:move/);
    recordFault({
      fault: "source libvirtd killed after the start on the target",
      mode: "offline",
      phase: "between switch-over and source undefine",
      result: "up failed; defined on both hosts",
      ranOn: `${final.host} only`,
      heartbeat: final.heartbeat,
      checksum: final.checksum,
      state: "placement kept",
      leftovers: "none after 1 up",
      convergeSeconds: 0,
    });
  });
});
