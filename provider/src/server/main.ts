// The plugin process: serves the ResourceProvider protocol on a local port and prints the port,
// as the Pulumi engine expects; older engines pass their own address as the first argument.
import * as grpc from "@grpc/grpc-js";
import { ResourceProviderService } from "@pulumi/pulumi/proto/provider_grpc_pb";
import { pluginFile } from "./plugin-files";
import { VmPlacementProvider } from "./provider-server";

function main(): void {
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
  // The engine asks a plugin to exit with SIGINT once it is done with it, and kills it 5 s later:
  // sessions the engine left open must not hold the exit up (a graceful gRPC shutdown waits for
  // them), while a migration still running gets those seconds to roll back to its source.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.forceShutdown();
    void provider.shutdown(3000).finally(() => process.exit(0));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main();
