// ssh credentials as operators keep them, through the real CLI against the lab's sshd: an
// ssh-agent instead of a key in the stack, a passphrase-protected key with its passphrase as a
// secret, host keys from the user's ~/.ssh/known_hosts (hashed, as ssh-keyscan -H writes them),
// and the key from an environment variable, never written to the state. Each case also shows the
// provider failing without what it relies on, so the success is that credential's doing.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import {
  copyFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import type { PulumiWorkspace } from "../support/pulumi-cli";
import { labHosts, placementWorkspace, rotatedHostKeys } from "./placement-workspace";

describe("provider e2e: ssh credentials as operators keep them", function () {
  this.timeout(300_000);
  let lab: LabDescription;
  let h1: LabHost;
  let guests: GuestFactory;
  let guest: TestGuest;
  let ws: PulumiWorkspace;
  let dir: string;
  let baseEnv: NodeJS.ProcessEnv;

  before(async () => {
    lab = loadLab();
    [h1] = lab.hosts;
    dir = mkdtempSync(path.join(os.tmpdir(), "vmp-ssh-conv-"));
    guests = new GuestFactory(lab);
    guest = await guests.local("e2e-sshc", h1, { memoryMiB: 128, sizeMiB: 16 });
    ws = placementWorkspace();
    // Nothing from the machine running the tests: no agent, no variables of ours.
    for (const name of Object.keys(ws.env))
      if (name === "SSH_AUTH_SOCK" || name.startsWith("VMPLACEMENT_")) delete ws.env[name];
    baseEnv = { ...ws.env };
  });
  afterEach(() => {
    for (const name of Object.keys(ws.env)) delete ws.env[name];
    Object.assign(ws.env, baseEnv);
  });
  after(async () => {
    await guests?.cleanup();
    ws?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A stack placing the guest where it runs, over ssh, with the given provider config. */
  async function stack(
    name: string,
    config: Record<string, string>,
    secrets: Record<string, string> = {},
  ) {
    await ws.pulumi(["stack", "init", name]);
    await ws.pulumi(["config", "set", "domain", guest.name]);
    await ws.pulumi(["config", "set", "host", h1.name]);
    await ws.pulumi(["config", "set", "vmplacement:hosts", JSON.stringify(labHosts(lab, "ssh"))]);
    for (const [key, value] of Object.entries(config))
      await ws.pulumi(["config", "set", key, value]);
    for (const [key, value] of Object.entries(secrets)) await ws.setSecret(key, value);
  }
  const preview = () =>
    ws.pulumiWithDiagnostics(["preview"]).then(
      (out) => ({ ok: true, out }),
      (err: Error) => ({ ok: false, out: err.message }),
    );
  const labKnownHosts = () => readFileSync(lab.ssh.knownHosts, "utf8");
  const labKey = () => readFileSync(lab.ssh.privateKey, "utf8");

  it("signs with an ssh-agent (SSH_AUTH_SOCK) when no key is configured", async () => {
    await stack("agent", { "vmplacement:sshKnownHosts": labKnownHosts() });
    const without = await preview();
    assert.equal(without.ok, false, "no key and no agent: the hosts refuse");
    assert.match(without.out, /authentication|auth/i);

    const socket = path.join(dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
    try {
      for (let i = 0; i < 50 && !existsSync(socket); i++)
        await new Promise((r) => setTimeout(r, 100));
      execFileSync("ssh-add", [lab.ssh.privateKey], {
        env: { ...process.env, SSH_AUTH_SOCK: socket },
        stdio: "ignore",
      });
      ws.env.SSH_AUTH_SOCK = socket;
      const withAgent = await preview();
      assert.ok(withAgent.ok, withAgent.out);
      assert.match(withAgent.out, /\+ .*create/);
    } finally {
      agent.kill();
    }
  });

  it("decrypts a passphrase-protected key with sshPrivateKeyPassphrase, kept secret", async () => {
    const encrypted = path.join(dir, "id_encrypted");
    copyFileSync(lab.ssh.privateKey, encrypted);
    chmodSync(encrypted, 0o600);
    const passphrase = "lab passphrase 7f3e";
    execFileSync("ssh-keygen", ["-q", "-p", "-P", "", "-N", passphrase, "-f", encrypted]);
    const key = readFileSync(encrypted, "utf8");
    assert.match(key, /BEGIN OPENSSH PRIVATE KEY/);

    await stack(
      "passphrase",
      { "vmplacement:sshKnownHosts": labKnownHosts() },
      { "vmplacement:sshPrivateKey": key },
    );
    const without = await preview();
    assert.equal(without.ok, false);
    assert.match(without.out, /sshPrivateKey is encrypted and sshPrivateKeyPassphrase is not set/);

    await ws.setSecret("vmplacement:sshPrivateKeyPassphrase", passphrase);
    const up = await ws.pulumiWithDiagnostics(["up", "--yes", "--skip-preview"]);
    assert.match(up, /created/);
    const state = await ws.pulumi(["stack", "export"]);
    assert.match(state, /"currentHost": "h1"/);
    assert.ok(
      !state.includes(passphrase) && !up.includes(passphrase),
      "the passphrase stays secret",
    );
    await ws.pulumi(["destroy", "--yes", "--skip-preview"]);
  });

  it("verifies host keys against ~/.ssh/known_hosts (hashed) when sshKnownHosts is not set", async () => {
    const home = path.join(dir, "home");
    mkdirSync(path.join(home, ".ssh"), { recursive: true });
    const knownHosts = path.join(home, ".ssh", "known_hosts");
    ws.env.HOME = home;
    await stack("known-hosts", {}, { "vmplacement:sshPrivateKey": labKey() });

    // Without the file the check says where host keys may come from, before any host is asked.
    const missing = await preview();
    assert.equal(missing.ok, false);
    assert.match(missing.out, /give sshKnownHosts .* or add the hosts to .*known_hosts/s);

    // Another host's key for every address: the hosts are refused.
    writeFileSync(knownHosts, rotatedHostKeys(labKnownHosts()));
    const wrong = await preview();
    assert.equal(wrong.ok, false);
    assert.match(wrong.out, /host key/i);

    // The right keys, hashed as `ssh-keyscan -H` and `HashKnownHosts yes` write them.
    writeFileSync(knownHosts, labKnownHosts());
    execFileSync("ssh-keygen", ["-H", "-f", knownHosts], { stdio: "ignore" });
    assert.match(readFileSync(knownHosts, "utf8"), /^\|1\|/);
    const right = await preview();
    assert.ok(right.ok, right.out);
    assert.match(right.out, /\+ .*create/);
  });

  it("reads the key from VMPLACEMENT_SSH_PRIVATE_KEY and keeps it out of the state", async () => {
    await stack("env", { "vmplacement:sshKnownHosts": labKnownHosts() });
    const without = await preview();
    assert.equal(without.ok, false);

    ws.env.VMPLACEMENT_SSH_PRIVATE_KEY = labKey();
    const up = await ws.pulumiWithDiagnostics(["up", "--yes", "--skip-preview"]);
    assert.match(up, /created/);
    const state = await ws.pulumi(["stack", "export"]);
    assert.match(state, /"currentHost": "h1"/);
    const fragment = labKey().split("\n")[2];
    assert.ok(
      !state.includes(fragment) && !up.includes(fragment),
      "the key is not written anywhere",
    );
    await ws.pulumi(["destroy", "--yes", "--skip-preview"]);
  });
});
