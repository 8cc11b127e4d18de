// Drives the real Pulumi CLI (from scripts/pulumi-env.sh) against a local file backend in a
// throwaway workspace inside the repository, so programs resolve the repo's node_modules.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { run } from "../lab/run";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

export interface PulumiWorkspace {
  dir: string;
  env: NodeJS.ProcessEnv;
  pulumi(args: string[], timeoutMs?: number): Promise<string>;
  /** A stack output (all of them without a name), parsed from `pulumi stack output --json`. */
  output<T = unknown>(name?: string): Promise<T>;
  /** Sets a secret config value through standard input, so it never appears in arguments. */
  setSecret(key: string, value: string): Promise<string>;
  /** Like pulumi(), with the diagnostics the CLI prints to standard error appended. */
  pulumiWithDiagnostics(args: string[], timeoutMs?: number): Promise<string>;
  /** Sets many plain config values at once; objects are written as JSON. */
  setConfig(values: Record<string, unknown>): Promise<string>;
  cleanup(): void;
}

/**
 * A program directory with its own backend and PULUMI_HOME; `files` are written into it. With
 * `programDir`, an existing program (e.g. an example) is used in place instead. Workspaces live
 * under `baseDir` (default: .pulumi-test in the checkout, so programs resolve its node_modules).
 */
export function pulumiWorkspace(
  files: Record<string, string>,
  options: { programDir?: string; baseDir?: string } = {},
): PulumiWorkspace {
  const base = options.baseDir ?? path.join(REPO_ROOT, ".pulumi-test");
  mkdirSync(base, { recursive: true });
  const root = mkdtempSync(path.join(base, "ws-"));
  const dir = options.programDir ?? path.join(root, "program");
  mkdirSync(dir, { recursive: true });
  mkdirSync(path.join(root, "backend"));
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PULUMI_HOME: path.join(root, "home"),
    PULUMI_BACKEND_URL: `file://${path.join(root, "backend")}`,
    PULUMI_CONFIG_PASSPHRASE: "lab-only-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
  };
  const pulumi = (args: string[], timeoutMs = 300_000) =>
    run("pulumi", [...args, "--non-interactive"], { cwd: dir, env, timeoutMs });
  return {
    dir,
    env,
    pulumi,
    output: async (name) =>
      JSON.parse(await pulumi(["stack", "output", ...(name ? [name] : []), "--json"])),
    setSecret: (key, value) =>
      run("pulumi", ["config", "set", "--secret", key, "--non-interactive"], {
        cwd: dir,
        env,
        input: value,
      }),
    pulumiWithDiagnostics: (args, timeoutMs = 300_000) =>
      run("pulumi", [...args, "--non-interactive"], { cwd: dir, env, timeoutMs, withStderr: true }),
    setConfig: (values) =>
      pulumi([
        "config",
        "set-all",
        ...Object.entries(values).flatMap(([key, value]) => [
          "--plaintext",
          `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`,
        ]),
      ]),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
