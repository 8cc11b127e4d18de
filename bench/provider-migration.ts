// (a) One live migration by `pulumi up` vs plain `virsh migrate` with the same flags. The CLI's
// fixed cost (program, language host, plugin start) is a no-op `up` on the same stack, measured
// right after each move; `up - no-op` is the migration part. Both tools run in both directions,
// taking turns at going first.
import { GuestFactory } from "../test/integration/engine/lab-engine";
import { BenchStack } from "./bench-stack";
import type { BenchContext, PartResult } from "./provider-context";
import { median, ratio, spread } from "./stats";
import { removeLeftoverVolume, virshMigrate } from "./virsh-migrate";

const MEMORY_MIB = 256;
const DISK_MIB = 64;

interface PulumiMove {
  upMs: number;
  noopMs: number;
  recordMs: number;
  downtimeMs: number;
}

export async function benchOneMigration(ctx: BenchContext, runs: number): Promise<PartResult> {
  const { lab, cleanup } = ctx;
  const [h1, h2] = lab.hosts;
  return cleanup.scope(async (add) => {
    const guests = new GuestFactory(lab);
    add("part (a) guest", () => guests.cleanup());
    const guest = await guests.local(`bp-mig-${ctx.runId}`, h1, {
      memoryMiB: MEMORY_MIB,
      sizeMiB: DISK_MIB,
    });
    const vm = guest.name;
    const stack = await BenchStack.create(
      lab,
      "bp-migration",
      ctx.gid,
      { [vm]: h1.name },
      { perHostOutbound: 1, perHostInbound: 1, total: 4 },
    );
    add("part (a) stack", () => stack.remove());
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
      };
    };
    const virshMove = async (from: typeof h1, to: typeof h1) => {
      const r = await virshMigrate(from, to, vm);
      await removeLeftoverVolume(from, vm);
      return r;
    };

    // Every run starts with the VM on h1; the stack's state agrees with it after each pair.
    const pulumi: PulumiMove[] = [];
    const plain: Array<{ wallMs: number; downtimeMs: number }> = [];
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        pulumi.push(await pulumiMove(h2.name));
        plain.push(await virshMove(h2, h1));
      } else {
        plain.push(await virshMove(h1, h2));
        pulumi.push(await pulumiMove(h1.name));
      }
      console.log(
        `  (a) run ${i + 1}/${runs}: up ${pulumi[i].upMs} ms, no-op ${pulumi[i].noopMs} ms, virsh ${plain[i].wallMs} ms`,
      );
    }

    const up = median(pulumi.map((p) => p.upMs));
    const noop = median(pulumi.map((p) => p.noopMs));
    const migrationPart = median(pulumi.map((p) => p.upMs - p.noopMs));
    const virshMs = median(plain.map((p) => p.wallMs));
    return {
      title: "(a) one live migration: pulumi up vs virsh migrate, same flags",
      rows: [
        {
          scenario: `${MEMORY_MIB} MiB idle, ${DISK_MIB} MiB disk copied`,
          runs,
          up_ms: up,
          noop_up_ms: noop,
          up_minus_noop_ms: migrationPart,
          record_ms: median(pulumi.map((p) => p.recordMs)),
          virsh_ms: virshMs,
          "up/virsh": ratio(up, virshMs),
          "(up-noop)/virsh": ratio(migrationPart, virshMs),
          up_downtime_ms: spread(pulumi.map((p) => p.downtimeMs)),
          virsh_downtime_ms: spread(plain.map((p) => p.downtimeMs)),
        },
      ],
      notes: [
        "medians over runs; downtime as median (min-max)",
        "both sides reach libvirtd over tcp; migration and disk streams go to the target's migration address",
        "up = `pulumi up --yes --skip-preview` (one program run); no-op up = the same command right after, nothing to do",
        "record_ms = the provider's migration record (slot granted -> verified, source volume removed)",
        "virsh_ms = the `virsh migrate` command alone; its leftover source volume is removed outside the timing",
        "downtime: provider from its migration record (pulumi stack output), virsh from domjobinfo --completed",
        "up_minus_noop_ms - record_ms: the provider's work around the migration (facts, plan, limiter, observing the result)",
      ],
      raw: { vm, pulumi, virsh: plain },
    };
  });
}
