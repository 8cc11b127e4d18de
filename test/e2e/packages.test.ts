// The packages as users install them: each example (TypeScript, Python, Go, YAML) copied into a
// fresh project outside this repository, the SDK installed from `make packages`'s npm tarball,
// Python wheel or Go module proxy, the plugin from `make dist`'s tarball with `pulumi plugin
// install --file` and no plugins.path. Each previews and adopts a lab VM, previews and makes a
// live move, and destroys, leaving the VM running where it was placed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadLab, type LabDescription } from "../lab/lab";
import { hostsRunning } from "../lab/virsh";
import { GuestFactory } from "../integration/engine/lab-engine";
import { exampleProject, type ExampleProject } from "../support/example-project";
import { run } from "../lab/run";

interface Example {
  name: string;
  /** Sets the stack config placing `vm` on `host`. */
  place(ws: ExampleProject, vm: string, host: string): Promise<unknown>;
  /** Where the program says the VM runs, from its stack outputs. */
  where(ws: ExampleProject, vm: string): Promise<string>;
  /** The version of Pulumi's SDK the project installed (YAML has none of its own). */
  pulumiSdk?(ws: ExampleProject): Promise<string>;
}

/** The project's one Pulumi minimum (scripts/find-pulumi.sh): each example installs exactly it. */
const PULUMI_MINIMUM = /^PULUMI_MIN_VERSION=(\S+)$/m.exec(
  readFileSync(path.resolve(__dirname, "..", "..", "..", "scripts", "find-pulumi.sh"), "utf8"),
)![1];

const vmsMap: Pick<Example, "place" | "where"> = {
  place: (ws, vm, host) => ws.pulumi(["config", "set", "vms", JSON.stringify({ [vm]: host })]),
  where: async (ws, vm) => (await ws.output<Record<string, string>>("where"))[vm],
};

const EXAMPLES: Example[] = [
  {
    name: "typescript",
    ...vmsMap,
    pulumiSdk: async (ws) =>
      (
        JSON.parse(
          readFileSync(
            path.join(ws.dir, "node_modules", "@pulumi", "pulumi", "package.json"),
            "utf8",
          ),
        ) as { version: string }
      ).version,
  },
  {
    name: "python",
    ...vmsMap,
    pulumiSdk: async (ws) =>
      (
        await run(
          path.join(ws.env.VIRTUAL_ENV!, "bin", "python"),
          ["-c", "import importlib.metadata as m; print(m.version('pulumi'))"],
          { env: ws.env },
        )
      ).trim(),
  },
  {
    name: "go",
    ...vmsMap,
    pulumiSdk: async (ws) =>
      (
        await run("go", ["list", "-m", "github.com/pulumi/pulumi/sdk/v3"], {
          cwd: ws.dir,
          env: ws.env,
        })
      )
        .trim()
        .replace(/^\S+ v/, ""),
  },
  {
    name: "yaml",
    place: async (ws, vm, host) => {
      await ws.pulumi(["config", "set", "domain", vm]);
      await ws.pulumi(["config", "set", "host", host]);
    },
    where: (ws) => ws.output<string>("currentHost"),
  },
];

describe("packages: the examples as fresh projects outside the repository", function () {
  let lab: LabDescription;
  let guests: GuestFactory;

  before(() => {
    lab = loadLab();
    guests = new GuestFactory(lab);
  });
  after(async () => guests?.cleanup());

  for (const example of EXAMPLES) {
    it(`${example.name}: installs, previews, adopts, moves live and destroys`, async () => {
      const [from, to] = lab.hosts;
      const vm = (
        await guests.local(`pk-${example.name.slice(0, 2)}`, from, { memoryMiB: 128, sizeMiB: 16 })
      ).name;
      const ws = await exampleProject(example.name);
      try {
        await ws.initLabStack("lab");
        await example.place(ws, vm, from.name);
        const adopt = await ws.pulumiWithDiagnostics(["preview"]);
        assert.match(adopt, /\+ .*create/, "the preview plans the adoption");
        await ws.pulumi(["up", "--yes", "--skip-preview"], 600_000);
        assert.equal(await example.where(ws, vm), from.name);
        if (example.pulumiSdk) {
          assert.equal(
            await example.pulumiSdk(ws),
            PULUMI_MINIMUM,
            "the lowest Pulumi SDK declared",
          );
        }
        const keyBody = readFileSync(lab.ssh.privateKey, "utf8").split("\n")[1];
        assert.ok(
          !(await ws.pulumi(["stack", "export"])).includes(keyBody),
          "the ssh key stays a secret",
        );

        await example.place(ws, vm, to.name);
        const move = await ws.pulumiWithDiagnostics(["preview"]);
        assert.match(
          move,
          new RegExp(`${vm}: ${from.name} -> ${to.name}, live`),
          "the preview shows the move",
        );
        await ws.pulumi(["up", "--yes", "--skip-preview"], 600_000);
        assert.equal(await example.where(ws, vm), to.name);
        assert.deepEqual(
          await hostsRunning(lab.hosts, vm),
          [to.name],
          `${vm} runs on ${to.name} only`,
        );

        await ws.pulumi(["destroy", "--yes", "--skip-preview"]);
        assert.deepEqual(
          await hostsRunning(lab.hosts, vm),
          [to.name],
          "destroy leaves the VM where it is",
        );
      } finally {
        ws.cleanup();
      }
    });
  }
});
