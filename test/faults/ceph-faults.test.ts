// Faults of Ceph itself during moves, through the engine on the lab, each followed by the same
// invariants as every fault test (runs on exactly one host, heartbeat never restarted, disk
// content intact, nothing left over) and a retry that converges:
//   - the OSD stopped (SIGSTOP) for 10 s, then resumed, during a shared RBD live move;
//   - the target cut off from the monitors during a live move into Ceph, once while the copy runs
//     and once while the target image is being made.
// (The lost host with RBD disks and the target without the secret are in ceph-failover.test.ts
// and the CLI preview case below.)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { place, type ConnectionPool, type MigrationRecord } from "../../provider/src/engine";
import { labEngine, policy, type GuestFactory } from "../integration/engine/lab-engine";
import {
  cutFromMonitors,
  reconnectToMonitors,
  repairAll,
  superviseLibvirtd,
  resumeProcess,
  stopProcess,
} from "../lab/faults";
import { defineCephSecret } from "../lab/guests";
import type { LabDescription, LabHost } from "../lab/lab";
import { labHosts, placementWorkspace } from "../e2e/placement-workspace";
import { hostsRunning, virsh } from "../lab/virsh";
import { before as seen, checkInvariants, leftovers } from "./invariants";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("fault tier: Ceph faults during moves", function () {
  this.timeout(300_000);
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let pool: ConnectionPool;
  let guests: GuestFactory;

  before(() => ({ lab, h1, h2, pool, guests } = labEngine()));
  after(() => pool.closeAll());
  afterEach(async () => {
    await repairAll();
    await guests.cleanup();
  });

  /** The move's outcome: its record, whether it succeeded or not. */
  const outcome = (move: Promise<{ record: MigrationRecord }>) =>
    move.then(
      (r) => r.record,
      (err: { record?: MigrationRecord; message: string }) => {
        assert.ok(err.record, `the move failed without a record: ${err.message}`);
        return err.record;
      },
    );

  it("an OSD stopped for 10 s during a shared RBD live move", async () => {
    const g = await guests.ceph("osd-stop", h1);
    const was = seen(h1, g);
    const osd = Number(readFileSync(lab.pools.ceph.osdPidFile, "utf8").trim());
    // The OSD stops once the migration runs (not while the plan probes the cluster).
    let running!: () => void;
    const started = new Promise<void>((r) => (running = r));
    const move = outcome(
      place(pool, { domain: g.name, host: h2.name }, policy(), { onProgress: () => running() }),
    );
    await started;
    stopProcess(osd);
    await sleep(10_000);
    resumeProcess(osd);
    const record = await move;
    const observed = await checkInvariants(lab, g, was, true);
    console.log(
      `      OSD stopped 10 s: ${record.result} in ${record.durationMs} ms, runs on ${observed.host}, heartbeat ${observed.heartbeat}`,
    );
    assert.deepEqual(await leftovers(lab, g), []);
    // Wherever it is, the next attempt converges on h2.
    const retry = await place(pool, { domain: g.name, host: h2.name }, policy());
    assert.equal(retry.record.finalHost, h2.name);
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h2.name]);
  });

  it("the target cut off from the monitors during a live move into Ceph", async () => {
    // 32 MiB of random data at 8 MiB/s: the copy into Ceph runs for about 4 s.
    const g = await guests.local("mon-cut", h1, { sizeMiB: 40, randomMiB: 32 });
    const was = seen(h1, g);
    const req = { domain: g.name, host: h2.name, diskPools: { vda: lab.pools.ceph.libvirtPool } };
    // No downtime ladder: the first 5 s without progress aborts.
    const capped = policy({ bandwidthMibps: 8, progressTimeoutSeconds: 5, downtimeLadderMs: [] });
    // libvirt 9.0's daemon on the source can crash (a segfault in its qemu driver) while the
    // aborted storage copy unwinds; its guest runs on. A real host's service manager restarts
    // it (Restart=on-failure), as the supervisor does here, and the engine follows the job
    // over a fresh connection.
    const supervisor = superviseLibvirtd(h1);
    // The cut lands once the copy runs (the next case cuts while the target image is made).
    let copying!: () => void;
    const started = new Promise<void>((r) => (copying = r));
    const move = outcome(place(pool, req, capped, { onProgress: () => copying() }));
    await started;
    await sleep(500);
    await cutFromMonitors(h2, lab.pools.ceph.address);
    const record = await move;
    const restarts = await supervisor.stop();
    assert.notEqual(record.result, "succeeded", "a copy into Ceph cannot finish without it");
    const observed = await checkInvariants(lab, g, was, true);
    assert.equal(observed.host, h1.name, "the VM runs where it was, on its own disk");
    console.log(
      `      monitors cut: ${record.result} (${record.error}) in ${record.durationMs} ms; source libvirtd restarted ${restarts}×`,
    );
    await reconnectToMonitors(h2);
    const retry = await place(pool, req, policy());
    assert.equal(retry.record.result, "succeeded");
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h2.name]);
    assert.match(await virsh(h2, "dumpxml", g.name), /protocol='rbd'/);
    assert.deepEqual(await leftovers(lab, g), [], "the retry removed what the cut attempt left");
  });

  it("the target cut off from the monitors while its image in Ceph is being made", async () => {
    const g = await guests.local("mon-mk", h1, { sizeMiB: 40, randomMiB: 8 });
    const was = seen(h1, g);
    const ceph = lab.pools.ceph;
    const req = { domain: g.name, host: h2.name, diskPools: { vda: ceph.libvirtPool } };
    // The cut lands between the plan's probe of the monitors and the target image's create: the
    // engine's own call to h2's libvirtd is where it happens, as a cut in that instant would.
    const conn = await pool.get(h2.name);
    const createVol = conn.storage.createVol.bind(conn.storage);
    let cut = false;
    conn.storage.createVol = async (where, xml, flags) => {
      if (!cut && xml.includes(`<name>${g.name}.`) && !xml.includes(".vmplacement-")) {
        cut = true;
        await cutFromMonitors(h2, ceph.address);
      }
      return createVol(where, xml, flags);
    };
    let record: MigrationRecord;
    try {
      record = await outcome(place(pool, req, policy()));
    } finally {
      conn.storage.createVol = createVol;
    }
    assert.ok(cut, "the move reached the target image's create");
    assert.equal(record.result, "failed");
    // Not librados' minute per call: the monitors are probed once the image is slow.
    assert.match(record.error ?? "", /CEPH_UNREACHABLE: h2 cannot reach the Ceph monitors/);
    assert.ok(record.durationMs < 30_000, `gave up after ${record.durationMs} ms`);
    const observed = await checkInvariants(lab, g, was, true);
    assert.equal(observed.host, h1.name);
    // A failed refresh makes libvirt stop an rbd pool: the rollback never refreshes one it
    // cannot reach, so the pool stays active and the retry needs no manual step.
    assert.match(await virsh(h2, "pool-info", ceph.libvirtPool), /State:\s+running/);
    console.log(
      `      monitors cut at image create: ${record.result} in ${record.durationMs} ms; ${record.steps.at(-1)}`,
    );
    await reconnectToMonitors(h2);
    const retry = await place(pool, req, policy());
    assert.equal(retry.record.result, "succeeded");
    assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h2.name]);
    assert.deepEqual(await leftovers(lab, g), [], "the retry removed the image the cut left");
  });

  it("a target without the secret: blocked at preview through the CLI, nothing changed", async () => {
    const h3 = lab.hosts[2];
    const g = await guests.ceph("cli-nosecret", h1);
    const ws = placementWorkspace();
    try {
      await ws.pulumi(["stack", "init", `nosecret-${g.name}`]);
      await ws.setConfig({ "vmplacement:hosts": labHosts(lab), domain: g.name, host: h1.name });
      await ws.pulumi(["up", "--yes", "--skip-preview"]);
      const key = (await virsh(h3, "secret-get-value", lab.pools.ceph.secretUuid)).trim();
      await virsh(h3, "secret-undefine", lab.pools.ceph.secretUuid);
      try {
        await ws.pulumi(["config", "set", "host", h3.name]);
        const preview = await ws
          .pulumiWithDiagnostics(["preview"])
          .catch((err: Error) => err.message);
        assert.match(preview, /CEPH_SECRET_MISSING|h3 has no libvirt secret/);
        assert.match(preview, /define it there with the same UUID and the key of client\.libvirt/);
        assert.deepEqual(await hostsRunning(lab.hosts, g.name), [h1.name], "nothing moved");
        const exported = JSON.parse(await ws.pulumi(["stack", "export"]));
        const state = exported.deployment.resources.find(
          (r: { type: string }) => r.type === "vmplacement:index:VmPlacement",
        );
        assert.equal(state.outputs.currentHost, h1.name, "the state is as it was");
      } finally {
        await defineCephSecret(lab, h3, key);
      }
    } finally {
      await ws.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
      ws.cleanup();
    }
  });
});
