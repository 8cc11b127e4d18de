// A stack of the benchmark program (bench/programs/placements) in a throwaway workspace, driven
// through the real Pulumi CLI. Timed commands run under their own group id, so the connections
// their process tree opens can be told apart from other clients of the lab (connection-counter).
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { LabDescription } from "../test/lab/lab";
import { pulumiWorkspace, type PulumiWorkspace } from "../test/support/pulumi-cli";

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const PROGRAM = path.join(REPO_ROOT, "bench", "programs", "placements", "index.ts");
const PROJECT = "vmp-bench";

export interface ProviderLimits {
  perHostOutbound: number;
  perHostInbound: number;
  total: number;
}

export interface StackOptions {
  /** The VMs' disks are on shared storage: no pool, nothing copied. */
  shared?: boolean;
  /** MigrationPolicy inputs for every placement. */
  policy?: Record<string, unknown>;
  /** How the provider reaches the hosts (tcp unless set); ssh verifies the lab's host keys. */
  transport?: "tcp" | "ssh";
  /** Instead of placements: this many MigrationPolicy resources, which touch no host. */
  trivial?: number;
}

export interface MigrationRecordOutput {
  domain: string;
  from: string;
  to: string;
  mode: string;
  result: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  downtimeMs?: number;
  postCopy?: boolean;
  bytesMoved?: number;
  transport?: { transferredBytes?: number };
}

/**
 * The provider reaches every host over tcp, like virsh in these benchmarks, or over ssh (the
 * daemons still reach each other over tcp).
 */
function stackConfig(
  lab: LabDescription,
  vms: Record<string, string>,
  limits: ProviderLimits,
  options: StackOptions,
) {
  const ssh = options.transport === "ssh";
  return {
    config: {
      [`${PROJECT}:vms`]: vms,
      // Local disks (copied) unless the stack is for shared-storage guests.
      ...(options.shared ? {} : { [`${PROJECT}:pool`]: "local" }),
      ...(options.policy ? { [`${PROJECT}:policy`]: options.policy } : {}),
      ...(options.trivial ? { [`${PROJECT}:trivial`]: options.trivial } : {}),
      "vmplacement:hosts": lab.hosts.map((h) => ({
        name: h.name,
        uri: ssh ? h.uris.ssh : h.uris.tcp,
        ...(ssh ? { peerUri: h.uris.tcp } : {}),
        migrationAddress: h.migrationAddress,
      })),
      ...(ssh ? { "vmplacement:sshKnownHosts": readFileSync(lab.ssh.knownHosts, "utf8") } : {}),
      "vmplacement:maxMigrationsPerHostOutbound": limits.perHostOutbound,
      "vmplacement:maxMigrationsPerHostInbound": limits.perHostInbound,
      "vmplacement:maxMigrationsTotal": limits.total,
    },
  };
}

export class BenchStack {
  private readonly ws: PulumiWorkspace;

  private constructor(
    readonly name: string,
    /** Group id the timed commands run under. */
    readonly gid: number,
    initialConfig: object,
  ) {
    const plugins = `plugins:\n  providers:\n    - name: vmplacement\n      path: ${path.join(REPO_ROOT, "provider", "bin")}\n`;
    this.ws = pulumiWorkspace({
      "Pulumi.yaml": `name: ${PROJECT}\nruntime: nodejs\n${plugins}`,
      "index.ts": readFileSync(PROGRAM, "utf8"),
      // JSON is YAML: `stack init` keeps this config and adds its encryption salt; later
      // changes go through configure().
      [`Pulumi.${name}.yaml`]: JSON.stringify(initialConfig, null, 2),
    });
  }

  static async create(
    lab: LabDescription,
    name: string,
    gid: number,
    vms: Record<string, string>,
    limits: ProviderLimits,
    options: StackOptions = {},
  ): Promise<BenchStack> {
    const stack = new BenchStack(name, gid, stackConfig(lab, vms, limits, options));
    await stack.ws.pulumi(["stack", "init", name]);
    if (options.transport === "ssh")
      await stack.ws.setSecret(
        "vmplacement:sshPrivateKey",
        readFileSync(lab.ssh.privateKey, "utf8"),
      );
    return stack;
  }

  /** Changes placements and provider limits in one `pulumi config set-all`. */
  async configure(change: {
    vms?: Record<string, string>;
    limits?: ProviderLimits;
    /** Changes every third trivial resource (another input value). */
    trivialVariant?: number;
  }): Promise<void> {
    const values: Array<[string, string]> = [];
    if (change.vms) values.push([`${PROJECT}:vms`, JSON.stringify(change.vms)]);
    if (change.trivialVariant !== undefined)
      values.push([`${PROJECT}:trivialVariant`, String(change.trivialVariant)]);
    if (change.limits)
      values.push(
        ["vmplacement:maxMigrationsPerHostOutbound", String(change.limits.perHostOutbound)],
        ["vmplacement:maxMigrationsPerHostInbound", String(change.limits.perHostInbound)],
        ["vmplacement:maxMigrationsTotal", String(change.limits.total)],
      );
    await this.ws.pulumi([
      "config",
      "set-all",
      ...values.flatMap(([key, value]) => ["--plaintext", `${key}=${value}`]),
    ]);
  }

  /** Runs `pulumi <args>` under the stack's group id: wall time and output (stdout, stderr). */
  timed(args: string[], timeoutMs = 600_000): Promise<{ wallMs: number; stdout: string }> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      execFile(
        "pulumi",
        [...args, "--non-interactive"],
        {
          cwd: this.ws.dir,
          env: this.ws.env,
          gid: this.gid,
          timeout: timeoutMs,
          maxBuffer: 64 * 1024 * 1024,
        },
        (err, stdout, stderr) => {
          const wallMs = Date.now() - started;
          if (err)
            reject(
              new Error(
                `pulumi ${args.join(" ")} failed: ${stderr.trim() || err.message}\n${stdout.slice(-4000)}`,
              ),
            );
          // The provider's plan summaries and migration notes are diagnostics.
          else resolve({ wallMs, stdout: stdout + stderr });
        },
      );
    });
  }

  /** `pulumi up` without the preview pass: one run of the program. */
  up(): Promise<{ wallMs: number; stdout: string }> {
    return this.timed(["up", "--yes", "--skip-preview"]);
  }

  preview(): Promise<{ wallMs: number; stdout: string }> {
    return this.timed(["preview", "--diff"]);
  }

  async refresh(): Promise<void> {
    await this.ws.pulumi(["refresh", "--yes", "--skip-preview"]);
  }

  lastMigrations(): Promise<Record<string, MigrationRecordOutput | null>> {
    return this.ws.output("lastMigrations");
  }

  /** Drops the stack and its workspace; the VMs stay where they are. */
  async remove(): Promise<void> {
    await this.ws.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
    this.ws.cleanup();
  }
}
