// Runs a fence agent through the standard fence-agents interface, so the real agents (fence_ipmilan,
// fence_redfish, fence_virsh, ...) work unchanged: options go as key=value lines on standard input
// (never as arguments, where other users of the machine could read a password), `action` is off,
// on or status, and the exit status says what happened (0: done, or for status: on; 2: status
// off; anything else: the agent failed). What the agent prints is kept (its end, bounded) with
// every secret replaced in every form it may take, so it can go into errors, logs and the record.
import { spawn } from "node:child_process";
import { RedactedTail, Redactor } from "./redact";

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

/** What is kept of each of the agent's streams: the end, where an agent says what went wrong. */
const KEPT_OUTPUT_CHARS = 32 * 1024;

/**
 * Runs the agent in a process group of its own: at its timeout, on a cancel, and once it exited,
 * the whole group is killed, so a helper it started (ipmitool, curl, ...) cannot act afterwards.
 */
export function runFenceAgent(
  device: FenceDevice,
  action: FenceAction,
  signal?: AbortSignal,
): Promise<FenceResult> {
  const input = agentInput(action, device);
  const started = Date.now();
  const redactor = new Redactor(Object.values(device.secrets));
  return new Promise((resolve) => {
    const child = spawn(device.agent, [], { stdio: ["pipe", "pipe", "pipe"], detached: true });
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // the group is gone already
      }
    };
    const stdout = new RedactedTail(redactor, KEPT_OUTPUT_CHARS);
    const stderr = new RedactedTail(redactor, KEPT_OUTPUT_CHARS);
    let exitCode: number | null = null;
    let settled = false;
    const finish = (code: number | null, extra = "") => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      killGroup();
      const output = `${stdout}${stderr}${redactor.redact(extra)}`.trim();
      const power =
        action === "status" ? (code === 0 ? "on" : code === 2 ? "off" : undefined) : undefined;
      resolve({
        action,
        exitCode: code,
        ...(power ? { power } : {}),
        ok: action === "status" ? power !== undefined : code === 0,
        output,
        durationMs: Date.now() - started,
      });
    };
    const timer = setTimeout(
      () =>
        finish(null, `\n${device.agent} ${action}: no answer within ${device.timeoutSeconds} s`),
      device.timeoutSeconds * 1000,
    );
    const onAbort = () => finish(null, `\n${device.agent} ${action}: cancelled`);
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (d: Buffer) => stdout.push(d.toString()));
    child.stderr.on("data", (d: Buffer) => stderr.push(d.toString()));
    child.on("error", (err) => finish(null, `\n${device.agent}: ${err.message}`));
    // A helper left running keeps the pipes open: the group goes as soon as the agent exits.
    child.on("exit", (code) => {
      exitCode = code;
      killGroup();
    });
    child.on("close", (code) => finish(code ?? exitCode));
    child.stdin.on("error", () => undefined); // an agent that exits without reading
    child.stdin.end(input);
  });
}
