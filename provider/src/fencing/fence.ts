// Fencing a lost host before anything of it starts elsewhere: power it off through its fence
// agent, then ask the agent until it confirms the power is off. Only a confirmed fence allows a
// failover; anything else (the agent fails, times out, or keeps saying on) is refused with the
// agent's own words.
import path from "node:path";
import { sleep } from "../util/sleep";
import { runFenceAgent, type FenceDevice, type FenceResult } from "./agent";

export interface FenceOutcome {
  host: string;
  confirmed: boolean;
  /** Every agent call, in order. */
  calls: FenceResult[];
  /** Why the fence is not confirmed, when it is not. */
  reason?: string;
}

/** One line per agent call, for records and errors: "off: exit 0 (Success: off)". */
export function describeCalls(calls: FenceResult[]): string {
  return calls
    .map(
      (c) =>
        `${c.action}: ${c.exitCode === null ? "no exit" : `exit ${c.exitCode}`}${c.power ? `, power ${c.power}` : ""}${c.output ? ` (${c.output.split("\n").slice(-2).join("; ")})` : ""}`,
    )
    .join("; ");
}

export async function fenceOff(
  host: string,
  device: FenceDevice,
  options: { statusChecks?: number; statusIntervalMs?: number; signal?: AbortSignal } = {},
): Promise<FenceOutcome> {
  const checks = options.statusChecks ?? 5;
  const agent = path.basename(device.agent);
  const calls: FenceResult[] = [];
  const off = await runFenceAgent(device, "off", options.signal);
  calls.push(off);
  if (!off.ok)
    return {
      host,
      confirmed: false,
      calls,
      reason: `${agent} could not power ${host} off: ${describeCalls([off])}`,
    };
  for (let i = 0; i < checks; i++) {
    const status = await runFenceAgent(device, "status", options.signal);
    calls.push(status);
    if (status.power === "off") return { host, confirmed: true, calls };
    // A cancel during the wait ends the fence with the signal's reason.
    if (i + 1 < checks && (await sleep(options.statusIntervalMs ?? 1000, options.signal)))
      throw options.signal?.reason;
  }
  return {
    host,
    confirmed: false,
    calls,
    reason: `${agent} did not confirm ${host} is off after ${checks} status checks: ${describeCalls(calls.slice(-1))}`,
  };
}
