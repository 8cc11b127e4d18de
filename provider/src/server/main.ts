// The plugin process: serves the ResourceProvider protocol on a local port and prints the port,
// as the Pulumi engine expects; older engines pass their own address as the first argument.
import * as grpc from "@grpc/grpc-js";
import { ResourceProviderService } from "@pulumi/pulumi/proto/provider_grpc_pb";
import { pluginFile } from "./plugin-files";
import { VmPlacementProvider } from "./provider-server";

const USAGE = `pulumi-resource-vmplacement: the vmplacement Pulumi provider plugin

The Pulumi CLI starts this program itself (pulumi preview, pulumi up); it is not run by hand.
Install it with: pulumi plugin install resource vmplacement <version> --file <tarball>

  --version   print the plugin's version and exit
  --help      print this text and exit

Docs: docs/installation-configuration.md in the vmplacement repository.
`;

/** A person running the plugin by hand gets an answer, not a server waiting for an engine. */
function answeredFlag(args: string[]): boolean {
  if (args.includes("--version")) {
    process.stdout.write(`${JSON.parse(pluginFile("package.json")).version}\n`);
    return true;
  }
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(USAGE);
    return true;
  }
  return false;
}

function main(): void {
  if (answeredFlag(process.argv.slice(2))) return;
  const schema = pluginFile("schema.json");
  const provider = new VmPlacementProvider(schema);
  const engineAddress = process.argv.slice(2).find((a) => !a.startsWith("-"));
  if (engineAddress) provider.engineLog.connect(engineAddress);

  const server = new grpc.Server({ "grpc.max_receive_message_length": 400 * 1024 * 1024 });
  server.addService(
    ResourceProviderService as unknown as grpc.ServiceDefinition,
    provider.service(),
  );
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(`cannot listen: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`${port}\n`);
  });
  // SIGINT (or SIGTERM) asks the plugin to exit: the engine sends it once it is done with the
  // plugin, and again on a second Ctrl-C, killing the plugin 5 s later. Moves still in flight are
  // cancelled first (each rolls back or finishes as its phase requires) and keep the server up
  // until they answered the engine; only then does the process go. What a SIGKILL cuts short is
  // left marked on the hosts for the next run (engine/move-marker.ts).
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const answering = provider.busy;
    void provider.shutdown(IN_FLIGHT_GRACE_MS).finally(() => {
      const exit = () => {
        server.forceShutdown();
        process.exit(0);
      };
      // Sessions the engine left open must not hold the exit up (a graceful shutdown waits for
      // them): answers just given get a moment to reach the engine, an idle plugin goes at once.
      if (!answering) return exit();
      const force = setTimeout(exit, FLUSH_GRACE_MS);
      server.tryShutdown(() => {
        clearTimeout(force);
        process.exit(0);
      });
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // A stray error must not take the process (and with it every move in flight) down: each move
  // handles its own failures and puts its VM back. Reported, so that tests and users see it.
  process.on("unhandledRejection", (reason) => internalError("unhandled rejection", reason));
  process.on("uncaughtException", (err) => internalError("uncaught exception", err));
}

/** How long moves in flight get to roll back or finish after the plugin is asked to exit. */
const IN_FLIGHT_GRACE_MS = 30_000;
/** How long answers already given get to reach the engine before the process exits. */
const FLUSH_GRACE_MS = 1_000;

function internalError(kind: string, err: unknown): void {
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`vmplacement: internal error (${kind}), please report it: ${text}\n`);
}

main();
