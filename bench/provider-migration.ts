// Live migrations by `pulumi up` vs plain `virsh migrate` with the same options. The CLI's fixed
// cost (program, language host, plugin start) is a no-op `up` on the same stack, measured right
// after each move; `up - no-op` is the migration part. Both tools run in both directions, taking
// turns at going first.
//   (a) an idle guest with its disk copied, default policy;
//   (d) the fast-churn guest at 40 MiB/s (it cannot converge) vs virsh --postcopy-after-precopy;
//   (e) stream options at 40 MiB/s on the moderate-churn guest: wire bytes, wall, efficiency;
//   (f) a guest on Ceph RBD (nothing copied) vs virsh migrate without a storage copy.
import type { LabHost } from "../test/lab/lab";
import { GuestFactory, type TestGuest } from "../test/integration/engine/lab-engine";
import { BenchStack } from "./bench-stack";
import type { BenchContext, PartResult } from "./provider-context";
import type { Row } from "./report";
import { CAP_MIBPS, STREAM_OPTIONS } from "./stream-options";
import { median, ratio, spread } from "./stats";
import { removeLeftoverVolume, virshMigrate, type VirshMigrateOptions } from "./virsh-migrate";

const MiB = 1024 * 1024;

interface PulumiMove {
  upMs: number;
  noopMs: number;
  recordMs: number;
  downtimeMs: number;
  wireBytes?: number;
  postCopy?: boolean;
}

interface VirshMove {
  wallMs: number;
  downtimeMs: number;
  dataBytes?: number;
}

interface MoveSpec {
  /** Stack and guest name part. */
  label: string;
  guest: (f: GuestFactory, h: LabHost) => Promise<TestGuest>;
  shared: boolean;
  policy?: Record<string, unknown>;
  virsh: VirshMigrateOptions;
}

/** `runs` round trips of one guest: pulumi up one way, virsh the other, alternating who goes first. */
async function pulumiAgainstVirsh(
  ctx: BenchContext,
  runs: number,
  spec: MoveSpec,
): Promise<{ vm: string; pulumi: PulumiMove[]; virsh: VirshMove[] }> {
  const { lab, cleanup } = ctx;
  const [h1, h2] = lab.hosts;
  return cleanup.scope(async (add) => {
    const guests = new GuestFactory(lab);
    add(`${spec.label} guest`, () => guests.cleanup());
    const vm = (await spec.guest(guests, h1)).name;
    const stack = await BenchStack.create(
      lab,
      `bp-${spec.label}`,
      ctx.gid,
      { [vm]: h1.name },
      { perHostOutbound: 1, perHostInbound: 1, total: 4 },
      { shared: spec.shared, policy: spec.policy },
    );
    add(`${spec.label} stack`, () => stack.remove());
    await stack.up(); // adopts the VM where it runs

    const pulumiMove = async (to: string): Promise<PulumiMove> => {
      await stack.configure({ vms: { [vm]: to } });
      const up = await stack.up();
      const noop = await stack.up();
      const record = (await stack.lastMigrations())[vm];
      if (record?.result !== "succeeded" || record.to !== to)
        throw new Error(`pulumi up did not move ${vm} to ${to}: ${JSON.stringify(record)}`);
      return {
        upMs: up.wallMs,
        noopMs: noop.wallMs,
        recordMs: record.durationMs,
        downtimeMs: record.downtimeMs ?? NaN,
        wireBytes: record.transport?.transferredBytes ?? record.bytesMoved,
        postCopy: record.postCopy,
      };
    };
    const virshMove = async (from: LabHost, to: LabHost): Promise<VirshMove> => {
      const r = await virshMigrate(from, to, vm, spec.virsh);
      if (spec.virsh.copyDisks) await removeLeftoverVolume(from, vm);
      return r;
    };

    // Every run starts with the VM on h1; the stack's state agrees with it after each pair.
    const pulumi: PulumiMove[] = [];
    const plain: VirshMove[] = [];
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        pulumi.push(await pulumiMove(h2.name));
        plain.push(await virshMove(h2, h1));
      } else {
        plain.push(await virshMove(h1, h2));
        pulumi.push(await pulumiMove(h1.name));
      }
      console.log(
        `  ${spec.label} run ${i + 1}/${runs}: up ${pulumi[i].upMs} ms, no-op ${pulumi[i].noopMs} ms, virsh ${plain[i].wallMs} ms`,
      );
    }
    return { vm, pulumi, virsh: plain };
  });
}

/** The columns every comparison shares. */
function timingColumns(pulumi: PulumiMove[], plain: VirshMove[]): Row {
  const up = median(pulumi.map((p) => p.upMs));
  const noop = median(pulumi.map((p) => p.noopMs));
  const migrationPart = median(pulumi.map((p) => p.upMs - p.noopMs));
  const virshMs = median(plain.map((p) => p.wallMs));
  return {
    up_ms: up,
    noop_up_ms: noop,
    up_minus_noop_ms: migrationPart,
    record_ms: median(pulumi.map((p) => p.recordMs)),
    virsh_ms: virshMs,
    "up/virsh": ratio(up, virshMs),
    "(up-noop)/virsh": ratio(migrationPart, virshMs),
    up_downtime_ms: spread(pulumi.map((p) => p.downtimeMs)),
    virsh_downtime_ms: spread(plain.map((p) => p.downtimeMs)),
  };
}

const COMMON_NOTES = [
  "medians over runs; downtime as median (min-max)",
  "both sides reach libvirtd over tcp; migration and disk streams go to the target's migration address",
  "up = `pulumi up --yes --skip-preview` (one program run); no-op up = the same command right after, nothing to do",
  "record_ms = the provider's migration record (slot granted -> verified, source volume removed)",
  "downtime: provider from its migration record (pulumi stack output), virsh from domjobinfo --completed",
];

const MEMORY_MIB = 256;
const DISK_MIB = 64;

export async function benchOneMigration(ctx: BenchContext, runs: number): Promise<PartResult> {
  const r = await pulumiAgainstVirsh(ctx, runs, {
    label: `mig-${ctx.runId}`,
    guest: (f, h) =>
      f.local(`bp-mig-${ctx.runId}`, h, { memoryMiB: MEMORY_MIB, sizeMiB: DISK_MIB }),
    shared: false,
    virsh: { copyDisks: ["vda"] },
  });
  return {
    title: "(a) one live migration: pulumi up vs virsh migrate, same flags",
    rows: [
      {
        scenario: `${MEMORY_MIB} MiB idle, ${DISK_MIB} MiB disk copied`,
        runs,
        ...timingColumns(r.pulumi, r.virsh),
      },
    ],
    notes: [
      ...COMMON_NOTES,
      "virsh_ms = the `virsh migrate` command alone; its leftover source volume is removed outside the timing",
      "up_minus_noop_ms - record_ms: the provider's work around the migration (facts, plan, limiter, observing the result)",
    ],
    raw: r,
  };
}

export async function benchRbdMigration(ctx: BenchContext, runs: number): Promise<PartResult> {
  const r = await pulumiAgainstVirsh(ctx, runs, {
    label: `rbd-${ctx.runId}`,
    guest: (f, h) => f.ceph(`bp-rbd-${ctx.runId}`, h),
    shared: true,
    virsh: {},
  });
  return {
    title: "(f) one live migration of a guest on Ceph RBD: pulumi up vs virsh migrate, same flags",
    rows: [
      {
        scenario: `${MEMORY_MIB} MiB idle, 16 MiB RBD disk (shared, nothing copied)`,
        runs,
        ...timingColumns(r.pulumi, r.virsh),
      },
    ],
    notes: [
      ...COMMON_NOTES,
      "the provider's plan also checks the target's Ceph secret and its path to the monitors (a transient rbd pool)",
    ],
    raw: r,
  };
}

export async function benchNonConvergingMove(ctx: BenchContext, runs: number): Promise<PartResult> {
  const r = await pulumiAgainstVirsh(ctx, runs, {
    label: `fast-${ctx.runId}`,
    guest: (f, h) => f.shared(`bp-fast-${ctx.runId}`, h, 0, "churn-fast", 512),
    shared: true,
    policy: { bandwidthMibps: CAP_MIBPS },
    virsh: { bandwidthMibps: CAP_MIBPS, postcopyAfterPrecopy: true },
  });
  return {
    title: `(d) a guest that cannot converge: pulumi up vs virsh --postcopy-after-precopy at ${CAP_MIBPS} MiB/s`,
    rows: [
      {
        scenario: `512 MiB fast churn, shared disk, ${CAP_MIBPS} MiB/s`,
        runs,
        ...timingColumns(r.pulumi, r.virsh),
        post_copy: r.pulumi.every((p) => p.postCopy) ? "yes" : "not always",
      },
    ],
    notes: [
      ...COMMON_NOTES,
      `virsh gets its best flags for the job: --postcopy --postcopy-after-precopy --bandwidth ${CAP_MIBPS}`,
      "the provider's forecast measures the dirty rate at preview and starts post-copy after the first pass",
    ],
    raw: r,
  };
}

/** Bytes moved / (duration x cap), in hundredths before the median (which rounds). */
function efficiency(moves: Array<{ bytes?: number; ms: number }>): string {
  const e = moves.map((m) => (100 * (m.bytes ?? NaN)) / MiB / ((m.ms / 1000) * CAP_MIBPS));
  return (median(e) / 100).toFixed(2);
}

export async function benchStreamOptions(ctx: BenchContext, runs: number): Promise<PartResult> {
  const rows: Row[] = [];
  const raw: unknown[] = [];
  for (const o of STREAM_OPTIONS) {
    const label = `stream-${o.name.replace(/\W+/g, "")}-${ctx.runId}`;
    const r = await pulumiAgainstVirsh(ctx, runs, {
      label,
      guest: (f, h) => f.shared(`bp-${label}`, h, 0, "churn-moderate", 512),
      shared: true,
      policy: { ...o.policy, bandwidthMibps: CAP_MIBPS } as Record<string, unknown>,
      virsh: { ...o.virsh, bandwidthMibps: CAP_MIBPS },
    });
    raw.push({ option: o.name, ...r });
    const moved = r.pulumi.map((p) => ({ bytes: p.wireBytes, ms: p.upMs - p.noopMs }));
    rows.push({
      option: o.name,
      runs,
      up_minus_noop_ms: median(r.pulumi.map((p) => p.upMs - p.noopMs)),
      virsh_ms: median(r.virsh.map((v) => v.wallMs)),
      "(up-noop)/virsh": ratio(
        median(r.pulumi.map((p) => p.upMs - p.noopMs)),
        median(r.virsh.map((v) => v.wallMs)),
      ),
      up_wire_mib: Math.round(median(r.pulumi.map((p) => p.wireBytes ?? NaN)) / MiB),
      virsh_wire_mib: Math.round(median(r.virsh.map((v) => v.dataBytes ?? NaN)) / MiB),
      up_efficiency: efficiency(moved),
      virsh_efficiency: efficiency(r.virsh.map((v) => ({ bytes: v.dataBytes, ms: v.wallMs }))),
      up_downtime_ms: spread(r.pulumi.map((p) => p.downtimeMs)),
    });
  }
  return {
    title: `(e) stream options at ${CAP_MIBPS} MiB/s: 512 MiB moderate-churn guest, shared disk`,
    rows,
    notes: [
      ...COMMON_NOTES,
      "wire MiB = QEMU's data processed (what the stream carried, compression applied)",
      "efficiency = bytes moved / (duration x cap), with bytes moved = wire bytes and duration = up - no-op (virsh: its command)",
    ],
    raw,
  };
}
