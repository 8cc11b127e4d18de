// Every `pulumi config set` of the provider's configuration in the README and docs, run exactly as
// written (bash, the real CLI, a throwaway stack), stores configuration the provider accepts: the
// keys the command sets get no check failure. Files the commands read (an ssh key, known_hosts)
// are made first; `ceph` answers with a key, as a Ceph admin node would.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { checkConfig, decodeConfigValues } from "../../provider/src/server/config";
import { run } from "../lab/run";
import { pulumiWorkspace, type PulumiWorkspace } from "../support/pulumi-cli";

/**
 * The bash blocks of a markdown file that set the provider's configuration: each block's
 * `pulumi config set` commands of vmplacement keys, as a user pastes them.
 */
export function documentedConfigBlocks(markdown: string): string[][] {
  const blocks: string[][] = [];
  for (const block of markdown.matchAll(/```bash\n([\s\S]*?)```/g)) {
    const commands: string[] = [];
    let pending = "";
    for (const line of block[1].split("\n")) {
      pending = pending ? `${pending}\n${line}` : line;
      // A command goes on while a quote it opened is still open.
      if ((pending.match(/'/g) ?? []).length % 2 === 1) continue;
      if (/^pulumi config set .*vmplacement:/s.test(pending.trim())) commands.push(pending.trim());
      pending = "";
    }
    if (commands.length) blocks.push(commands);
  }
  return blocks;
}

/** The checkout (tests run from build/test/e2e). */
const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

const DOCS = [
  "README.md",
  ...readdirSync(path.join(REPO_ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => path.join("docs", f)),
];

describe("docs: every documented config command, run as written", function () {
  this.timeout(120_000);
  let ws: PulumiWorkspace;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    ws = pulumiWorkspace({ "Pulumi.yaml": "name: docs-config\nruntime: yaml\n" });
    const home = path.join(ws.dir, "..", "user-home");
    const bin = path.join(home, "bin");
    mkdirSync(path.join(home, ".ssh"), { recursive: true });
    mkdirSync(bin, { recursive: true });
    execFileSync("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-f",
      path.join(home, ".ssh", "id_ed25519"),
    ]);
    writeFileSync(
      path.join(ws.dir, "known_hosts"),
      `kvm1.example.net ${readFileSync(path.join(home, ".ssh", "id_ed25519.pub"), "utf8")
        .split(" ")
        .slice(0, 2)
        .join(" ")}\n`,
    );
    // The docs read known_hosts from ssh-keyscan; here it is written above.
    writeFileSync(path.join(bin, "ssh-keyscan"), "#!/bin/sh\ncat known_hosts\n");
    writeFileSync(
      path.join(bin, "ceph"),
      "#!/bin/sh\necho AQBdocsdocsdocsdocsdocsdocsdocsdocsdoc==\n",
    );
    chmodSync(path.join(bin, "ssh-keyscan"), 0o755);
    chmodSync(path.join(bin, "ceph"), 0o755);
    env = { ...ws.env, HOME: home, PATH: `${bin}:${process.env.PATH}` };
    await ws.pulumi(["stack", "init", "docs"]);
  });
  after(() => ws?.cleanup());

  const files = DOCS.map((file) => ({
    file,
    blocks: documentedConfigBlocks(readFileSync(path.join(REPO_ROOT, file), "utf8")),
  })).filter((f) => f.blocks.length);

  it("finds the documented commands", () =>
    assert.ok(files.flatMap((f) => f.blocks).length >= 3, JSON.stringify(files)));

  /** The stack's configuration as the engine hands it to the provider: each value as text. */
  async function storedConfig(): Promise<Record<string, string | undefined>> {
    const stored = JSON.parse(await ws.pulumi(["config", "--json", "--show-secrets"])) as Record<
      string,
      { value?: string }
    >;
    return Object.fromEntries(Object.entries(stored).map(([k, v]) => [k, v.value]));
  }

  // A reader follows a page from the top: its blocks run in order on one stack, and after each,
  // the keys the block set have no check failure.
  for (const { file, blocks } of files) {
    it(`${file}: ${blocks.length} block(s) of config commands`, async () => {
      const keys = Object.keys(await storedConfig());
      if (keys.length) await ws.pulumi(["config", "rm-all", ...keys]);
      for (const block of blocks) {
        const before = JSON.stringify(await storedConfig());
        for (const command of block)
          await run("bash", ["-euo", "pipefail", "-c", command], { cwd: ws.dir, env });
        const raw = await storedConfig();
        assert.notEqual(JSON.stringify(raw), before, `the block set nothing: ${block.join("; ")}`);
        const setKeys = block.map((c) => /vmplacement:([A-Za-z]+)/.exec(c)![1]);
        const failures = checkConfig(decodeConfigValues(raw)).failures.filter((f) =>
          setKeys.some(
            (k) =>
              f.property === k || f.property.startsWith(`${k}.`) || f.property.startsWith(`${k}[`),
          ),
        );
        assert.deepEqual(failures, [], `after ${block.join("; ")}\nstored: ${JSON.stringify(raw)}`);
      }
    });
  }
});
