// (b) `pulumi preview` of a stack with many placements over the lab's hosts: wall time and the
// libvirt connections opened, counted by the kernel (connection-counter). The domains are
// persistent but shut off (hundreds of running QEMUs do not fit this machine), so a move is
// planned as an offline move. Every third placement names another host than the domain's.
import { BenchStack } from "./bench-stack";
import { ConnectionCounter, describeCounts, type ConnectionCounts } from "./connection-counter";
import { nextHost, type BenchContext, type PartResult } from "./provider-context";
import type { Row } from "./report";
import { ShutoffDomains } from "./shutoff-domains";
import { median, spread } from "./stats";

type Output = { wallMs: number; stdout: string };

/**
 * Plan summaries the provider prints in preview: "<vm>: h1 -> h2, offline, memory 16 MiB, ..."
 * for a move, "<vm>: stays on h1" otherwise.
 */
export function plansIn(output: string): { plans: number; moves: number; modes: string[] } {
  const plans = [...output.matchAll(/: (?:stays on \S+|\S+ -> \S+, ([a-z-]+), )/g)];
  const modes = plans.map((m) => m[1]).filter(Boolean);
  return { plans: plans.length, moves: modes.length, modes: [...new Set(modes)] };
}

const total = (c: ConnectionCounts, side: "daemonSide" | "ours") =>
  Object.values(c).reduce((n, h) => n + h[side], 0);

export async function benchPreview(
  ctx: BenchContext,
  placements: number,
  runs: number,
): Promise<PartResult> {
  const { lab, cleanup } = ctx;
  return cleanup.scope(async (add) => {
    const domains = new ShutoffDomains(lab);
    add("part (b) domains", () => domains.remove());
    const defineStarted = Date.now();
    await domains.define(`bp-pv-${ctx.runId}`, placements);
    console.log(`  (b) defined ${placements} shut-off domains in ${Date.now() - defineStarted} ms`);
    const home = { ...domains.placed };
    const names = Object.keys(home);
    const moved = Object.fromEntries(
      names.map((n, i) => [n, i % 3 === 0 ? nextHost(lab, home[n]).name : home[n]]),
    );
    const moves = names.filter((n) => moved[n] !== home[n]).length;

    const counter = new ConnectionCounter(lab, ctx.gid);
    add("nft counters", () => counter.remove());
    await counter.install();
    const stack = await BenchStack.create(lab, "bp-preview", ctx.gid, moved, {
      perHostOutbound: 1,
      perHostInbound: 1,
      total: 4,
    });
    add("part (b) stack", () => stack.remove());

    const rows: Row[] = [];
    const raw: unknown[] = [];
    /** Runs `command` `times` times: median wall time, connections of every run. */
    const measure = async (step: string, times: number, command: () => Promise<Output>) => {
      const samples: Array<{ wallMs: number; connections: ConnectionCounts }> = [];
      let planned = plansIn("");
      for (let i = 0; i < times; i++) {
        const { result, connections } = await counter.around(command);
        planned = plansIn(result.stdout);
        samples.push({ wallMs: result.wallMs, connections });
        console.log(
          `  (b) ${step} ${i + 1}/${times}: ${result.wallMs} ms, ${total(connections, "ours")} connections (${total(connections, "daemonSide")} at the daemons)`,
        );
      }
      const wallMs = median(samples.map((s) => s.wallMs));
      const perRun = (side: "daemonSide" | "ours") =>
        samples.map((s) => total(s.connections, side)).join(",");
      rows.push({
        step,
        runs: times,
        plans: planned.plans,
        moves: planned.moves,
        modes: planned.modes.join(",") || "-",
        wall_ms: spread(samples.map((s) => s.wallMs)),
        ms_per_plan: planned.plans ? Math.round(wallMs / planned.plans) : "-",
        conns_ours: describeCounts(samples[0].connections, "ours"),
        conns_ours_per_run: perRun("ours"),
        conns_daemon_side_per_run: perRun("daemonSide"),
      });
      raw.push({ step, planned, samples });
    };

    await measure(`preview, new stack`, runs, () => stack.preview());
    await stack.configure({ vms: home });
    await measure("up, adopt all in place", 1, () => stack.up());
    await stack.configure({ vms: moved });
    await measure(`preview, existing stack`, runs, () => stack.preview());

    return {
      title: `(b) pulumi preview of ${placements} placements over ${lab.hosts.length} hosts`,
      rows,
      notes: [
        `domains are persistent and shut off (16 MiB, 1 MiB qcow2 each), so moves plan as offline moves; every third placement names another host`,
        "the provider reaches libvirtd over tcp; preview = `pulumi preview --diff`, up = `pulumi up --yes --skip-preview`",
        "plans / moves: plan summaries the provider printed; in a new stack every placement is a create and is planned, in an existing one only the changed placements",
        "wall_ms: median (min-max) over runs; other tests on the lab make single runs noisy",
        "conns_ours: new TCP connections to libvirtd/sshd opened by the measured pulumi process tree (its own group id), counted by nftables in the root namespace; by host for the first run, totals per run; expected: one pooled connection per host",
        "conns_daemon_side_per_run: the same counted by nftables inside each host's namespace, from any client in the root namespace (other tests on the lab included)",
      ],
      raw: { placements, moves, steps: raw },
    };
  });
}
