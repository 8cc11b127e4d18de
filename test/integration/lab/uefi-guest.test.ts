// The UEFI lab guest keeps a boot counter in its NVRAM, so a test can tell whether NVRAM
// moved with a VM (the counter goes on) or was recreated from the template (it starts at 1).
// Also pins the libvirt facts the engine's NVRAM handling builds on.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { loadLab, type LabDescription, type LabHost } from "../../lab/lab";
import {
  assertHeartbeatContinues,
  buildUefiGuestImage,
  nvramExists,
  placeInLocalPool,
  startGuest,
  waitForBootCount,
  waitForHeartbeat,
  type GuestImage,
} from "../../lab/guests";
import { removeDomainEverywhere, virsh } from "../../lab/virsh";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("lab: UEFI guest with NVRAM", function () {
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let name: string;
  let image: GuestImage;

  before(() => {
    lab = loadLab();
    [h1, h2] = lab.hosts;
  });
  beforeEach(async () => {
    name = `uefi-${randomBytes(3).toString("hex")}`;
    image = buildUefiGuestImage(lab);
    const disk = await placeInLocalPool(lab, h1, image, `${name}.qcow2`);
    await startGuest(lab, h1, { name, memoryMiB: 128, disk, uefi: true });
  });
  afterEach(async () => {
    await removeDomainEverywhere(lab.hosts, name);
    for (const h of [h1, h2])
      await virsh(h, "vol-delete", "--pool", "local", `${name}.qcow2`).catch(() => undefined);
    image.cleanup();
  });

  it("counts its boots in NVRAM, which undefine --nvram removes", async () => {
    await waitForBootCount(h1, name, 1);
    assert.ok(nvramExists(h1, name), "libvirt made the NVRAM file from the template");
    await virsh(h1, "destroy", name);
    await virsh(h1, "start", name);
    await waitForBootCount(h1, name, 2);
    await virsh(h1, "destroy", name);
    await assert.rejects(virsh(h1, "undefine", name), /nvram/i, "plain undefine refuses");
    await virsh(h1, "undefine", "--nvram", name);
    assert.equal(nvramExists(h1, name), false);
  });

  it("a live move carries the NVRAM contents into the target's file", async () => {
    await waitForBootCount(h1, name, 1);
    await virsh(h1, "destroy", name);
    await virsh(h1, "start", name);
    await waitForBootCount(h1, name, 2);
    await waitForHeartbeat(h1, name, 3);
    await virsh(h2, "vol-create-as", "local", `${name}.qcow2`, "8M", "--format", "qcow2");
    await virsh(
      h1,
      "migrate",
      "--live",
      "--persistent",
      "--undefinesource",
      "--copy-storage-all",
      name,
      h2.uris.tcp,
      `tcp://${h2.migrationAddress}`,
    );
    await sleep(2000);
    assertHeartbeatContinues(h1, h2, name);
    assert.ok(nvramExists(h2, name), "the target has an NVRAM file");
    // Restarted on the target, the guest finds the count it kept on the source.
    await virsh(h2, "destroy", name);
    await virsh(h2, "start", name);
    await waitForBootCount(h2, name, 3);
  });
});
