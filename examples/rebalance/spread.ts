// Where each VM should run when some hosts are being evacuated. Pure, so a pipeline can reason
// about it and tests can check it without hosts: VMs on hosts that stay keep their home; VMs on
// evacuated hosts go, one by one in name order, to the remaining host with the fewest VMs
// (ties: inventory order), so the load ends up even and the result is the same on every run.

export function spread(
  homes: Record<string, string>,
  hosts: string[],
  evacuate: string[],
): Record<string, string> {
  for (const h of [...Object.values(homes), ...evacuate])
    if (!hosts.includes(h))
      throw new Error(`unknown host '${h}': the inventory has ${hosts.join(", ")}`);
  const remaining = hosts.filter((h) => !evacuate.includes(h));
  if (!remaining.length)
    throw new Error(`evacuate names every host (${hosts.join(", ")}); keep at least one`);

  const placed: Record<string, string> = {};
  const load = new Map(remaining.map((h) => [h, 0]));
  const leaving: string[] = [];
  for (const vm of Object.keys(homes).sort()) {
    const home = homes[vm];
    if (load.has(home)) {
      placed[vm] = home;
      load.set(home, load.get(home)! + 1);
    } else leaving.push(vm);
  }
  for (const vm of leaving) {
    const target = remaining.reduce((best, h) => (load.get(h)! < load.get(best)! ? h : best));
    placed[vm] = target;
    load.set(target, load.get(target)! + 1);
  }
  return placed;
}
