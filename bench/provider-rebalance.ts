// (c) Rebalancing a fleet: every VM moves to the next host. `pulumi up` lets the provider run
// migrations concurrently within its per-host limits; the reference is the same moves done one
// after another by `virsh migrate` with the same flags. Rounds: provider at the wider limit,
// virsh, provider one-at-a-time per host.
import { GuestFactory } from "../test/integration/engine/lab-engine";
import { BenchStack, type MigrationRecordOutput, type ProviderLimits } from "./bench-stack";
import { labHost } from "../test/lab/lab";
import { nextHost, type BenchContext, type PartResult } from "./provider-context";
import type { Row } from "./report";
import { peakOverlap, ratio } from "./stats";
import { removeLeftoverVolume, virshMigrate } from "./virsh-migrate";

const PER_HOST = 4;
const MEMORY_MIB = 128;
const DISK_MIB = 16;

const limitsOf = (perHost: number, hosts: number): ProviderLimits => ({
  perHostOutbound: perHost,
  perHostInbound: perHost,
  // The provider's global default (4) would cap the wider setting before the per-host limits.
  total: perHost * hosts,
});

export async function benchRebalance(
  ctx: BenchContext,
  perHostLimits: number[],
): Promise<PartResult> {
  const { lab, cleanup } = ctx;
  return cleanup.scope(async (add) => {
    const guests = new GuestFactory(lab);
    add("part (c) guests", () => guests.cleanup());
    // Where each VM is now; updated after every round.
    const where: Record<string, string> = {};
    let setupStarted = Date.now();
    // A start mostly waits for the guest's first heartbeat, so the hosts start theirs in parallel
    // (one at a time per host). Settled, not all: no start may still run while cleanup does.
    const started = await Promise.allSettled(
      lab.hosts.map(async (host) => {
        const names: string[] = [];
        for (let i = 0; i < PER_HOST; i++) {
          const g = await guests.local(`bp-rb-${ctx.runId}`, host, {
            memoryMiB: MEMORY_MIB,
            sizeMiB: DISK_MIB,
          });
          names.push(g.name);
        }
        return names;
      }),
    );
    const failed = started.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    const perHost = started.map((r) => (r as PromiseFulfilledResult<string[]>).value);
    lab.hosts.forEach((host, i) => perHost[i].forEach((vm) => (where[vm] = host.name)));
    const vms = Object.keys(where);
    console.log(`  (c) started ${vms.length} guests in ${Date.now() - setupStarted} ms`);
    const rotated = () => Object.fromEntries(vms.map((vm) => [vm, nextHost(lab, where[vm]).name]));

    const stack = await BenchStack.create(
      lab,
      "bp-rebalance",
      ctx.gid,
      { ...where },
      limitsOf(perHostLimits[0], lab.hosts.length),
    );
    add("part (c) stack", () => stack.remove());
    setupStarted = Date.now();
    await stack.up(); // adopts every VM where it runs
    console.log(`  (c) adopted them in ${Date.now() - setupStarted} ms`);
    let stateCurrent = true;

    const rows: Row[] = [];
    const raw: unknown[] = [];
    let virshMs: number | undefined;

    const pulumiRound = async (perHost: number) => {
      const limits = limitsOf(perHost, lab.hosts.length);
      // virsh moved the VMs behind the stack's back: refresh so the state knows where they are.
      if (!stateCurrent) await stack.refresh();
      const target = rotated();
      await stack.configure({ vms: target, limits });
      const up = await stack.up();
      const noop = await stack.up();
      const records = Object.values(await stack.lastMigrations()).filter(
        (r): r is MigrationRecordOutput => !!r && target[r.domain] === r.to,
      );
      if (records.length !== vms.length || records.some((r) => r.result !== "succeeded"))
        throw new Error(`pulumi up did not move all ${vms.length} VMs: ${JSON.stringify(records)}`);
      Object.assign(where, target);
      stateCurrent = true;
      const intervals = records.map((r) => ({
        start: Date.parse(r.startedAt),
        end: Date.parse(r.finishedAt),
      }));
      const span =
        Math.max(...intervals.map((i) => i.end)) - Math.min(...intervals.map((i) => i.start));
      rows.push({
        tool: "pulumi up",
        limits: `${limits.perHostOutbound} out/${limits.perHostInbound} in per host, ${limits.total} total`,
        moves: records.length,
        wall_ms: up.wallMs,
        noop_up_ms: noop.wallMs,
        up_minus_noop_ms: up.wallMs - noop.wallMs,
        migrations_span_ms: span,
        sum_of_moves_ms: records.reduce((n, r) => n + r.durationMs, 0),
        peak_concurrent: peakOverlap(intervals),
        "wall/virsh": "",
        "(up-noop)/virsh": "",
      });
      raw.push({ tool: "pulumi", limits, wallMs: up.wallMs, noopMs: noop.wallMs, records });
      console.log(`  (c) pulumi up, ${perHost} per host: ${up.wallMs} ms`);
    };

    const virshRound = async () => {
      const target = rotated();
      const moves: Array<{ vm: string; wallMs: number; downtimeMs: number }> = [];
      const started = Date.now();
      for (const vm of vms) {
        const r = await virshMigrate(labHost(lab, where[vm]), labHost(lab, target[vm]), vm);
        moves.push({ vm, ...r });
      }
      virshMs = Date.now() - started;
      for (const vm of vms) await removeLeftoverVolume(labHost(lab, where[vm]), vm);
      Object.assign(where, target);
      stateCurrent = false;
      rows.push({
        tool: "virsh migrate loop",
        limits: "sequential",
        moves: moves.length,
        wall_ms: virshMs,
        noop_up_ms: "-",
        up_minus_noop_ms: "-",
        migrations_span_ms: virshMs,
        sum_of_moves_ms: moves.reduce((n, m) => n + m.wallMs, 0),
        peak_concurrent: 1,
        "wall/virsh": 1,
        "(up-noop)/virsh": 1,
      });
      raw.push({ tool: "virsh", wallMs: virshMs, moves });
      console.log(`  (c) virsh loop: ${virshMs} ms`);
    };

    await pulumiRound(perHostLimits[0]);
    await virshRound();
    for (const perHost of perHostLimits.slice(1)) await pulumiRound(perHost);

    for (const row of rows)
      if (row.tool === "pulumi up") {
        row["wall/virsh"] = ratio(row.wall_ms as number, virshMs!);
        row["(up-noop)/virsh"] = ratio(row.up_minus_noop_ms as number, virshMs!);
      }
    return {
      title: `(c) rebalance ${vms.length} VMs over ${lab.hosts.length} hosts (every VM to the next host)`,
      rows,
      notes: [
        `guests: ${MEMORY_MIB} MiB, ${DISK_MIB} MiB qcow2 in the local pool (disks copied), ${PER_HOST} per host at the start`,
        "both sides reach libvirtd over tcp; virsh uses the flags of the provider's live-copy-all plan",
        "rounds run in table order, each rotating the fleet once more; after the virsh round the stack is refreshed (untimed)",
        "the guests halt between timer ticks, so 12 of them leave the 2-core machine mostly idle",
        "wall_ms for pulumi = `pulumi up --yes --skip-preview`, including the CLI's fixed cost; noop_up_ms = the same command right after, with nothing to do",
        "migrations_span_ms / peak_concurrent / sum_of_moves_ms: from the provider's migration records (for virsh: the loop and its commands)",
        "virsh leftover source volumes are removed after the loop, outside the timing",
      ],
      raw,
    };
  });
}
