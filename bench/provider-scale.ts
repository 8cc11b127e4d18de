// (g) Scale over ssh: `pulumi preview` and `pulumi up` of thousands of placements with the provider
// reaching every host over ssh (the lab's sshd keeps its defaults, MaxStartups 10:30:100 included),
// against Pulumi's own cost for as many trivial resources (MigrationPolicy resources, which touch no
// host) measured in the same run. The provider's share is (placements - trivial) / trivial.
import { BenchStack } from "./bench-stack";
import { ConnectionCounter, describeCounts, type ConnectionCounts } from "./connection-counter";
import { nextHost, type BenchContext, type PartResult } from "./provider-context";
import { plansIn } from "./provider-preview";
import type { Row } from "./report";
import { ShutoffDomains } from "./shutoff-domains";
import { ratio } from "./stats";

const LIMITS = { perHostOutbound: 1, perHostInbound: 1, total: 4 };

const total = (c: ConnectionCounts) => Object.values(c).reduce((n, h) => n + h.ours, 0);

export async function benchScale(ctx: BenchContext, placements: number): Promise<PartResult> {
  const { lab, cleanup } = ctx;
  return cleanup.scope(async (add) => {
    const domains = new ShutoffDomains(lab);
    add("part (g) domains", () => domains.remove());
    await domains.define(`bp-sc-${ctx.runId}`, placements);
    const home = { ...domains.placed };
    const moved = Object.fromEntries(
      Object.keys(home).map((n, i) => [n, i % 3 === 0 ? nextHost(lab, home[n]).name : home[n]]),
    );
    const counter = new ConnectionCounter(lab, ctx.gid);
    add("nft counters", () => counter.remove());
    await counter.install();
    const stack = await BenchStack.create(lab, `bp-scale-${ctx.runId}`, ctx.gid, home, LIMITS, {
      transport: "ssh",
    });
    add("part (g) stack", () => stack.remove());
    const trivial = await BenchStack.create(lab, `bp-trivial-${ctx.runId}`, ctx.gid, {}, LIMITS, {
      trivial: placements,
    });
    add("part (g) trivial stack", () => trivial.remove());

    const timed = async (command: () => Promise<{ wallMs: number; stdout: string }>) => {
      const { result, connections } = await counter.around(command);
      return { wallMs: result.wallMs, planned: plansIn(result.stdout), connections };
    };
    const rows: Row[] = [];
    const raw: unknown[] = [];
    /** One step on both stacks, the trivial one first. */
    const step = async (
      name: string,
      onPlacements: () => Promise<{ wallMs: number; stdout: string }>,
      onTrivial: () => Promise<{ wallMs: number; stdout: string }>,
    ) => {
      const t = await timed(onTrivial);
      const p = await timed(onPlacements);
      console.log(
        `  (g) ${name}: placements ${p.wallMs} ms (${total(p.connections)} connections), trivial ${t.wallMs} ms`,
      );
      rows.push({
        step: name,
        plans: p.planned.plans,
        moves: p.planned.moves,
        placements_ms: p.wallMs,
        trivial_ms: t.wallMs,
        provider_share: ratio(p.wallMs - t.wallMs, t.wallMs),
        conns_ours: describeCounts(p.connections, "ours"),
        conns_daemon_side: describeCounts(p.connections, "daemonSide"),
      });
      raw.push({ step: name, placements: p, trivial: t });
    };

    await step(
      "preview, new stack",
      () => stack.preview(),
      () => trivial.preview(),
    );
    await step(
      "up, adopt all in place",
      () => stack.up(),
      () => trivial.up(),
    );
    await stack.configure({ vms: moved });
    await trivial.configure({ trivialVariant: 1 });
    await step(
      "preview, every third changed",
      () => stack.preview(),
      () => trivial.preview(),
    );

    return {
      title: `(g) ${placements} placements over ssh (sshd defaults) vs ${placements} trivial resources`,
      rows,
      notes: [
        "placements: persistent shut-off domains (16 MiB, 1 MiB qcow2), spread over the hosts; the provider reaches libvirtd over ssh (qemu+ssh, host keys verified), sshd with its default MaxStartups 10:30:100",
        "trivial: the same program with MigrationPolicy resources only (no host is touched): what Pulumi costs per resource, plugin start included",
        "provider_share = (placements_ms - trivial_ms) / trivial_ms; goal: at most 0.10",
        "conns_ours: new TCP connections to sshd/libvirtd opened by the measured pulumi process tree; expected one per host",
        "preview = `pulumi preview --diff`, up = `pulumi up --yes --skip-preview`; one run each (the machine is shared, so single runs are noisy)",
      ],
      raw: { placements, steps: raw },
    };
  });
}
