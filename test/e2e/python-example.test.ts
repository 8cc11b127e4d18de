// The Python example (examples/python, through the generated Python SDK) on the lab with the real
// Pulumi CLI: `up` adopts lab VMs where they run, a changed host in config moves one live, and
// `destroy` leaves every VM running. The venv comes from scripts/python-env.sh, as for users.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadLab, type LabDescription, type LabHost } from "../lab/lab";
import { hostsRunning } from "../lab/virsh";
import { GuestFactory } from "../integration/engine/lab-engine";
import { pulumiWorkspace, type PulumiWorkspace } from "../support/pulumi-cli";
import { pythonEnv } from "../support/python-env";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const EXAMPLE = path.join(REPO_ROOT, "examples", "python");

describe("python example: the generated Python SDK through the Pulumi CLI", function () {
  this.timeout(900_000);
  let lab: LabDescription;
  let guests: GuestFactory;
  let ws: PulumiWorkspace;
  let home: LabHost[];
  const names: string[] = [];

  before(async () => {
    const python = await pythonEnv();
    lab = loadLab();
    guests = new GuestFactory(lab);
    home = [0, 1, 2].map((i) => lab.hosts[i % lab.hosts.length]);
    for (const [i, host] of home.entries())
      names.push((await guests.local(`py${i}`, host, { memoryMiB: 128, sizeMiB: 16 })).name);
    ws = pulumiWorkspace({}, { programDir: EXAMPLE });
    // The language host runs whichever python3 comes first on PATH.
    Object.assign(ws.env, python);
    // A unique stack: its Pulumi.<stack>.yaml lands in the shared example directory.
    await ws.pulumi(["stack", "init", `py-${randomBytes(3).toString("hex")}`]);
  });
  after(async () => {
    await ws?.pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
    ws?.cleanup();
    await guests?.cleanup();
  });

  // The whole map each time: `config set --path` into a value set as a JSON string replaces it.
  const plan = (hosts: string[]) => Object.fromEntries(names.map((n, i) => [n, hosts[i]]));
  const place = (hosts: string[]) =>
    ws.pulumi(["config", "set", "vms", JSON.stringify(plan(hosts))]);
  const where = () => ws.output<Record<string, string>>("where");

  it("adopts the VMs where they run, keeping the ssh key out of the state", async () => {
    const hosts = home.map((h) => h.name);
    await place(hosts);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(await where(), plan(hosts));
    const keyBody = readFileSync(lab.ssh.privateKey, "utf8").split("\n")[1];
    const state = await ws.pulumi(["stack", "export"]);
    assert.ok(!state.includes(keyBody), "the private key is stored encrypted");
  });

  it("moves one VM live when its host changes in config", async () => {
    const vm = names[0];
    const to = lab.hosts.find((h) => h !== home[0])!.name;
    const hosts = [to, ...home.slice(1).map((h) => h.name)];
    await place(hosts);
    await ws.pulumi(["up", "--yes", "--skip-preview"]);
    assert.deepEqual(await where(), plan(hosts), "only that VM moves");
    const record = (await ws.output<Record<string, Record<string, string>>>("lastMigrations"))[vm];
    assert.equal(record.result, "succeeded");
    assert.equal(record.from, home[0].name);
    assert.equal(record.to, to);
    assert.match(record.mode, /^live-/);
    assert.deepEqual(await hostsRunning(lab.hosts, vm), [to], `${vm} runs on ${to} only`);
  });

  it("destroy leaves every VM running where it was placed", async () => {
    const placed = await where();
    await ws.pulumi(["destroy", "--yes", "--skip-preview"]);
    for (const vm of names) assert.deepEqual(await hostsRunning(lab.hosts, vm), [placed[vm]]);
  });
});
