// The Python programs' environment: sources scripts/python-env.sh (building the venv with pulumi
// and the generated SDK if needed) and returns what it exports, for a workspace's env.
import path from "node:path";
import { run } from "../lab/run";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

export async function pythonEnv(): Promise<{ VIRTUAL_ENV: string; PATH: string }> {
  const out = await run(
    "bash",
    ["-c", 'source "$0" && printf "%s\\n%s" "$VIRTUAL_ENV" "$PATH"', "scripts/python-env.sh"],
    { cwd: REPO_ROOT, timeoutMs: 600_000 },
  );
  const [venv, pathVar] = out.split("\n");
  return { VIRTUAL_ENV: venv, PATH: pathVar };
}
