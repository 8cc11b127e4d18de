// Removing the source copies after a verified move: only when the policy says so, only copied
// disks (on the same host, only those whose path changed), and a failure noted, never thrown.
import assert from "node:assert/strict";
import type { RunContext } from "../../../provider/src/engine/context";
import type { DiskPlacement, MigrationProgress } from "../../../provider/src/engine/types";
import { removeSourceVolumes, SourceMarks } from "../../../provider/src/engine/volumes";

function setup(options: { removeSourceVolumes?: boolean; failOn?: string } = {}) {
  const deleted: string[] = [];
  const steps: string[] = [];
  const phases: string[] = [];
  const conn = {
    storage: {
      volByPath: async (p: string) => ({ path: p }),
      deleteVol: async (v: { path: string }) => {
        if (v.path === options.failOn) throw new Error("pool is busy");
        deleted.push(v.path);
      },
    },
  };
  const pool = { get: async () => conn };
  const ctx = {
    plan: { from: "kvm1", domain: "vm" },
    policy: { removeSourceVolumes: options.removeSourceVolumes ?? true },
    pool,
    record: { step: (s: string) => steps.push(s) },
    onProgress: (p: MigrationProgress) => phases.push(p.phase),
  } as unknown as RunContext;
  const sources = new SourceMarks(pool as unknown as RunContext["pool"], "uuid");
  let keptForNextRun = false;
  sources.keepForNextRun = () => void (keptForNextRun = true);
  return { ctx, sources, deleted, steps, phases, kept: () => keptForNextRun };
}

const disk = (target: string, copy: boolean, sourcePath: string, targetPath = sourcePath) =>
  ({ target, copy, sourcePath, targetPath }) as DiskPlacement;

describe("removeSourceVolumes", () => {
  const disks = [disk("vda", true, "/a/vda.qcow2"), disk("vdb", false, "/nfs/vdb.qcow2")];

  it("removes the copied disks' sources and notes them", async () => {
    const s = setup();
    await removeSourceVolumes(s.ctx, disks, s.sources, { cleanupPhase: true });
    assert.deepEqual(s.deleted, ["/a/vda.qcow2"]);
    assert.deepEqual(s.steps, ["removed source volumes: /a/vda.qcow2"]);
    assert.deepEqual(s.phases, ["cleanup"]);
  });

  it("does nothing when the policy keeps them", async () => {
    const s = setup({ removeSourceVolumes: false });
    await removeSourceVolumes(s.ctx, disks, s.sources, { cleanupPhase: true });
    assert.deepEqual([s.deleted, s.steps, s.phases], [[], [], []]);
  });

  it("on the same host, leaves a disk whose path did not change", async () => {
    const s = setup();
    await removeSourceVolumes(
      s.ctx,
      [disk("vda", true, "/a/vda.qcow2", "/b/vda.qcow2"), disk("vdb", true, "/a/vdb.qcow2")],
      s.sources,
      { sameHost: true, removedAs: (p) => `removed old volumes: ${p.length}` },
    );
    assert.deepEqual(s.deleted, ["/a/vda.qcow2"]);
    assert.deepEqual(s.steps, ["removed old volumes: 1"]);
    assert.deepEqual(s.phases, []);
  });

  it("notes a failure and keeps the markers for the next run", async () => {
    const s = setup({ failOn: "/a/vdb.qcow2" });
    await removeSourceVolumes(
      s.ctx,
      [disk("vda", true, "/a/vda.qcow2"), disk("vdb", true, "/a/vdb.qcow2")],
      s.sources,
    );
    assert.deepEqual(s.steps.slice(0, 1), ["removed source volumes: /a/vda.qcow2"]);
    assert.match(
      s.steps[1],
      /could not remove the old source volume\(s\) on kvm1 now \(.*pool is busy.*\); the next run removes them/,
    );
    assert.ok(s.kept());
  });
});
