// Evacuates a host through the Pulumi Automation API (LocalWorkspace), as a maintenance pipeline
// would: adds the host to the `cordon` of the fleet project's PlacementGroup (examples/rebalance),
// previews and prints the plan (each VM that leaves, where to, how, and the forecast time and
// downtime, and each VM that cannot leave, with the reason), applies it, and prints a report
// (moved, failed, time, downtime per VM). Exits non-zero when the preview fails or leaves a VM on
// the host (then nothing has changed), when any move fails, or when a VM is still there after.
//
//   npm install && npm run build
//   node bin/index.js --host kvm1 --stack prod [--work-dir ../rebalance]
import { LocalWorkspace, type EngineEvent, type Stack } from "@pulumi/pulumi/automation";

interface Args {
  host: string;
  stack: string;
  workDir: string;
}

interface PlannedMove {
  vm: string;
  from: string;
  to: string;
  mode: string;
  estimatedSeconds?: number;
  estimatedDowntimeMs?: number;
}

interface MigrationRecord {
  from: string;
  to: string;
  finalHost: string;
  mode: string;
  result: string;
  startedAt: string;
  durationMs?: number;
  downtimeMs?: number;
  error?: string;
}

function parseArgs(argv: string[]): Args {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const host = value("--host");
  const stack = value("--stack");
  if (!host || !stack) {
    console.error("usage: evacuate --host <inventory host> --stack <stack> [--work-dir <project>]");
    process.exit(2);
  }
  return { host, stack, workDir: value("--work-dir") ?? "../rebalance" };
}

/** The outputs a preview reports for each resource of a type, by URN. */
function previewOutputs(events: EngineEvent[], type: string): Record<string, unknown>[] {
  const byUrn = new Map<string, Record<string, unknown>>();
  for (const e of events) {
    const step = e.resourcePreEvent?.metadata ?? e.resOutputsEvent?.metadata;
    if (step?.type === type && step.new?.outputs) byUrn.set(step.urn, step.new.outputs);
  }
  return [...byUrn.values()];
}

/** The moves a preview plans: each VmPlacement's `plannedMigration` output, by VM. */
function plannedMoves(events: EngineEvent[]): PlannedMove[] {
  return previewOutputs(events, "vmplacement:index:VmPlacement")
    .filter((o) => o.plannedMigration && typeof o.plannedMigration === "object")
    .map((o) => ({ vm: String(o.domain), ...(o.plannedMigration as Omit<PlannedMove, "vm">) }))
    .sort((a, b) => a.vm.localeCompare(b.vm));
}

/** What the placement rules cannot place, by VM, with the reason. */
function unplaceable(events: EngineEvent[]): Record<string, { code: string; reason: string }> {
  return Object.assign(
    {},
    ...previewOutputs(events, "vmplacement:index:PlacementGroup").map((o) => o.unplaceable ?? {}),
  );
}

function table(header: string[], rows: (string | number | undefined)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === undefined ? "-" : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ")).join("\n");
}

async function configuredCordon(stack: Stack): Promise<string[]> {
  const all = await stack.getAllConfig();
  const entry = Object.entries(all).find(([key]) => key.endsWith(":cordon"));
  return entry ? (JSON.parse(entry[1].value) as string[]) : [];
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const stack = await LocalWorkspace.selectStack({ stackName: args.stack, workDir: args.workDir });
  const before = await configuredCordon(stack);
  const where = async () => ((await stack.outputs()).where?.value ?? {}) as Record<string, string>;
  const onHost = Object.entries(await where())
    .filter(([, host]) => host === args.host)
    .map(([vm]) => vm);

  await stack.setConfig("cordon", { value: JSON.stringify([...new Set([...before, args.host])]) });
  // A plan that fails or strands a VM changes nothing: the cordon goes back as it was.
  const abandon = async (why: string) => {
    if (before.length) await stack.setConfig("cordon", { value: JSON.stringify(before) });
    else await stack.removeConfig("cordon");
    console.error(`evacuation of ${args.host} not started: ${why}`);
    return 1;
  };

  console.log(`== preview: evacuate ${args.host} (${onHost.length} VMs on it)`);
  const events: EngineEvent[] = [];
  try {
    await stack.preview({ onEvent: (e) => events.push(e) });
  } catch (err) {
    return abandon(`the preview failed:\n${(err as Error).message}`);
  }
  const plan = plannedMoves(events);
  console.log(
    table(
      ["vm", "from", "to", "mode", "forecast s", "forecast downtime ms"],
      plan.map((m) => [m.vm, m.from, m.to, m.mode, m.estimatedSeconds, m.estimatedDowntimeMs]),
    ),
  );
  const blocked = unplaceable(events);
  const stranded = onHost.filter((vm) => !plan.some((m) => m.vm === vm && m.to !== args.host));
  if (stranded.length)
    return abandon(
      `${stranded.length} VMs cannot leave:\n` +
        stranded.map((vm) => `  ${vm}: ${blocked[vm]?.reason ?? "no move planned"}`).join("\n"),
    );

  console.log(`== up: ${plan.length} moves`);
  const started = Date.now();
  let failure: string | undefined;
  try {
    await stack.up({ onOutput: () => undefined });
  } catch (err) {
    failure = (err as Error).message;
  }
  const seconds = (Date.now() - started) / 1000;

  const outputs = await stack.outputs();
  const records = (outputs.lastMigrations?.value ?? {}) as Record<string, MigrationRecord | null>;
  const now = await where();
  const rows = plan.map((m) => {
    const r = records[m.vm];
    // A record from before this run says nothing about this move.
    const fresh = r && Date.parse(r.startedAt) >= started - 1000 ? r : undefined;
    const moved = fresh?.result === "succeeded" && now[m.vm] === m.to;
    return { move: m, record: fresh, moved };
  });
  console.log("== report");
  console.log(
    table(
      ["vm", "from", "to", "now on", "result", "time s", "downtime ms"],
      rows.map(({ move, record, moved }) => [
        move.vm,
        move.from,
        move.to,
        now[move.vm],
        moved ? "moved" : `failed${record?.error ? `: ${record.error}` : ""}`,
        record?.durationMs === undefined ? undefined : (record.durationMs / 1000).toFixed(1),
        record?.downtimeMs,
      ]),
    ),
  );
  const moved = rows.filter((r) => r.moved).length;
  const left = Object.entries(now)
    .filter(([, host]) => host === args.host)
    .map(([vm]) => vm);
  console.log(`moved ${moved}, failed ${rows.length - moved}, in ${seconds.toFixed(1)} s`);
  if (failure) console.error(`pulumi up failed:\n${failure}`);
  if (left.length) console.error(`still on ${args.host}: ${left.join(", ")}`);
  return failure || left.length || moved < rows.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
