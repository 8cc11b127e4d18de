// Storage fencing on Ceph: the Ceph clients of a lost host (its QEMUs' librbd) are blocklisted
// in the cluster's OSD map before its VMs start elsewhere, so a QEMU that power fencing missed
// can no longer write. An entry of the form `ADDR:0/0` covers every client on that address. The
// `ceph` tool does the talking; the key goes to it in a keyring file only it and we can read,
// never as an argument, and what it prints is redacted before it goes anywhere.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redactor } from "./redact";

export interface CephStorageFence {
  /** The cluster's name in the provider's configuration (for messages and the record). */
  cluster: string;
  monitors: string[];
  /** The cephx user (without `client.`) allowed `osd blocklist`. */
  user: string;
  key: string;
  /** The addresses the host's Ceph clients use (its address on Ceph's public network). */
  clientAddresses: string[];
  /** How long an entry lasts unless removed first: long, as the refresh removes it on return. */
  expireSeconds: number;
  timeoutSeconds: number;
  /** The `ceph` command (default: found on PATH). */
  command?: string;
}

export interface BlocklistOutcome {
  ok: boolean;
  /** The entries as Ceph names them (ADDR:0/0). */
  entries: string[];
  /** What the tool said (redacted), or why it could not run. */
  output: string;
}

/** The blocklist entry that covers every client of `address` (any port, any nonce). */
export function blocklistEntry(address: string): string {
  return address.includes(":") && !address.startsWith("[")
    ? `[${address}]:0/0` // IPv6
    : `${address}:0/0`;
}

/** Adds (before a failover) or removes (once the host is back) the host's blocklist entries. */
export async function cephBlocklist(
  fence: CephStorageFence,
  action: "add" | "rm",
  signal?: AbortSignal,
): Promise<BlocklistOutcome> {
  const entries = fence.clientAddresses.map(blocklistEntry);
  const redactor = new Redactor([fence.key]);
  const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-ceph-"));
  try {
    const keyring = path.join(dir, "keyring");
    writeFileSync(keyring, `[client.${fence.user}]\n\tkey = ${fence.key}\n`, { mode: 0o600 });
    const outputs: string[] = [];
    for (const entry of entries) {
      const args = [
        ...["-c", "/dev/null", "--mon-host", fence.monitors.join(",")],
        ...["--name", `client.${fence.user}`, "--keyring", keyring],
        ...["--connect-timeout", String(fence.timeoutSeconds)],
        ...["osd", "blocklist", action, entry],
        ...(action === "add" ? [String(fence.expireSeconds)] : []),
      ];
      const result = await runCeph(fence.command ?? "ceph", args, fence.timeoutSeconds, signal);
      outputs.push(redactor.redact(result.output.trim()));
      if (!result.ok) return { ok: false, entries, output: outputs.join("; ") };
    }
    return { ok: true, entries, output: outputs.join("; ") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runCeph(
  command: string,
  args: string[],
  timeoutSeconds: number,
  signal?: AbortSignal,
): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      // The tool's own connect timeout bounds the monitors; this bounds the tool.
      { timeout: (timeoutSeconds + 5) * 1000, signal, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (!err) return resolve({ ok: true, output });
        const why =
          (err as NodeJS.ErrnoException).code === "ENOENT"
            ? `${command} not found: install ceph-common where the provider runs`
            : err.killed
              ? `${command} gave no answer within ${timeoutSeconds + 5} s`
              : `exit ${String(err.code)}`;
        resolve({ ok: false, output: `${output.trim()} (${why})` });
      },
    );
  });
}
