// The typed API against real lab daemons: host facts, domain lookup, XML, lifecycle, jobs.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  LibvirtConnection,
  constants as C,
  uuidToString,
  findLibvirtError,
} from "../../../provider/src/libvirt";
import { loadLab, type LabDescription } from "../../lab/lab";
import { buildGuestImage, domainXml, placeInLocalPool, waitForHeartbeat } from "../../lab/guests";
import { removeDomainEverywhere, virsh } from "../../lab/virsh";
import { connectTo, type LabTransport } from "./lab-connections";

for (const transport of ["tcp", "ssh"] as LabTransport[]) {
  describe(`libvirt client over ${transport}: host and domains`, function () {
    let lab: LabDescription;
    let conn: LibvirtConnection;

    before(async () => {
      lab = loadLab();
      conn = await connectTo(lab, lab.hosts[0], transport);
    });
    after(() => conn?.close());

    it("reads host facts", async () => {
      const host = lab.hosts[0];
      assert.equal(await conn.host.hostname(), host.name);
      const lib = await conn.host.libVersion();
      assert.ok(lib.major >= 9, JSON.stringify(lib));
      assert.ok((await conn.host.hypervisorVersion()).major >= 7);
      const caps = await conn.host.capabilities();
      assert.match(caps, /<capabilities>/);
      assert.match(
        await conn.host.domainCapabilities({ virttype: lab.accel }),
        /<domainCapabilities>/,
      );
      const info = await conn.host.nodeInfo();
      assert.equal(info.model, "x86_64");
      assert.ok(info.cpus >= 1 && info.memoryKiB > 0);
      const free = await conn.host.freeMemory();
      assert.ok(free > 0 && free <= info.memoryKiB * 1024);
    });

    it("compares a guest CPU against the target hypervisor", async () => {
      // The host-model CPU the hypervisor offers runs by definition; nested hosts lack even qemu64.
      const caps = await conn.host.domainCapabilities({ virttype: lab.accel });
      const hostModel = /<mode name='host-model' supported='yes'>([\s\S]*?)<\/mode>/.exec(
        caps,
      )?.[1];
      assert.ok(hostModel, "domain capabilities offer a host-model CPU");
      const compatible = `<cpu mode='custom' match='exact'>${hostModel}</cpu>`;
      assert.notEqual(
        await conn.host.compareHypervisorCpu(compatible, { virttype: lab.accel, arch: "x86_64" }),
        "incompatible",
      );
      const impossible = `<cpu mode='custom' match='exact'>${hostModel.replace("</model>", "</model><feature policy='require' name='avx512-vp2intersect'/>")}</cpu>`;
      assert.equal(
        await conn.host.compareHypervisorCpu(impossible, { virttype: lab.accel, arch: "x86_64" }),
        "incompatible",
      );
    });

    it("defines, starts, inspects, shuts down, destroys and undefines a domain", async function () {
      const host = lab.hosts[0];
      const name = `api-${transport}-${randomBytes(3).toString("hex")}`;
      const image = buildGuestImage(lab, "heartbeat", 8, 1);
      try {
        const disk = await placeInLocalPool(lab, host, image, `${name}.qcow2`);
        const dom = await conn.domains.define(domainXml(lab, { name, memoryMiB: 128, disk }));
        assert.equal(dom.name, name);
        assert.ok(await conn.domains.isPersistent(dom));
        assert.equal(await conn.domains.isActive(dom), false);
        assert.equal((await conn.domains.state(dom)).state, "shutoff");

        await conn.domains.start(dom);
        assert.ok(await conn.domains.isActive(dom));
        const info = await conn.domains.info(dom);
        assert.equal(info.state, "running");
        assert.equal(info.maxMemoryKiB, 128 * 1024);
        assert.equal(info.vcpus, 1);
        await waitForHeartbeat(host, name, 1);

        const byUuid = await conn.domains.lookupByUuid(uuidToString(dom.uuid));
        assert.equal(byUuid.name, name);
        const byName = await conn.domains.lookupByName(name);
        assert.ok(byName.uuid.equals(dom.uuid));
        assert.ok(byName.id > 0, "a running domain has an id");
        assert.ok((await conn.domains.listAll()).some((d) => d.name === name));
        const running = await conn.domains.listAll(
          C.virConnectListAllDomainsFlags.VIR_CONNECT_LIST_DOMAINS_ACTIVE,
        );
        assert.ok(running.some((d) => d.name === name));
        assert.match(await conn.domains.xml(dom), new RegExp(`<name>${name}</name>`));
        assert.match(
          await conn.domains.xml(dom, C.virDomainXMLFlags.VIR_DOMAIN_XML_INACTIVE),
          /<domain type=/,
        );
        const blockInfo = await conn.domains.blockInfo(dom, "vda");
        assert.equal(blockInfo.capacity, image.sizeBytes);

        const job = await conn.domains.jobInfo(dom);
        assert.equal(job.type, "none");
        assert.equal((await conn.domains.jobStats(dom)).type, "none");
        assert.equal(await conn.domains.blockJobInfo(dom, "vda"), null);

        // The boot-sector guest has no ACPI: shutdown is accepted but the guest keeps running.
        await conn.domains.shutdown(dom);
        await conn.domains.destroy(dom);
        assert.equal((await conn.domains.state(dom)).state, "shutoff");
        await conn.domains.undefine(dom);
        const gone = await conn.domains.lookupByName(name).catch((e) => e);
        assert.ok(findLibvirtError(gone, "VIR_ERR_NO_DOMAIN"), String(gone));
      } finally {
        await removeDomainEverywhere(lab.hosts, name);
        await virsh(host, "vol-delete", "--pool", "local", `${name}.qcow2`).catch(() => undefined);
        image.cleanup();
      }
    });

    it("keeps libvirt's code, domain and message on errors", async () => {
      const err = await conn.domains.lookupByName("no-such-domain").catch((e) => e);
      const libvirtErr = findLibvirtError(err);
      assert.ok(libvirtErr, String(err));
      assert.equal(libvirtErr.libvirtCode, 42);
      assert.equal(libvirtErr.codeName, "VIR_ERR_NO_DOMAIN");
      assert.equal(libvirtErr.domainName, "VIR_FROM_QEMU");
      assert.match(libvirtErr.message, /no domain with matching name 'no-such-domain'/);
      assert.equal(libvirtErr.procedure, "REMOTE_PROC_DOMAIN_LOOKUP_BY_NAME");
    });

    it("answers many calls in flight on one connection", async () => {
      const names = await Promise.all(Array.from({ length: 64 }, () => conn.host.hostname()));
      assert.deepEqual(new Set(names), new Set([lab.hosts[0].name]));
    });
  });
}
