// The fence-agents interface as the provider speaks it, against small agents written here: options
// as key=value lines on standard input, the exit status read as the interface defines it, secrets
// never in the output, an agent that hangs killed at its timeout; and a fence confirmed only when
// status says off.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { agentInput, runFenceAgent, type FenceDevice } from "../../../provider/src/fencing/agent";
import { fenceOff } from "../../../provider/src/fencing/fence";

describe("fence agents", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), "vmp-fence-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** An agent that saves its input, then runs `body` (bash) with the options as variables. */
  function agent(name: string, body: string): string {
    const file = path.join(dir, name);
    writeFileSync(
      file,
      `#!/usr/bin/env bash\ninput=$(cat)\necho "$input" >"${file}.input"\nwhile IFS== read -r k v; do declare "opt_$k=$v"; done <<<"$input"\n${body}\n`,
    );
    chmodSync(file, 0o755);
    return file;
  }
  const device = (file: string, extra: Partial<FenceDevice> = {}): FenceDevice => ({
    agent: file,
    options: { ip: "10.0.0.9", username: "admin", lanplus: "1" },
    secrets: { password: "s3cr3t-pw" },
    timeoutSeconds: 5,
    ...extra,
  });

  it("sends the action and every option as key=value lines on standard input", async () => {
    const file = agent("echo", 'echo "Success: $opt_action"');
    const r = await runFenceAgent(device(file), "off");
    assert.equal(r.ok, true);
    assert.equal(
      readFileSync(`${file}.input`, "utf8"),
      "action=off\nip=10.0.0.9\nusername=admin\nlanplus=1\npassword=s3cr3t-pw\n",
    );
    assert.equal(r.output, "Success: off");
  });

  it("reads status as the interface defines it: 0 on, 2 off, anything else a failure", async () => {
    for (const [code, power, ok] of [
      [0, "on", true],
      [2, "off", true],
      [1, undefined, false],
      [8, undefined, false],
    ] as const) {
      const r = await runFenceAgent(device(agent(`status-${code}`, `exit ${code}`)), "status");
      assert.equal(r.power, power, `exit ${code}`);
      assert.equal(r.ok, ok, `exit ${code}`);
    }
  });

  it("never shows a secret: the agent's output has it replaced", async () => {
    const r = await runFenceAgent(
      device(agent("leaky", 'echo "login with $opt_password failed" >&2; exit 1')),
      "off",
    );
    assert.equal(r.ok, false);
    assert.equal(r.output, "login with [secret] failed");
  });

  it("kills an agent that does not answer within its timeout", async () => {
    const r = await runFenceAgent(device(agent("hang", "sleep 30"), { timeoutSeconds: 1 }), "off");
    assert.equal(r.ok, false);
    assert.equal(r.exitCode, null);
    assert.match(r.output, /no answer within 1 s/);
    assert.ok(r.durationMs < 5000);
  });

  it("refuses options that cannot be sent as key=value lines", () => {
    assert.throws(
      () => agentInput("off", device("x", { secrets: { password: "a\nb" } })),
      /cannot be sent/,
    );
  });

  it("confirms a fence only when status says off after off", async () => {
    const state = path.join(dir, "power");
    writeFileSync(state, "on");
    const file = agent(
      "device",
      `case $opt_action in off) echo off >"${state}";; status) [[ $(cat "${state}") == on ]] && exit 0 || exit 2;; esac`,
    );
    const done = await fenceOff("h1", device(file), { statusIntervalMs: 10 });
    assert.equal(done.confirmed, true);
    assert.deepEqual(
      done.calls.map((c) => c.action),
      ["off", "status"],
    );

    const stuck = agent("stuck", `case $opt_action in off) exit 0;; status) exit 0;; esac`);
    const refused = await fenceOff("h1", device(stuck), { statusChecks: 3, statusIntervalMs: 10 });
    assert.equal(refused.confirmed, false);
    assert.match(refused.reason!, /did not confirm h1 is off after 3 status checks/);

    const broken = agent("broken", 'echo "Unable to connect to 10.0.0.9" >&2; exit 1');
    const failed = await fenceOff("h1", device(broken));
    assert.equal(failed.confirmed, false);
    assert.match(
      failed.reason!,
      /could not power h1 off: off: exit 1 \(Unable to connect to 10\.0\.0\.9\)/,
    );
  });
});
