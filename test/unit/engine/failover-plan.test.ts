// The failover decision (pure): each reason a lost host's VM is not started elsewhere is a
// blocker that names what to do; only a policy that allows it, a fence device, the domain's own
// definition and disks on storage the target shares make a failover plan.
import assert from "node:assert/strict";
import { chooseFailover, type FailoverFacts } from "../../../provider/src/engine/failover-plan";
import { DEFAULT_POLICY, type PlacementRequest } from "../../../provider/src/engine";
import { makeHost, makeNfsPool } from "./fixtures";

const definition = (name: string, uuid: string, diskPath: string) =>
  `<domain type='kvm'><name>${name}</name><uuid>${uuid}</uuid><memory unit='KiB'>1024</memory><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${diskPath}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;

const shared = makeHost("h2", { pools: { nfs: makeNfsPool({ path: "/mnt/nfs" }) } });
const lost = { lost: true, reason: "libvirt: refused; ssh: no answer", since: 1000 };
const device = { agent: "/usr/sbin/fence_ipmilan", options: {}, secrets: {}, timeoutSeconds: 60 };

function request(overrides: Partial<NonNullable<PlacementRequest["lastSeen"]>> = {}) {
  return {
    domain: "web",
    host: "h2",
    lastSeen: {
      host: "h1",
      definitionXml: definition("web", "u-1", "/mnt/nfs/web.qcow2"),
      domainUuid: "u-1",
      ...overrides,
    },
  };
}

const facts = (overrides: Partial<FailoverFacts> = {}): FailoverFacts => ({
  source: "h1",
  reach: lost,
  fenceDevice: device,
  target: shared,
  ...overrides,
});

const allowed = { ...DEFAULT_POLICY, allowFailover: true };

/** The same VM with its disk an RBD image on the lab's kind of Ceph cluster. */
const rbdDefinition = `<domain type='kvm'><name>web</name><uuid>u-1</uuid><memory unit='KiB'>1024</memory><os><type arch='x86_64'>hvm</type></os><devices><disk type='network' device='disk'><driver name='qemu' type='raw' cache='none'/><auth username='libvirt'><secret type='ceph' uuid='2c1a5d3e-6f4b-4c1e-9a7d-5b0e8f3c7a21'/></auth><source protocol='rbd' name='rbd/web.raw'><host name='10.0.0.2' port='6789'/></source><target dev='vda' bus='virtio'/></disk></devices></domain>`;
const storageFence = {
  cluster: "ceph1",
  monitors: ["10.0.0.2:6789"],
  user: "vmplacement-fence",
  key: "AQsecret==",
  clientAddresses: ["10.0.0.11"],
  expireSeconds: 3600,
  timeoutSeconds: 10,
};

describe("failover plan", () => {
  it("fences the lost host, then starts the VM on the target from its definition", () => {
    const plan = chooseFailover(request(), facts(), allowed);
    assert.equal(plan.mode, "failover");
    assert.deepEqual(plan.blockers, []);
    assert.equal(plan.from, "h1");
    assert.equal(plan.to, "h2");
    assert.equal(plan.failover?.lostSince, 1000);
    assert.equal(
      plan.failover?.summary,
      "h1 unreachable (libvirt: refused; ssh: no answer): will fence h1 with fence_ipmilan, then start web on h2 from shared storage",
    );
  });

  describe("storage fencing of a VM on Ceph RBD", () => {
    const onRbd = request({ definitionXml: rbdDefinition });
    const cases: Array<
      [string, PlacementRequest, FailoverFacts, "auto" | "required" | "off", boolean]
    > = [
      [
        "auto, the host has a storage fence: blocklists",
        onRbd,
        facts({ storageFence }),
        "auto",
        true,
      ],
      ["required, the host has one: blocklists", onRbd, facts({ storageFence }), "required", true],
      ["off: power fence only", onRbd, facts({ storageFence }), "off", false],
      ["auto, no storage fence: power fence only", onRbd, facts(), "auto", false],
      [
        "a VM not on RBD: nothing to blocklist",
        request(),
        facts({ storageFence }),
        "required",
        false,
      ],
    ];
    for (const [why, req, given, storageFencing, blocklists] of cases)
      it(why, () => {
        const plan = chooseFailover(req, given, { ...allowed, storageFencing });
        assert.deepEqual(plan.blockers, []);
        assert.equal(plan.failover?.storageFence !== undefined, blocklists);
        const said = /blocklist its Ceph clients \(10\.0\.0\.11\) on ceph1/;
        assert.equal(said.test(plan.failover!.summary), blocklists, plan.failover!.summary);
      });
  });

  const refusals: Array<[string, PlacementRequest, FailoverFacts, typeof allowed, RegExp]> = [
    [
      "a host that is only sick",
      request(),
      facts({ reach: { lost: false, reason: "libvirt: refused; ssh: answers", since: 0 } }),
      allowed,
      /h1 is not lost \(libvirt: refused; ssh: answers\): bring its libvirtd back and move the VM live/,
    ],
    [
      "a policy without allowFailover",
      request(),
      facts(),
      DEFAULT_POLICY,
      /its policy does not allow failover; set allowFailover in the MigrationPolicy, or bring h1 back/,
    ],
    [
      "no fence device",
      request(),
      facts({ fenceDevice: undefined }),
      allowed,
      /it has no fence device; give its inventory entry a fence agent \(hosts\[\]\.fence\)/,
    ],
    [
      "no definition kept",
      request({ definitionXml: undefined }),
      facts(),
      allowed,
      /the state holds no definition of web to start elsewhere: it is kept only while the placement's policy allows failover/,
    ],
    [
      "another domain's definition",
      request({ definitionXml: definition("db", "u-1", "/mnt/nfs/db.qcow2") }),
      facts(),
      allowed,
      /the definition the state holds is of 'db' \(UUID u-1\), not of web \(UUID u-1\): nothing is started/,
    ],
    [
      "a definition of another UUID",
      request({ domainUuid: "u-2" }),
      facts(),
      allowed,
      /is of 'web' \(UUID u-1\), not of web \(UUID u-2\)/,
    ],
    [
      "a disk on the lost host's own storage",
      request({ definitionXml: definition("web", "u-1", "/var/lib/libvirt/images/web.qcow2") }),
      facts(),
      allowed,
      /web is lost with its disks vda \(\/var\/lib\/libvirt\/images\/web\.qcow2\), which are not on storage h2 reaches as shared: it is not started elsewhere; bring h1 back/,
    ],
    [
      "a target that does not answer (its storage cannot be told)",
      request(),
      facts({ target: undefined }),
      allowed,
      /which are not on storage h2 reaches as shared/,
    ],
    [
      "a VM on RBD whose policy requires storage fencing, from a host without one",
      request({ definitionXml: rbdDefinition }),
      facts(),
      { ...allowed, storageFencing: "required" as const },
      /its policy requires storage fencing for VMs on Ceph RBD, and h1 has none: give its inventory entry a storageFence \(hosts\[\]\.storageFence, with the cluster in cephClusters\), or set storageFencing to auto/,
    ],
  ];
  for (const [why, req, given, policy, message] of refusals)
    it(`refuses ${why}, keeping the placement as it was`, () => {
      const plan = chooseFailover(req, given, policy);
      assert.equal(plan.failover, undefined);
      assert.equal(plan.blockers.length, 1);
      assert.equal(plan.blockers[0].code, "FAILOVER_REFUSED");
      assert.match(plan.blockers[0].message, /^web cannot fail over from h1: /);
      assert.match(plan.blockers[0].message, message);
      assert.match(plan.blockers[0].message, /the placement is kept as it was$/);
    });
});
