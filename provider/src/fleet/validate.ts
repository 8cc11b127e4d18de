// Rule sets that no facts can satisfy, found before anything is gathered or moved: each failure
// names the property path, the value, and what to do. Pure: it needs only the inventory.
import { allowedHosts, type FleetRules, type VmRule } from "./solver";

export interface RuleFailure {
  property: string;
  reason: string;
}

export interface InventoryHost {
  name: string;
  labels: Record<string, string>;
}

const list = (names: string[]) => names.join(", ") || "none";

export function validateRules(rules: FleetRules, inventory: InventoryHost[]): RuleFailure[] {
  const failures: RuleFailure[] = [];
  const names = inventory.map((h) => h.name);
  const cordoned = new Set(rules.cordon);
  const unknown = (property: string, host: string) => {
    if (!names.includes(host))
      failures.push({
        property,
        reason: `'${host}' is not in the inventory (hosts: ${list(names)})`,
      });
  };
  rules.cordon.forEach((h, i) => unknown(`cordon[${i}]`, h));
  if (names.length && names.every((h) => cordoned.has(h)))
    failures.push({
      property: "cordon",
      reason: `every host is cordoned (${list(names)}); keep at least one open`,
    });
  if (!Number.isInteger(rules.maxMoves) || rules.maxMoves < 0)
    failures.push({
      property: "maxMoves",
      reason: `${rules.maxMoves} is not a whole number of moves >= 0`,
    });

  const seen = new Map<string, number>();
  const hosts = inventory.map((h) => ({
    ...h,
    reachable: true,
    freeMemoryBytes: 0,
    totalMemoryBytes: 0,
    allocatedMemoryBytes: 0,
    poolFreeBytes: {},
  }));
  const groups = new Map<string, Set<string>>();
  rules.vms.forEach((rule, i) => {
    const at = `vms[${i}]`;
    const first = seen.get(rule.domain);
    if (first !== undefined)
      failures.push({
        property: `${at}.domain`,
        reason: `'${rule.domain}' is listed twice (also vms[${first}]); list each VM once`,
      });
    else seen.set(rule.domain, i);
    rule.hosts?.forEach((h, j) => unknown(`${at}.hosts[${j}]`, h));
    if (rule.pinned !== undefined) {
      unknown(`${at}.pinned`, rule.pinned);
      failures.push(...pinFailures(rule, at, cordoned));
    }
    const allowed = allowedHosts(rule, hosts).map((h) => h.name);
    if (rule.hostSelector && !allowed.length) failures.push(selectorFailure(rule, at, inventory));
    if (rule.antiAffinity) {
      if (!groups.has(rule.antiAffinity)) groups.set(rule.antiAffinity, new Set());
      for (const h of allowed) groups.get(rule.antiAffinity)!.add(h);
    }
  });

  // A group needs one host per member among the hosts its members may use. (Fewer of them left
  // open by a cordon is not an error: the members that cannot leave are reported, not moved.)
  for (const [group, usable] of groups) {
    const members = rules.vms.flatMap((r, i) => (r.antiAffinity === group ? [i] : []));
    if (members.length > usable.size)
      failures.push({
        property: `vms[${members[0]}].antiAffinity`,
        reason: `anti-affinity group '${group}' has ${members.length} members (${members.map((i) => rules.vms[i].domain).join(", ")}) but its members may use only ${usable.size} host(s) (${list([...usable].sort())}); add hosts they may use, or split the group`,
      });
  }
  return failures;
}

/** A pin to a cordoned host, or to one outside the VM's hosts. */
function pinFailures(rule: VmRule, at: string, cordoned: Set<string>): RuleFailure[] {
  const failures: RuleFailure[] = [];
  if (cordoned.has(rule.pinned!))
    failures.push({
      property: `${at}.pinned`,
      reason: `${rule.domain} is pinned to '${rule.pinned}', which is cordoned; uncordon it or unpin the VM`,
    });
  if (rule.hosts && !rule.hosts.includes(rule.pinned!))
    failures.push({
      property: `${at}.pinned`,
      reason: `'${rule.pinned}' is not among its hosts (${list(rule.hosts)}); pin it to one of them`,
    });
  return failures;
}

/** A host selector that matches no host, naming every host's labels. */
function selectorFailure(rule: VmRule, at: string, inventory: InventoryHost[]): RuleFailure {
  const labels = inventory
    .map(
      (h) =>
        `${h.name} {${Object.entries(h.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ")}}`,
    )
    .join("; ");
  return {
    property: `${at}.hostSelector`,
    reason: `${JSON.stringify(rule.hostSelector)} matches no host${rule.hosts ? " among its hosts" : ""} (labels: ${labels}); fix the selector or the hosts' labels`,
  };
}
