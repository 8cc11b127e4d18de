// Makes sure the demo's VMs exist and run: demo-1, demo-2 and demo-3, one per lab host at first,
// each a heartbeat guest with its disk in the host's `local` pool. Running ones are left alone.
import { loadLab } from "./lab";
import { buildGuestImage, placeInLocalPool, startGuest } from "./guests";
import { runningDomains, virsh } from "./virsh";

async function main(): Promise<void> {
  const lab = loadLab();
  const names = ["demo-1", "demo-2", "demo-3"];
  for (const [i, name] of names.entries()) {
    const running = await Promise.all(
      lab.hosts.map(async (h) => (await runningDomains(h)).includes(name)),
    );
    if (running.some(Boolean)) continue;
    const host = lab.hosts[i % lab.hosts.length];
    for (const h of lab.hosts) {
      await virsh(h, "undefine", name).catch(() => undefined);
      await virsh(h, "vol-delete", "--pool", "local", `${name}.qcow2`).catch(() => undefined);
    }
    const image = buildGuestImage(lab, "heartbeat");
    try {
      const disk = await placeInLocalPool(lab, host, image, `${name}.qcow2`);
      await startGuest(lab, host, { name, memoryMiB: 256, disk });
      console.log(`started ${name} on ${host.name}`);
    } finally {
      image.cleanup();
    }
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
