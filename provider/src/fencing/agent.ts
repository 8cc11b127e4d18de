// Runs a fence agent through the standard fence-agents interface, so the real agents (fence_ipmilan,
// fence_redfish, fence_virsh, ...) work unchanged: options go as key=value lines on standard input
// (never as arguments, where other users of the machine could read a password), `action` is off,
// on or status, and the exit status says what happened (0: done, or for status: on; 2: status
// off; anything else: the agent failed). What the agent prints is kept with every secret value
// replaced, so it can go into errors, logs and the migration record.
import { spawn } from "node:child_process";

export type FenceAction = "off" | "on" | "status";

export interface FenceDevice {
  /** The agent: a path, or a name found on PATH (e.g. fence_ipmilan). */
  agent: string;
  /** The agent's own options (ip, username, lanplus, plug, ...), without secrets. */
  options: Record<string, string>;
  /** Options that are secrets (password, ...): sent like the others, never shown. */
  secrets: Record<string, string>;
  /** How long one action may take. */
  timeoutSeconds: number;
}

export interface FenceResult {
  action: FenceAction;
  exitCode: number | null;
  /** For status: what the agent reported. */
  power?: "on" | "off";
  /** Whether the action did what was asked (status: whether the agent answered). */
  ok: boolean;
  /** The agent's output (stdout then stderr), secrets redacted, trimmed. */
  output: string;
  durationMs: number;
}

/** The agent's output with every secret value replaced. */
export function redact(text: string, secrets: Record<string, string>): string {
  let out = text;
  for (const value of Object.values(secrets)) if (value) out = out.split(value).join("[secret]");
  return out;
}

/** The standard input an agent reads: one key=value line per option, the action first. */
export function agentInput(action: FenceAction, device: FenceDevice): string {
  const lines = [`action=${action}`];
  for (const [k, v] of Object.entries({ ...device.options, ...device.secrets })) {
    if (/[\n=]/.test(k) || v.includes("\n"))
      throw new Error(`fence option '${k}' cannot be sent as a key=value line`);
    lines.push(`${k}=${v}`);
  }
  return lines.join("\n") + "\n";
}

export function runFenceAgent(
  device: FenceDevice,
  action: FenceAction,
  signal?: AbortSignal,
): Promise<FenceResult> {
  const input = agentInput(action, device);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(device.agent, [], { stdio: ["pipe", "pipe", "pipe"], signal });
    let stdout = "";
    let stderr = "";
    let settled = false;
    const finish = (exitCode: number | null, extra = "") => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const output = redact(`${stdout}${stderr}${extra}`, device.secrets).trim();
      const power =
        action === "status"
          ? exitCode === 0
            ? "on"
            : exitCode === 2
              ? "off"
              : undefined
          : undefined;
      resolve({
        action,
        exitCode,
        ...(power ? { power } : {}),
        ok: action === "status" ? power !== undefined : exitCode === 0,
        output,
        durationMs: Date.now() - started,
      });
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(null, `\n${device.agent} ${action}: no answer within ${device.timeoutSeconds} s`);
    }, device.timeoutSeconds * 1000);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err) => finish(null, `\n${device.agent}: ${err.message}`));
    child.on("close", (code) => finish(code));
    child.stdin.on("error", () => undefined); // an agent that exits without reading
    child.stdin.end(input);
  });
}
