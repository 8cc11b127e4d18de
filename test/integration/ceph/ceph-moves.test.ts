// Moves of guests on Ceph RBD through the engine: shared live moves that copy nothing, and
// pool changes into and out of Ceph, with and without a host change.
import assert from "node:assert/strict";
import { place, type ConnectionPool } from "../../../provider/src/engine";
import { loadLab, type LabDescription, type LabHost } from "../../lab/lab";
import { assertHeartbeatContinues, diskContentSha256 } from "../../lab/guests";
import { GuestFactory, labPool, policy } from "../engine/lab-engine";

describe("engine: guests on Ceph RBD", function () {
  this.timeout(180_000);
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let pool: ConnectionPool;
  let guests: GuestFactory;

  before(() => {
    lab = loadLab();
    [h1, h2] = lab.hosts;
    pool = labPool(lab);
    guests = new GuestFactory(lab);
  });
  after(() => pool.closeAll());
  afterEach(() => guests.cleanup());

  it("moves a guest on RBD live to another host without copying its disk", async () => {
    const g = await guests.ceph("rbd-shared", h1);
    const { plan, record } = await place(pool, { domain: g.name, host: h2.name }, policy());
    console.log(JSON.stringify(plan.disks), JSON.stringify(record, null, 1).slice(0, 3000));
    assert.equal(plan.mode, "live-shared");
    assert.equal(plan.bytes.disks, 0);
    assert.equal(record.result, "succeeded");
    assertHeartbeatContinues(h1, h2, g.name);
    assert.equal(await diskContentSha256(h2, g.disk, g.image.sizeBytes), g.image.sha256);
  });
});
