// An example as a user adopts it, through scripts/example-project.sh: copied into a fresh
// project outside this repository, its dependencies installed from the packages `make packages`
// built, the plugin from `make dist`'s tarball, and the lab's hosts set as the stack's provider
// config by examples/lab-stack-config.sh.
import os from "node:os";
import path from "node:path";
import { run } from "../lab/run";
import { pulumiWorkspace, type PulumiWorkspace } from "./pulumi-cli";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

export interface ExampleProject extends PulumiWorkspace {
  /** `pulumi stack init`, then the lab's hosts and ssh settings as the stack's provider config. */
  initLabStack(stack: string): Promise<void>;
}

/** examples/<name> as a fresh project outside the repository. */
export async function exampleProject(name: string): Promise<ExampleProject> {
  const ws = pulumiWorkspace({}, { baseDir: path.join(os.tmpdir(), "vmplacement-examples") });
  const exports = await run(path.join(REPO_ROOT, "scripts", "example-project.sh"), [name, ws.dir], {
    env: ws.env,
    timeoutMs: 600_000,
  });
  for (const line of exports.split("\n").filter(Boolean)) {
    const eq = line.indexOf("=");
    ws.env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return {
    ...ws,
    async initLabStack(stack) {
      await ws.pulumi(["stack", "init", stack]);
      await run(path.join(REPO_ROOT, "examples", "lab-stack-config.sh"), [], {
        cwd: ws.dir,
        env: ws.env,
      });
    },
  };
}
