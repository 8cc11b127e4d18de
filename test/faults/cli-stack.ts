// What the CLI fault tests share: a placement stack adopting a lab guest, `pulumi up` in the
// background (its own process group, as a terminal runs it), the process tree under it, the
// placement as the state holds it, and waits on the lab's migration jobs.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import { repairAll } from "../lab/faults";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { run } from "../lab/run";
import { virsh } from "../lab/virsh";
import { labHosts, placementWorkspace } from "../e2e/placement-workspace";
import type { PulumiWorkspace } from "../support/pulumi-cli";
import { leftovers } from "./invariants";

export interface PlacementState {
  inputs: { host: string };
  outputs: {
    currentHost: string;
    pendingCleanup?: Array<{ host: string; item: string }>;
    lastMigration?: { result: string; errorCategory?: string; steps: string[] };
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CliLab {
  lab: LabDescription;
  h1: LabHost;
  h2: LabHost;
  guests: GuestFactory;
  ws: PulumiWorkspace;
}

/**
 * Registers the hooks of a CLI fault file (call it inside `describe`): the lab, a guest factory
 * and one workspace, filled in before the first test; faults repaired and guests removed after
 * each. The returned object's fields are set once the hooks ran.
 */
export function useCliLab(): CliLab {
  const t = {} as CliLab;
  before(() => {
    t.lab = loadLab();
    [t.h1, t.h2] = t.lab.hosts;
    t.guests = new GuestFactory(t.lab);
    t.ws = placementWorkspace();
  });
  afterEach(async () => {
    await repairAll();
    await t.guests.cleanup();
  });
  after(() => t.ws?.cleanup());
  return t;
}

/** A new stack adopting `g` on `host`; `config` adds to or overrides the stack's config. */
export async function adoptInStack(
  ws: PulumiWorkspace,
  lab: LabDescription,
  name: string,
  g: TestGuest,
  host: LabHost,
  config: Record<string, unknown> = {},
): Promise<void> {
  await ws.pulumi(["stack", "select", "--create", name]);
  const all = {
    domain: g.name,
    host: host.name,
    pool: "local",
    "vmplacement:hosts": labHosts(lab),
    policy: { bandwidthMibps: 2 },
    ...config,
  };
  await ws.setConfig(all);
  await ws.pulumi(["up", "--yes", "--skip-preview"]);
}

export async function placementState(ws: PulumiWorkspace): Promise<PlacementState> {
  const state = JSON.parse(await ws.pulumi(["stack", "export"]));
  const r = state.deployment.resources.find(
    (x: { type: string }) => x.type === "vmplacement:index:VmPlacement",
  );
  assert.ok(r, "the state still holds the placement");
  return r as PlacementState;
}

/** `pulumi up` in its own process group (its pid is the group's id); exit code and output. */
export function upInBackground(ws: PulumiWorkspace): {
  child: ChildProcess;
  exited: Promise<{ code: number | null; output: string }>;
} {
  let output = "";
  const child = spawn("pulumi", ["up", "--yes", "--skip-preview", "--non-interactive"], {
    cwd: ws.dir,
    env: ws.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, output })),
  );
  return { child, exited };
}

/** `pid` and all its descendants, collected before any of them is killed. */
export async function processTree(pid: number): Promise<number[]> {
  const children = (await run("ps", ["-o", "pid=", "--ppid", String(pid)]).catch(() => ""))
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  const below = await Promise.all(children.map(processTree));
  return [pid, ...below.flat()];
}

/** Waits until no migration job runs for the domain on any host (bounded). */
export async function jobsSettled(lab: LabDescription, domain: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const jobs = await Promise.all(
      lab.hosts.map((h) => virsh(h, "domjobinfo", domain).catch(() => "")),
    );
    if (!jobs.some((j) => /Job type:\s+(Unbounded|Bounded)/.test(j))) return;
    await sleep(500);
  }
  throw new Error(`the migration of ${domain} never settled`);
}

/** Where the domain is defined and in which state, and what is left over: for failures. */
export async function labPicture(lab: LabDescription, g: TestGuest): Promise<string> {
  const states = await Promise.all(
    lab.hosts.map(
      async (h) =>
        `${h.name}: ${(await virsh(h, "domstate", g.name).catch(() => "not defined")).trim()}`,
    ),
  );
  const left = await leftovers(lab, g).catch((e: Error) => [e.message]);
  return `${states.join(", ")}; leftovers: ${left.join(", ") || "none"}`;
}
