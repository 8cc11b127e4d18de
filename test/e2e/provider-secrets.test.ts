// Credentials stay secret: a stack reaching its hosts over ssh keeps the private key out of the
// state, the CLI output and the provider's logs, and verifies host keys from sshKnownHosts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import type { PulumiWorkspace } from "../support/pulumi-cli";
import { labHosts, placementWorkspace, rotatedHostKeys } from "./placement-workspace";

describe("provider e2e: ssh credentials stay secret", function () {
  let lab: LabDescription;
  let h1: LabHost;
  let guests: GuestFactory;
  let guest: TestGuest;
  let ws: PulumiWorkspace;
  let privateKey: string;

  before(async () => {
    lab = loadLab();
    [h1] = lab.hosts;
    privateKey = readFileSync(lab.ssh.privateKey, "utf8");
    guests = new GuestFactory(lab);
    guest = await guests.local("e2e-ssh", h1, { memoryMiB: 128, sizeMiB: 16 });
    ws = placementWorkspace();
    await ws.pulumi(["stack", "init", "ssh"]);
    const hosts = labHosts(lab, "ssh");
    await ws.pulumi(["config", "set", "domain", guest.name]);
    await ws.pulumi(["config", "set", "host", h1.name]);
    await ws.pulumi(["config", "set", "vmplacement:hosts", JSON.stringify(hosts)]);
    await ws.pulumi([
      "config",
      "set",
      "vmplacement:sshKnownHosts",
      readFileSync(lab.ssh.knownHosts, "utf8"),
    ]);
    await ws.setSecret("vmplacement:sshPrivateKey", privateKey);
  });
  after(async () => {
    await ws?.pulumi(["destroy", "--yes", "--skip-preview"]).catch(() => undefined);
    await guests?.cleanup();
    ws?.cleanup();
  });

  /** A distinctive line of the key's body: enough to spot any leak. */
  const keyFragment = () => privateKey.split("\n")[2];

  it("places over ssh and never writes the private key in plain text", async () => {
    const upOutput = await ws.pulumiWithDiagnostics(["up", "--yes", "--skip-preview", "--diff"]);
    const state = await ws.pulumi(["stack", "export"]);
    assert.match(state, /"currentHost": "h1"/);
    for (const [where, text] of [
      ["stack export", state],
      ["up output", upOutput],
      ["stack config file", readFileSync(path.join(ws.dir, "Pulumi.ssh.yaml"), "utf8")],
    ]) {
      assert.ok(!text.includes(keyFragment()), `the private key appears in the ${where}`);
    }
    assert.match(state, /"secure":|"ciphertext"/, "the key is kept as an encrypted secret");
  });

  it("refuses hosts whose ssh key does not match sshKnownHosts", async () => {
    // Each host's address paired with another host's key: every key is now wrong.
    const wrong = rotatedHostKeys(readFileSync(lab.ssh.knownHosts, "utf8"));
    await ws.pulumi(["config", "set", "vmplacement:sshKnownHosts", wrong]);
    // A planned move makes the provider contact the hosts with the new configuration.
    await ws.pulumi(["config", "set", "host", lab.hosts[1].name]);
    const err = await ws.pulumi(["preview"]).then(
      () => "",
      (e: Error) => e.message,
    );
    assert.match(err, /HOST KEY MISMATCH|host key/i);
    assert.ok(!err.includes(keyFragment()));
    await ws.pulumi(["config", "set", "host", h1.name]);
    await ws.pulumi([
      "config",
      "set",
      "vmplacement:sshKnownHosts",
      readFileSync(lab.ssh.knownHosts, "utf8"),
    ]);
  });
});
