// Many persistent, shut-off lab domains, each with its own tiny qcow2 volume in the `local`
// pool: real domains for the provider to look up and plan, without running hundreds of QEMUs.
// Domains are defined and removed with one batched virsh call per host.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { hostPathFromRoot, type LabDescription, type LabHost } from "../test/lab/lab";
import { domainXml } from "../test/lab/guests";
import { run } from "../test/lab/run";
import { definedDomains, virsh } from "../test/lab/virsh";

/** Domains removed per virsh call. */
const REMOVE_BATCH = 200;

export class ShutoffDomains {
  private readonly tmp = mkdtempSync(path.join(os.tmpdir(), "vmp-bench-domains-"));
  /** Domain name -> host it is defined on. */
  readonly placed: Record<string, string> = {};

  constructor(private readonly lab: LabDescription) {}

  /** Defines `count` domains named `${prefix}-<i>`, spread round-robin over the hosts. */
  async define(prefix: string, count: number): Promise<void> {
    const template = path.join(this.tmp, "template.qcow2");
    await run("qemu-img", ["create", "-q", "-f", "qcow2", template, "1M"]);
    const byHost = new Map<LabHost, string[]>(this.lab.hosts.map((h) => [h, []]));
    for (let i = 0; i < count; i++) {
      const host = this.lab.hosts[i % this.lab.hosts.length];
      const name = `${prefix}-${String(i).padStart(3, "0")}`;
      byHost.get(host)!.push(name);
      this.placed[name] = host.name;
    }
    for (const [host, names] of byHost) {
      const commands: string[] = [];
      for (const name of names) {
        const volume = path.join(this.lab.pools.local.path, `${name}.qcow2`);
        copyFileSync(template, hostPathFromRoot(host, volume));
        const xml = path.join(this.tmp, `${name}.xml`);
        writeFileSync(
          xml,
          domainXml(this.lab, {
            name,
            memoryMiB: 16,
            disk: { kind: "file", pathOnHost: volume, format: "qcow2" },
          }),
        );
        commands.push(`define ${xml}`);
      }
      await virsh(host, ["pool-refresh local", ...commands].join("; "));
      const defined = new Set(await definedDomains(host));
      const missing = names.filter((n) => !defined.has(n));
      if (missing.length)
        throw new Error(`${missing.length} domains were not defined on ${host.name}`);
    }
  }

  /** Undefines every domain and deletes its volume, on every host (missing is fine). */
  async remove(): Promise<void> {
    const names = new Set(Object.keys(this.placed));
    for (const host of this.lab.hosts) {
      if (!names.size) break;
      // Only what the host defines: a batch of thousands of failing commands never finished.
      const here = (await definedDomains(host).catch(() => [])).filter((n) => names.has(n));
      for (let i = 0; i < here.length; i += REMOVE_BATCH) {
        const commands = here
          .slice(i, i + REMOVE_BATCH)
          .flatMap((n) => [`undefine ${n}`, `vol-delete --pool local ${n}.qcow2`]);
        await virsh(host, commands.join("; ")).catch(() => undefined);
      }
    }
    for (const n of names) delete this.placed[n];
    rmSync(this.tmp, { recursive: true, force: true });
  }
}
