// The demo until the Pulumi provider lands: boot a heartbeat guest on the first lab host and
// live-migrate it (with storage copy) to the second, printing what happened.
import { loadLab } from "./lab";
import {
  buildGuestImage,
  placeInLocalPool,
  readHeartbeats,
  startGuest,
  waitForHeartbeat,
} from "./guests";
import { completedMigrationStats, removeDomainEverywhere, virsh } from "./virsh";

async function main(): Promise<void> {
  const lab = loadLab();
  const [source, target] = lab.hosts;
  const name = "demo-heartbeat";
  await removeDomainEverywhere(lab.hosts, name);
  for (const host of lab.hosts)
    await virsh(host, "vol-delete", "--pool", "local", `${name}.qcow2`).catch(() => undefined);

  const image = buildGuestImage(lab, "heartbeat");
  try {
    const disk = await placeInLocalPool(lab, source, image, `${name}.qcow2`);
    console.log(`booting ${name} on ${source.name} (${source.address}) ...`);
    await startGuest(lab, source, { name, memoryMiB: 256, disk });
    const before = await waitForHeartbeat(source, name, 5);
    console.log(
      `heartbeat on ${source.name}: ${before}; migrating live to ${target.name} with storage copy ...`,
    );
    await virsh(
      source,
      "migrate",
      "--live",
      "--p2p",
      "--persistent",
      "--undefinesource",
      "--copy-storage-all",
      "--migrateuri",
      `tcp://${target.migrationAddress}`,
      "--disks-uri",
      `tcp://${target.migrationAddress}`,
      name,
      target.uris.tcp,
    );
    const stats = await completedMigrationStats(target, name);
    const lastOnSource = readHeartbeats(source, name).pop();
    const now = await waitForHeartbeat(target, name, (lastOnSource ?? 0) + 3);
    console.log(`migrated in ${stats.elapsedMs} ms with ${stats.downtimeMs} ms downtime`);
    console.log(
      `heartbeat: last on ${source.name} ${lastOnSource}, now on ${target.name} ${now} (not restarted)`,
    );
    console.log(`${name} keeps running on ${target.name}; 'make lab-down' removes it with the lab`);
  } finally {
    image.cleanup();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
