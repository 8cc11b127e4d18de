// The fence-agents interface as the provider speaks it, against small agents written here: options
// as key=value lines on standard input, the exit status read as the interface defines it, secrets
// never in the output, an agent that hangs killed at its timeout; and a fence confirmed only when
// status says off.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

  it("kills the agent's whole process group at the timeout: a helper it started cannot act afterwards", async () => {
    const acted = path.join(dir, "helper-acted");
    const pidFile = path.join(dir, "helper-pid");
    // The helper (think ipmitool) would power the host off 2 s later, after the provider gave up.
    const file = agent(
      "spawner",
      `(sleep 2; echo off >"${acted}") & echo $! >"${pidFile}"; sleep 30`,
    );
    const r = await runFenceAgent(device(file, { timeoutSeconds: 1 }), "off");
    assert.equal(r.ok, false);
    const helper = Number(readFileSync(pidFile, "utf8"));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.ok(!existsSync(acted), "the helper never acted");
    assert.throws(() => process.kill(helper, 0), "the helper is gone");
  });

  it("kills what an agent left running when it exits", async () => {
    const acted = path.join(dir, "orphan-acted");
    const r = await runFenceAgent(
      device(agent("orphaner", `(sleep 1; echo on >"${acted}") >/dev/null 2>&1 & echo started`)),
      "off",
    );
    assert.equal(r.ok, true);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(!existsSync(acted), "the orphaned helper never acted");
  });

  it("keeps only the end of a flood of output, redacted", async function () {
    this.timeout(60_000);
    const r = await runFenceAgent(
      device(
        agent(
          "flood",
          'head -c 100000000 /dev/zero | tr "\\0" x; echo; echo "last: $opt_password"; exit 1',
        ),
        { timeoutSeconds: 50 },
      ),
      "off",
    );
    assert.equal(r.ok, false);
    assert.ok(r.output.length <= 64 * 1024 + 64, `output bounded: ${r.output.length} characters`);
    assert.match(r.output, /^\[\.\.\. earlier output dropped\]\nx+\nlast: \[secret\]$/);
  });

  it("redacts a secret URL-encoded, in base64 at any alignment, and a longer secret before a shorter one it contains", async () => {
    const secrets = { password: "p@ss w/rd+1", token: "p@ss w/rd+1-and-more" };
    const basic = Buffer.from(`admin:${secrets.password}`).toString("base64");
    const lines = [
      `url: https://bmc/login?pw=${encodeURIComponent(secrets.password)}`,
      `form: pw=${new URLSearchParams({ x: secrets.password }).toString().slice(2)}`,
      `b64: ${Buffer.from(secrets.password).toString("base64")}`,
      `basic: Authorization: Basic ${basic}`,
      `token: ${secrets.token}`,
    ];
    const r = await runFenceAgent(
      device(agent("encodings", `cat <<'EOF'\n${lines.join("\n")}\nEOF\nexit 1`), { secrets }),
      "off",
    );
    for (const form of [
      secrets.password,
      secrets.token,
      encodeURIComponent(secrets.password),
      Buffer.from(secrets.password).toString("base64").slice(0, 12),
      "-and-more",
    ])
      assert.ok(!r.output.includes(form), `${form} is not in:\n${r.output}`);
    assert.match(r.output, /token: \[secret\]$/m);
    // What is left of the Basic header is the user name's part ("admin:"), not the password's.
    assert.match(r.output, /^basic: Authorization: Basic YWRtaW46\[secret\]=?$/m);
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
