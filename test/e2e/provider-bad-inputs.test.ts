// Bad inputs fail at preview with a message that names the property, the value and what to do,
// and nothing changes on the hosts.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { runningDomains, virsh } from "../lab/virsh";
import { GuestFactory, type TestGuest } from "../integration/engine/lab-engine";
import type { PulumiWorkspace } from "../support/pulumi-cli";
import { labHosts, placementWorkspace } from "./placement-workspace";

interface HostEntry {
  name: string;
  uri: string;
  migrationAddress: string;
}

describe("provider e2e: bad inputs fail at preview and change nothing", function () {
  let lab: LabDescription;
  let h1: LabHost;
  let h2: LabHost;
  let guests: GuestFactory;
  let guest: TestGuest;
  /** Needs more memory than h2 has free (QEMU allocates guest memory lazily, so it runs on h1). */
  let bigGuest: TestGuest;
  let ws: PulumiWorkspace;
  let hosts: HostEntry[];

  before(async () => {
    lab = loadLab();
    [h1, h2] = lab.hosts;
    hosts = labHosts(lab);
    guests = new GuestFactory(lab);
    guest = await guests.local("e2e-bad", h1, { memoryMiB: 128, sizeMiB: 16 });
    const freeKiB = Number(/Total:\s+(\d+) KiB/.exec(await virsh(h2, "freecell"))![1]);
    bigGuest = await guests.local("e2e-big", h1, {
      memoryMiB: Math.ceil(freeKiB / 1024) + 512,
      sizeMiB: 16,
    });
    ws = placementWorkspace();
    // A home of its own: host keys in the user's ~/.ssh/known_hosts would verify an ssh host.
    ws.env.HOME = path.join(ws.dir, "..", "user-home");
    mkdirSync(ws.env.HOME, { recursive: true });
    await ws.pulumi(["stack", "init", "bad"]);
  });
  after(async () => {
    await guests?.cleanup();
    ws?.cleanup();
  });

  async function previewWith(config: Record<string, unknown>): Promise<string> {
    const base: Record<string, unknown> = {
      domain: guest.name,
      host: h1.name,
      pool: "local",
      "vmplacement:hosts": hosts,
    };
    const all = { ...base, ...config };
    const set = Object.keys(JSON.parse(await ws.pulumi(["config", "--json"])) as object);
    if (set.length) await ws.pulumi(["config", "rm-all", ...set]);
    // Structured values are written as JSON; the program and the provider parse them.
    for (const [key, value] of Object.entries(all)) {
      if (value === null) continue; // left unset
      await ws.pulumi([
        "config",
        "set",
        key,
        typeof value === "string" ? value : JSON.stringify(value),
      ]);
    }
    const err = await ws.pulumiWithDiagnostics(["preview"]).then(
      () => undefined,
      (e: Error) => e.message,
    );
    assert.ok(err, "preview should fail");
    // A failure says what the value is; the CLI's own "value {<nil>}" would contradict it.
    assert.doesNotMatch(err, /value \{<nil>\}/);
    const running = await runningDomains(h1);
    for (const g of [guest, bigGuest]) assert.ok(running.includes(g.name), "nothing changed");
    return err;
  }

  const cases: Array<{
    name: string;
    config: Record<string, unknown> | (() => Record<string, unknown>);
    expect: RegExp[];
  }> = [
    {
      name: "unknown host",
      config: { host: "h99" },
      expect: [/host 'h99' is not in the provider's inventory/, /hosts: h1, h2/],
    },
    {
      name: "unknown pool",
      config: { host: "h2", pool: "nope" },
      expect: [/POOL_MISSING/, /pool 'nope' does not exist on host h2/],
    },
    {
      name: "unknown domain",
      config: { domain: "no-such-vm" },
      expect: [/DOMAIN_NOT_FOUND/, /no-such-vm/],
    },
    {
      name: "a target without enough free memory",
      config: () => ({ domain: bigGuest.name, host: "h2" }),
      expect: [/INSUFFICIENT_MEMORY/, /host h2 has \d+ MiB free, but .* needs \d+ MiB/],
    },
    {
      name: "invalid policy value",
      config: { policy: { maxDowntimeMs: -5 } },
      expect: [/policy\.maxDowntimeMs is -5, below the least allowed, 1: give the longest pause/],
    },
    {
      name: "unknown policy property",
      config: { policy: { maxDowntime: 300 } },
      expect: [/policy\.maxDowntime is not a property here; did you mean maxDowntimeMs\?/],
    },
    {
      name: "malformed libvirt URI",
      config: {
        "vmplacement:hosts": [{ ...hostsPlaceholder(), uri: "qemu+carrier-pigeon://h/system" }],
      },
      expect: [/vmplacement:hosts\[0\]\.uri: .*unsupported transport 'carrier-pigeon'/],
    },
    {
      name: "a host URI of another hypervisor",
      config: { "vmplacement:hosts": [{ ...hostsPlaceholder(), uri: "xen://kvm1/" }] },
      expect: [/vmplacement:hosts\[0\]\.uri is "xen:\/\/kvm1\/", a 'xen' URI/],
    },
    {
      name: "no hosts set",
      config: { "vmplacement:hosts": null },
      expect: [
        /vmplacement:hosts is not set: give the libvirt hosts/,
        /Set it with: pulumi config set --path 'vmplacement:hosts\[0\]\.name' kvm1/,
      ],
    },
    {
      name: "a limit of 0",
      config: { "vmplacement:maxMigrationsTotal": 0 },
      expect: [/vmplacement:maxMigrationsTotal is 0, below the least allowed, 1/],
    },
    {
      name: "ssh host without known_hosts",
      config: {
        "vmplacement:hosts": [{ ...hostsPlaceholder(), uri: "qemu+ssh://root@10.0.0.1/system" }],
      },
      // The workspace's HOME has no .ssh/known_hosts (see before()), so nothing verifies h1.
      expect: [/give sshKnownHosts/, /or add the hosts to .*\.ssh\/known_hosts/, /ssh-keyscan -H/],
    },
  ];

  function hostsPlaceholder(): HostEntry {
    return { name: "h1", uri: "", migrationAddress: "10.0.0.1" };
  }

  for (const c of cases) {
    it(`rejects ${c.name}`, async () => {
      const out = await previewWith(typeof c.config === "function" ? c.config() : c.config);
      for (const re of c.expect) assert.match(out, re);
    });
  }
});
