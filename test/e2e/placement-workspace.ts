// The e2e placement program in a fresh workspace, and the lab's hosts as provider config.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { LabDescription } from "../lab/lab";
import { pulumiWorkspace, type PulumiWorkspace } from "../support/pulumi-cli";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const PROGRAM = path.join(REPO_ROOT, "test", "e2e", "programs", "placement");

/** With `pluginPath` false the program relies on an installed plugin instead of this checkout's. */
export function placementWorkspace(
  extraFiles: Record<string, string> = {},
  options: { pluginPath?: boolean } = {},
): PulumiWorkspace {
  const plugins =
    options.pluginPath === false
      ? ""
      : `plugins:\n  providers:\n    - name: vmplacement\n      path: ${path.join(REPO_ROOT, "provider", "bin")}\n`;
  return pulumiWorkspace({
    "Pulumi.yaml": `name: placement\nruntime: nodejs\n${plugins}`,
    "index.ts": readFileSync(path.join(PROGRAM, "index.ts"), "utf8"),
    ...extraFiles,
  });
}

/** The provider's `hosts`: over tcp, or over ssh with daemons still reaching each other over tcp. */
export function labHosts(lab: LabDescription, transport: "tcp" | "ssh" = "tcp") {
  return lab.hosts.map((h) => ({
    name: h.name,
    uri: transport === "tcp" ? h.uris.tcp : h.uris.ssh,
    ...(transport === "ssh" ? { peerUri: h.uris.tcp } : {}),
    migrationAddress: h.migrationAddress,
  }));
}

/** known_hosts text with each host's address paired with the next host's key: every key is wrong. */
export function rotatedHostKeys(knownHosts: string): string {
  const lines = knownHosts
    .trim()
    .split("\n")
    .map((l) => l.split(" "));
  return (
    lines.map((l, i) => [l[0], ...lines[(i + 1) % lines.length].slice(1)].join(" ")).join("\n") +
    "\n"
  );
}
