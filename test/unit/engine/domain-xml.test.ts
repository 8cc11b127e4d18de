import assert from "node:assert/strict";
import {
  blockCopyDestinationXml,
  parseDomainXml,
  rewriteDiskSources,
  volumeXml,
} from "../../../provider/src/engine/domain-xml";
import { buildXml, parseXml } from "../../../provider/src/engine/xml";

/** A document as the engine writes it (double quotes; layout and order kept). */
const canonical = (xml: string) => buildXml(parseXml(xml));
const dq = (s: string) => s.replace(/'/g, '"');

// As `virsh dumpxml` prints a running domain.
const CPU_XML = `<cpu mode='custom' match='exact' check='full'>
    <model fallback='forbid'>Skylake-Client-IBRS</model>
    <vendor>Intel</vendor>
    <feature policy='require' name='ss'/>
    <feature policy='disable' name='hle'/>
  </cpu>`;

const VDA = `<disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>
      <source file='/var/lib/libvirt/images/web-1.qcow2' index='3'/>
      <backingStore type='file' index='2'>
        <format type='qcow2'/>
        <source file='/var/lib/libvirt/images/base-app.qcow2'/>
        <backingStore type='file' index='1'>
          <format type='raw'/>
          <source file='/var/lib/libvirt/images/base-os.raw'/>
          <backingStore/>
        </backingStore>
      </backingStore>
      <target dev='vda' bus='virtio'/>
      <boot order='1'/>
      <alias name='virtio-disk0'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>`;

const VDB = `<disk type='block' device='disk'>
      <driver name='qemu' type='raw' cache='none' io='native'/>
      <source dev='/dev/vg0/web-1-data' index='4'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
      <alias name='virtio-disk1'/>
      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
    </disk>`;

const VDC = `<disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='nbd' name='shared-0' index='5'>
        <host name='10.0.0.1' port='10809'/>
      </source>
      <target dev='vdc' bus='virtio'/>
      <shareable/>
      <alias name='virtio-disk2'/>
      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>
    </disk>`;

const SDB = `<disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sdb' bus='sata'/>
      <readonly/>
      <alias name='sata0-0-1'/>
      <address type='drive' controller='0' bus='0' target='0' unit='1'/>
    </disk>`;

const VDD = `<disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source pool='local' volume='x.qcow2'/>
      <target dev='vdd' bus='virtio'/>
      <alias name='virtio-disk3'/>
      <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>
    </disk>`;

const DOMAIN = `<domain type='kvm' id='7'>
  <name>web-1</name>
  <uuid>5f3c2e0a-8b1d-4c6e-9a7f-2d4b6c8e0f12</uuid>
  <metadata>
    <app:info xmlns:app="http://example.com/app">
      <disk>not a device</disk>
    </app:info>
  </metadata>
  <memory unit='KiB'>4194304</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <cputune>
    <shares>1024</shares>
  </cputune>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  ${CPU_XML}
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <!-- <disk type='file'><target dev='vdz'/></disk> -->
    ${VDA}
    ${VDB}
    ${VDC}
    ${SDB}
    ${VDD}
    <controller type='usb' index='0' model='piix3-uhci'>
      <alias name='usb'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>
    </controller>
    <interface type='network'>
      <mac address='52:54:00:6b:3c:58'/>
      <source network='default' portid='0c7a5f1c-2b35-4e0e-a3a5-6d0f0cf3b6e1' bridge='virbr0'/>
      <target dev='vnet3'/>
      <model type='virtio'/>
      <alias name='net0'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </interface>
    <serial type='pty'>
      <source path='/dev/pts/3'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>
    <console type='pty' tty='/dev/pts/3'>
      <source path='/dev/pts/3'/>
      <target type='serial' port='0'/>
      <alias name='serial0'/>
    </console>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver name='vfio'/>
      <source>
        <address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
      </source>
      <alias name='hostdev0'/>
      <address type='pci' domain='0x0000' bus='0x08' slot='0x00' function='0x0'/>
    </hostdev>
    <memballoon model='virtio'>
      <alias name='balloon0'/>
      <address type='pci' domain='0x0000' bus='0x09' slot='0x00' function='0x0'/>
    </memballoon>
  </devices>
  <seclabel type='dynamic' model='dac' relabel='yes'>
    <label>+64055:+994</label>
    <imagelabel>+64055:+994</imagelabel>
  </seclabel>
</domain>
`;

function minimalDomain(memory: string, devices = ""): string {
  return `<domain type='qemu'><name>m</name><uuid>u</uuid>${memory}<vcpu>1</vcpu><os><type arch='aarch64'>hvm</type></os><devices>${devices}</devices></domain>`;
}

describe("domain XML", () => {
  describe("parseDomainXml", () => {
    const d = parseDomainXml(DOMAIN);

    it("reads the domain's identity, size and platform", () => {
      assert.equal(d.name, "web-1");
      assert.equal(d.uuid, "5f3c2e0a-8b1d-4c6e-9a7f-2d4b6c8e0f12");
      assert.equal(d.virtType, "kvm");
      assert.equal(d.arch, "x86_64");
      assert.equal(d.machine, "pc-i440fx-7.2");
      assert.equal(d.memoryBytes, 4194304 * 1024);
      assert.equal(d.vcpus, 2);
      assert.equal(d.cpuXml, canonical(CPU_XML));
      assert.equal(d.hasGraphics, false);
      assert.equal(d.nvram, undefined);
    });

    it("reads a UEFI domain's NVRAM file", () => {
      const uefi = DOMAIN.replace(
        "</os>",
        "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>/var/lib/libvirt/qemu/nvram/web-1_VARS.fd</nvram></os>",
      );
      assert.equal(parseDomainXml(uefi).nvram, "/var/lib/libvirt/qemu/nvram/web-1_VARS.fd");
    });

    it("reads every device disk, and nothing outside <devices> or in comments", () => {
      assert.deepEqual(
        d.disks.map((x) => x.target),
        ["vda", "vdb", "vdc", "sdb", "vdd"],
      );
    });

    it("reads a qcow2 file disk with its backing chain, nearest first", () => {
      assert.deepEqual(d.disks[0], {
        target: "vda",
        bus: "virtio",
        device: "disk",
        sourceType: "file",
        path: "/var/lib/libvirt/images/web-1.qcow2",
        format: "qcow2",
        readOnly: false,
        shareable: false,
        backingChain: [
          "/var/lib/libvirt/images/base-app.qcow2",
          "/var/lib/libvirt/images/base-os.raw",
        ],
        backingFormats: ["qcow2", "raw"],
      });
    });

    it("reads a raw block disk", () => {
      assert.deepEqual(d.disks[1], {
        target: "vdb",
        bus: "virtio",
        device: "disk",
        sourceType: "block",
        path: "/dev/vg0/web-1-data",
        format: "raw",
        readOnly: false,
        shareable: false,
        backingChain: [],
        backingFormats: [],
      });
    });

    it("reads an NBD network disk", () => {
      assert.deepEqual(d.disks[2], {
        target: "vdc",
        bus: "virtio",
        device: "disk",
        sourceType: "network",
        network: { protocol: "nbd", name: "shared-0", hosts: [{ name: "10.0.0.1", port: 10809 }] },
        format: "raw",
        readOnly: false,
        shareable: true,
        backingChain: [],
        backingFormats: [],
      });
    });

    it("reads an empty cdrom", () => {
      assert.deepEqual(d.disks[3], {
        target: "sdb",
        bus: "sata",
        device: "cdrom",
        sourceType: "file",
        format: "raw",
        readOnly: true,
        shareable: false,
        backingChain: [],
        backingFormats: [],
      });
    });

    it("reads a pool volume disk", () => {
      assert.deepEqual(d.disks[4], {
        target: "vdd",
        bus: "virtio",
        device: "disk",
        sourceType: "volume",
        pool: "local",
        volume: "x.qcow2",
        format: "qcow2",
        readOnly: false,
        shareable: false,
        backingChain: [],
        backingFormats: [],
      });
    });

    it("describes host devices", () => {
      assert.deepEqual(d.hostDevices, ["pci 0000:03:00.0"]);
      const other = parseDomainXml(
        minimalDomain(
          "<memory>1</memory>",
          `<hostdev mode='subsystem' type='usb' managed='yes'>
            <source><vendor id='0x046d'/><product id='0xc52b'/></source>
          </hostdev>
          <interface type='hostdev' managed='yes'>
            <source><address type='pci' domain='0x0000' bus='0x05' slot='0x10' function='0x1'/></source>
          </interface>
          <interface type='bridge'><source bridge='br0'/></interface>
          <graphics type='vnc' port='-1' autoport='yes'/>`,
        ),
      );
      assert.deepEqual(other.hostDevices, ["usb 046d:c52b", "interface pci 0000:05:10.1"]);
      assert.equal(other.hasGraphics, true);
      assert.equal(other.cpuXml, undefined);
      assert.equal(other.machine, undefined);
      assert.equal(other.arch, "aarch64");
      assert.deepEqual(other.disks, []);
    });

    it("converts memory units", () => {
      const mem = (m: string) => parseDomainXml(minimalDomain(m)).memoryBytes;
      assert.equal(mem("<memory>1024</memory>"), 1024 * 1024);
      assert.equal(mem("<memory unit='KiB'>3</memory>"), 3 * 1024);
      assert.equal(mem("<memory unit='k'>3</memory>"), 3 * 1024);
      assert.equal(mem("<memory unit='b'>4096</memory>"), 4096);
      assert.equal(mem("<memory unit='bytes'>4096</memory>"), 4096);
      assert.equal(mem("<memory unit='KB'>3</memory>"), 3000);
      assert.equal(mem("<memory unit='MiB'>512</memory>"), 512 * 1024 ** 2);
      assert.equal(mem("<memory unit='M'>512</memory>"), 512 * 1024 ** 2);
      assert.equal(mem("<memory unit='MB'>512</memory>"), 512e6);
      assert.equal(mem("<memory unit='GiB'>8</memory>"), 8 * 1024 ** 3);
      assert.equal(mem("<memory unit='G'>8</memory>"), 8 * 1024 ** 3);
      assert.equal(mem("<memory unit='TiB'>1</memory>"), 1024 ** 4);
      assert.throws(() => mem("<memory unit='parsecs'>1</memory>"), /unknown unit/);
    });

    it("decodes entities in paths", () => {
      const x = parseDomainXml(
        minimalDomain(
          "<memory>1</memory>",
          "<disk type='file' device='disk'><source file='/img/a&amp;b&apos;s.img'/><target dev='vda'/></disk>",
        ),
      );
      assert.equal(x.disks[0].path, "/img/a&b's.img");
      assert.equal(x.disks[0].format, "raw");
      assert.equal(x.disks[0].bus, undefined);
    });

    it("rejects what is not a domain", () => {
      assert.throws(() => parseDomainXml("<pool><name>x</name></pool>"), /no <domain>/);
      assert.throws(() => parseDomainXml("<domain><name>x</domain>"), /invalid domain XML/);
    });
  });

  describe("cpuMode", () => {
    const withCpu = (cpu: string) =>
      parseDomainXml(
        `<domain type='kvm'><name>c</name><os><type arch='x86_64'>hvm</type></os>${cpu}<devices/></domain>`,
      );
    it("is the <cpu> element's own mode, not a child's; only a custom CPU keeps its XML", () => {
      assert.equal(parseDomainXml(DOMAIN).cpuMode, "custom");
      const passthrough = withCpu(
        `<cpu mode="host-passthrough" check="none"><cache mode="passthrough"/></cpu>`,
      );
      assert.equal(passthrough.cpuMode, "host-passthrough");
      assert.equal(passthrough.cpuXml, undefined);
      assert.equal(withCpu(`<cpu><cache mode="emulate"/></cpu>`).cpuMode, undefined);
      assert.equal(withCpu("").cpuMode, undefined);
    });
  });

  describe("rewriteDiskSources", () => {
    const changes = {
      vda: { path: "/pools/fast/web-1.qcow2" },
      vdb: { path: "/pools/fast/web-1-data.qcow2", format: "qcow2" },
    };
    const out = rewriteDiskSources(DOMAIN, changes);

    it("rewrites only the named disks, keeping everything else as it was laid out", () => {
      const newVda = `<disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>
      <source file='/pools/fast/web-1.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <boot order='1'/>
      <alias name='virtio-disk0'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>`;
      const newVdb = `<disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' io='native'/>
      <source file='/pools/fast/web-1-data.qcow2'/>
      <target dev='vdb' bus='virtio'/>
      <alias name='virtio-disk1'/>
      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
    </disk>`;
      assert.equal(out, canonical(DOMAIN.replace(VDA, newVda).replace(VDB, newVdb)));
      for (const untouched of [VDC, SDB, VDD, CPU_XML])
        assert.ok(out.includes(canonical(untouched)));
    });

    it("yields XML that parses to the new sources", () => {
      const d = parseDomainXml(out);
      const before = parseDomainXml(DOMAIN);
      assert.deepEqual(d.disks[0], {
        ...before.disks[0],
        path: "/pools/fast/web-1.qcow2",
        backingChain: [],
        backingFormats: [],
      });
      assert.deepEqual(d.disks[1], {
        ...before.disks[1],
        sourceType: "file",
        path: "/pools/fast/web-1-data.qcow2",
        format: "qcow2",
      });
      assert.deepEqual(d.disks.slice(2), before.disks.slice(2));
      assert.ok(!out.includes("backingStore"));
      assert.deepEqual(d.hostDevices, before.hostDevices);
      assert.equal(d.cpuXml, before.cpuXml);
    });

    it("turns volume and network disks into file disks, and fills an empty cdrom", () => {
      const o = rewriteDiskSources(DOMAIN, {
        vdd: { path: "/p/x.qcow2" },
        vdc: { path: "/p/shared-0.raw", format: "raw" },
        sdb: { path: "/iso/a&b.iso" },
      });
      const d = parseDomainXml(o);
      assert.equal(d.disks[2].sourceType, "file");
      assert.equal(d.disks[2].path, "/p/shared-0.raw");
      assert.equal(d.disks[2].network, undefined);
      assert.equal(d.disks[2].shareable, true);
      assert.equal(d.disks[3].path, "/iso/a&b.iso");
      assert.equal(d.disks[3].readOnly, true);
      assert.equal(d.disks[4].sourceType, "file");
      assert.equal(d.disks[4].path, "/p/x.qcow2");
      assert.equal(d.disks[4].pool, undefined);
      assert.ok(o.includes(canonical(VDA)) && o.includes(canonical(VDB)));
      assert.ok(
        o.includes(
          dq(`<driver name='qemu' type='raw'/>
      <source file='/iso/a&amp;b.iso'/>
      <target dev='sdb' bus='sata'/>`),
        ),
      );
      assert.ok(
        o.includes(
          dq(
            "<disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      <source file='/p/x.qcow2'/>",
          ),
        ),
      );
    });

    it("adds a driver when a format is given and the disk has none", () => {
      const xml = minimalDomain(
        "<memory>1</memory>",
        "\n  <disk type='block' device='disk'>\n    <source dev='/dev/sda'/>\n    <target dev='vda'/>\n  </disk>\n",
      );
      const o = rewriteDiskSources(xml, { vda: { path: "/p/a.qcow2", format: "qcow2" } });
      assert.ok(
        o.includes(
          dq(
            "<disk type='file' device='disk'>\n    <driver name='qemu' type='qcow2'/>\n    <source file='/p/a.qcow2'/>\n    <target dev='vda'/>",
          ),
        ),
      );
      assert.equal(parseDomainXml(o).disks[0].format, "qcow2");
    });

    it("returns the document unchanged when nothing is asked", () => {
      assert.equal(rewriteDiskSources(DOMAIN, {}), DOMAIN);
    });

    it("throws on an unknown target", () => {
      assert.throws(() => rewriteDiskSources(DOMAIN, { vdz: { path: "/x" } }), /vdz/);
      assert.throws(
        () => rewriteDiskSources(DOMAIN, { vda: { path: "/x" }, hdq: { path: "/y" } }),
        /hdq/,
      );
    });
  });

  describe("volume and block-copy definitions", () => {
    it("escapes what names and paths hold, so they read back as given", () => {
      const weird = `/p/a&b<c>d"e'f.qcow2`;
      const d = parseXml(blockCopyDestinationXml(weird, "qcow2"));
      assert.equal(
        canonical(blockCopyDestinationXml(weird, "qcow2")),
        blockCopyDestinationXml(weird, "qcow2"),
      );
      assert.match(buildXml(d), /file="\/p\/a&amp;b&lt;c&gt;d&quot;e&apos;f\.qcow2"/);
    });

    it("defines a volume", () => {
      const v = volumeXml(`web<1>&'s".qcow2`, 10 * 1024 ** 3, "qcow2");
      assert.equal(
        v,
        `<volume>
  <name>web&lt;1&gt;&amp;&apos;s&quot;.qcow2</name>
  <capacity unit="bytes">10737418240</capacity>
  <allocation unit="bytes">0</allocation>
  <target>
    <format type="qcow2"/>
  </target>
</volume>
`,
      );
      assert.throws(() => volumeXml("x", -1, "raw"), /capacity/);
      const backed = volumeXml("top.qcow2", 1, "qcow2", { path: "/b/base.raw", format: "raw" });
      assert.match(
        backed,
        /\n {2}<backingStore>\n {4}<path>\/b\/base\.raw<\/path>\n {4}<format type="raw"\/>\n {2}<\/backingStore>\n/,
      );
    });
  });
});
