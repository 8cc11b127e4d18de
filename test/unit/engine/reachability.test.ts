// Lost versus sick: a host is lost (its VMs may fail over) only when neither its libvirt nor its
// ssh port answers; ssh is asked only when libvirt is silent, once per host for many placements. libvirt is faked; ssh is a real socket on loopback (a listening port answers,
// a closed one does not).
import assert from "node:assert/strict";
import net from "node:net";
import type { AddressInfo } from "node:net";
import type { ConnectionPool } from "../../../provider/src/engine";
import { probeHost } from "../../../provider/src/engine/reachability";

async function listening(): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

/** A port nothing listens on (bound, then freed). */
async function closedPort(): Promise<number> {
  const { port, close } = await listening();
  close();
  return port;
}

function pool(sshPort: number, libvirt: "answers" | "refuses" | "hangs"): ConnectionPool {
  const conn = { host: { hostname: async () => "h1" } };
  return {
    host: (name: string) =>
      name === "h1"
        ? {
            name,
            uri: `qemu+ssh://root@127.0.0.1:${sshPort}/system`,
            migrationAddress: "127.0.0.1",
          }
        : undefined,
    get: () =>
      libvirt === "answers"
        ? Promise.resolve(conn)
        : libvirt === "refuses"
          ? Promise.reject(new Error("connection refused"))
          : new Promise(() => undefined),
  } as unknown as ConnectionPool;
}

describe("lost versus sick", () => {
  let ssh: { port: number; close: () => void };
  before(async () => (ssh = await listening()));
  after(() => ssh.close());

  const cases: Array<
    [string, () => Promise<number>, "answers" | "refuses" | "hangs", boolean, RegExp]
  > = [
    [
      "libvirt answers: healthy, ssh not asked",
      async () => ssh.port,
      "answers",
      false,
      /^libvirt: answers$/,
    ],
    [
      "libvirt refuses, ssh answers: sick, not lost",
      async () => ssh.port,
      "refuses",
      false,
      /libvirt: connection refused; ssh: answers/,
    ],
    [
      "libvirt answers, ssh closed: not lost, and ssh is not asked",
      closedPort,
      "answers",
      false,
      /^libvirt: answers$/,
    ],
    [
      "libvirt refuses and ssh closed: lost",
      closedPort,
      "refuses",
      true,
      /libvirt: connection refused; ssh: .*ECONNREFUSED/,
    ],
    [
      "libvirt silent and ssh closed: lost",
      closedPort,
      "hangs",
      true,
      /libvirt: no answer within 200 ms; ssh: /,
    ],
  ];
  for (const [title, port, libvirt, lost, reason] of cases)
    it(title, async () => {
      const reach = await probeHost(pool(await port(), libvirt), "h1", 200);
      assert.equal(reach.lost, lost, reach.reason);
      assert.match(reach.reason, reason);
    });

  it("many placements asking about one host: ssh is probed once, and not at all while libvirt answers", async () => {
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const sick = pool(port, "refuses");
      const answers = await Promise.all(
        Array.from({ length: 50 }, () => probeHost(sick, "h1", 500)),
      );
      assert.ok(answers.every((r) => !r.lost && /ssh: answers/.test(r.reason)));
      // A later placement of the same operation reuses the answer.
      assert.equal((await probeHost(sick, "h1", 500)).lost, false);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(accepted, 1, "one ssh connection for 51 probes of one host");
      await Promise.all(
        Array.from({ length: 50 }, () => probeHost(pool(port, "answers"), "h1", 500)),
      );
      assert.equal(accepted, 1, "none while libvirt answers");
    } finally {
      server.close();
    }
  });

  it("a host the inventory does not have is not lost: nothing of it is fenced", async () => {
    const reach = await probeHost(pool(ssh.port, "refuses"), "h9", 200);
    assert.equal(reach.lost, false);
    assert.match(reach.reason, /h9 is not in the inventory/);
  });
});
