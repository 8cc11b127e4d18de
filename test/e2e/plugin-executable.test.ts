// The self-contained plugin: `make dist`'s tarball for each platform holds one executable that
// serves the provider with no node anywhere on PATH. Each is started from its unpacked tarball
// with PATH pointing nowhere (linux-arm64 through qemu-user with the arm64 C libraries) and
// asked, over gRPC as the engine would, for its version and schema and for the lab's hosts.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { ResourceProviderClient } from "@pulumi/pulumi/proto/provider_grpc_pb";
import * as pb from "@pulumi/pulumi/proto/provider_pb";
import type { PluginInfo } from "@pulumi/pulumi/proto/plugin_pb";
import { loadLab } from "../lab/lab";
import { run } from "../lab/run";
import { labHosts } from "./placement-workspace";

const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
const VERSION: string = JSON.parse(
  readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"),
).version;
const SCHEMA = readFileSync(path.join(REPO_ROOT, "schema.json"), "utf8");
const tarball = (platform: string) =>
  path.join(REPO_ROOT, "dist", `pulumi-resource-vmplacement-v${VERSION}-${platform}.tar.gz`);

interface Platform {
  name: string;
  elfMachine: number;
  /** How to start the executable on this machine (amd64). */
  command(executable: string): [string, string[]];
}

const PLATFORMS: Platform[] = [
  { name: "linux-amd64", elfMachine: 62, command: (exe) => [exe, []] },
  {
    name: "linux-arm64",
    elfMachine: 183,
    command: (exe) => ["/usr/bin/qemu-aarch64", ["-L", "/usr/aarch64-linux-gnu", exe]],
  },
];

function unary<Req, Res>(
  client: ResourceProviderClient,
  method: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    method.call(client, req, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/** Starts the plugin and resolves with the port it prints, as the engine reads it. */
function start(
  cmd: [string, string[]],
  cwd: string,
): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd[1], { cwd, env: { PATH: "/nonexistent", HOME: os.tmpdir() } });
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no port within 60 s; stderr: ${err}`));
    }, 60_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing a port; stderr: ${err}`));
    });
  });
}

describe("plugin: a single executable per platform, no node on PATH", function () {
  for (const platform of PLATFORMS) {
    it(`${platform.name}: serves its version, schema and the lab's hosts`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "vmp-plugin-"));
      let child: ChildProcess | undefined;
      try {
        await run("tar", ["-xzf", tarball(platform.name), "-C", dir]);
        const exe = path.join(dir, "pulumi-resource-vmplacement");
        assert.ok(existsSync(exe), "the tarball holds the executable Pulumi looks for");
        assert.equal(
          readFileSync(exe).readUInt16LE(18),
          platform.elfMachine,
          `an ELF for ${platform.name}`,
        );

        const started = await start(platform.command(exe), dir);
        child = started.child;
        const client = new ResourceProviderClient(
          `127.0.0.1:${started.port}`,
          grpc.credentials.createInsecure(),
        );
        try {
          const info = await unary<Empty, PluginInfo>(client, client.getPluginInfo, new Empty());
          assert.equal(info.getVersion(), VERSION);
          const schema = await unary<pb.GetSchemaRequest, pb.GetSchemaResponse>(
            client,
            client.getSchema,
            new pb.GetSchemaRequest(),
          );
          assert.equal(schema.getSchema(), SCHEMA, "the embedded schema is the checkout's");

          const lab = loadLab();
          const configure = new pb.ConfigureRequest();
          configure.setArgs(Struct.fromJavaScript({ hosts: JSON.stringify(labHosts(lab)) }));
          await unary<pb.ConfigureRequest, pb.ConfigureResponse>(
            client,
            client.configure,
            configure,
          );
          const invoke = new pb.InvokeRequest();
          invoke.setTok("vmplacement:index:getHosts");
          invoke.setArgs(Struct.fromJavaScript({}));
          const hosts = (
            await unary<pb.InvokeRequest, pb.InvokeResponse>(client, client.invoke, invoke)
          )
            .getReturn()!
            .toJavaScript().hosts as {
            name: string;
            reachable: boolean;
          }[];
          assert.deepEqual(
            hosts.map((h) => [h.name, h.reachable]),
            lab.hosts.map((h) => [h.name, true]),
          );
        } finally {
          client.close();
        }
        // Run by hand, it answers --version and --help and exits instead of serving.
        const [file, args] = platform.command(exe);
        const opts = {
          cwd: dir,
          env: { PATH: "/nonexistent", HOME: os.tmpdir() },
          timeoutMs: 30_000,
        };
        assert.equal((await run(file, [...args, "--version"], opts)).trim(), VERSION);
        assert.match(
          await run(file, [...args, "--help"], opts),
          /^pulumi-resource-vmplacement: the vmplacement Pulumi provider plugin\n[\s\S]*--version/,
        );

        // The engine stops a plugin with SIGINT; it exits cleanly.
        const exited = new Promise<number | null>((resolve) => child!.on("exit", resolve));
        child.kill("SIGINT");
        assert.equal(await exited, 0);
        child = undefined;
      } finally {
        child?.kill("SIGKILL");
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
