// Host keys as the ssh transport checks them, against a small ssh server on 127.0.0.1 whose host
// key a test can change: accept-new (known_hosts_verify=auto) pins a key once accepted, whatever
// known_hosts content the provider was given, and a changed key is refused with both fingerprints.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Server, utils } from "ssh2";
import { LibvirtClientError } from "../../../provider/src/libvirt/errors";
import { sha256Fingerprint } from "../../../provider/src/libvirt/transports/known-hosts";
import { SshTransport } from "../../../provider/src/libvirt/transports/ssh";

/** An ssh server that accepts any client and answers exec by closing the channel. */
async function sshServer(
  hostKey: string,
  port = 0,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    client.on("authentication", (ctx) => ctx.accept());
    client.on("ready", () =>
      client.on("session", (accept) =>
        accept().on("exec", (acceptExec) => {
          const channel = acceptExec();
          channel.exit(0);
          channel.end();
        }),
      ),
    );
    client.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * An ed25519 key pair ssh2 can parse. ssh2 1.17's generator strips leading zero bytes from the
 * public key, so about one key in 256 comes out malformed ("Malformed OpenSSH private key"):
 * draw again rather than let the suite fail by chance.
 */
function ed25519KeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync("ed25519");
    if (!(utils.parseKey(pair.private) instanceof Error)) return pair;
  }
}

const keyA = ed25519KeyPair();
const keyB = ed25519KeyPair();
const clientKey = ed25519KeyPair();
const blob = (pub: string) => Buffer.from(pub.trim().split(/\s+/)[1], "base64");

describe("ssh host keys", function () {
  this.timeout(20_000);
  let dir: string;
  /** The port the last server listened on: the next one takes it, as a reinstalled host would. */
  let lastPort = 0;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), "vmp-ssh-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Connects once to a server presenting `hostKey`; the error, or undefined on success. */
  async function connect(
    hostKey: string,
    options: { knownHosts?: string; knownHostsFile?: string; port?: number },
    policy: "verify" | "accept-new",
  ): Promise<LibvirtClientError | undefined> {
    const server = await sshServer(hostKey, options.port);
    lastPort = server.port;
    try {
      const t = new SshTransport({
        host: "127.0.0.1",
        port: server.port,
        username: "root",
        privateKey: clientKey.private,
        knownHosts: options.knownHosts,
        knownHostsFile: options.knownHostsFile,
        hostKeyPolicy: policy,
        remoteCommand: "true",
      });
      const stream = await t.connect({ timeoutMs: 5000 });
      stream.destroy();
      return undefined;
    } catch (err) {
      if (err instanceof LibvirtClientError && err.code === "VMP_LIBVIRT_HOST_KEY") return err;
      throw err;
    } finally {
      await server.close();
    }
  }

  for (const [what, given] of [
    ["with sshKnownHosts naming other hosts", true],
    ["with no known_hosts content", false],
  ] as const) {
    it(`accept-new pins a key once accepted and refuses a changed one, ${what}`, async () => {
      const file = path.join(dir, "known_hosts");
      writeFileSync(file, "");
      const knownHosts = given ? `other.example ${keyB.public.trim()}\n` : undefined;
      assert.equal(
        await connect(keyA.private, { knownHosts, knownHostsFile: file }, "accept-new"),
        undefined,
      );
      assert.match(readFileSync(file, "utf8"), /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 /);
      const refused = await connect(
        keyB.private,
        { knownHosts, knownHostsFile: file, port: lastPort },
        "accept-new",
      );
      assert.ok(refused, "the changed key is refused");
      assert.match(refused.message, /HOST KEY MISMATCH/);
      assert.ok(refused.message.includes(sha256Fingerprint(blob(keyB.public))), refused.message);
      assert.ok(refused.message.includes(sha256Fingerprint(blob(keyA.public))), refused.message);
    });
  }

  it("pins for the process even when the known_hosts file cannot be written", async () => {
    const file = path.join(dir, "missing-dir", "known_hosts");
    assert.equal(await connect(keyA.private, { knownHostsFile: file }, "accept-new"), undefined);
    const refused = await connect(
      keyB.private,
      { knownHostsFile: file, port: lastPort },
      "accept-new",
    );
    assert.ok(refused, "the changed key is refused");
    assert.match(refused.message, /HOST KEY MISMATCH/);
  });

  it("verify refuses an unknown key and names its fingerprint", async () => {
    const refused = await connect(keyA.private, { knownHosts: "" }, "verify");
    assert.ok(refused);
    assert.match(refused.message, /not in known_hosts \(presented SHA256:/);
  });
});
