// Failure handling against real daemons: host key verification, a killed daemon, a frozen one.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LibvirtConnection, sha256Fingerprint } from "../../../provider/src/libvirt";
import { loadLab, type LabDescription, type LabHost } from "../../lab/lab";
import { run } from "../../lab/run";
import { connectTo } from "./lab-connections";

/** An ed25519 public key in known_hosts form that belongs to nobody in the lab. */
function strangerKey(): string {
  const der = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" });
  const raw = der.subarray(der.length - 32);
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return (
    "ssh-ed25519 " +
    Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)]).toString("base64")
  );
}

function libvirtdPid(host: LabHost): number {
  return Number(readFileSync(path.join(host.dir, "libvirtd.pid"), "utf8").trim());
}

const LAB_SH = path.resolve(__dirname, "../../../../test/lab/lab.sh");

async function restartLibvirtd(host: LabHost): Promise<void> {
  await run(LAB_SH, ["restart-libvirtd", host.name]);
}

describe("libvirt client: failures", function () {
  let lab: LabDescription;
  let host: LabHost;

  before(() => {
    lab = loadLab();
    host = lab.hosts[2];
  });

  it("refuses an ssh host whose key does not match known_hosts", async () => {
    const err = await connectTo(lab, host, "ssh", {
      sshKnownHosts: `${host.address} ${strangerKey()}\n`,
    }).catch((e) => e);
    assert.equal(err.code, "VMP_LIBVIRT_HOST_KEY", String(err));
    assert.match(err.message, /HOST KEY MISMATCH for 10\.|HOST KEY MISMATCH/);
    assert.match(err.message, /presented SHA256:/);
  });

  it("refuses an ssh host that is not in known_hosts", async () => {
    const err = await connectTo(lab, host, "ssh", { sshKnownHosts: "" }).catch((e) => e);
    assert.equal(err.code, "VMP_LIBVIRT_HOST_KEY", String(err));
    assert.match(err.message, /is not in known_hosts/);
  });

  it("accepts a pinned host key fingerprint instead of known_hosts", async () => {
    const line = readFileSync(lab.ssh.knownHosts, "utf8")
      .split("\n")
      .find((l) => l.startsWith(host.address + " "))!;
    const fingerprint = sha256Fingerprint(Buffer.from(line.split(" ")[2], "base64"));
    const conn = await connectTo(lab, host, "ssh", {
      sshKnownHosts: "",
      sshPinnedFingerprints: [fingerprint],
    });
    assert.equal(await conn.host.hostname(), host.name);
    await conn.close();
  });

  it("pins a host key accepted under known_hosts_verify=auto, with sshKnownHosts set, and refuses the host once it is rekeyed", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-kh-"));
    const file = path.join(dir, "known_hosts");
    const uri = `${host.uris.ssh}?known_hosts_verify=auto&known_hosts=${file}`;
    // sshKnownHosts names other hosts only: the first contact is a new key, accepted and recorded.
    const others = readFileSync(lab.ssh.knownHosts, "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith(`${host.address} `))
      .join("\n");
    const options = { sshPrivateKey: readFileSync(lab.ssh.privateKey), sshKnownHosts: others };
    try {
      const first = await LibvirtConnection.open(uri, options);
      assert.equal(await first.host.hostname(), host.name);
      await first.close();
      const accepted = readFileSync(file, "utf8");
      assert.match(accepted, new RegExp(`^${host.address.replace(/\./g, "\\.")} ssh-ed25519 `));
      await run(LAB_SH, ["ssh-rekey", host.name]);
      const err = await LibvirtConnection.open(uri, options).catch((e) => e);
      assert.equal(err.code, "VMP_LIBVIRT_HOST_KEY", String(err));
      const was = sha256Fingerprint(Buffer.from(accepted.trim().split(" ")[2], "base64"));
      assert.match(err.message, /HOST KEY MISMATCH/);
      assert.ok(err.message.includes(`expected ${was}`), err.message);
      assert.match(err.message, /presented SHA256:\S+, expected/);
    } finally {
      await run(LAB_SH, ["ssh-rekey", host.name, "restore"]);
      rmSync(dir, { recursive: true, force: true });
    }
    // Its own key back: the lab's known_hosts verifies it again.
    const back = await connectTo(lab, host, "ssh");
    await back.close();
  });

  it("rejects every pending call at once when the daemon is killed", async () => {
    const conn = await connectTo(lab, host, "tcp", { callTimeoutMs: 0 });
    try {
      const pid = libvirtdPid(host);
      process.kill(pid, "SIGSTOP"); // the calls below stay pending
      const pending = Array.from({ length: 8 }, () =>
        conn.host.hostname().then(
          () => undefined,
          (e) => e,
        ),
      );
      await new Promise((r) => setTimeout(r, 300));
      const killedAt = Date.now();
      process.kill(pid, "SIGKILL");
      const errors = await Promise.all(pending);
      const latency = Date.now() - killedAt;
      for (const err of errors) assert.equal(err?.code, "VMP_LIBVIRT_CLOSED", String(err));
      assert.ok(latency < 1000, `pending calls rejected ${latency} ms after the kill`);
      const later = await conn.host.hostname().catch((e) => e);
      assert.equal(later.code, "VMP_LIBVIRT_CLOSED");
    } finally {
      conn.remote.rpc.close();
      await restartLibvirtd(host);
    }
  });

  it("notices a frozen daemon through keepalive within seconds", async () => {
    const conn = await connectTo(lab, host, "tcp", {
      callTimeoutMs: 0,
      keepaliveIntervalMs: 1000,
      keepaliveCount: 3,
    });
    const pid = libvirtdPid(host);
    try {
      process.kill(pid, "SIGSTOP");
      const frozenAt = Date.now();
      const err = await conn.host.hostname().catch((e) => e);
      const detectedMs = Date.now() - frozenAt;
      assert.equal(err.code, "VMP_LIBVIRT_CLOSED", String(err));
      assert.match(err.message, /keepalive/);
      assert.ok(detectedMs < 6000, `detected after ${detectedMs} ms`);
    } finally {
      process.kill(pid, "SIGCONT");
      conn.remote.rpc.close();
    }
    const again = await LibvirtConnection.open(host.uris.tcp);
    assert.equal(await again.host.hostname(), host.name);
    await again.close();
  });
});
