// Calls per second of a cheap call (domain lookup by name) through our client with 1, 16 and 64
// calls in flight, over unix and ssh, against virsh doing the same lookups in one process.
//   node build/bench/libvirt-client.js [calls per run]      (the lab must be up)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LibvirtConnection } from "../provider/src/libvirt";
import { loadLab, type LabDescription, type LabHost } from "../test/lab/lab";
import { connectTo, type LabTransport } from "../test/integration/libvirt/lab-connections";
import { printTable, writeResults, type Row } from "./report";

const DOMAIN = "bench-lookup";

async function clientRate(
  conn: LibvirtConnection,
  calls: number,
  inFlight: number,
): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < calls) await conn.domains.lookupByName(DOMAIN);
    }),
  );
  return calls / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** virsh runs `calls` lookups (domuuid = lookup by name) read from stdin in one process. */
function virshRate(uri: string, calls: number, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn("virsh", ["-q", "-c", uri], { env, stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`virsh exited ${code}: ${stderr}`));
      resolve(calls / (Number(process.hrtime.bigint() - started) / 1e9));
    });
    child.stdin.end(`domuuid ${DOMAIN}\n`.repeat(calls));
  });
}

function uriFor(host: LabHost, transport: LabTransport, lab: LabDescription): string {
  return transport === "unix"
    ? `qemu+unix:///system?socket=${path.join(host.dir, "run", "libvirt-sock")}`
    : `${host.uris.ssh}?keyfile=${lab.ssh.privateKey}`;
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 2000);
  const lab = loadLab();
  const host = lab.hosts[0];
  // virsh runs the system ssh, which verifies host keys against the user's known_hosts; a
  // wrapper first on PATH points it at the lab's known_hosts instead (still verifying).
  const home = mkdtempSync(path.join(os.tmpdir(), "vmp-bench-"));
  const wrapper = path.join(home, "ssh");
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec /usr/bin/ssh -o UserKnownHostsFile=${lab.ssh.knownHosts} -o StrictHostKeyChecking=yes "$@"\n`,
    { mode: 0o755 },
  );
  const virshEnv = { ...process.env, PATH: `${home}:${process.env.PATH}` };

  const setup = await LibvirtConnection.open(host.uris.tcp);
  await setup.domains.lookupByName(DOMAIN).then(
    (d) => setup.domains.undefine(d),
    () => undefined,
  );
  const dom = await setup.domains.define(
    `<domain type='${lab.accel}'><name>${DOMAIN}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>`,
  );

  const rows: Row[] = [];
  try {
    for (const transport of ["unix", "ssh"] as LabTransport[]) {
      const conn = await connectTo(lab, host, transport);
      await clientRate(conn, 100, 4); // warm up
      const virsh = await virshRate(uriFor(host, transport, lab), calls, virshEnv);
      for (const inFlight of [1, 16, 64]) {
        const rate = await clientRate(conn, calls, inFlight);
        rows.push({
          transport,
          in_flight: inFlight,
          calls,
          client_calls_per_s: Math.round(rate),
          virsh_calls_per_s: Math.round(virsh),
          ratio: Number((rate / virsh).toFixed(2)),
        });
      }
      await conn.close();
    }
  } finally {
    await setup.domains.undefine(dom).catch(() => undefined);
    await setup.close();
    rmSync(home, { recursive: true, force: true });
  }
  printTable(rows);
  const file = writeResults("libvirt-client", {
    date: new Date().toISOString(),
    host: host.name,
    rows,
  });
  console.log(`\nwritten to ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
